"""The TensorBoard table of sampled completions and their rewards, from what TRL hands the reward functions."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

from torch import nn
from transformers import Trainer, TrainerCallback, TrainerControl, TrainerState, TrainingArguments
from transformers.integrations import TensorBoardCallback

from ..utils.markdown import format_table


class RecordedReward:
    """A reward function that also keeps its latest call's prompts, completions and rewards in `samples`; every
    other attribute (`__name__`, `required_columns`, ...) is the wrapped reward's."""

    def __init__(self, reward: Callable, samples: CompletionSamplesCallback) -> None:
        self.reward = reward
        self.samples = samples
        self.__name__ = getattr(reward, "__name__", type(reward).__name__)

    def __getattr__(self, name: str) -> Any:
        # only called for what the instance lacks; `reward` itself is absent only while unpickling
        if "reward" not in self.__dict__:
            raise AttributeError(name)
        return getattr(self.reward, name)

    def __call__(self, prompts: list, completions: list, **kwargs: Any) -> list:
        rewards = self.reward(prompts=prompts, completions=completions, **kwargs)
        self.samples.keep(self.__name__, prompts, completions, rewards)
        return rewards


class CompletionSamplesCallback(TrainerCallback):
    """Write a sample of the latest prompts, completions and rewards to TensorBoard as a Markdown table.

    They are taken from the reward calls: pass the reward functions through `record` before they go to the trainer.
    A process sees its own slice of each batch; the main process writes the table.
    """

    def __init__(self, num_samples: int = 8) -> None:
        self.num_samples = num_samples
        self.trainer: Trainer | None = None
        self._prompts: list = []
        self._completions: list = []
        self._rewards: dict[str, list] = {}

    def record(self, reward_funcs: Sequence[Any]) -> list[Any]:
        """`reward_funcs` with each plain function wrapped in a `RecordedReward`; reward models (model ids,
        `nn.Module`s) and async functions, which TRL calls otherwise, are passed through."""
        return [
            RecordedReward(reward, self)
            if callable(reward) and not isinstance(reward, nn.Module) and not inspect.iscoroutinefunction(reward)
            else reward
            for reward in reward_funcs
        ]

    def keep(self, name: str, prompts: list, completions: list, rewards: list) -> None:
        """The latest call of the reward `name`: a new batch replaces the kept one."""
        if prompts != self._prompts or completions != self._completions:
            self._prompts, self._completions, self._rewards = list(prompts), list(completions), {}
        self._rewards[name] = list(rewards)

    def on_log(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, logs=None, **kwargs):
        if not state.is_world_process_zero or self.trainer is None or not self._prompts:
            return
        writers = [
            callback.tb_writer
            for callback in self.trainer.callback_handler.callbacks
            if isinstance(callback, TensorBoardCallback) and callback.tb_writer is not None
        ]
        if not writers:
            return
        shown = slice(-self.num_samples, None)
        rewards = {name: values[shown] for name, values in self._rewards.items()}
        rows = [
            [
                prompt,
                completion,
                *(f"{values[i]:.3f}" if values[i] is not None else "n/a" for values in rewards.values()),
            ]
            for i, (prompt, completion) in enumerate(zip(self._prompts[shown], self._completions[shown], strict=True))
        ]
        table = format_table(["prompt", "completion", *rewards], rows)
        for writer in writers:
            writer.add_text("completions", table, state.global_step)
            writer.flush()
