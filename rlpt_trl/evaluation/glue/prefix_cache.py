"""Few-shot evaluation at zero-shot cost: the key/value cache of the prefix every prompt of a task shares, computed once.

With K solved examples every prompt of a task starts with the same text, most of its tokens. Its keys and values
are computed once and each batch of prompts computes only its own tokens on top of them: the cache expanded over the
batch, each row's own tokens left-padded after it (the padding masked, the positions counted from the prefix's
end), so that every row is computed as it would be alone.

Tokenisation does not change: the cached tokens are the leading tokens of each prompt's own tokenisation. A
tokenizer may merge the prefix's last characters with a prompt's first ones (a BPE's run of newlines, a
SentencePiece word boundary), so the prefix's standalone tokens are cut back to the length most prompts share with
them; a prompt that shares fewer is computed whole, the plain way, and counted as a fallback.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import torch
from transformers import Cache, PreTrainedModel, PreTrainedTokenizerBase

from ...models.batching import left_pad, length_sorted_batches, padding_id
from ...models.kv_cache import cache_inputs, cache_of, cache_rows
from ...utils.errors import RlptError


PrefixCacheMode = Literal["auto", "off"]
PREFIX_CACHE_MODES = ("auto", "off")


def check_prefix_cache(mode: str) -> None:
    """One error line for an unknown `--prefix_cache` mode."""
    if mode not in PREFIX_CACHE_MODES:
        raise RlptError(f"unknown --prefix_cache {mode!r}; choose from {', '.join(PREFIX_CACHE_MODES)}")


def _common_length(a: Sequence[int], b: Sequence[int]) -> int:
    length = 0
    while length < min(len(a), len(b)) and a[length] == b[length]:
        length += 1
    return length


@dataclass(frozen=True)
class PrefixSplit:
    """Token sequences split after the prefix tokens they share: `prefix` (the tokens to cache; empty when no
    sequence shares any) and, per sequence, its own tokens after them, or None where it is computed whole."""

    prefix: list[int]
    own: list[list[int] | None]

    @property
    def fallbacks(self) -> int:
        """How many sequences are computed whole although there is a prefix to reuse."""
        return sum(part is None for part in self.own) if self.prefix else 0


def split_after_prefix(
    tokenizer: PreTrainedTokenizerBase, prefix: str, sequences: Sequence[Sequence[int]]
) -> PrefixSplit:
    """Split the token ids of texts that start with `prefix` after the prefix tokens most of them share.

    A sequence that does not start with those tokens, or has no token after them, falls back (None)."""
    if not prefix or not sequences:
        return PrefixSplit([], [None] * len(sequences))
    prefix_ids = tokenizer(prefix)["input_ids"]
    shared = [_common_length(prefix_ids, sequence) for sequence in sequences]
    length = Counter(shared).most_common(1)[0][0]
    if length == 0:
        return PrefixSplit([], [None] * len(sequences))
    own = [
        list(sequence[length:]) if common >= length and len(sequence) > length else None
        for sequence, common in zip(sequences, shared, strict=True)
    ]
    return PrefixSplit(list(prefix_ids[:length]), own)


class PrefixCache:
    """The keys and values of `prefix_ids` under `model`, computed once and expanded over each batch that reuses them.

    Usage:

    ```python
    >>> cache = PrefixCache(model, split.prefix)
    >>> logits = model(**cache.forward_inputs(own_token_lists, pad_id), logits_to_keep=1).logits
    ```
    """

    @torch.inference_mode()
    def __init__(self, model: PreTrainedModel, prefix_ids: Sequence[int]):
        self.device = next(model.parameters()).device
        self.prefix_ids = torch.tensor([list(prefix_ids)], device=self.device)
        self.cache = cache_of(model(input_ids=self.prefix_ids, use_cache=True))

    @property
    def length(self) -> int:
        return self.prefix_ids.shape[1]

    def expanded(self, batch_size: int) -> Cache:
        """A fresh cache of the prefix for `batch_size` rows (a model call appends to the cache it is given)."""
        return cache_rows(self.cache, torch.zeros(batch_size, dtype=torch.long, device=self.device))

    def _own_inputs(
        self, own: Sequence[Sequence[int]], pad_id: int
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        input_ids, own_mask, position_ids = left_pad(own, pad_id, self.device)
        # the prefix is real for every row; the padding lies between it and each row's own tokens, masked
        prefix_mask = torch.ones((len(own), self.length), dtype=own_mask.dtype, device=self.device)
        return input_ids, torch.cat([prefix_mask, own_mask], dim=1), position_ids + self.length

    def forward_inputs(self, own: Sequence[Sequence[int]], pad_id: int) -> dict:
        """The keyword arguments of a forward pass over each row's own tokens after the cached prefix: the last
        column of the logits is each row's last token, as with `left_pad`."""
        input_ids, attention_mask, position_ids = self._own_inputs(own, pad_id)
        return {
            "input_ids": input_ids,
            "attention_mask": attention_mask,
            "position_ids": position_ids,
            **cache_inputs(self.expanded(len(own))),
        }

    def generate_inputs(self, own: Sequence[Sequence[int]], pad_id: int) -> dict:
        """The keyword arguments of `generate` over the prefix and each row's own tokens: the whole ids and mask,
        with the prefix already in the cache (generate computes the uncached columns only)."""
        input_ids, attention_mask, _ = self._own_inputs(own, pad_id)
        prefix_ids = self.prefix_ids.expand(len(own), -1)
        return {
            "input_ids": torch.cat([prefix_ids, input_ids], dim=1),
            "attention_mask": attention_mask,
            **cache_inputs(self.expanded(len(own))),
        }


class PrefixBatches:
    """Length-sorted batches of token sequences that start with a shared text, and each batch's model inputs: the
    sequences that share the prefix's tokens are computed after its cache (batched by their own length), the others
    whole (`left_pad`). Without a prefix ("") every sequence is computed whole.

    Usage:

    ```python
    >>> batches = PrefixBatches(model, tokenizer, token_lists, task.prefix, batch_size=32)
    >>> for batch in batches:
    ...     logits = model(**batches.forward_inputs(batch), logits_to_keep=1).logits
    ```
    """

    def __init__(
        self,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        sequences: Sequence[Sequence[int]],
        shared_prefix: str,
        batch_size: int,
    ):
        self.sequences = sequences
        self.device = next(model.parameters()).device
        self.pad_id = padding_id(tokenizer)
        self.split = split_after_prefix(tokenizer, shared_prefix, sequences)
        self.cache = PrefixCache(model, self.split.prefix) if self.split.prefix else None
        reused = [index for index, own in enumerate(self.split.own) if own is not None]
        whole = [index for index, own in enumerate(self.split.own) if own is None]
        self.batches = [
            [group[i] for i in batch]
            for group, lengths in (
                (reused, [len(self.split.own[index]) for index in reused]),
                (whole, [len(sequences[index]) for index in whole]),
            )
            for batch in length_sorted_batches(lengths, batch_size)
        ]

    def __len__(self) -> int:
        return len(self.batches)

    def __iter__(self):
        return iter(self.batches)

    def _reuses(self, batch: list[int]) -> bool:
        # a batch holds either sequences that reuse the cache or sequences computed whole
        return self.split.own[batch[0]] is not None

    def forward_inputs(self, batch: list[int]) -> dict:
        """The keyword arguments of a forward pass over `batch`; the last logits column is each row's last token."""
        if self._reuses(batch):
            return self.cache.forward_inputs([self.split.own[index] for index in batch], self.pad_id)
        input_ids, attention_mask, position_ids = left_pad(
            [self.sequences[i] for i in batch], self.pad_id, self.device
        )
        return {
            "input_ids": input_ids,
            "attention_mask": attention_mask,
            "position_ids": position_ids,
            "use_cache": False,
        }

    def generate_inputs(self, batch: list[int]) -> dict:
        """The keyword arguments of `generate` over `batch`; the new tokens follow the returned `input_ids`."""
        if self._reuses(batch):
            return self.cache.generate_inputs([self.split.own[index] for index in batch], self.pad_id)
        input_ids, attention_mask, _ = left_pad([self.sequences[i] for i in batch], self.pad_id, self.device)
        return {"input_ids": input_ids, "attention_mask": attention_mask}
