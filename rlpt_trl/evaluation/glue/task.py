"""GLUE tasks on a loaded model: score or generate, predict, and compute the official metrics."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from ...utils.errors import RlptError
from ...utils.files import json_number
from ..task import ResultEntry
from .generate import generate_greedy
from .loglik import predict_from_scores, score_continuations
from .metrics import compute_glue_metrics, load_glue_metric
from .prefix_cache import PrefixCacheMode, check_prefix_cache, split_after_prefix
from .prompts import TaskPrompts


Scoring = Literal["loglik", "generate"]
SCORING_MODES: tuple[str, ...] = get_args(Scoring)


def _reported(computed: Mapping[str, float], names: Iterable[str]) -> dict[str, float | None]:
    return {name: json_number(computed[name]) for name in names}


@dataclass
class GlueResult(ResultEntry):
    """Metrics of one GLUE task plus one record per example (the content of its predictions file); `source` is the
    GLUE task whose metric scores it."""

    source: str
    num_fewshot: int
    # with a reused few-shot prefix: its cached tokens and how many prompts were computed whole instead
    prefix_cache: dict[str, int] | None = None

    def summary(self) -> dict:
        reuse = {"prefix_cache": self.prefix_cache} if self.prefix_cache else {}
        return {**super().summary(), "num_fewshot": self.num_fewshot, **reuse}

    def describe(self) -> str:
        return f"scoring {self.scoring}, {self.num_fewshot}-shot"

    @functools.cached_property
    def _predictions_and_labels(self) -> tuple[np.ndarray, np.ndarray]:
        return np.array([r["prediction"] for r in self.records]), np.array([r["label"] for r in self.records])

    def metrics_on(self, indices: np.ndarray) -> dict[str, float | None]:
        """The metrics on rows `indices` (repeats allowed), from the stored predictions and labels."""
        predictions, labels = self._predictions_and_labels
        # the metric module's own sklearn/scipy code, without `compute`'s per-call Arrow cache: cheap enough to
        # run once per bootstrap resample
        computed = load_glue_metric(self.source)._compute(predictions=predictions[indices], references=labels[indices])
        return _reported(computed, self.metrics)


def check_context(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, task: TaskPrompts, new_tokens: int
) -> None:
    """One error line, before any forward pass, when the longest prompt with its longest answer does not fit the
    model's positions (a long few-shot prefix): the model would run on positions it never saw, or run out of memory."""
    limit = getattr(model.config, "max_position_embeddings", None)
    if not limit or not task.prompts:
        return

    def tokens(text: str) -> int:
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    answer = max(new_tokens, *(tokens(" " + choice) for choice in task.spec.choices))
    longest = tokens(max(task.prompts, key=len)) + answer
    if longest > limit:
        raise RlptError(
            f"task {task.spec.name}: the longest prompt with its answer is {longest} tokens ({len(task.fewshot_idx)}-"
            f"shot), past the model's {limit} positions; lower --num_fewshot"
        )


def evaluate_task(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    task: TaskPrompts,
    *,
    scoring: Scoring = "loglik",
    batch_size: int = 32,
    max_new_tokens: int = 5,
    desc: str | None = None,
    prefix_cache: PrefixCacheMode = "auto",
) -> GlueResult:
    """Predict every prompt of `task` with `model` and compute the task's metrics.

    Args:
        scoring: `"loglik"` (choice log-likelihoods, see `rlpt_trl.evaluation.glue.loglik`) or `"generate"` (greedy
            text mapped through the task's label words; an unparseable text counts as invalid and is scored as
            `spec.invalid_prediction`).
        desc: Progress bar label; None hides the bar.
        prefix_cache: `"auto"` computes the few-shot prefix that every prompt shares once and reuses its key/value
            cache (`rlpt_trl.evaluation.glue.prefix_cache`); `"off"` computes every prompt whole.
    """
    spec = task.spec
    check_prefix_cache(prefix_cache)
    check_context(model, tokenizer, task, max_new_tokens if scoring == "generate" else 0)
    shared_prefix = task.prefix if prefix_cache == "auto" else ""
    if scoring == "loglik":
        scores = score_continuations(
            model, tokenizer, task.prompts, spec.choices, batch_size=batch_size, desc=desc, shared_prefix=shared_prefix
        )
        kind = float if spec.is_regression else int
        predictions = [kind(value) for value in predict_from_scores(spec, scores)]
        extras = [{"choices": dict(zip(spec.choices, map(float, row), strict=True))} for row in scores]
        invalid = 0
    elif scoring == "generate":
        if max_new_tokens < 1:
            raise RlptError(f"--max_new_tokens must be at least 1, got {max_new_tokens}")
        texts = generate_greedy(
            model,
            tokenizer,
            task.prompts,
            max_new_tokens=max_new_tokens,
            batch_size=batch_size,
            desc=desc,
            shared_prefix=shared_prefix,
        )
        parsed = [spec.parse(text) for text in texts]
        invalid = sum(value is None for value in parsed)
        predictions = [spec.invalid_prediction if value is None else value for value in parsed]
        extras = [{"generated": text} for text in texts]
    else:
        raise RlptError(f"unknown scoring {scoring!r}; choose from {', '.join(SCORING_MODES)}")

    computed = compute_glue_metrics(spec.source, predictions, task.labels)
    missing = [name for name in spec.metrics if name not in computed]
    if missing:
        given = ", ".join(computed)
        raise RlptError(f"task {spec.name}: the {spec.source} metric gives {given}, not {', '.join(missing)}")
    metrics = _reported(computed, spec.metrics)
    records = [
        {"idx": idx, "prompt": prompt, "label": label, "prediction": prediction, **extra}
        for idx, prompt, label, prediction, extra in zip(
            task.idx, task.prompts, task.labels, predictions, extras, strict=True
        )
    ]
    return GlueResult(
        spec.name,
        metrics,
        len(records),
        invalid,
        scoring,
        spec.prompt_version,
        records,
        source=spec.source,
        num_fewshot=len(task.fewshot_idx),
        prefix_cache=_prefix_use(tokenizer, task, shared_prefix),
    )


def _prefix_use(tokenizer: PreTrainedTokenizerBase, task: TaskPrompts, shared_prefix: str) -> dict[str, int] | None:
    """The cached prefix's length in tokens and the prompts computed whole instead (the scorers split the same way:
    their sequences start with the prompts' tokens); None when no prefix was reused."""
    split = split_after_prefix(tokenizer, shared_prefix, tokenizer(task.prompts)["input_ids"])
    return {"tokens": len(split.prefix), "fallbacks": split.fallbacks} if split.prefix else None


@dataclass
class GlueTask:
    """A GLUE task ready to evaluate any model (`rlpt_trl.evaluation.task.EvalTask`): its prompts, and how
    `evaluate_task` scores them."""

    prompts: TaskPrompts
    scoring: Scoring = "loglik"
    batch_size: int = 32
    max_new_tokens: int = 5
    prefix_cache: PrefixCacheMode = "auto"
    progress: bool = False  # a progress bar per model

    @property
    def name(self) -> str:
        return self.prompts.spec.name

    def evaluate(
        self, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, model_name: str | None = None
    ) -> GlueResult:
        return evaluate_task(
            model,
            tokenizer,
            self.prompts,
            scoring=self.scoring,
            batch_size=self.batch_size,
            max_new_tokens=self.max_new_tokens,
            desc=f"{self.name} ({self.scoring})" if self.progress else None,
            prefix_cache=self.prefix_cache,
        )
