"""Reward functions for TRL trainers (`GRPOTrainer`, `RLOOTrainer`, ...) and their registry.

Ready rewards at dotted paths, for TRL's own script or any `reward_funcs=`:

    trl grpo --reward_funcs rlpt_trl.rewards.prefix_match_reward rlpt_trl.rewards.embedding_cosine_reward ...

Built with settings, in Python (each reward class's fields are its settings):

    reward_funcs=[get_perplexity_reward("HuggingFaceTB/SmolLM2-135M"), get_embedding_cosine_reward(baseline="prompt")]

Each reward declares the dataset columns it reads (`required_columns(column_names)`), so a recipe can check a dataset
before training without knowing reward names.
"""

from __future__ import annotations

from .embedding_cosine import EmbeddingCosineReward, embedding_cosine_reward, get_embedding_cosine_reward
from .perplexity import PerplexityReward, get_perplexity_reward, perplexity_reward
from .prefix_match import PrefixMatchReward, get_prefix_match_reward, prefix_match_reward
from .registry import REWARD_FUNCS, SETTINGS, RewardArguments, get_reward_funcs
from .rpt_prefix import RPTPrefixReward, get_rpt_prefix_reward, rpt_prefix_reward


__all__ = [
    "REWARD_FUNCS",
    "SETTINGS",
    "EmbeddingCosineReward",
    "PerplexityReward",
    "PrefixMatchReward",
    "RPTPrefixReward",
    "RewardArguments",
    "embedding_cosine_reward",
    "get_embedding_cosine_reward",
    "get_perplexity_reward",
    "get_prefix_match_reward",
    "get_reward_funcs",
    "get_rpt_prefix_reward",
    "perplexity_reward",
    "prefix_match_reward",
    "rpt_prefix_reward",
]
