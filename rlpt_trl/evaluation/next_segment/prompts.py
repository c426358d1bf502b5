"""Held-out prompts of the next-segment evaluation: sentences cut into prompt and true completion as the data build
cuts its training rows, or the rows of a data build itself."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from transformers import PreTrainedTokenizerBase

from ...data.build import DataBuildArguments
from ...data.dataset_folder import TRAIN_SPLIT, VALIDATION_SPLIT, has_split, load_dataset_folder
from ...data.glue import load_glue
from ...data.scores import check_scores, label_scores
from ...data.tables import check_texts
from ...data.tasks import split_prompt_completion
from ...utils.errors import RlptError


DATA_COLUMNS = ("prompt", "completion", "text", "scores")


@dataclass
class NextSegmentPrompts:
    """Held-out sentences cut into prompt and true completion, with their dataset ids and scores."""

    idx: list[int]
    prompt: list[str]
    completion: list[str]
    text: list[str]
    score: list[float]
    source: str

    def __len__(self) -> int:
        return len(self.idx)

    def select(self, rows: Sequence[int]) -> NextSegmentPrompts:
        """The prompts of `rows`, in that order."""
        columns = (self.idx, self.prompt, self.completion, self.text, self.score)
        return NextSegmentPrompts(*([column[row] for row in rows] for column in columns), self.source)


def _data_build_default(name: str) -> float:
    # the data build's label -> score mapping: an evaluated sentence is weighted as a trained one
    return DataBuildArguments.__dataclass_fields__[name].default


def _from_data_folder(folder: str | Path, split: str | None) -> NextSegmentPrompts:
    # a build with held-out documents is evaluated on them; a CoLA build (train only) on its rows
    if split is None:
        split = VALIDATION_SPLIT if has_split(folder, VALIDATION_SPLIT) else TRAIN_SPLIT
    elif not has_split(folder, split):
        raise RlptError(f"{folder}: no {split} split")
    rows = load_dataset_folder(folder, split)
    missing = [name for name in DATA_COLUMNS if name not in rows.column_names]
    if missing:
        raise RlptError(
            f"{folder}: missing column(s) {', '.join(missing)} (columns: {', '.join(rows.column_names)}); "
            "a folder written by rlpt-trl data has them"
        )
    if len(rows) == 0:
        raise RlptError(f"{folder}: no rows")
    scores = check_scores(rows["scores"], f"{folder}: column 'scores'")
    columns = [list(rows[name]) for name in DATA_COLUMNS[:3]]
    return NextSegmentPrompts(list(range(len(rows))), *columns, scores, str(folder))


def _from_cola_validation(
    tokenizer: PreTrainedTokenizerBase,
    data_dir: str | Path | None,
    *,
    seed: int,
    min_prompt_tokens: int,
    min_completion_tokens: int,
) -> NextSegmentPrompts:
    source = "cola validation"
    cola = load_glue("cola", "validation", data_dir)
    texts = check_texts(cola["sentence"], source)
    names = ("acceptable_score", "unacceptable_score", "unlabeled_score")
    scores = label_scores(list(cola["label"]), *map(_data_build_default, names))
    splits, _ = split_prompt_completion(
        texts, tokenizer, min_prompt_tokens=min_prompt_tokens, min_completion_tokens=min_completion_tokens, seed=seed
    )
    keep = [row for row, split in enumerate(splits) if split is not None]
    if not keep:
        raise RlptError(
            f"{source}: no sentence of {len(texts)} can be cut into {min_prompt_tokens}+ prompt and "
            f"{min_completion_tokens}+ completion tokens"
        )
    idx = list(cola["idx"])
    return NextSegmentPrompts(
        [int(idx[row]) for row in keep],
        [splits[row].prompt for row in keep],
        [splits[row].completion for row in keep],
        [texts[row] for row in keep],
        [scores[row] for row in keep],
        source,
    )


def build_next_segment_prompts(
    tokenizer: PreTrainedTokenizerBase,
    *,
    data: str | Path | None = None,
    data_dir: str | Path | None = None,
    split: str | None = None,
    seed: int = 0,
    max_samples: int | None = None,
    min_prompt_tokens: int = 2,
    min_completion_tokens: int = 2,
) -> NextSegmentPrompts:
    """The held-out prompts: the rows of a folder written by `rlpt-trl data` (`data`, cut already; its `split`,
    default its validation split, the held-out documents, when it has one), or by default CoLA
    validation (`data_dir`: a GLUE root, else the Hub), cut with `tokenizer` by the data build's own rule (row i by
    `(seed, i)`, see `split_prompt_completion`) and scored like the data build (label 1 -> 1.0, 0 -> -1.0).

    Build the prompts once per run, with the first model's tokenizer, and evaluate every model on them.

    Args:
        max_samples: Keep the first N usable rows (those with a cut).
    """
    if data is not None and data_dir is not None:
        raise RlptError("pass either a data folder or --data_dir (CoLA validation), not both")
    if split is not None and data is None:
        raise RlptError(f"the {split} split is read from a data folder; CoLA validation has no other")
    for name, value in (("min_prompt_tokens", min_prompt_tokens), ("min_completion_tokens", min_completion_tokens)):
        if value < 1:
            raise RlptError(f"--{name} must be at least 1, got {value}")
    if max_samples is not None and max_samples < 1:
        raise RlptError(f"--max_samples must be at least 1, got {max_samples}")
    if seed < 0:
        raise RlptError(f"--seed must be >= 0, got {seed}")
    if data is not None:
        prompts = _from_data_folder(data, split)
    else:
        prompts = _from_cola_validation(
            tokenizer,
            data_dir,
            seed=seed,
            min_prompt_tokens=min_prompt_tokens,
            min_completion_tokens=min_completion_tokens,
        )
    return prompts.select(range(len(prompts))[:max_samples])
