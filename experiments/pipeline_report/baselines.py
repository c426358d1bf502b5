"""Majority-class baselines: the GLUE metrics of predicting a dev set's most frequent label for every row."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from rlpt_trl.evaluation.glue.metrics import compute_glue_metrics
from rlpt_trl.evaluation.glue.prompts import build_task_prompts
from rlpt_trl.evaluation.glue.spec import DEFAULT_TASKS, get_task


def majority_baselines(
    data_dir: str | Path | None, max_samples: int | None = None, tasks: Sequence[str] = DEFAULT_TASKS
) -> dict[str, dict[str, float | None]]:
    """Per task, the metrics of predicting the most frequent label of the dev set (its first `max_samples` rows)
    for every row; a regression task's metrics are None, since a constant prediction has no correlation."""
    baselines = {}
    for name in tasks:
        task = build_task_prompts(get_task(name), data_dir=data_dir, max_samples=max_samples)
        if task.spec.is_regression:
            baselines[name] = dict.fromkeys(task.spec.metrics)
            continue
        majority = Counter(task.labels).most_common(1)[0][0]
        computed = compute_glue_metrics(task.spec.source, [majority] * len(task.labels), task.labels)
        baselines[name] = {metric: float(computed[metric]) for metric in task.spec.metrics}
    return baselines
