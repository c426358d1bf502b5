"""The numbers of a trainer config, checked before anything loads.

transformers and TRL accept many values they fail on only after the model loaded (a zero batch, a zero completion
length) or never (a negative learning rate trains backwards, `--max_steps -5` "trains" for no step and saves the
starting model, a NaN reward weight zeroes every advantage). One rule per field, for whichever of them the command's
config class has; NaN fails every rule.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from ..utils.errors import RlptError


def first_blocker(blockers: Mapping[str, bool]) -> str | None:
    """The first reason of `blockers` (reason -> whether it applies to this trainer) that applies, or None."""
    return next((reason for reason, applies in blockers.items() if applies), None)


def _above_zero(value: float) -> bool:
    return value > 0 and math.isfinite(value)


def _at_least(least: float) -> Callable[[float], bool]:
    return lambda value: value >= least and math.isfinite(value)


def _optional(rule: Callable[[float], bool]) -> Callable[[float | None], bool]:
    return lambda value: value is None or rule(value)


# field -> (rule, what the rule asks for)
RULES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "learning_rate": (_above_zero, "above 0"),
    "per_device_train_batch_size": (_at_least(1), "at least 1"),
    "per_device_eval_batch_size": (_at_least(1), "at least 1"),
    "gradient_accumulation_steps": (_at_least(1), "at least 1"),
    "max_steps": (lambda value: value == -1 or value >= 1, "-1 (train --num_train_epochs) or at least 1"),
    "num_train_epochs": (_above_zero, "above 0"),
    "warmup_steps": (_at_least(0), "at least 0"),
    "weight_decay": (_at_least(0), "at least 0"),
    "max_grad_norm": (_at_least(0), "at least 0 (0: no clipping)"),
    "logging_steps": (_above_zero, "above 0"),
    "save_steps": (_above_zero, "above 0"),
    "eval_steps": (_optional(_above_zero), "above 0"),
    "save_total_limit": (_optional(_at_least(0)), "at least 0 (0: keep every checkpoint)"),
    "seed": (_at_least(0), "at least 0"),
    # generation (GRPO, RLOO)
    "max_completion_length": (_optional(_at_least(1)), "at least 1"),
    "max_prompt_length": (_optional(_at_least(1)), "at least 1"),
    "num_generations": (_optional(_at_least(2)), "at least 2 (a group needs two samples to compare)"),
    "temperature": (_above_zero, "above 0"),
    "top_p": (lambda value: 0 < value <= 1, "in (0, 1]"),
    "beta": (_at_least(0), "at least 0"),
    "epsilon": (_at_least(0), "at least 0"),
    # SFT
    "max_length": (_optional(_at_least(1)), "at least 1"),
}


def check_training_config(config: object) -> None:
    """One error line naming the flag and its value for the first field of `config` outside its rule (`RULES`), and
    for a reward weight that is not a finite number."""
    for name, (rule, wanted) in RULES.items():
        if hasattr(config, name) and not rule(value := getattr(config, name)):
            raise RlptError(f"--{name} must be {wanted}, got {value}")
    weights = getattr(config, "reward_weights", None) or []
    if any(not math.isfinite(weight) for weight in weights):
        raise RlptError(f"--reward_weights must be finite numbers, got {' '.join(map(str, weights))}")
