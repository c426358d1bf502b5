"""Fluency reward: log-perplexity of each completion under a frozen scorer LM, z-scored within its group."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

import numpy as np
from transformers import PreTrainedModel, PreTrainedTokenizerBase
from trl.data_utils import apply_chat_template, is_conversational

from ..devices import evaluation_dtype
from ..errors import RlptError
from ..modeling import load_model_and_tokenizer
from ..scoring import ScoredTokens, completion_tokens, sequence_nll
from .groups import gather_batch, group_ids, negated_group_zscores
from .loading import reward_device, unpartitioned


class PerplexityReward:
    """TRL reward function: `-z(log-perplexity)` of each completion given its prompt, within the prompt's group.

    The statistic is the log-perplexity, i.e. the mean negative log-likelihood (nats per token) of the completion
    tokens given the prompt. Perplexity itself is its exponential: heavy-tailed, so one garbled completion would
    dominate its group's mean and std and squash everyone else's z-score together; on the log scale the spread
    stays proportionate and nothing overflows. The z-score is taken within each prompt's group over the GLOBAL
    batch (gathered across processes, see `rlpt_trl.rewards.groups`), so every completion gets the same reward
    on 1 or N processes, and negated: lower perplexity, higher reward.

    Text is scored as TRL builds it: standard prompts as `prompt + completion`, tokenized together (with the
    tokenizer's special tokens, as TRL tokenizes prompts); conversational ones through the scorer's chat
    template (`trl.data_utils.apply_chat_template`: the prompt with its generation prompt, the completion as the
    assistant turn including its end-of-turn marker). The completion tokens are those after the longest common
    prefix of the prompt's and the joint tokenization. Degenerate cases: a group of one, or a group whose
    log-perplexities spread less than `groups.ZERO_SPREAD`, gives 0.0; an empty completion (no token to score)
    gets its group's lowest reward. Never NaN or inf.
    """

    __name__ = "perplexity_reward"

    def __init__(
        self,
        model_name_or_path: str,
        *,
        batch_size: int = 32,
        device: str | None = "auto",
        dtype: str = "auto",
        num_generations: int | None = None,
    ):
        if batch_size < 1:
            raise RlptError(f"perplexity_reward batch_size must be >= 1, got {batch_size}")
        if num_generations is not None and num_generations < 1:
            raise RlptError(f"perplexity_reward num_generations must be >= 1, got {num_generations}")
        self.model_name_or_path = str(model_name_or_path)
        self.batch_size = batch_size
        self.device = device
        self.dtype = dtype
        self.num_generations = num_generations
        self._model: PreTrainedModel | None = None
        self._tokenizer: PreTrainedTokenizerBase | None = None

    def __getstate__(self) -> dict[str, Any]:
        # The scorer reloads lazily wherever the object is unpickled.
        return {**self.__dict__, "_model": None, "_tokenizer": None}

    def required_columns(self, column_names: Collection[str]) -> list[str]:
        """The dataset columns this reward reads: none, it scores prompts and completions only."""
        return []

    def _load(self) -> None:
        if self._model is None:
            device = reward_device(self.device)
            with unpartitioned():
                model, tokenizer = load_model_and_tokenizer(
                    self.model_name_or_path,
                    dtype=evaluation_dtype(self.dtype, device),
                    device=str(device),
                    padding_side="left",
                )
            self._model, self._tokenizer = model.eval().requires_grad_(False), tokenizer

    def _scored_tokens(self, prompt: Any, completion: Any) -> ScoredTokens:
        """Token ids of prompt + completion, and the index of the first completion token."""
        tokenizer = self._tokenizer
        if is_conversational({"prompt": prompt}):
            try:
                texts = apply_chat_template({"prompt": prompt, "completion": completion}, tokenizer)
            except ValueError as err:
                raise RlptError(f"cannot apply the chat template of {self.model_name_or_path}: {err}") from None
            prompt_text, completion_text, special = texts["prompt"], texts["completion"], False
        else:
            prompt_text, completion_text, special = prompt, completion, True
        return completion_tokens(tokenizer, [prompt_text], [completion_text], add_special_tokens=special)[0]

    def log_perplexities(self, prompts: list[Any], completions: list[Any]) -> np.ndarray:
        """Mean NLL (nats/token) of each completion given its prompt; NaN for a completion with no token."""
        self._load()
        keys = [repr(pair) for pair in zip(prompts, completions, strict=True)]
        # identical pairs (frequent among a group's short samples) are tokenized once
        pairs = dict(zip(keys, zip(prompts, completions, strict=True), strict=True))
        tokens = {key: self._scored_tokens(*pair) for key, pair in pairs.items()}
        return sequence_nll(self._model, self._tokenizer, [tokens[key] for key in keys], self.batch_size)

    def __call__(
        self,
        prompts: list[Any],
        completions: list[Any],
        log_metric: Callable[[str, float], None] | None = None,
        **kwargs: Any,
    ) -> list[float]:
        local = self.log_perplexities(prompts, completions)
        batch, own = gather_batch(list(zip(prompts, local.tolist(), strict=True)))
        all_prompts = [prompt for prompt, _ in batch]
        values = np.array([value for _, value in batch], dtype=np.float64)
        rewards = negated_group_zscores(values, group_ids(all_prompts, self.num_generations))
        if log_metric is not None and np.isfinite(values).any():
            # Geometric-mean perplexity of the whole batch: the same number on every process.
            log_metric("rewards/perplexity_reward/perplexity", float(np.exp(np.nanmean(values))))
        return rewards[own].tolist()


def get_perplexity_reward(
    model_name_or_path: str,
    *,
    batch_size: int = 32,
    device: str | None = "auto",
    dtype: str = "auto",
    num_generations: int | None = None,
) -> PerplexityReward:
    """The z-scored perplexity reward for `reward_funcs=` of a TRL trainer.

    Args:
        model_name_or_path: Frozen scorer LM: Hub id, local HF directory or `.gguf` file (usually the policy's
            starting checkpoint). Loaded on first call.
        batch_size: Sequences per forward pass.
        device: `"auto"` (this process's accelerate device) or an explicit device.
        dtype: `"auto"` (bf16 where the device computes it natively, see `rlpt_trl.devices`; fp32 otherwise) or a
            torch dtype name.
        num_generations: The trainer's `num_generations`: groups are consecutive blocks of this size. `None`
            groups consecutive identical prompts instead.
    """
    return PerplexityReward(
        model_name_or_path, batch_size=batch_size, device=device, dtype=dtype, num_generations=num_generations
    )
