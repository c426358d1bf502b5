from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

from rlpt_trl.evaluation.bootstrap import (
    bootstrap_indices,
    bootstrap_results,
    percentile_ci,
    resample_metrics,
)
from rlpt_trl.evaluation.glue import GlueResult, compute_glue_metrics


@dataclasses.dataclass
class MeanResult:
    """A result whose one metric is the mean of per-row values, recomputed by `metrics_on`."""

    values: np.ndarray

    @property
    def metrics(self) -> dict[str, float]:
        return {"mean": float(self.values.mean())}

    @property
    def n(self) -> int:
        return len(self.values)

    def metrics_on(self, indices: np.ndarray) -> dict[str, float]:
        return {"mean": float(self.values[indices].mean())}


class RowMeanResult(MeanResult):
    """The same result offering its per-row values: the vectorised path."""

    def row_values(self) -> dict[str, np.ndarray]:
        return {"mean": self.values}


def _task_result(task: str, predictions: list, labels: list) -> GlueResult:
    records = [
        {"label": label, "prediction": prediction} for prediction, label in zip(predictions, labels, strict=True)
    ]
    metrics = {
        name: None if math.isnan(value) else value
        for name, value in compute_glue_metrics(task, predictions, labels).items()
    }
    return GlueResult(task, metrics, len(records), 0, "loglik", f"{task}-v1-0", records, source=task, num_fewshot=0)


def test_bootstrap_indices() -> None:
    indices = bootstrap_indices(7, 50, seed=3)
    assert indices.shape == (50, 7) and indices.min() >= 0 and indices.max() <= 6
    assert np.array_equal(indices, bootstrap_indices(7, 50, seed=3))
    assert not np.array_equal(indices, bootstrap_indices(7, 50, seed=4))
    with pytest.raises(ValueError, match="cannot resample 0 rows"):
        bootstrap_indices(0, 10, seed=0)


def test_percentile_ci_ignores_nan() -> None:
    assert percentile_ci(np.arange(101.0)) == pytest.approx((2.5, 97.5), abs=1e-12)
    assert percentile_ci(np.array([math.nan, *range(101), math.nan])) == percentile_ci(np.arange(101.0))
    assert percentile_ci(np.arange(101.0), level=0.5) == pytest.approx((25.0, 75.0), abs=1e-12)
    assert all(math.isnan(bound) for bound in percentile_ci(np.full(5, math.nan)))


@pytest.mark.parametrize("kind", [MeanResult, RowMeanResult])
def test_ci_of_a_mean_equals_numpy(kind: type[MeanResult]) -> None:
    values = np.random.default_rng(1).normal(size=300)
    intervals = bootstrap_results({"model": {"task": kind(values)}}, iters=500, seed=9)
    # the same computation written out with numpy alone
    means = values[np.random.default_rng(9).integers(0, 300, size=(500, 300))].mean(axis=1)
    expected = np.percentile(means, [2.5, 97.5])
    assert intervals["model"]["task"].ci["mean"] == pytest.approx(tuple(expected), abs=1e-12)
    assert intervals["model"]["task"].diff == {}  # the first model is the reference


def test_fast_path_equals_metrics_on() -> None:
    values = np.random.default_rng(2).uniform(size=40)
    indices = bootstrap_indices(40, 30, seed=0)
    fast = resample_metrics(RowMeanResult(values), indices)["mean"]
    np.testing.assert_allclose(fast, resample_metrics(MeanResult(values), indices)["mean"], atol=1e-12)


def test_identical_models_differ_by_exactly_zero() -> None:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 80).tolist()
    result = _task_result("cola", rng.integers(0, 2, 80).tolist(), labels)
    results = {"a": {"cola": result}, "b": {"cola": dataclasses.replace(result)}}
    intervals = bootstrap_results(results, iters=200, seed=0)
    compared = intervals["b"]["cola"]
    assert compared.diff == {"matthews_correlation": 0.0}
    assert compared.diff_ci == {"matthews_correlation": (0.0, 0.0)}
    assert not compared.differs("matthews_correlation")
    assert compared.ci == intervals["a"]["cola"].ci
    low, high = compared.ci["matthews_correlation"]
    assert low < result.metrics["matthews_correlation"] < high


def test_paired_difference_finds_a_real_difference() -> None:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 300)
    guess = rng.integers(0, 2, 300)
    mostly_right = np.where(rng.uniform(size=300) < 0.8, labels, 1 - labels)
    results = {
        "guess": {"cola": _task_result("cola", guess.tolist(), labels.tolist())},
        "good": {"cola": _task_result("cola", mostly_right.tolist(), labels.tolist())},
    }
    first = bootstrap_results(results, iters=150, seed=5)
    compared = first["good"]["cola"]
    low, high = compared.diff_ci["matthews_correlation"]
    assert 0 < low < compared.diff["matthews_correlation"] < high and compared.differs("matthews_correlation")
    assert bootstrap_results(results, iters=150, seed=5) == first  # a re-run gives the same intervals
    assert bootstrap_results(results, iters=150, seed=6) != first


def test_summary_fields() -> None:
    intervals = bootstrap_results({"a": {"t": MeanResult(np.zeros(5))}, "b": {"t": MeanResult(np.arange(5.0))}}, 50, 0)
    assert intervals["a"]["t"].ci["mean"] == (0.0, 0.0)
    summary = intervals["b"]["t"].summary("diff_vs_a")
    assert list(summary) == ["mean_ci", "diff_vs_a"] and list(summary["diff_vs_a"]) == ["mean", "mean_ci"]
    assert summary["diff_vs_a"]["mean"] == 2.0 and summary["mean_ci"] == list(intervals["b"]["t"].ci["mean"])
    assert intervals["a"]["t"].summary("diff_vs_a") == {"mean_ci": [0.0, 0.0]}


@pytest.mark.filterwarnings("ignore::scipy.stats.ConstantInputWarning")
def test_undefined_metric_gives_null() -> None:
    """A correlation of constant predictions is undefined on every resample: its interval is null in JSON."""
    gold = np.random.default_rng(0).uniform(0, 5, 20).tolist()
    results = {"a": {"stsb": _task_result("stsb", [2.5] * 20, gold)}, "b": {"stsb": _task_result("stsb", gold, gold)}}
    intervals = bootstrap_results(results, iters=20, seed=0)
    assert results["a"]["stsb"].metrics == {"pearson": None, "spearmanr": None}
    assert json.loads(json.dumps(intervals["a"]["stsb"].summary("diff_vs_a"))) == {
        "pearson_ci": None,
        "spearmanr_ci": None,
    }
    compared = intervals["b"]["stsb"]
    assert compared.ci["pearson"] == pytest.approx((1.0, 1.0)) and compared.diff == {
        "pearson": None,
        "spearmanr": None,
    }
    assert compared.summary("diff_vs_a")["diff_vs_a"]["pearson_ci"] is None and not compared.differs("pearson")


def test_models_must_share_rows() -> None:
    with pytest.raises(ValueError, match=r"task t: the models' results have different row counts \[3, 4\]"):
        bootstrap_results({"a": {"t": MeanResult(np.zeros(3))}, "b": {"t": MeanResult(np.zeros(4))}}, 10, 0)
