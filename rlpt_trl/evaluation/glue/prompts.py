"""Evaluation prompts: a task's rows rendered through its template, behind K solved training examples."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from datasets import Dataset

from ...data.glue import load_glue
from ...utils.errors import RlptError
from .spec import GlueTaskSpec


EVAL_SPLIT = "validation"
FEWSHOT_SPLIT = "train"
DEFAULT_FEWSHOT_SEED = 1234


@dataclass
class TaskPrompts:
    """The prompts of one task and what each is scored against."""

    spec: GlueTaskSpec
    prompts: list[str]
    labels: list[float]
    idx: list[int]
    fewshot_idx: list[int]  # rows of the train split shown as examples, the same for every prompt
    prefix: str = ""  # the solved examples' text that every prompt starts with


def sample_fewshot(spec: GlueTaskSpec, num_fewshot: int, seed: int, data_dir: str | Path | None) -> Dataset:
    """`num_fewshot` rows of the task's train split, drawn without replacement with `random.Random(seed)`."""
    train = load_glue(spec.source, FEWSHOT_SPLIT, data_dir)
    if num_fewshot > len(train):
        raise RlptError(f"{spec.name}: --num_fewshot {num_fewshot} exceeds the {len(train)} rows of the train split")
    return train.select(random.Random(seed).sample(range(len(train)), num_fewshot))


def fewshot_prefix(spec: GlueTaskSpec, examples: Dataset) -> str:
    """The solved examples, each followed by the task's separator (empty for zero-shot)."""
    solved = [
        spec.fewshot_template.format(prompt=spec.render(row), answer=spec.answer(row["label"])) for row in examples
    ]
    return "".join(text + spec.fewshot_separator for text in solved)


def build_task_prompts(
    spec: GlueTaskSpec,
    *,
    data_dir: str | Path | None = None,
    num_fewshot: int = 0,
    seed: int = DEFAULT_FEWSHOT_SEED,
    max_samples: int | None = None,
) -> TaskPrompts:
    """Render the validation split (its first `max_samples` rows) of `spec` into prompts.

    Few-shot examples come from the train split only, so none is ever an evaluated row.
    """
    if num_fewshot < 0:
        raise RlptError(f"--num_fewshot must be >= 0, got {num_fewshot}")
    if max_samples is not None and max_samples < 1:
        raise RlptError(f"--max_samples must be at least 1, got {max_samples}")
    rows = load_glue(spec.source, EVAL_SPLIT, data_dir)
    if max_samples is not None:
        rows = rows.select(range(min(max_samples, len(rows))))
    if len(rows) == 0:
        raise RlptError(f"{spec.name}: the {EVAL_SPLIT} split has no rows")
    examples = sample_fewshot(spec, num_fewshot, seed, data_dir)
    prefix = fewshot_prefix(spec, examples)
    prompts = [prefix + spec.render(row) for row in rows]
    labels = [round(float(label), 6) if spec.is_regression else int(label) for label in rows["label"]]
    fewshot_idx = [int(i) for i in examples["idx"]]
    return TaskPrompts(spec, prompts, labels, [int(i) for i in rows["idx"]], fewshot_idx, prefix)
