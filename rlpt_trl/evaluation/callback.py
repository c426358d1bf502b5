"""`EvalCallback`: evaluation tasks of any kind run periodically inside training and logged with the trainer's
loggers; `eval_callback` builds it from the flags every trainer command shares (`EvalCallbackArguments`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from transformers import Trainer, TrainerCallback, TrainerControl, TrainerState, TrainingArguments

from ..utils.errors import RlptError
from .arguments import EvalArguments, EvalCallbackArguments
from .registry import build_tasks
from .task import EvalSetup, EvalTask


class EvalCallback(TrainerCallback):
    """Every `eval_steps` optimizer steps, evaluate the trained model on `tasks` and log `eval/<task>/<metric>`.

    The metrics go through `trainer.log` as `eval_<task>/<metric>`, which the reporting integrations (TensorBoard,
    W&B, ...) write as `eval/<task>/<metric>`, and land in `trainer.state.log_history`. The model is switched to
    eval mode while it is evaluated and logged, as in `Trainer.evaluate`, so TRL trainers add no training metrics
    to this log entry. Every process runs the same evaluation (sharded models need all ranks for a forward);
    keep the evaluation small.

    Args:
        trainer: The trainer whose model and tokenizer are evaluated (like TRL's `LogCompletionsCallback`, the
            callback logs through the trainer it is given).
        tasks: The tasks (`rlpt_trl.evaluation.task.EvalTask`), the same rows at every evaluation.
        eval_steps: Evaluation interval in optimizer steps; defaults to the trainer's `eval_steps`.
    """

    def __init__(self, trainer: Trainer, tasks: Sequence[EvalTask], eval_steps: int | None = None):
        self.trainer = trainer
        self.tasks = list(tasks)
        self.eval_steps = eval_steps
        self._last_step = -1

    def evaluate(self) -> dict[str, float]:
        """Evaluate the trainer's model now and log the metrics; returns them as logged (`eval_<task>/<metric>`)."""
        model = self.trainer.model
        tokenizer = getattr(self.trainer.processing_class, "tokenizer", self.trainer.processing_class)
        was_training = model.training
        model.eval()
        try:
            logs = {}
            for task in self.tasks:
                result = task.evaluate(model, tokenizer)
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


def training_eval_tasks(
    args: EvalCallbackArguments, options: Mapping[type, object], model_name: str, training_args: TrainingArguments
) -> list[EvalTask]:
    """The tasks that `args` asks to evaluate during training (none when `eval_every_steps` is 0), built as
    `rlpt-trl eval` builds them from the kinds' `options` (by dataclass): rows cut by `model_name`'s tokenizer, batches
    of `per_device_eval_batch_size`, on the training device. Their data is read and their scoring models load now,
    before the trained model loads."""
    from ..models.devices import evaluation_dtype

    if args.eval_every_steps < 0:
        raise RlptError(f"--eval_every_steps must be at least 0 (0: no evaluation), got {args.eval_every_steps}")
    if args.eval_every_steps == 0:
        if args.eval_tasks:
            raise RlptError(
                f"--eval_tasks {','.join(args.eval_tasks)} needs --eval_every_steps N: how often to evaluate"
            )
        return []
    if not args.eval_tasks:
        raise RlptError("--eval_every_steps needs --eval_tasks (e.g. cola,next_segment)")
    if args.eval_max_samples is not None and args.eval_max_samples < 1:
        raise RlptError(f"--eval_max_samples must be at least 1, got {args.eval_max_samples}")
    device = training_args.device
    eval_args = EvalArguments(
        model_name_or_path=[model_name],
        output_dir=training_args.output_dir,
        tasks=args.eval_tasks,
        data_dir=args.eval_data_dir,
        batch_size=training_args.per_device_eval_batch_size,
        max_samples=args.eval_max_samples,
        trust_remote_code=training_args.trust_remote_code,
    )
    setup = EvalSetup(eval_args, options, [model_name], device, evaluation_dtype("auto", device), progress=False)
    tasks = build_tasks(args.eval_tasks, setup)
    for task in tasks:
        # a task with frozen scoring models (next_segment) loads them now: a bad path fails before training
        getattr(task, "load_scorers", lambda: None)()
    return tasks
