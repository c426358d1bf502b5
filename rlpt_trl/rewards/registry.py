"""The reward registry: names -> reward classes, `get_reward_funcs`, and the GRPO command's reward flags.

Adding a reward is its module (a dataclass whose fields are `reward_option`s) plus one line in `REWARD_FUNCS`;
adding a setting is one field in the reward's class. The flags (`RewardArguments`) and the accepted settings
(`SETTINGS`) are computed from the classes.
"""

from __future__ import annotations

import dataclasses
import importlib
import typing
from collections.abc import Callable
from typing import Any

from ..utils.errors import RlptError
from .embedding_cosine import EmbeddingCosineReward
from .options import reward_settings
from .perplexity import PerplexityReward
from .prefix_match import PrefixMatchReward
from .rpt_prefix import RPTPrefixReward


REWARD_FUNCS: dict[str, type] = {
    "perplexity_reward": PerplexityReward,
    "embedding_cosine_reward": EmbeddingCosineReward,
    "prefix_match_reward": PrefixMatchReward,
    "rpt_prefix_reward": RPTPrefixReward,
}
SETTINGS = sorted({setting for reward in REWARD_FUNCS.values() for setting in reward_settings(reward)})


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
    reward_class = REWARD_FUNCS[name]
    arguments = {}
    for setting, field in reward_settings(reward_class).items():
        if settings.get(setting) is not None:
            arguments[field.name] = settings[setting]
        elif field.metadata["required"]:
            raise RlptError(f"{name} needs the setting {setting}")
    return reward_class(**arguments)


def get_reward_funcs(names: list[str], **settings: Any) -> list[Callable]:
    """Build the reward functions named in `names`, for `reward_funcs=` of a TRL trainer.

    Args:
        names: Registered names (`REWARD_FUNCS`) or dotted import paths of reward callables (`my_pkg.rewards.fn`),
            which are returned as imported.
        settings: Any of `SETTINGS` (the rewards' fields, by their setting names); each reward takes those it
            declares, `None` keeps its default. `perplexity_reward` requires `scorer_model_name_or_path`.
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


def _flag_field(
    setting: str, declared: list[tuple[str, dataclasses.Field, Any]]
) -> tuple[str, Any, dataclasses.Field]:
    """One flag for a setting that one or more rewards declare: the first declaration's type and help; its default
    when every reward has the same, else unset (each reward's own default, listed in the help)."""
    _, first, kind = declared[0]
    defaults = {name: field.default for name, field, _ in declared}
    help_ = first.metadata["help"]
    if len(set(map(repr, defaults.values()))) == 1:
        return setting, kind, dataclasses.field(default=first.default, metadata={"help": help_})
    listed = ", ".join(f"{name} {default!r}" for name, default in defaults.items())
    return setting, kind | None, dataclasses.field(default=None, metadata={"help": f"{help_} Default: {listed}."})


def _reward_arguments() -> type:
    declared: dict[str, list[tuple[str, dataclasses.Field, Any]]] = {}
    for name, reward_class in REWARD_FUNCS.items():
        hints = typing.get_type_hints(reward_class)
        for setting, field in reward_settings(reward_class).items():
            if field.metadata["flag"] and not field.metadata["from_trainer"]:
                declared.setdefault(setting, []).append((name, field, hints[field.name]))
    fields = [_flag_field(setting, declarations) for setting, declarations in declared.items()]
    arguments = dataclasses.make_dataclass("RewardArguments", fields)
    arguments.__module__ = __name__
    arguments.__doc__ = (
        "The registered rewards' settings as flags (computed from the classes): of the reward trainer commands, and of "
        "next_segment's reward metric and scoring models."
    )
    return arguments


RewardArguments = _reward_arguments()


def reward_settings_from(reward_args: object, training_args: object) -> dict[str, Any]:
    """The `get_reward_funcs` settings of a GRPO run: every `RewardArguments` flag, and the settings the trainer
    config holds (`num_generations`)."""
    settings = dataclasses.asdict(reward_args)
    for reward_class in REWARD_FUNCS.values():
        for setting, field in reward_settings(reward_class).items():
            if field.metadata["from_trainer"]:
                settings[setting] = getattr(training_args, setting)
    return settings
