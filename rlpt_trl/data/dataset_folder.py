"""The data build's folder as a dataset: a Parquet shard and a dataset card, which `datasets.load_dataset(folder)`,
`trl grpo --dataset_name folder` and the Hub's dataset viewer read; folders that earlier versions wrote with
`save_to_disk` are still read by `load_dataset_folder` (and by `datasets.load_from_disk`, not by `load_dataset`).
"""

from __future__ import annotations

import json
from pathlib import Path

from datasets import Dataset, DatasetDict, load_dataset, load_from_disk

from ..utils.errors import RlptError


TRAIN_SPLIT, VALIDATION_SPLIT = "train", "validation"
PARQUET_FILE = "data/{split}-00000-of-00001.parquet"
CARD_FILE = "README.md"
STATS_FILE = "stats.json"  # the build's statistics, beside the rows
# what `save_to_disk` writes: a Dataset's info, or a DatasetDict's split list
SAVED_TO_DISK = ("dataset_info.json", "dataset_dict.json")


def build_stats(dataset_name: str) -> dict:
    """The `stats.json` of a local data build; empty for a Hub dataset or a folder without one."""
    stats = Path(dataset_name) / STATS_FILE
    return json.loads(stats.read_text()) if stats.is_file() else {}


def split_file(folder: str | Path, split: str) -> Path:
    """Where a dataset folder keeps `split`: one Parquet shard, named as `load_dataset` and the Hub take splits."""
    return Path(folder) / PARQUET_FILE.format(split=split)


def write_card(folder: Path, card_yaml: str, card_body: str) -> None:
    """Write the dataset card of `folder`: the YAML metadata `card_yaml`, then the Markdown `card_body`.

    The card declares no `configs`: with them, datasets 5.2 caches every folder of the same name and card under one
    key and reads an earlier folder's rows (the test suite checks that two builds read back as built).
    """
    (folder / CARD_FILE).write_text(f"---\n{card_yaml}---\n\n{card_body}", encoding="utf-8")


def has_split(folder: str | Path, split: str) -> bool:
    """Whether a folder written by `rlpt-trl data` holds `split`."""
    return split_file(folder, split).is_file()


def load_dataset_folder(folder: str | Path, split: str = TRAIN_SPLIT) -> Dataset:
    """The split `split` of a local dataset folder: one written by `rlpt-trl data` (or any folder that
    `datasets.load_dataset` reads), or one written by `save_to_disk` (a `Dataset`, or a `DatasetDict` holding
    `split`)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise RlptError(f"{folder}: cannot read a dataset written by rlpt-trl data (no such folder)")
    try:
        if any((folder / name).is_file() for name in SAVED_TO_DISK):
            dataset = load_from_disk(str(folder))
        else:
            return load_dataset(str(folder), split=split)
    # datasets fails with an IndexError on a saved dataset of 0 rows
    except (OSError, ValueError, IndexError) as err:
        message = " ".join(str(err).split())
        raise RlptError(
            f"{folder}: cannot read a dataset written by rlpt-trl data ({type(err).__name__}: {message})"
        ) from None
    if isinstance(dataset, DatasetDict):
        if split not in dataset:
            raise RlptError(f"{folder} has no split {split!r} (splits: {', '.join(dataset)})")
        dataset = dataset[split]
    return dataset
