"""The TensorBoard table of sampled completions and their rewards.

TRL's GRPO and RLOO trainers keep the latest batch of prompts, completions, rewards and advantages (gathered from
every process) for their `log_completions` table, which they print and send to W&B and Trackio but not to
TensorBoard. This callback writes that same table to TensorBoard. TRL keeps it in the trainer's private `_logs`: no
public accessor exists in TRL 1.16.
"""

from __future__ import annotations

import math

from transformers import Trainer, TrainerCallback, TrainerControl, TrainerState, TrainingArguments
from transformers.integrations import TensorBoardCallback

from ..utils.markdown import format_table


class CompletionSamplesCallback(TrainerCallback):
    """At each log, write the last `num_samples` prompts, completions, rewards and advantages of `trainer`'s latest
    batch to TensorBoard (text `completions`), from the main process."""

    def __init__(self, trainer: Trainer, num_samples: int = 8) -> None:
        self.trainer = trainer
        self.num_samples = num_samples

    def on_log(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, logs=None, **kwargs):
        latest = getattr(self.trainer, "_logs", None)
        if not state.is_world_process_zero or not latest or not latest["prompt"]:
            return
        writers = [
            callback.tb_writer
            for callback in self.trainer.callback_handler.callbacks
            if isinstance(callback, TensorBoardCallback) and callback.tb_writer is not None
        ]
        if not writers:
            return
        shown = slice(-self.num_samples, None)
        columns = {name: list(values)[shown] for name, values in latest["rewards"].items()}
        columns["advantage"] = list(latest["advantages"])[shown]
        rows = [
            [prompt, completion, *(_number(values[i]) for values in columns.values())]
            for i, (prompt, completion) in enumerate(
                zip(list(latest["prompt"])[shown], list(latest["completion"])[shown], strict=True)
            )
        ]
        table = format_table(["prompt", "completion", *columns], rows)
        for writer in writers:
            writer.add_text("completions", table, state.global_step)
            writer.flush()


def _number(value: float) -> str:
    # a reward that returned None for a row is NaN in TRL's table
    return "n/a" if math.isnan(value) else f"{value:.3f}"
