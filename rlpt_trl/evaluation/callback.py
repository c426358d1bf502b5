"""`TrainerCallback`s that run a small evaluation during SFT or GRPO (GLUE, next_segment) and log it with the trainer's
loggers."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from transformers import (
    PreTrainedModel,
    PreTrainedTokenizerBase,
    Trainer,
    TrainerCallback,
    TrainerControl,
    TrainerState,
    TrainingArguments,
)

from .evaluator import Scoring, TaskResult, evaluate_task
from .next_segment import NextSegmentScorers, evaluate_next_segment
from .next_segment_prompts import NextSegmentPrompts
from .next_segment_result import NextSegmentResult
from .prompts import DEFAULT_FEWSHOT_SEED, build_task_prompts
from .tasks import GlueTaskSpec, get_task, select_tasks


if TYPE_CHECKING:
    from .runner import NextSegmentArguments


DEFAULT_CALLBACK_TASKS = ("cola",)


class PeriodicEvalCallback(TrainerCallback):
    """Every `eval_steps` optimizer steps, evaluate the trained model (`results`) and log `eval/<task>/<metric>`.

    The metrics go through `trainer.log` as `eval_<task>/<metric>`, which the reporting integrations (TensorBoard,
    W&B, ...) write as `eval/<task>/<metric>`, and land in `trainer.state.log_history`. The model is switched to
    eval mode while it is evaluated and logged, as in `Trainer.evaluate`, so TRL trainers add no training metrics
    to this log entry. Every process runs the same evaluation (sharded models need all ranks for a forward);
    keep the evaluation small.

    Args:
        trainer: The trainer whose model and tokenizer are evaluated.
        eval_steps: Evaluation interval in optimizer steps; defaults to the trainer's `eval_steps`.
    """

    def __init__(self, trainer: Trainer, eval_steps: int | None = None):
        self.trainer = trainer
        self.eval_steps = eval_steps
        self._last_step = -1

    def results(
        self, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase
    ) -> Iterator[TaskResult | NextSegmentResult]:
        """The task results of `model` now, each with `task` and `metrics`."""
        raise NotImplementedError

    def evaluate(self) -> dict[str, float]:
        """Evaluate the trainer's model now and log the metrics; returns them as logged (`eval_<task>/<metric>`)."""
        model = self.trainer.model
        tokenizer = getattr(self.trainer.processing_class, "tokenizer", self.trainer.processing_class)
        was_training = model.training
        model.eval()
        try:
            logs = {}
            for result in self.results(model, tokenizer):
                # a metric without a value (a constant prediction has no correlation) is left out of the log
                metrics = {name: value for name, value in result.metrics.items() if value is not None}
                logs.update({f"eval_{result.task}/{name}": value for name, value in metrics.items()})
            self.trainer.log(logs)
        finally:
            model.train(was_training)
        return logs

    def on_step_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs) -> None:
        interval = self.eval_steps or state.eval_steps
        if not interval or state.global_step % interval or state.global_step == self._last_step:
            return
        self._last_step = state.global_step
        # `trainer.log` clears `control.should_log`; the step's own training log must still happen
        should_log = control.should_log
        self.evaluate()
        control.should_log = should_log


class GlueEvalCallback(PeriodicEvalCallback):
    """Every `eval_steps` optimizer steps, evaluate the trained model on GLUE tasks and log `eval/<task>/<metric>`.

    Usage (like TRL's `LogCompletionsCallback`, the callback logs through the trainer it is given):

    ```python
    >>> trainer = GRPOTrainer(...)
    >>> trainer.add_callback(GlueEvalCallback(trainer, ["cola"], eval_steps=50, data_dir="glue", max_samples=256))
    ```

    Args:
        trainer, eval_steps: As for `PeriodicEvalCallback`.
        tasks: Task names or specs (see `rlpt_trl.evaluation.tasks`).
        data_dir: GLUE root folder; None reads `nyu-mll/glue` from the Hub.
        max_samples: Evaluate the first N validation rows of each task (None: all).
        num_fewshot, fewshot_seed, scoring, batch_size, max_new_tokens: As for `recipes/evaluate_glue.py`;
            `batch_size` defaults to the trainer's `per_device_eval_batch_size`.
    """

    def __init__(
        self,
        trainer: Trainer,
        tasks: Sequence[str | GlueTaskSpec] = DEFAULT_CALLBACK_TASKS,
        *,
        eval_steps: int | None = None,
        data_dir: str | Path | None = None,
        max_samples: int | None = 256,
        num_fewshot: int = 0,
        fewshot_seed: int = DEFAULT_FEWSHOT_SEED,
        scoring: Scoring = "loglik",
        batch_size: int | None = None,
        max_new_tokens: int = 5,
    ):
        super().__init__(trainer, eval_steps)
        self.scoring = scoring
        self.batch_size = batch_size or trainer.args.per_device_eval_batch_size
        self.max_new_tokens = max_new_tokens
        self.tasks = [
            build_task_prompts(
                get_task(task) if isinstance(task, str) else task,
                data_dir=data_dir,
                num_fewshot=num_fewshot,
                seed=fewshot_seed,
                max_samples=max_samples,
            )
            for task in tasks
        ]

    def results(self, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase) -> Iterator[TaskResult]:
        for task in self.tasks:
            yield evaluate_task(
                model,
                tokenizer,
                task,
                scoring=self.scoring,
                batch_size=self.batch_size,
                max_new_tokens=self.max_new_tokens,
            )


class NextSegmentEvalCallback(PeriodicEvalCallback):
    """Every `eval_steps` optimizer steps, evaluate the trained model on held-out next-segment prompts and log
    `eval/next_segment/<metric>` (the metrics of `rlpt_trl.evaluation.next_segment`).

    Args:
        trainer, eval_steps: As for `PeriodicEvalCallback`.
        prompts: The held-out prompts (`build_next_segment_prompts`), the same at every evaluation.
        scorers: The frozen sentence encoder and scorer LM (`NextSegmentScorers.load`).
        num_samples, temperature, max_new_tokens, seed: The sampling settings of `evaluate_next_segment`.
        batch_size: Prompts per `generate` call; defaults to the trainer's `per_device_eval_batch_size`.
    """

    def __init__(
        self,
        trainer: Trainer,
        prompts: NextSegmentPrompts,
        scorers: NextSegmentScorers,
        *,
        eval_steps: int | None = None,
        num_samples: int = 4,
        temperature: float = 0.9,
        max_new_tokens: int = 4,
        seed: int = 0,
        batch_size: int | None = None,
    ):
        super().__init__(trainer, eval_steps)
        self.prompts = prompts
        self.scorers = scorers
        self.sampling = {
            "num_samples": num_samples,
            "temperature": temperature,
            "max_new_tokens": max_new_tokens,
            "seed": seed,
            "batch_size": batch_size or trainer.args.per_device_eval_batch_size,
        }

    def results(self, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase) -> Iterator[NextSegmentResult]:
        yield evaluate_next_segment(model, tokenizer, self.prompts, scorers=self.scorers, **self.sampling)


@dataclass
class GlueEvalCallbackArguments:
    """Flags of the in-training GLUE evaluation, for a training recipe's `TrlParser` (SFT, GRPO)."""

    glue_eval_steps: int = field(
        default=0,
        metadata={"help": "Every N optimizer steps, evaluate on GLUE and log eval/<task>/<metric> (0: off)."},
    )
    glue_eval_tasks: list[str] | None = field(
        default=None,
        metadata={"help": "Built-in tasks to evaluate. Default: cola, or none when --glue_eval_task_config is given."},
    )
    glue_eval_task_config: list[str] = field(
        default_factory=list,
        metadata={"help": "YAML task files evaluated after --glue_eval_tasks (as --task_config of rlpt-trl eval)."},
    )
    glue_eval_data_dir: str | None = field(
        default=None, metadata={"help": "GLUE root folder for the evaluation. Default: nyu-mll/glue from the Hub."}
    )
    glue_eval_max_samples: int | None = field(default=256, metadata={"help": "First N validation rows per task."})
    glue_eval_num_fewshot: int = field(default=0, metadata={"help": "Solved train examples before each prompt."})
    glue_eval_scoring: Scoring = field(default="loglik", metadata={"help": "Scoring mode."})


def glue_eval_callback(trainer: Trainer, args: GlueEvalCallbackArguments) -> GlueEvalCallback | None:
    """The callback that `args` asks for, or None when `glue_eval_steps` is 0."""
    if args.glue_eval_steps <= 0:
        return None
    return GlueEvalCallback(
        trainer,
        select_tasks(args.glue_eval_tasks, args.glue_eval_task_config, default=DEFAULT_CALLBACK_TASKS),
        eval_steps=args.glue_eval_steps,
        data_dir=args.glue_eval_data_dir,
        max_samples=args.glue_eval_max_samples,
        num_fewshot=args.glue_eval_num_fewshot,
        scoring=args.glue_eval_scoring,
    )


@dataclass
class NextSegmentCallbackArguments:
    """Flags of the in-training next-segment evaluation, for the GRPO script's `TrlParser` (with
    `rlpt_trl.evaluation.runner.NextSegmentArguments` for the prompts and samples)."""

    next_segment_eval_steps: int = field(
        default=0,
        metadata={
            "help": "Every N optimizer steps, evaluate on held-out next-segment prompts and log "
            "eval/next_segment/<metric> (0: off)."
        },
    )
    next_segment_eval_max_samples: int = field(default=128, metadata={"help": "Held-out prompts per evaluation."})


def next_segment_eval_callback(
    trainer: Trainer,
    args: NextSegmentCallbackArguments,
    settings: NextSegmentArguments,
    *,
    scorer_model_name_or_path: str,
    embedding_model_name_or_path: str,
    data_dir: str | None = None,
) -> NextSegmentEvalCallback | None:
    """The callback that `args` asks for, or None when `next_segment_eval_steps` is 0.

    The prompts come from `settings.next_segment_data`, else CoLA validation under `data_dir` (a GLUE root; None: the
    Hub), cut with the trainer's tokenizer; the scorers load here, before training starts.
    """
    if args.next_segment_eval_steps <= 0:
        return None
    tokenizer = getattr(trainer.processing_class, "tokenizer", trainer.processing_class)
    prompts = settings.build_prompts(tokenizer, data_dir, args.next_segment_eval_max_samples)
    scorers = NextSegmentScorers.load(scorer_model_name_or_path, embedding_model_name_or_path)
    return NextSegmentEvalCallback(
        trainer, prompts, scorers, eval_steps=args.next_segment_eval_steps, **settings.sampling()
    )
