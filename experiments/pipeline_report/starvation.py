"""The starvation report: the forecast against samples of held-out prompts, the training prompts' forecast for each
group size, and the forecast against the share of zero-variance groups the first steps of a GRPO run logged."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from rlpt_trl.evaluation.bootstrap import bootstrap_indices, percentile_ci
from rlpt_trl.evaluation.starvation.result import record_values
from rlpt_trl.testing.tensorboard import read_scalars
from rlpt_trl.utils.markdown import format_table

from .controls import BOOTSTRAP_ITERS, BOOTSTRAP_SEED, ZERO_STD_TAG


def compact_predictions(predictions: Path) -> dict[str, list]:
    """A forecast's predictions file reduced to what recomputes every metric (`record_values`): each prompt's dataset
    id, hit probability and sampled hits (the prompts themselves are the data build's rows of those ids)."""
    records = json.loads(predictions.read_text())
    return {key: [record[key] for record in records] for key in ("idx", "hit_probability", "sampled_hits")}


def forecast_summary(compact: Mapping[str, list], group_sizes: Sequence[int]) -> dict[str, object]:
    """Each metric of `record_values` with its 95 % bootstrap CI over the prompts, recomputed from a compact file."""
    records = [
        {"hit_probability": p, "sampled_hits": hits}
        for p, hits in zip(compact["hit_probability"], compact["sampled_hits"], strict=True)
    ]
    values = record_values(records, group_sizes)
    indices = bootstrap_indices(len(records), BOOTSTRAP_ITERS, BOOTSTRAP_SEED)
    summary: dict[str, object] = {"n": len(records)}
    for name, per_prompt in values.items():
        summary[name] = float(per_prompt.mean())
        summary[f"{name}_ci"] = list(percentile_ci(per_prompt[indices].mean(axis=1)))
    return summary


def run_zero_std(output_dir: Path, steps: int) -> dict[str, object]:
    """The `frac_reward_zero_std` a GRPO run logged at each of its first `steps` steps, their mean and its 95 % bootstrap
    CI over the steps."""
    logged = sorted(read_scalars(output_dir)[ZERO_STD_TAG])[:steps]
    values = np.array([value for _, value in logged], dtype=np.float64)
    indices = bootstrap_indices(len(values), BOOTSTRAP_ITERS, BOOTSTRAP_SEED)
    return {
        "steps": [step for step, _ in logged],
        "frac_reward_zero_std": values.tolist(),
        "mean": float(values.mean()),
        "ci": list(percentile_ci(values[indices].mean(axis=1))),
    }


def _interval(value: float, interval: Sequence[float], digits: int = 3) -> str:
    return f"{value:.{digits}f} [{interval[0]:.{digits}f}, {interval[1]:.{digits}f}]"


def heldout_table(heldout: Mapping[str, Mapping], group_sizes: Sequence[int]) -> str:
    """Per corpus and group size: the forecast, the sampled share and their paired difference with its CI."""
    rows = []
    for corpus, entry in heldout.items():
        for size in group_sizes:
            gap = _interval(entry[f"forecast_gap_k{size}"], entry[f"forecast_gap_k{size}_ci"])
            within = "yes" if abs(entry[f"forecast_gap_k{size}"]) <= 0.03 else "no"
            rows.append([corpus, str(entry["n"]), str(size), f"{entry[f'forecast_zero_std_k{size}']:.3f}",
                         f"{entry[f'sampled_zero_std_k{size}']:.3f}", gap, within])  # fmt: skip
    header = ["corpus", "prompts", "K", "forecast", "sampled", "forecast - sampled [95 % CI]", "within 0.03"]
    return format_table(header, rows)


def forecast_table(entries: Mapping[str, Mapping], group_sizes: Sequence[int]) -> str:
    """Per corpus: the mean hit probability and the forecast zero-variance share at each group size."""
    rows = [
        [corpus, str(entry["n"]), _interval(entry["hit_probability"], entry["hit_probability_ci"]),
         *(f"{entry[f'forecast_zero_std_k{size}']:.3f}" for size in group_sizes)]
        for corpus, entry in entries.items()
    ]  # fmt: skip
    return format_table(["corpus", "prompts", "hit probability", *(f"K = {size}" for size in group_sizes)], rows)


def run_table(runs: Mapping[str, Mapping], train: Mapping[str, Mapping], group_size: int) -> str:
    """Per corpus: the training prompts' forecast at the run's group size against the run's logged share."""
    rows = []
    for corpus, run in runs.items():
        forecast = train.get(corpus, {}).get(f"forecast_zero_std_k{group_size}")
        low, high = run["ci"]
        inside = "not yet forecast" if forecast is None else "yes" if low <= forecast <= high else "no"
        shown = "not yet run" if forecast is None else f"{forecast:.3f}"
        rows.append([corpus, str(len(run["steps"])), shown, _interval(run["mean"], run["ci"]), inside])
    header = ["corpus", "steps", f"forecast, K = {group_size}", "frac_reward_zero_std [95 % CI]", "CI holds it"]
    return format_table(header, rows)
