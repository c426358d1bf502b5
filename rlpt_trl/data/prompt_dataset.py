"""Loading a prompt dataset for GRPO: a folder written by `rlpt-trl data` or a Hub dataset."""

from __future__ import annotations

from pathlib import Path

from datasets import Dataset, load_dataset

from ..utils.errors import RlptError
from ..utils.files import is_local_path
from .dataset_folder import load_dataset_folder


def load_prompt_dataset(
    name: str | None, *, split: str = "train", config: str | None = None, max_samples: int | None = None
) -> Dataset:
    """Load `split` of a local dataset folder (written by `rlpt-trl data`, see `load_dataset_folder`) or of a Hub
    dataset.

    Args:
        name: Folder or Hub dataset id.
        split: Split of the folder or of the Hub dataset; a `save_to_disk` folder holding one `Dataset` ignores it.
        config: Hub dataset configuration name.
        max_samples: Keep the first N rows.
    """
    if not name:
        raise RlptError("--dataset_name is required: a folder written by `rlpt-trl data` or a Hub dataset id")
    path = Path(name).expanduser()
    if path.is_dir():
        dataset = load_dataset_folder(path, split)
    elif is_local_path(name):
        raise RlptError(f"dataset path does not exist: {name}")
    else:
        try:
            dataset = load_dataset(name, name=config, split=split)
        except Exception as err:  # noqa: BLE001 - any Hub/network failure becomes one actionable line
            raise RlptError(f"cannot load dataset {name} from the Hub: {type(err).__name__}: {err}") from None
    if max_samples is not None:
        dataset = dataset.select(range(min(max_samples, len(dataset))))
    return dataset
