"""The result of the starvation forecast: per-prompt hit probabilities and sampled hits, and the metrics read off
them for each group size."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ...utils.files import json_number
from ..task import ResultEntry
from .forecast import zero_variance_probability


TASK = "starvation"
HEADLINE_METRICS = ("hit_probability", "sampled_hit_rate")


def metric_names(group_sizes: Sequence[int]) -> tuple[str, ...]:
    """The metrics of a forecast for `group_sizes`, in the order metrics.json lists them."""
    per_size = ("forecast_zero_std", "sampled_zero_std", "forecast_gap")
    return (*HEADLINE_METRICS, *(f"{name}_k{size}" for size in group_sizes for name in per_size))


def record_values(records: list[dict], group_sizes: Sequence[int]) -> dict[str, np.ndarray]:
    """Each metric's per-prompt values (metric -> array of len(records)), read from the prompts' records (a
    predictions file's content):

    - `hit_probability`: the exact chance that one sample earns RPT's reward;
    - `sampled_hit_rate`: the share of the prompt's samples that earned it;
    - `forecast_zero_std_k{K}`: p^K + (1 - p)^K, the chance that K samples all earn the same reward;
    - `sampled_zero_std_k{K}`: 1 when the prompt's first K samples all earned the same reward, else 0;
    - `forecast_gap_k{K}`: the forecast minus the sampled value (its mean's CI checks the forecast).
    """
    probability = np.array([record["hit_probability"] for record in records], dtype=np.float64)
    hits = np.array([record["sampled_hits"] for record in records], dtype=np.float64)
    values = {"hit_probability": probability, "sampled_hit_rate": hits.mean(axis=1)}
    for size in group_sizes:
        group = hits[:, :size]
        forecast = zero_variance_probability(probability, size)
        sampled = (group.min(axis=1) == group.max(axis=1)).astype(np.float64)
        values |= {
            f"forecast_zero_std_k{size}": forecast,
            f"sampled_zero_std_k{size}": sampled,
            f"forecast_gap_k{size}": forecast - sampled,
        }
    return values


@dataclass
class StarvationResult(ResultEntry):
    """Metrics of the starvation forecast plus one record per prompt (the content of its predictions file).

    An `EvalResult` (`rlpt_trl.evaluation.task`) with the fields of every result entry (`ResultEntry`), plus the
    `group_sizes` it forecasts, the sampling `settings`, and `values`: metric -> the `n` per-prompt values whose
    mean it is, which bootstraps resample directly (`row_values`).
    """

    group_sizes: list[int]
    settings: dict
    values: dict[str, np.ndarray] = field(repr=False)

    @classmethod
    def from_records(cls, records: list[dict], group_sizes: Sequence[int], settings: dict) -> StarvationResult:
        """The result whose metrics are the means of the records' values over all prompts."""
        version = f"{TASK}-k{max(group_sizes)}-t{settings['temperature']:g}-s{settings['seed']}"
        values = record_values(records, group_sizes)
        result = cls(TASK, {}, len(records), 0, "exact+sample", version, records, list(group_sizes), settings, values)
        result.metrics = result.metrics_on(np.arange(result.n))
        return result

    def describe(self) -> str:
        return (
            f"RPT's reward, one-token completions at temperature {self.settings['temperature']:g}: exact hit "
            f"probabilities, checked by {max(self.group_sizes)} samples a prompt (seed {self.settings['seed']})"
        )

    def metrics_on(self, indices: np.ndarray) -> dict[str, float | None]:
        """Each metric's mean over the rows `indices` (repeats allowed)."""
        return {name: json_number(np.mean(self.values[name][indices])) for name in metric_names(self.group_sizes)}

    def row_values(self) -> dict[str, np.ndarray]:
        """The per-prompt values of every metric (each metric is their plain mean)."""
        return dict(self.values)

    def summary(self) -> dict:
        return {**super().summary(), "group_sizes": self.group_sizes, **self.settings}
