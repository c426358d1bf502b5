"""What a reward function reads from a TRL trainer's call: the texts of prompts and completions, dataset columns, and
the true completion of each row.

TRL passes every dataset column except `prompt`, `completion` and `completion_ids` (`_calculate_rewards`), so the
true completion is recovered as the row's `text` with its prompt removed: the data build guarantees
`prompt + completion == text`.
"""

from __future__ import annotations

from typing import Any

from trl.data_utils import is_conversational

from ..utils.errors import RlptError


# What TRL passes besides the dataset columns.
TRAINER_KWARGS = ("trainer_state", "log_extra", "log_metric", "environments", "completion_ids")


def message_text(value: Any) -> str:
    """A standard prompt or completion as it is; a conversational one as its messages' contents, concatenated."""
    if is_conversational({"prompt": value}):
        return "".join(message["content"] for message in value)
    return value


def reader_text(prompt: Any, completion: Any) -> str:
    """The generated sentence as a reader sees it: prompt then completion (`message_text` of each)."""
    return message_text(prompt) + message_text(completion)


def is_blank(text: str) -> bool:
    """Whether `text` has no visible character: a completion that adds nothing."""
    return not text.strip()


def dataset_column(kwargs: dict[str, Any], name: str, size: int, reward_name: str) -> list[Any]:
    """The dataset column `name` from a reward call's keyword arguments, checked to hold `size` values."""
    if name not in kwargs:
        columns = ", ".join(sorted(key for key in kwargs if key not in TRAINER_KWARGS))
        raise RlptError(f"{reward_name} needs dataset column {name!r} (columns: {columns or 'none'})")
    values = list(kwargs[name])
    if len(values) != size:
        raise RlptError(f"column {name!r} has {len(values)} values for {size} completions")
    return values


def true_completions(prompts: list[Any], texts: list[Any], text_column: str, reward_name: str) -> list[str]:
    """Each row's `texts` value with its prompt (`message_text`) removed; an error names a row whose text does not
    start with its prompt or has nothing visible after it."""
    completions = []
    for row, (prompt, text) in enumerate(zip(prompts, texts, strict=True)):
        prompt, text = message_text(prompt), str(text)
        if not text.startswith(prompt):
            raise RlptError(
                f"{reward_name}: row {row}: column {text_column!r} ({text!r}) does not start with its prompt {prompt!r}"
            )
        if is_blank(text[len(prompt) :]):
            raise RlptError(
                f"{reward_name}: row {row}: column {text_column!r} has nothing after its prompt {prompt!r}"
            )
        completions.append(text[len(prompt) :])
    return completions
