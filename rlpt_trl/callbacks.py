"""Callbacks of rlpt_trl's GRPO runs beyond TRL's own."""

from __future__ import annotations

from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments
from transformers.integrations import TensorBoardCallback
from trl import GRPOTrainer

from .markdown import format_table


class CompletionSamplesCallback(TrainerCallback):
    """Write a sample of the latest prompts, completions and rewards to TensorBoard as a Markdown table."""

    def __init__(self, trainer: GRPOTrainer, num_samples: int = 8) -> None:
        self.trainer = trainer
        self.num_samples = num_samples

    def on_log(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, logs=None, **kwargs):
        if not state.is_world_process_zero:
            return
        writers = [
            cb.tb_writer
            for cb in self.trainer.callback_handler.callbacks
            if isinstance(cb, TensorBoardCallback) and cb.tb_writer is not None
        ]
        # GRPOTrainer keeps the latest generation batch in `_logs` for its own completion tables
        buffer = getattr(self.trainer, "_logs", None)
        if not writers or not buffer or not buffer.get("prompt"):
            return
        prompts = list(buffer["prompt"])[-self.num_samples :]
        completions = list(buffer["completion"])[-self.num_samples :]
        rewards = {name: list(values)[-self.num_samples :] for name, values in buffer["rewards"].items()}
        rows = [
            [prompt, completion, *(f"{values[i]:.3f}" for values in rewards.values())]
            for i, (prompt, completion) in enumerate(zip(prompts, completions, strict=True))
        ]
        table = format_table(["prompt", "completion", *rewards], rows)
        for writer in writers:
            writer.add_text("completions", table, state.global_step)
            writer.flush()
