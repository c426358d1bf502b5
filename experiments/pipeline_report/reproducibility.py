"""Reproducibility: how far a run's GLUE metrics are from those of the report it replaces."""

from __future__ import annotations

from collections.abc import Mapping


def compare_with_previous(previous: Mapping | None, current: Mapping) -> str:
    """One sentence on the largest change between two metrics.json contents (`settings` and `glue` keys), compared
    only when their settings are the same; `previous` is None when there was no earlier report."""
    if previous is None:
        return "First run into this folder: run the same command again to compare."
    if previous.get("settings") != current["settings"]:
        return "The run this report replaced used other settings: there is nothing to compare with."
    differences = [
        (abs(value - before), f"{model} {task} {metric}")
        for model, tasks in current["glue"].items()
        for task, metrics in tasks.items()
        for metric, value in metrics.items()
        if isinstance(value, float)
        and isinstance(before := previous["glue"].get(model, {}).get(task, {}).get(metric), float)
    ]
    if not differences:
        return "The previous metrics.json in this folder had no comparable metrics."
    largest, where = max(differences)
    if largest == 0:
        return f"A second run reproduced all {len(differences)} GLUE metrics of the previous one exactly."
    count = len(differences)
    return f"Against the previous run, the largest change among {count} GLUE metrics is {largest:.2g} ({where})."
