"""`EvalCallback`: evaluation tasks of any kind run periodically inside SFT or GRPO training and logged with the
trainer's loggers."""

from __future__ import annotations

from collections.abc import Sequence

from transformers import Trainer, TrainerCallback, TrainerControl, TrainerState, TrainingArguments

from .task import EvalTask


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
