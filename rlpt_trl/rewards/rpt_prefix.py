"""RPT's next-token reward (Reinforcement Pre-Training, arXiv 2506.08007, Eq. 3): 1 when the completion is an exact
byte prefix of the true completion that ends on one of its token boundaries, else 0."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from transformers import PreTrainedTokenizerBase

from ..models.loading import load_tokenizer
from ..utils.errors import RlptError
from .inputs import dataset_column, message_text, true_completions
from .options import TEXT_COLUMN_HELP, private_state, reward_option


def token_boundaries(tokenizer: PreTrainedTokenizerBase, text: str) -> frozenset[int]:
    """The byte lengths of `text`'s token prefixes under `tokenizer` (`text` tokenized on its own), whole characters
    only: a byte-level token that ends inside a multi-byte character is no boundary a text can end on.

    Each boundary is read off the decoded prefix `decode(ids[:i])`, so the tokenizer must decode `text` back to itself
    (byte-level BPE does; SentencePiece's leading-space rule does not), which is checked.
    """
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    if tokenizer.decode(ids, clean_up_tokenization_spaces=False) != text:
        raise RlptError(
            f"rpt_prefix_reward: tokenizer {tokenizer.name_or_path} does not decode {text!r} back to itself, so its "
            "token boundaries cannot be located in the text"
        )
    boundaries = set()
    for end in range(1, len(ids) + 1):
        prefix = tokenizer.decode(ids[:end], clean_up_tokenization_spaces=False)
        if prefix and text.startswith(prefix):
            boundaries.add(len(prefix.encode("utf-8")))
    return frozenset(boundaries)


def rpt_prefix(completion: str, true_completion: str, boundaries: Collection[int]) -> float:
    """1.0 when `completion`'s UTF-8 bytes are a non-empty prefix of `true_completion`'s whose length is in
    `boundaries` (`token_boundaries` of the true completion), else 0.0: no credit for case, spacing or a partial
    token, and none for running past the true completion."""
    generated = completion.encode("utf-8")
    matched = bool(generated) and true_completion.encode("utf-8").startswith(generated)
    return float(matched and len(generated) in boundaries)


@dataclass(eq=False)
class RPTPrefixReward:
    """TRL reward function: `rpt_prefix(completion, true completion)` for each completion, RPT's binary prefix reward.

    The true completion is the row's text column with its prompt removed (`rlpt_trl.rewards.inputs`); its token
    boundaries are those of the policy's tokenizer (the data build cuts at word starts, where the true completion
    tokenizes on its own as it does in its sentence). RPT predicts one next token; with several new tokens the reward
    still pays only exact prefixes, so a completion that stops after its first correct token earns what the whole
    true completion earns. No group statistics; the tokenizer loads on the first call.
    """

    __name__ = "rpt_prefix_reward"

    tokenizer_name_or_path: str | None = reward_option(
        None,
        help="Tokenizer whose token boundaries rpt_prefix_reward accepts (Hub id, local folder or .gguf): the policy's, "
        "which the GRPO command sets.",
        flag=False,
        required=True,
        kw_only=False,
    )
    text_column: str = reward_option("text", help=TEXT_COLUMN_HELP)
    _tokenizer: PreTrainedTokenizerBase | None = private_state()
    _boundaries: dict[str, frozenset[int]] = private_state(dict)

    def __post_init__(self) -> None:
        if self.tokenizer_name_or_path is not None:
            self.tokenizer_name_or_path = str(self.tokenizer_name_or_path)

    def __getstate__(self) -> dict[str, Any]:
        # a copy sent to another process loads its own tokenizer
        return {**self.__dict__, "_tokenizer": None, "_boundaries": {}}

    def required_columns(self, column_names: Collection[str]) -> list[str]:
        """The dataset columns this reward reads."""
        return [self.text_column]

    def boundaries(self, true_completion: str) -> frozenset[int]:
        """`token_boundaries` of a true completion under the policy's tokenizer, computed once per text."""
        if true_completion not in self._boundaries:
            if self._tokenizer is None:
                if self.tokenizer_name_or_path is None:
                    raise RlptError(
                        "rpt_prefix_reward needs the policy's tokenizer: use get_rpt_prefix_reward('MODEL') (Python) "
                        "or rlpt-trl grpo, which sets it to --model_name_or_path"
                    )
                self._tokenizer = load_tokenizer(self.tokenizer_name_or_path)
            self._boundaries[true_completion] = token_boundaries(self._tokenizer, true_completion)
        return self._boundaries[true_completion]

    def __call__(self, prompts: list[Any], completions: list[Any], **kwargs: Any) -> list[float]:
        texts = dataset_column(kwargs, self.text_column, len(prompts), self.__name__)
        truths = true_completions(prompts, texts, self.text_column, self.__name__)
        return [
            rpt_prefix(message_text(completion), truth, self.boundaries(truth))
            for completion, truth in zip(completions, truths, strict=True)
        ]


# The Python factory is the class: its fields are the settings.
get_rpt_prefix_reward = RPTPrefixReward
# At a dotted path for TRL's own script, where no tokenizer can be named: its first call says what to use instead.
rpt_prefix_reward = RPTPrefixReward()
