"""Length-sorted, left-padded batches of token sequences, shared by GLUE evaluation and the perplexity reward.

Sorting by length keeps padding (wasted compute) small; left padding ends every row at the last column, so the
positions a scorer or a generator needs are the same columns for the whole batch.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
from transformers import PreTrainedTokenizerBase

from ..utils.errors import RlptError


def padding_id(tokenizer: PreTrainedTokenizerBase) -> int:
    """The tokenizer's pad token id, else its eos id (the trainer's tokenizer is never modified)."""
    for token_id in (tokenizer.pad_token_id, tokenizer.eos_token_id):
        if token_id is not None:
            return token_id
    name = getattr(tokenizer, "name_or_path", "") or type(tokenizer).__name__
    raise RlptError(f"tokenizer {name} has neither a pad nor an eos token; batched scoring needs one")


def length_sorted_batches(lengths: Sequence[int], batch_size: int) -> Iterator[list[int]]:
    """Indices of `lengths` in batches of `batch_size`, longest first (a memory problem shows at once)."""
    if batch_size < 1:
        raise RlptError(f"--batch_size must be at least 1, got {batch_size}")
    order = sorted(range(len(lengths)), key=lambda i: lengths[i], reverse=True)
    for start in range(0, len(order), batch_size):
        yield order[start : start + batch_size]


def left_pad(
    sequences: Sequence[Sequence[int]], pad_id: int, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """`input_ids`, `attention_mask` and `position_ids` of left-padded sequences.

    Explicit position ids count from each row's first real token, so a padded row is computed as it would be alone.
    """
    width = max(len(sequence) for sequence in sequences)
    input_ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for row, sequence in enumerate(sequences):
        input_ids[row, width - len(sequence) :] = torch.tensor(sequence, dtype=torch.long)
        attention_mask[row, width - len(sequence) :] = 1
    position_ids = (attention_mask.cumsum(-1) - 1).clamp(min=0)
    return input_ids.to(device), attention_mask.to(device), position_ids.to(device)


def last_columns(width: int, count: int, device: torch.device) -> torch.Tensor:
    """`logits_to_keep` for a forward pass over `width` columns that needs the logits of the last `count`: as column
    indices, not a count, so that the hidden states are gathered into a contiguous tensor. Sliced ones make the output
    layer a matmul against its weight broadcast over the batch, 5-10x slower on the CPU (torch 2.13)."""
    return torch.arange(width - count, width, device=device)
