"""The paired-difference table: each trained model against the model it started from, from an evaluation's
metrics.json (`diff_vs_<start>` entries, written when the start is the evaluation's first model)."""

from __future__ import annotations

from collections.abc import Mapping

from ..evaluation.next_segment_result import TASK as NEXT_SEGMENT
from ..evaluation.report import METRIC_LABELS
from ..evaluation.tasks import get_task
from ..markdown import format_table


# the next-segment metrics of the paired-difference table: the objective, what it costs, and whether it stops
PAIRED_NEXT_SEGMENT = (
    "reward", "cosine_sentence", "cosine_gain", "next_word_accuracy", "true_completion_nll", "distinct_2", "empty_rate",
)  # fmt: skip


def _paired_cell(entry: Mapping | None, start: str, metric: str) -> str:
    diff = (entry or {}).get(f"diff_vs_{start}", {})
    if diff.get(metric) is None:
        return "n/a"
    low, high = diff.get(f"{metric}_ci") or (None, None)
    if low is None:
        return f"{diff[metric]:+.4f}"
    return f"{diff[metric]:+.4f} [{low:+.3f}, {high:+.3f}]{'*' if low > 0 or high < 0 else ''}"


def paired_table(glue: Mapping[str, Mapping], starts: Mapping[str, str]) -> str:
    """Metrics as rows, each trained model's paired difference from its starting model as columns (from
    metrics.json's `diff_vs_<start>` entries); the rows are each GLUE task's first metric and `PAIRED_NEXT_SEGMENT`."""
    tasks = dict.fromkeys(task for model_tasks in glue.values() for task in model_tasks)
    rows = [(task, metric) for task in tasks if task != NEXT_SEGMENT for metric in get_task(task).metrics[:1]]
    rows += [(NEXT_SEGMENT, metric) for metric in PAIRED_NEXT_SEGMENT if NEXT_SEGMENT in tasks]
    trained = [model for model in starts if model in glue]
    header = ["metric", *(f"{model} - {starts[model]}" for model in trained)]
    cells = [
        [f"{task} {METRIC_LABELS.get(metric, metric)}"]
        + [_paired_cell(glue[model].get(task), starts[model], metric) for model in trained]
        for task, metric in rows
    ]
    return format_table(header, cells)
