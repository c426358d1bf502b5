"""Evaluation outputs: `metrics.json`, per-example prediction files, a Markdown table and a comparison chart.

<output_dir>/metrics.json                       {model: {task: {metric: value, n, invalid, scoring, ...}}}
                                                with bootstrap intervals: <metric>_ci, diff_vs_<reference's slug>
<output_dir>/predictions/<model-slug>/<task>.json   one record per example
<output_dir>/comparison.md, comparison.png      with two or more models
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ..utils.files import write_json, write_text_atomic
from ..utils.markdown import format_table
from .bootstrap import CI_LEVEL, BootstrapIntervals


if TYPE_CHECKING:
    from .task import EvalResult


Results = Mapping[str, Mapping[str, "EvalResult"]]  # model -> task -> result
Intervals = Mapping[str, Mapping[str, BootstrapIntervals]]  # model -> task -> bootstrap intervals
METRIC_LABELS = {
    "matthews_correlation": "MCC",
    "pearson": "Pearson",
    "spearmanr": "Spearman",
    "accuracy": "acc",
    "f1": "F1",
}


def model_slugs(models: Sequence[str]) -> dict[str, str]:
    """A distinct, file-name-safe folder name per model: its last path part (`org--name` for a Hub id)."""
    slugs: dict[str, str] = {}
    for model in models:
        path = Path(model)
        base = path.name.removesuffix(".gguf") if path.exists() else model.replace("/", "--")
        base = re.sub(r"[^A-Za-z0-9._-]+", "-", base).strip("-.") or "model"
        slug, number = base, 2
        while slug in slugs.values():
            slug, number = f"{base}-{number}", number + 1
        slugs[model] = slug
    return slugs


def _columns(results: Results) -> list[tuple[str, str]]:
    """(task, metric) pairs in first-seen order."""
    columns: dict[tuple[str, str], None] = {}
    for tasks in results.values():
        for task, result in tasks.items():
            columns.update(dict.fromkeys((task, metric) for metric in result.metrics))
    return list(columns)


def _intervals_of(intervals: Intervals | None, model: str, task: str) -> BootstrapIntervals | None:
    return intervals.get(model, {}).get(task) if intervals else None


def _cell(value: float | None, intervals: BootstrapIntervals | None, metric: str) -> str:
    """`0.0120`, with intervals `0.0120 [-0.052, 0.071]`, and a trailing `*` when the paired difference's CI
    excludes 0."""
    if value is None:
        return "n/a"
    if intervals is None:
        return f"{value:.4f}"
    low, high = intervals.ci.get(metric, (math.nan, math.nan))
    ci = "" if math.isnan(low) else f" [{low:.3f}, {high:.3f}]"
    return f"{value:.4f}{ci}{'*' if intervals.differs(metric) else ''}"


def markdown_table(results: Results, intervals: Intervals | None = None) -> str:
    """Models as rows, `task metric` as columns; an `invalid` column lists unparseable generations. With bootstrap
    `intervals`, each value shows its CI, a `*` marks a difference from the model's reference (the first model unless
    given) beyond resampling noise, and a legend follows the table."""
    columns = _columns(results)
    invalid = {
        model: {task: r.summary().get("invalid", 0) for task, r in tasks.items()} for model, tasks in results.items()
    }
    show_invalid = any(count for counts in invalid.values() for count in counts.values())
    header = ["model", *(f"{task} {METRIC_LABELS.get(metric, metric)}" for task, metric in columns)]
    header += ["invalid"] if show_invalid else []
    rows = []
    for model, tasks in results.items():
        cells = [model]
        for task, metric in columns:
            value = tasks[task].metrics.get(metric) if task in tasks else None
            cells.append(_cell(value, _intervals_of(intervals, model, task), metric))
        if show_invalid:
            counts = invalid[model]
            cells.append(", ".join(f"{task} {counts[task]}/{r.n}" for task, r in tasks.items() if counts[task]) or "0")
        rows.append(cells)
    table = format_table(header, rows)
    if not intervals:
        return table
    level = f"{100 * CI_LEVEL:g} %"
    legend = f"[low, high]: {level} bootstrap confidence interval over the task's examples"
    references = _references(intervals)
    if len(results) > 1 and set(references.values()) <= {next(iter(results))}:
        legend += f"; *: the {level} interval of the paired difference from {next(iter(results))} excludes 0"
    elif references:
        pairs = ", ".join(f"{model} - {reference}" for model, reference in references.items())
        legend += f"; *: the {level} interval of the paired difference from the model's reference excludes 0 ({pairs})"
    return f"{table}\n\n{legend}."


def _references(intervals: Intervals) -> dict[str, str]:
    """Each compared model's reference, as the intervals record it."""
    return {
        model: found.reference
        for model, tasks in intervals.items()
        for found in tasks.values()
        if found.reference is not None
    }


def _error_bars(
    values: Sequence[float | None], metrics: Sequence[str], intervals: BootstrapIntervals | None
) -> list[list[float]] | None:
    """Matplotlib's `yerr` (distances below and above each value) for the metrics' CIs; None without intervals."""
    if intervals is None:
        return None
    below, above = [], []
    for value, metric in zip(values, metrics, strict=True):
        low, high = intervals.ci.get(metric, (math.nan, math.nan))
        undefined = value is None or math.isnan(low)
        # a percentile interval need not contain the estimate; matplotlib takes no negative lengths
        below.append(0.0 if undefined else max(value - low, 0.0))
        above.append(0.0 if undefined else max(high - value, 0.0))
    return [below, above]


def comparison_chart(results: Results, path: Path, intervals: Intervals | None = None) -> None:
    """One bar chart per task: a group of bars per metric, one bar per model (with its CI from `intervals`)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = _columns(results)
    task_metrics = {task: [metric for column_task, metric in columns if column_task == task] for task, _ in columns}
    tasks = list(task_metrics)
    models = list(results)
    # panels as wide as their metric groups: a task may have one metric or a dozen
    widths = [1.4 + 0.6 * len(models) * max(1, len(task_metrics[task]) / 2) for task in tasks]
    figure, axes = plt.subplots(
        1, len(tasks), figsize=(sum(widths), 4.5), squeeze=False, gridspec_kw={"width_ratios": widths}
    )
    width = 0.8 / len(models)
    for axis, task in zip(axes[0], tasks, strict=True):
        metrics = task_metrics[task]
        lowest, highest = 0.0, 1.0
        for number, model in enumerate(models):
            result = results[model].get(task)
            reported = [result.metrics.get(metric) if result else None for metric in metrics]
            values = [value or 0.0 for value in reported]
            errors = _error_bars(reported, metrics, _intervals_of(intervals, model, task))
            positions = [index + (number - (len(models) - 1) / 2) * width for index in range(len(metrics))]
            lows = [value - below for value, below in zip(values, errors[0], strict=True)] if errors else values
            lowest = min(lowest, *lows)
            highest = max(highest, *values)
            bars = axis.bar(positions, values, width, yerr=errors, capsize=2, label=model)
            axis.bar_label(bars, fmt="%.2f", fontsize=7)
        axis.set_title(task)
        labels = [METRIC_LABELS.get(metric, metric) for metric in metrics]
        long_labels = max(map(len, labels)) > 8
        axis.set_xticks(
            range(len(metrics)), labels, rotation=45 if long_labels else 0, ha="right" if long_labels else "center"
        )
        axis.axhline(0, color="black", linewidth=0.6)
        # most metrics are at most 1: a common scale makes the panels comparable (NLLs and lengths exceed it)
        axis.set_ylim(lowest - 0.1 if lowest < 0 else 0, 1.08 * highest)
    handles, labels = axes[0][0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="lower center", ncol=min(len(models), 3), fontsize=8, frameon=False)
    figure.tight_layout(rect=(0, 0.06 + 0.04 * ((len(models) - 1) // 3), 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)


def _interval_fields(intervals: Intervals | None, model: str, task: str, slugs: Mapping[str, str]) -> dict:
    found = _intervals_of(intervals, model, task)
    if found is None:
        return {}
    return found.summary(f"diff_vs_{slugs[found.reference]}" if found.reference else "")


def write_report(output_dir: str | Path, results: Results, intervals: Intervals | None = None) -> dict[str, Path]:
    """Write metrics, prediction files and, with several models, the comparison; return what was written. With
    bootstrap `intervals`, each task's metrics.json entry adds `<metric>_ci` and, for a model compared with a
    reference, `diff_vs_<reference's slug>`."""
    output = Path(output_dir)
    slugs = model_slugs(list(results))
    written = {}
    for model, tasks in results.items():
        for task, result in tasks.items():
            path = output / "predictions" / slugs[model] / f"{task}.json"
            written[f"{model}/{task}"] = write_json(path, result.records)
    summary = {
        model: {
            task: {
                **result.summary(),
                **_interval_fields(intervals, model, task, slugs),
                "predictions": f"predictions/{slugs[model]}/{task}.json",
            }
            for task, result in tasks.items()
        }
        for model, tasks in results.items()
    }
    written["metrics"] = write_json(output / "metrics.json", summary)
    if len(results) > 1:
        described = {
            f"- {result.task}: {result.describe()}": None for tasks in results.values() for result in tasks.values()
        }
        table = markdown_table(results, intervals)
        text = f"# Evaluation comparison\n\n{chr(10).join(described)}\n\n{table}\n\n![comparison](comparison.png)\n"
        comparison_chart(results, output / "comparison.png", intervals)
        written["comparison"] = write_text_atomic(output / "comparison.md", text)
        written["chart"] = output / "comparison.png"
    return written
