"""Verifiable next-segment reward: how many leading words of the true completion a completion reproduces (RPT's
next-token reward, at word level)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from ..utils.words import normalized_words
from .inputs import dataset_column, message_text, true_completions
from .options import TEXT_COLUMN_HELP, reward_option


def prefix_match(completion: str, true_completion: str) -> float:
    """The number of leading words of `true_completion` that `completion` reproduces exactly and in order, over the
    true completion's word count (`normalized_words`: lower-cased, surrounding punctuation stripped); in [0, 1]."""
    generated, truth = normalized_words(completion), normalized_words(true_completion)
    matched = 0
    for word, true_word in zip(generated, truth, strict=False):
        if word != true_word:
            break
        matched += 1
    return matched / len(truth)


@dataclass(eq=False)
class PrefixMatchReward:
    """TRL reward function: `prefix_match(completion, true completion)` for each completion.

    The true completion is the row's text column with its prompt removed (`rlpt_trl.rewards.inputs`). No model and
    no group statistics: microseconds a batch, the same on any number of processes. A blank completion gets 0; a
    paraphrase gets nothing for the words it changes.
    """

    __name__ = "prefix_match_reward"

    text_column: str = reward_option("text", help=TEXT_COLUMN_HELP)

    def required_columns(self, column_names: Collection[str]) -> list[str]:
        """The dataset columns this reward reads."""
        return [self.text_column]

    def __call__(self, prompts: list[Any], completions: list[Any], **kwargs: Any) -> list[float]:
        texts = dataset_column(kwargs, self.text_column, len(prompts), self.__name__)
        truths = true_completions(prompts, texts, self.text_column, self.__name__)
        return [prefix_match(message_text(c), truth) for c, truth in zip(completions, truths, strict=True)]


# The Python factory is the class: its fields are the settings.
get_prefix_match_reward = PrefixMatchReward
# The ready reward, at a dotted path for TRL's own script (`trl grpo --reward_funcs rlpt_trl.rewards.NAME`).
prefix_match_reward = PrefixMatchReward()
