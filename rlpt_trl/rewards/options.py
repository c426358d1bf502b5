"""Reward settings declared once: each reward is a dataclass whose fields are its settings (`reward_option`).

A field's setting name is how `get_reward_funcs(**settings)`, the GRPO command's flags and its YAML keys call it: the
field's own name unless `setting=` renames it (two rewards' `model_name_or_path` are `scorer_model_name_or_path` and
`embedding_model_name_or_path` there). Python users build a reward with the field names
(`EmbeddingCosineReward(baseline="prompt")`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any


# the help of the settings that the model-backed rewards share (the GRPO command has one flag for each)
BATCH_SIZE_HELP = "Texts per forward pass of the reward's model (the scorer LM or the sentence encoder)."
DEVICE_HELP = "'auto' (this process's accelerate device) or an explicit device of the reward's model."
# the text column of the rewards that compare with the true completion
TEXT_COLUMN_HELP = "Column with the original sentence (prompt + true completion)."


def reward_option(
    default: Any = dataclasses.MISSING,
    *,
    help: str,
    setting: str | None = None,
    flag: bool = True,
    from_trainer: bool = False,
    required: bool = False,
    kw_only: bool = True,
) -> Any:
    """A dataclass field that is a reward setting.

    Args:
        default: The Python default (`None` for a `required` setting, which must then be given).
        help: What the setting does, shown by `rlpt-trl grpo --help`.
        setting: Its name as a setting and GRPO flag, when not the field's name.
        flag: Whether the GRPO command has a flag for it (the reward's `device` does not: the process's own).
        from_trainer: Taken from the trainer config field of the same name (`num_generations`), not from a flag.
        required: The reward cannot work without it; `get_reward_funcs` says which setting is missing.
        kw_only: Keyword-only in the constructor (the first field, a model, may be positional).
    """
    metadata = {"help": help, "setting": setting, "flag": flag, "from_trainer": from_trainer, "required": required}
    return dataclasses.field(default=default, kw_only=kw_only, metadata=metadata)


def reward_settings(reward_class: type) -> dict[str, dataclasses.Field]:
    """Setting name -> the field of `reward_class` declared with `reward_option`, in field order."""
    return {
        field.metadata["setting"] or field.name: field
        for field in dataclasses.fields(reward_class)
        if "setting" in field.metadata
    }


def private_state(factory: Callable[[], Any] = lambda: None) -> Any:
    """A dataclass field that is a reward's own state (a cache), not a setting: not in the constructor, the repr or
    equality."""
    return dataclasses.field(default_factory=factory, init=False, repr=False, compare=False)
