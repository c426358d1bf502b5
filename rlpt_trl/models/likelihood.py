"""Teacher-forced completion scoring: the mean negative log-likelihood (nats per token) of each completion given its
prompt under a loaded causal LM, shared by the perplexity reward and the next-segment evaluation."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from .batching import left_pad, length_sorted_batches, padding_id


# Token ids of `prompt + completion` and the index of the first completion token.
ScoredTokens = tuple[list[int], int]


def completion_tokens(
    tokenizer: PreTrainedTokenizerBase,
    prompts: Sequence[str],
    completions: Sequence[str],
    *,
    add_special_tokens: bool = True,
) -> list[ScoredTokens]:
    """Tokenize each `prompt + completion` jointly; its completion tokens are those after the longest common prefix
    of the prompt's and the joint tokenization (a token may straddle the boundary)."""
    if not prompts:
        return []
    prompt_ids = tokenizer(list(prompts), add_special_tokens=add_special_tokens)["input_ids"]
    joint = [prompt + completion for prompt, completion in zip(prompts, completions, strict=True)]
    sequences = []
    for ids, prefix in zip(
        tokenizer(joint, add_special_tokens=add_special_tokens)["input_ids"], prompt_ids, strict=True
    ):
        start = 0
        while start < min(len(ids), len(prefix)) and ids[start] == prefix[start]:
            start += 1
        # The first token of a sequence has no context to be predicted from.
        sequences.append((ids, max(start, 1)))
    return sequences


def _batch_nll(model: PreTrainedModel, pad_id: int, batch: list[ScoredTokens]) -> torch.Tensor:
    """One forward pass over `(token ids, first completion index)` pairs: mean NLL of each completion."""
    input_ids, attention_mask, position_ids = left_pad([ids for ids, _ in batch], pad_id, model.device)
    width = input_ids.shape[1]
    counts = torch.tensor([len(ids) - start for ids, start in batch])
    # Left padding right-aligns the sequences: every completion token lies in the last `keep - 1` positions,
    # so the LM head runs on those only (`logits_to_keep`), as TRL does for its own log-probabilities.
    keep = int(counts.max()) + 1
    logits = model(
        input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids, logits_to_keep=keep
    ).logits
    token_nll = F.cross_entropy(
        logits[:, :-1].float().transpose(1, 2), input_ids[:, width - keep + 1 :], reduction="none"
    ).cpu()
    scored = torch.arange(keep - 1) >= (keep - 1 - counts)[:, None]
    # `where`, not a product: logits at padding positions are meaningless, NaN with some attention kernels.
    return torch.where(scored, token_nll, 0.0).sum(dim=1) / counts


@torch.inference_mode()
def sequence_nll(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, sequences: Sequence[ScoredTokens], batch_size: int
) -> np.ndarray:
    """Mean NLL (nats/token) of the tokens of each `(ids, start)` from `start` on; NaN where there is none.

    Identical sequences (frequent among short samples) are scored once; batching by length limits padding.
    """
    keys = [(tuple(ids), start) for ids, start in sequences]
    unique = list(dict.fromkeys(keys))
    values = np.full(len(unique), np.nan)
    scored = [row for row, (ids, start) in enumerate(unique) if len(ids) > start]
    pad_id = padding_id(tokenizer)
    for batch in length_sorted_batches([len(unique[row][0]) for row in scored], batch_size):
        rows = [scored[index] for index in batch]
        values[rows] = _batch_nll(model, pad_id, [(list(unique[row][0]), unique[row][1]) for row in rows]).numpy()
    position = {key: row for row, key in enumerate(unique)}
    return values[[position[key] for key in keys]]


def completion_nll(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: Sequence[str],
    completions: Sequence[str],
    *,
    batch_size: int = 32,
) -> np.ndarray:
    """Mean NLL (nats/token) of each plain-text completion given its prompt (tokenized as TRL tokenizes prompts, with
    the tokenizer's special tokens); NaN for a completion with no token of its own."""
    return sequence_nll(model, tokenizer, completion_tokens(tokenizer, prompts, completions), batch_size)
