"""Fluency reward: log-perplexity of each completion under a frozen scorer LM, z-scored within its group."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from transformers import PreTrainedModel, PreTrainedTokenizerBase
from trl.data_utils import apply_chat_template, is_conversational

from ..models.likelihood import ScoredTokens, completion_tokens, sequence_nll
from ..models.loading import check_causal_lm, is_gguf
from ..models.shared import shared_scorer
from ..utils.errors import RlptError
from ..utils.files import is_local_path
from .groups import gather_batch, group_ids, negated_group_zscores
from .options import BATCH_SIZE_HELP, DEVICE_HELP, reward_option


@dataclass(eq=False)
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

    model_name_or_path: str | None = reward_option(
        None,
        help="Frozen scorer LM of the perplexity reward (Hub id, local folder or .gguf); loaded on first call. The GRPO "
        "command defaults it to the policy's starting checkpoint.",
        setting="scorer_model_name_or_path",
        required=True,
        kw_only=False,
    )
    batch_size: int = reward_option(32, help=BATCH_SIZE_HELP, setting="reward_batch_size")
    device: str | None = reward_option("auto", help=DEVICE_HELP, flag=False)
    dtype: str = reward_option(
        "auto",
        help="Scorer precision: 'auto' (bf16 where the device computes it natively, else fp32) or a torch dtype name.",
        setting="scorer_dtype",
    )
    num_generations: int | None = reward_option(
        None,
        help="The trainer's num_generations: groups are consecutive blocks of this size; unset groups consecutive "
        "identical prompts.",
        from_trainer=True,
    )

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise RlptError(f"perplexity_reward batch_size must be >= 1, got {self.batch_size}")
        if self.num_generations is not None and self.num_generations < 1:
            raise RlptError(f"perplexity_reward num_generations must be >= 1, got {self.num_generations}")
        if self.model_name_or_path is not None:
            self.model_name_or_path = str(self.model_name_or_path)
            # a local folder that is not a causal LM is named now, not at the first training step (a missing one is
            # named where the run first reads the model)
            name = self.model_name_or_path
            if is_local_path(name) and not is_gguf(name) and Path(name).expanduser().is_dir():
                check_causal_lm(name)

    def required_columns(self, column_names: Collection[str]) -> list[str]:
        """The dataset columns this reward reads: none, it scores prompts and completions only."""
        return []

    def scorer(self) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
        """The frozen scorer LM and its tokenizer, shared by everything in this process that scores with it."""
        if self.model_name_or_path is None:
            raise RlptError(
                "perplexity_reward needs a scorer LM: use get_perplexity_reward('MODEL') (Python) or "
                "rlpt-trl grpo --scorer_model_name_or_path MODEL, or embedding_cosine_reward / prefix_match_reward, "
                "which need none"
            )
        return shared_scorer(self.model_name_or_path, self.device, self.dtype)

    def _scored_tokens(self, tokenizer: PreTrainedTokenizerBase, prompt: Any, completion: Any) -> ScoredTokens:
        """Token ids of prompt + completion, and the index of the first completion token."""
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
        model, tokenizer = self.scorer()
        keys = [repr(pair) for pair in zip(prompts, completions, strict=True)]
        # identical pairs (frequent among a group's short samples) are tokenized once
        pairs = dict(zip(keys, zip(prompts, completions, strict=True), strict=True))
        tokens = {key: self._scored_tokens(tokenizer, *pair) for key, pair in pairs.items()}
        return sequence_nll(model, tokenizer, [tokens[key] for key in keys], self.batch_size)

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


# The Python factory is the class: its fields are the settings.
get_perplexity_reward = PerplexityReward
# At a dotted path for TRL's own script, where no scorer can be named: its first call says what to use instead.
perplexity_reward = PerplexityReward()
