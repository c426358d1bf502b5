"""The rewards a run trained with, saved beside its weights (`rlpt_rewards.json`), so that an evaluation scores
samples as the run's training did: the reward names, their weights and their settings."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..utils.errors import RlptError
from ..utils.files import write_json
from .registry import get_reward_funcs


REWARD_CONFIG_FILE = "rlpt_rewards.json"
# the settings that name models or devices: an evaluation scores with its own
MODEL_SETTINGS = (
    "scorer_model_name_or_path",
    "embedding_model_name_or_path",
    "tokenizer_name_or_path",
    "scorer_dtype",
)


@dataclass
class RewardConfig:
    """Reward functions (registered names or dotted paths), their weights (None: 1 each) and the `get_reward_funcs`
    settings they were built with."""

    reward_funcs: list[str]
    reward_weights: list[float] | None = None
    settings: dict[str, Any] = field(default_factory=dict)

    def weights(self) -> list[float]:
        """One weight per reward."""
        weights = self.reward_weights or [1.0] * len(self.reward_funcs)
        if len(weights) != len(self.reward_funcs):
            raise RlptError(f"{len(weights)} reward weights for {len(self.reward_funcs)} rewards {self.reward_funcs}")
        return list(weights)

    def build(self, **overrides: Any) -> list[Callable]:
        """The reward functions, with `overrides` replacing saved settings (e.g. the evaluation's scoring models)."""
        return get_reward_funcs(self.reward_funcs, **{**self.settings, **overrides})

    def describe(self) -> str:
        """`name (weight), ...`, as the model card lists them."""
        return ", ".join(
            f"{name} ({weight:g})" for name, weight in zip(self.reward_funcs, self.weights(), strict=True)
        )

    def save(self, folder: str | Path) -> Path:
        """Write the configuration into `folder` (a run's output folder or checkpoint)."""
        return write_json(Path(folder) / REWARD_CONFIG_FILE, asdict(self))

    @classmethod
    def read(cls, folder: str | Path) -> RewardConfig | None:
        """The configuration saved in `folder`, or None when it holds none."""
        path = Path(folder) / REWARD_CONFIG_FILE
        if not path.is_file():
            return None
        try:
            return cls(**json.loads(path.read_text(encoding="utf-8")))
        except (ValueError, TypeError) as err:
            raise RlptError(f"{path} is not a reward configuration: {err}") from None


def weighted_rewards(per_reward: Sequence[Sequence[float | None]], weights: Sequence[float]) -> list[float]:
    """Each row's weighted sum of its rewards, a reward without a value (None or NaN) counting 0, as TRL sums them."""
    return [
        sum(
            weight * value
            for weight, value in zip(weights, row, strict=True)
            if value is not None and not math.isnan(value)
        )
        for row in zip(*per_reward, strict=True)
    ]
