"""Reward functions for TRL trainers (`GRPOTrainer`, `RLOOTrainer`, ...) and the registry the GRPO recipe uses.

One line in any TRL project:

    reward_funcs=[get_perplexity_reward("HuggingFaceTB/SmolLM2-135M"), get_embedding_cosine_reward()]

Each reward object declares the dataset columns it reads (`required_columns(column_names)`), so a recipe can check a
dataset before training without knowing reward names.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from typing import Any

from ..errors import RlptError
from .embedding_cosine import EmbeddingCosineReward, get_embedding_cosine_reward
from .perplexity import PerplexityReward, get_perplexity_reward
from .prefix_match import PrefixMatchReward, get_prefix_match_reward


REWARD_FUNCS: dict[str, Callable[..., Callable]] = {
    "perplexity_reward": get_perplexity_reward,
    "embedding_cosine_reward": get_embedding_cosine_reward,
    "prefix_match_reward": get_prefix_match_reward,
}

# Which `get_reward_funcs` setting feeds which factory argument.
REWARD_SETTINGS: dict[str, dict[str, str]] = {
    "perplexity_reward": {
        "scorer_model_name_or_path": "model_name_or_path",
        "reward_batch_size": "batch_size",
        "num_generations": "num_generations",
        "device": "device",
        "scorer_dtype": "dtype",
    },
    "embedding_cosine_reward": {
        "embedding_model_name_or_path": "model_name_or_path",
        "reward_batch_size": "batch_size",
        "device": "device",
        "text_column": "text_column",
        "scores_column": "scores_column",
        "embedding_column": "embedding_column",
        "embedding_baseline": "baseline",
        "embedding_compare": "compare",
        "scale_by_score": "scale_by_score",
        "completion_embedding_column": "completion_embedding_column",
    },
    "prefix_match_reward": {"text_column": "text_column"},
}
SETTINGS = sorted({key for settings in REWARD_SETTINGS.values() for key in settings})


def _import_reward(path: str) -> Callable:
    module_name, _, attribute = path.rpartition(".")
    try:
        reward = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError, ValueError) as err:
        raise RlptError(f"cannot import reward function {path}: {err}") from None
    if not callable(reward):
        raise RlptError(f"reward function {path} is not callable ({type(reward).__name__})")
    return reward


def _build_reward(name: str, settings: dict[str, Any]) -> Callable:
    factory = REWARD_FUNCS[name]
    mapping = REWARD_SETTINGS.get(name, {})
    parameters = inspect.signature(factory).parameters
    for key, argument in mapping.items():
        if settings.get(key) is None and parameters[argument].default is inspect.Parameter.empty:
            raise RlptError(f"{name} needs the setting {key}")
    return factory(**{argument: settings[key] for key, argument in mapping.items() if settings.get(key) is not None})


def get_reward_funcs(names: list[str], **settings: Any) -> list[Callable]:
    """Build the reward functions named in `names`, for `reward_funcs=` of a TRL trainer.

    Args:
        names: Registered names (`REWARD_FUNCS`) or dotted import paths of reward callables (`my_pkg.rewards.fn`),
            which are returned as imported.
        settings: Any of `SETTINGS`; each factory takes those it needs (`REWARD_SETTINGS`), `None` keeps its default.
            `perplexity_reward` requires `scorer_model_name_or_path`.
    """
    unknown = sorted(set(settings) - set(SETTINGS))
    if unknown:
        raise RlptError(f"unknown reward setting(s) {', '.join(unknown)} (known: {', '.join(SETTINGS)})")
    rewards = []
    for name in names:
        if name in REWARD_FUNCS:
            rewards.append(_build_reward(name, settings))
        elif "." in name:
            rewards.append(_import_reward(name))
        else:
            registered = ", ".join(REWARD_FUNCS)
            raise RlptError(f"unknown reward function {name!r} (registered: {registered}; or a dotted import path)")
    return rewards


__all__ = [
    "REWARD_FUNCS",
    "REWARD_SETTINGS",
    "EmbeddingCosineReward",
    "PerplexityReward",
    "PrefixMatchReward",
    "get_embedding_cosine_reward",
    "get_perplexity_reward",
    "get_prefix_match_reward",
    "get_reward_funcs",
]
