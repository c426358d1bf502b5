"""The paired-difference table: each trained model against the model it started from, from an evaluation's
metrics.json (`diff_vs_<start>` entries, written when the start is the evaluation's first model)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..utils.markdown import format_table
from .registry import headline_metrics
from .report import METRIC_LABELS


def _paired_cell(entry: Mapping | None, start: str, metric: str) -> str:
    diff = (entry or {}).get(f"diff_vs_{start}", {})
    if diff.get(metric) is None:
        return "n/a"
    low, high = diff.get(f"{metric}_ci") or (None, None)
    if low is None:
        return f"{diff[metric]:+.4f}"
    return f"{diff[metric]:+.4f} [{low:+.3f}, {high:+.3f}]{'*' if low > 0 or high < 0 else ''}"


def paired_table(
    entries: Mapping[str, Mapping], starts: Mapping[str, str], metrics: Mapping[str, Sequence[str]] | None = None
) -> str:
    """Metrics as rows, each trained model's paired difference from its starting model as columns (from
    metrics.json's `diff_vs_<start>` entries); the rows are `metrics` (task -> its metrics), by default each task's
    headline metrics (`registry.headline_metrics`)."""
    tasks = dict.fromkeys(task for model_tasks in entries.values() for task in model_tasks)
    shown = metrics or {task: headline_metrics(task) for task in tasks}
    rows = [(task, metric) for task, names in shown.items() for metric in names]
    trained = [model for model in starts if model in entries]
    header = ["metric", *(f"{model} - {starts[model]}" for model in trained)]
    cells = [
        [f"{task} {METRIC_LABELS.get(metric, metric)}"]
        + [_paired_cell(entries[model].get(task), starts[model], metric) for model in trained]
        for task, metric in rows
    ]
    return format_table(header, cells)
