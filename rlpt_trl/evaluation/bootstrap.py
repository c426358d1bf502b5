"""Bootstrap confidence intervals of evaluation metrics and paired differences between models (numpy only).

Each task's rows are resampled with replacement `iters` times from one seed; every model is scored on the same
resamples, so a difference between two models is paired: row-level noise common to both cancels out.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from ..utils.files import json_number


if TYPE_CHECKING:
    from .task import EvalResult


CI_LEVEL = 0.95
Interval = tuple[float, float]


def bootstrap_indices(n: int, iters: int, seed: int) -> np.ndarray:
    """`iters` resamples of `n` row indices drawn with replacement, shape (iters, n); the same for the same seed."""
    if n < 1:
        raise ValueError(f"cannot resample {n} rows")
    return np.random.default_rng(seed).integers(0, n, size=(iters, n))


def percentile_ci(values: np.ndarray, level: float = CI_LEVEL) -> Interval:
    """The central `level` percentile interval of `values`, ignoring NaN (a resample where the metric is undefined,
    such as a correlation of constant predictions); (nan, nan) when every value is NaN."""
    values = np.asarray(values, dtype=float)
    values = values[~np.isnan(values)]
    if not values.size:
        return math.nan, math.nan
    low, high = np.percentile(values, [50 * (1 - level), 50 * (1 + level)])
    return float(low), float(high)


def resample_metrics(result: EvalResult, indices: np.ndarray) -> dict[str, np.ndarray]:
    """Each metric of `result` on every resample (row of `indices`): metric -> array of len(indices), NaN where
    undefined.

    A result whose metrics include means of per-row values may also define `row_values() -> Mapping[str, np.ndarray]`
    (metric -> its `n` per-row values): those metrics are then resampled with one numpy mean over all resamples
    instead of one `metrics_on` call per resample.
    """
    row_values = getattr(result, "row_values", None)
    resampled = {
        name: np.asarray(values, dtype=float)[indices].mean(axis=1)
        for name, values in (row_values() if row_values else {}).items()
        if name in result.metrics
    }
    rest = [name for name in result.metrics if name not in resampled]
    if rest:
        # a small resample may hold one class or constant values: the metric's warning about it is expected there
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            computed = [result.metrics_on(sample) for sample in indices]
        for name in rest:
            resampled[name] = np.array([math.nan if row[name] is None else row[name] for row in computed], dtype=float)
    return {name: resampled[name] for name in result.metrics}


@dataclass(frozen=True)
class BootstrapIntervals:
    """One model's bootstrap intervals on one task: each metric's CI and, for a model compared with a reference
    model, each metric's paired difference (model - reference) with its CI."""

    ci: dict[str, Interval]
    diff: dict[str, float | None] = field(default_factory=dict)
    diff_ci: dict[str, Interval] = field(default_factory=dict)
    reference: str | None = None  # the model the differences are from

    def differs(self, metric: str) -> bool:
        """Whether the CI of the paired difference excludes 0: the models differ beyond resampling noise."""
        low, high = self.diff_ci.get(metric, (math.nan, math.nan))
        return low > 0 or high < 0

    def summary(self, diff_key: str) -> dict:
        """The fields added to a task's `metrics.json` entry: `<metric>_ci` and, if compared, `diff_key`'s mapping."""
        fields: dict = {f"{name}_ci": _json_interval(interval) for name, interval in self.ci.items()}
        if self.diff:
            fields[diff_key] = {
                **self.diff,
                **{f"{name}_ci": _json_interval(interval) for name, interval in self.diff_ci.items()},
            }
        return fields


def _json_interval(interval: Interval) -> list[float] | None:
    # an interval undefined on every resample is null
    return None if json_number(interval[0]) is None else list(interval)


def _difference(value: float | None, reference: float | None) -> float | None:
    return None if value is None or reference is None else value - reference


def compare_resampled(
    result: EvalResult,
    resampled: Mapping[str, np.ndarray],
    reference: tuple[EvalResult, Mapping[str, np.ndarray]] | None = None,
    level: float = CI_LEVEL,
    reference_name: str | None = None,
) -> BootstrapIntervals:
    """`result`'s intervals from its resampled metrics; given a reference result with its resampled metrics (on the
    same resamples), also the paired differences on the metrics both have (from the model `reference_name`)."""
    ci = {name: percentile_ci(values, level) for name, values in resampled.items()}
    if reference is None:
        return BootstrapIntervals(ci)
    other, other_resampled = reference
    shared = [name for name in result.metrics if name in other.metrics]
    diff = {name: _difference(result.metrics[name], other.metrics[name]) for name in shared}
    diff_ci = {name: percentile_ci(resampled[name] - other_resampled[name], level) for name in shared}
    return BootstrapIntervals(ci, diff, diff_ci, reference_name)


def first_model_references(models: Sequence[str]) -> dict[str, str]:
    """The default comparison: every model after the first against the first."""
    return dict.fromkeys(models[1:], models[0])


def bootstrap_results(
    results: Mapping[str, Mapping[str, EvalResult]],
    iters: int,
    seed: int,
    level: float = CI_LEVEL,
    references: Mapping[str, str] | None = None,
) -> dict[str, dict[str, BootstrapIntervals]]:
    """Intervals for a model -> task -> result mapping: every result's metric CIs and, for each model with a
    reference (`references`: model -> the model it is compared with; default `first_model_references`), its paired
    differences from it. All models share one set of `iters` resamples per task drawn from `seed` (the results of one
    task must hold the same rows in the same order)."""
    references = first_model_references(list(results)) if references is None else references
    intervals: dict[str, dict[str, BootstrapIntervals]] = {model: {} for model in results}
    tasks = dict.fromkeys(task for model_tasks in results.values() for task in model_tasks)
    for task in tasks:
        by_model = {model: model_tasks[task] for model, model_tasks in results.items() if task in model_tasks}
        sizes = {result.n for result in by_model.values()}
        if len(sizes) > 1:
            raise ValueError(f"task {task}: the models' results have different row counts {sorted(sizes)}")
        indices = bootstrap_indices(sizes.pop(), iters, seed)
        resampled = {model: resample_metrics(result, indices) for model, result in by_model.items()}
        for model, result in by_model.items():
            reference = references.get(model)
            if reference in by_model:
                base = (by_model[reference], resampled[reference])
                intervals[model][task] = compare_resampled(result, resampled[model], base, level, reference)
            else:
                intervals[model][task] = compare_resampled(result, resampled[model], level=level)
    return intervals
