"""What an evaluation task is to the runner, the in-training callback, the bootstrap and the reports, whatever its
kind (`rlpt_trl.evaluation.registry`): something that evaluates a model into a result with per-row records."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, TypeVar

import numpy as np
import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from ..models.loading import load_tokenizer


if TYPE_CHECKING:
    from .arguments import EvalArguments

T = TypeVar("T")


class EvalResult(Protocol):
    """One model's result on one task."""

    task: str  # the task's name: its key in metrics.json and its predictions file name
    metrics: Mapping[str, float | None]  # None where a metric is undefined
    n: int  # evaluated rows
    records: list[dict]  # one per row: the content of the predictions file

    def metrics_on(self, indices: np.ndarray) -> Mapping[str, float | None]:
        """The metrics recomputed on rows `indices` (repeats allowed), for bootstrap resamples."""
        ...

    def summary(self) -> dict:
        """The task's entry of metrics.json: the metrics, `n`, and the settings that produced them."""
        ...

    def describe(self) -> str:
        """How the result was produced, in a few words for the report (scoring, prompts, models used)."""
        ...


@dataclass
class ResultEntry:
    """The fields that every result's metrics.json entry holds after its metrics: a result dataclass of any kind
    starts with them and extends `summary` and `describe`."""

    task: str
    metrics: dict[str, float | None]
    n: int
    invalid: int  # rows whose answer could not be read
    scoring: str  # how the rows were scored
    prompt_version: str  # the version of the prompts, which changes whenever their text does
    records: list[dict] = field(repr=False)

    def summary(self) -> dict:
        """The task's entry of `metrics.json`."""
        return {
            **self.metrics,
            "n": self.n,
            "invalid": self.invalid,
            "scoring": self.scoring,
            "prompt_version": self.prompt_version,
        }

    def describe(self) -> str:
        return f"scoring {self.scoring}, prompts {self.prompt_version}"


class EvalTask(Protocol):
    """A task ready to evaluate any model: its rows are fixed, so results of several models are paired."""

    name: str

    def evaluate(
        self, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, model_name: str | None = None
    ) -> EvalResult:
        """The result of `model` (in eval mode) on the task; `model_name` is what it was loaded from, when the caller
        knows (the eval command; not a model in training)."""
        ...


@dataclass
class EvalSetup:
    """What a task kind builds its tasks from, before any model loads: the evaluation's arguments and each kind's own
    (`options`, by dataclass), the models in order, the device and dtype they are evaluated in, whether tasks show
    progress bars, and the tokenizer that cuts text (default: the first model's, loaded when first asked for)."""

    args: EvalArguments
    options: Mapping[type, object]
    models: list[str]
    device: torch.device
    dtype: torch.dtype
    progress: bool = True
    given_tokenizer: PreTrainedTokenizerBase | None = field(default=None, repr=False)

    def option(self, arguments: type[T]) -> T:
        """The parsed instance of a kind's arguments dataclass, or its defaults."""
        return self.options.get(arguments) or arguments()

    def tokenizer(self) -> PreTrainedTokenizerBase:
        """The first model's tokenizer, loaded once: tasks that cut text cut it with it, so every model is paired."""
        if self.given_tokenizer is None:
            self.given_tokenizer = load_tokenizer(self.models[0], trust_remote_code=self.args.trust_remote_code)
        return self.given_tokenizer


@dataclass(frozen=True)
class TaskKind:
    """A family of evaluation tasks (`rlpt_trl.evaluation.registry`), declared in its subpackage's `kind` module."""

    names: Sequence[str]  # the built-in task names it answers to
    build: Callable[[list[str], EvalSetup], list[EvalTask]]  # its tasks among the names asked for (maybe none)
    headline_metrics: Callable[[str], Sequence[str]]  # task name -> the metrics a paired-difference table shows
    arguments: tuple[type, ...] = ()  # its own flag dataclasses, parsed by `rlpt-trl eval` and the trainer commands
    defaults: Callable[[EvalSetup], Sequence[str]] = lambda setup: ()  # its tasks when no task is named
