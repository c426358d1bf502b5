"""The result of the next-segment evaluation: per-prompt metric values, their means, and the word-level measures."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ...utils.files import json_number
from ...utils.words import normalized_words
from ..task import ResultEntry


TASK = "next_segment"
# RPT's difficulty sets (its Table 1): the cuts whose proxy-model entropy reaches each threshold, so they nest
DIFFICULTY_THRESHOLDS = {"easy": 0.5, "medium": 1.0, "hard": 1.5}
NEXT_TOKEN_METRICS = tuple(
    f"{prefix}next_token_accuracy{suffix}"
    for suffix in ("", *(f"_{name}" for name in DIFFICULTY_THRESHOLDS))
    for prefix in ("", "greedy_")
)
METRICS = (
    "cosine_sentence",
    "cosine_prompt_only",
    "cosine_gain",
    "cosine_completion",
    "reward",
    "next_word_accuracy",
    "greedy_next_word_accuracy",
    "completion_log_perplexity",
    "true_completion_nll",
    "distinct_1",
    "distinct_2",
    "empty_rate",
    "mean_new_tokens",
    "cut_entropy",
    *NEXT_TOKEN_METRICS,
    "next_token_pass_at_k",
    "first_token_nll",
)
# the metrics a paired-difference table shows: the objective, what it costs, and whether the model stops
HEADLINE_METRICS = (
    "reward", "cosine_sentence", "cosine_gain", "next_word_accuracy", "true_completion_nll", "distinct_2", "empty_rate",
)  # fmt: skip


def nanmean(values: np.ndarray, axis: int | None = None) -> np.ndarray | float:
    """The mean of the values that are not NaN (along `axis`); NaN, without a warning, where there is none."""
    values = np.asarray(values, dtype=np.float64)
    counts = (~np.isnan(values)).sum(axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.nansum(values, axis=axis) / counts


def difficulty(entropy: float) -> str:
    """The hardest difficulty set (`DIFFICULTY_THRESHOLDS`) whose threshold `entropy` reaches; "trivial" below all."""
    reached = [name for name, threshold in DIFFICULTY_THRESHOLDS.items() if entropy >= threshold]
    return reached[-1] if reached else "trivial"


def first_word(text: str) -> str | None:
    """The first of `normalized_words(text)`; None for a blank text."""
    words = normalized_words(text)
    return words[0] if words else None


def distinct_n(texts: list[str], n: int) -> float:
    """Distinct word n-grams over all n-grams of `texts`; NaN when they hold none."""
    ngrams = [tuple(words[i : i + n]) for words in map(str.split, texts) for i in range(len(words) - n + 1)]
    return len(set(ngrams)) / len(ngrams) if ngrams else math.nan


def _number(value: float | None) -> float:
    return math.nan if value is None else float(value)


def _any_correct(correct: list[float | None]) -> float:
    """1.0 when any sample is right, 0.0 when none is, NaN for a prompt whose true completion has no token."""
    known = [value for value in correct if value is not None and not math.isnan(value)]
    return float(max(known)) if known else math.nan


def record_values(records: list[dict]) -> dict[str, np.ndarray]:
    """Each metric's per-prompt values (metric -> array of len(records), NaN where a prompt has none), read from the
    prompts' records (a predictions file's content): the values every metric is the mean of."""

    def mean(key: str) -> np.ndarray:
        return nanmean(np.array([[_number(v) for v in r[key]] for r in records], dtype=np.float64), axis=1)

    def each(key: str) -> np.ndarray:
        return np.array([_number(r[key]) for r in records], dtype=np.float64)

    values = {
        "cosine_sentence": mean("cosine_sentence"),
        "cosine_prompt_only": each("cosine_prompt_only"),
        "cosine_completion": mean("cosine_completion"),
        "reward": mean("reward"),
        "next_word_accuracy": mean("next_word_correct"),
        "greedy_next_word_accuracy": each("greedy_next_word_correct"),
        "completion_log_perplexity": mean("completion_log_perplexity"),
        "true_completion_nll": each("true_completion_nll"),
        "distinct_1": each("distinct_1"),
        "distinct_2": each("distinct_2"),
        "empty_rate": np.array([np.mean([not s.strip() for s in r["samples"]]) for r in records], dtype=np.float64),
        "mean_new_tokens": mean("new_tokens"),
        "cut_entropy": each("cut_entropy"),
        # a prompt whose true completion has no token of its own has None for every sample
        "next_token_accuracy": mean("next_token_correct"),
        "greedy_next_token_accuracy": each("greedy_next_token_correct"),
        "next_token_pass_at_k": np.array([_any_correct(r["next_token_correct"]) for r in records], dtype=np.float64),
        # predictions written before the metric existed have none
        "first_token_nll": np.array([_number(r.get("first_token_nll")) for r in records], dtype=np.float64),
    }
    values["cosine_gain"] = values["cosine_sentence"] - values["cosine_prompt_only"]
    for name, threshold in DIFFICULTY_THRESHOLDS.items():
        for metric in ("next_token_accuracy", "greedy_next_token_accuracy"):
            values[f"{metric}_{name}"] = np.where(values["cut_entropy"] >= threshold, values[metric], np.nan)
    return {name: values[name] for name in METRICS}


@dataclass
class NextSegmentResult(ResultEntry):
    """Metrics of the next-segment task plus one record per prompt (the content of its predictions file).

    An `EvalResult` (`rlpt_trl.evaluation.task`) with the fields of every result entry (`ResultEntry`), plus
    `samples` (K), the sampling `settings`, and `values`: metric -> the `n`
    per-prompt values that each metric is the mean of (NaN where a prompt has none, left out of the mean), which
    bootstraps resample directly (`row_values`).
    """

    samples: int
    settings: dict
    values: dict[str, np.ndarray] = field(repr=False)

    @classmethod
    def from_values(
        cls, values: dict[str, np.ndarray], records: list[dict], samples: int, settings: dict
    ) -> NextSegmentResult:
        """The result whose metrics are the means of `values` over all prompts."""
        version = f"{TASK}-k{samples}-t{settings['temperature']:g}-n{settings['max_new_tokens']}-s{settings['seed']}"
        result = cls(TASK, {}, len(records), 0, "sample", version, records, samples, settings, values)
        result.metrics = result.metrics_on(np.arange(result.n))
        return result

    def describe(self) -> str:
        settings = self.settings
        return (
            f"{self.samples} samples a prompt at temperature {settings['temperature']:g}, "
            f"{settings['max_new_tokens']} new tokens, seed {settings['seed']}; reward: {settings.get('rewards')}"
        )

    def metrics_on(self, indices: np.ndarray) -> dict[str, float | None]:
        """Each metric's mean over the rows `indices` (repeats allowed); None where no row has a value."""
        return {name: json_number(nanmean(self.values[name][indices])) for name in METRICS}

    def row_values(self) -> dict[str, np.ndarray]:
        """The per-prompt values of the metrics that every prompt has (a plain mean resamples them)."""
        return {name: values for name, values in self.values.items() if not np.isnan(values).any()}

    def summary(self) -> dict:
        return {**super().summary(), "samples": self.samples, **self.settings}
