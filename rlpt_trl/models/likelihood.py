"""Teacher-forced completion scoring: the mean negative log-likelihood (nats per token) of each completion given its
prompt under a loaded causal LM, shared by the perplexity reward and the next-segment evaluation."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from ..utils.errors import RlptError
from .batching import last_columns, left_pad, length_sorted_batches, padding_id
from .kv_cache import cache_inputs, cache_of, cache_rows


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


def token_nll(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """The negative log-probability of each target token under its logits (`(..., vocab)` and `(...)`), in fp32.

    Not `F.cross_entropy` over `(batch, vocab, positions)`: on the CPU (torch 2.13) that layout loses about 2e-4 nats
    a token against a float64 reference; this one agrees to 1e-6.
    """
    return -torch.log_softmax(logits.float(), dim=-1).gather(-1, targets[..., None]).squeeze(-1)


# RPT's difficulty measure reads its proxy model's entropy over the 16 most likely next tokens
ENTROPY_TOP_K = 16


def top_k_entropy(logits: torch.Tensor, k: int = ENTROPY_TOP_K) -> torch.Tensor:
    """Entropy (nats) of each next-token distribution (`(..., vocab)` logits) restricted to its `k` most likely tokens
    and renormalised over them."""
    top = torch.log_softmax(logits.float().topk(min(k, logits.shape[-1]), dim=-1).values, dim=-1)
    return -(top.exp() * top).sum(dim=-1)


def _prefix_pass(
    model: PreTrainedModel, pad_id: int, prefixes: list[tuple[int, ...]]
) -> tuple[list, torch.Tensor, torch.Tensor]:
    """One forward pass over left-padded prefixes: their key/value layers, attention mask and last-position logits."""
    input_ids, attention_mask, position_ids = left_pad(prefixes, pad_id, model.device)
    output = model(
        input_ids=input_ids,
        attention_mask=attention_mask,
        position_ids=position_ids,
        use_cache=True,
        logits_to_keep=last_columns(input_ids.shape[1], 1, input_ids.device),
    )
    return cache_of(output), attention_mask, output.logits[:, -1].float()


def _suffix_nll(
    model: PreTrainedModel, pad_id: int, prefixes: list[tuple[int, ...]], suffixes: list[list[tuple[int, ...]]]
) -> list[torch.Tensor]:
    """Mean NLL of every suffix of each prefix: the prefixes are computed once, their keys and values expanded over
    their suffixes, whose own tokens follow (right-padded, each row's positions counted on from its prefix)."""
    prefix_cache, prefix_mask, last_logits = _prefix_pass(model, pad_id, prefixes)
    counts = torch.tensor([len(group) for group in suffixes], device=model.device)
    rows = [suffix for group in suffixes for suffix in group]
    owner = torch.repeat_interleave(torch.arange(len(prefixes), device=model.device), counts)
    # the first token of a suffix is predicted at its prefix's last position
    first = torch.tensor([suffix[0] for suffix in rows], device=model.device)
    per_token = [token_nll(last_logits[owner], first).cpu()[:, None]]
    width = max(len(suffix) for suffix in rows) - 1
    if width > 0:
        prefix_mask = prefix_mask[owner]
        inputs = torch.full((len(rows), width), pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for row, suffix in enumerate(rows):
            inputs[row, : len(suffix) - 1] = torch.tensor(suffix[:-1])
            mask[row, : len(suffix) - 1] = 1
        inputs, mask = inputs.to(model.device), mask.to(model.device)
        positions = prefix_mask.sum(dim=1, keepdim=True) + torch.arange(width, device=model.device)
        logits = model(
            input_ids=inputs,
            attention_mask=torch.cat([prefix_mask, mask], dim=1),
            position_ids=positions,
            **cache_inputs(cache_rows(prefix_cache, owner)),
        ).logits
        targets = torch.full((len(rows), width), pad_id, dtype=torch.long, device=model.device)
        for row, suffix in enumerate(rows):
            targets[row, : len(suffix) - 1] = torch.tensor(suffix[1:])
        rest = token_nll(logits, targets).cpu()
        # `where`, not a product: logits at padding positions are meaningless, NaN with some attention kernels.
        per_token.append(torch.where(mask.bool().cpu(), rest, 0.0))
    total = torch.cat(per_token, dim=1).sum(dim=1) / torch.tensor([len(suffix) for suffix in rows])
    return list(total.split(counts.tolist()))


@torch.inference_mode()
def sequence_nll(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, sequences: Sequence[ScoredTokens], batch_size: int
) -> np.ndarray:
    """Mean NLL (nats/token) of the tokens of each `(ids, start)` from `start` on; NaN where there is none.

    Identical sequences (frequent among short samples) are scored once. Sequences that share their first `start`
    tokens (the completions of one prompt) share one computation of them. Each pass holds at most `batch_size`
    sequences (at least one prefix's), prefixes batched longest first to limit padding.
    """
    keys = [(tuple(ids), start) for ids, start in sequences]
    unique = list(dict.fromkeys(keys))
    values = np.full(len(unique), np.nan)
    groups: dict[tuple[int, ...], list[int]] = {}
    for row, (ids, start) in enumerate(unique):
        if len(ids) > start:
            groups.setdefault(ids[:start], []).append(row)
    if batch_size < 1:
        raise RlptError(f"--batch_size must be at least 1, got {batch_size}")
    pad_id = padding_id(tokenizer)
    chunk: list[tuple[int, ...]] = []
    for prefix in sorted(groups, key=len, reverse=True):
        if chunk and sum(len(groups[other]) for other in chunk) + len(groups[prefix]) > batch_size:
            _score_chunk(model, pad_id, chunk, groups, unique, values)
            chunk = []
        chunk.append(prefix)
    if chunk:
        _score_chunk(model, pad_id, chunk, groups, unique, values)
    position = {key: row for row, key in enumerate(unique)}
    return values[[position[key] for key in keys]]


def _score_chunk(
    model: PreTrainedModel,
    pad_id: int,
    prefixes: list[tuple[int, ...]],
    groups: dict[tuple[int, ...], list[int]],
    unique: list[tuple[tuple[int, ...], int]],
    values: np.ndarray,
) -> None:
    suffixes = [[unique[row][0][unique[row][1] :] for row in groups[prefix]] for prefix in prefixes]
    for prefix, nll in zip(prefixes, _suffix_nll(model, pad_id, prefixes, suffixes), strict=True):
        values[groups[prefix]] = nll.numpy()


@torch.inference_mode()
def next_token_logits(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, prompts: Sequence[str], batch_size: int
) -> Iterator[tuple[list[int], torch.Tensor]]:
    """The model's fp32 logits of the token after each prompt (tokenized as TRL tokenizes prompts), a batch of
    `batch_size` prompts at a time: (the batch's prompt indices, their `(len(batch), vocab)` logits)."""
    token_lists = [tuple(ids) for ids in tokenizer(list(prompts))["input_ids"]]
    pad_id = padding_id(tokenizer)
    for batch in length_sorted_batches([len(ids) for ids in token_lists], batch_size):
        _, _, logits = _prefix_pass(model, pad_id, [token_lists[i] for i in batch])
        yield batch, logits


def next_token_entropies(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, prompts: Sequence[str], batch_size: int
) -> np.ndarray:
    """`top_k_entropy` of the model's next token after each prompt (tokenized as TRL tokenizes prompts)."""
    values = np.full(len(prompts), np.nan)
    for batch, logits in next_token_logits(model, tokenizer, prompts, batch_size):
        values[batch] = top_k_entropy(logits).cpu().numpy()
    return values


@torch.inference_mode()
def position_entropies(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, texts: Sequence[str], batch_size: int
) -> list[np.ndarray]:
    """`top_k_entropy` of the model's next token after every token prefix of each text, from one pass over the text:
    entry j follows the text's first j tokens (`add_special_tokens=False`), as `next_token_entropies` reads it for
    that prefix on its own (the special tokens a tokenizer puts before a text come first); entry 0 is NaN."""
    plain = tokenizer(list(texts), add_special_tokens=False)["input_ids"]
    full = tokenizer(list(texts))["input_ids"]
    leads = []
    for text, ids, own in zip(texts, full, plain, strict=True):
        lead = len(ids) - len(own)
        if lead < 0 or ids[lead:] != own:
            raise RlptError(
                f"tokenizer {tokenizer.name_or_path} adds special tokens after {text!r}: a prefix of it does not read "
                "as the text's own tokens, so its next-token entropies cannot come from one pass"
            )
        leads.append(lead)
    pad_id = padding_id(tokenizer)
    values = [np.full(len(own) + 1, np.nan) for own in plain]
    for batch in length_sorted_batches([len(ids) for ids in full], batch_size):
        input_ids, attention_mask, position_ids = left_pad([full[i] for i in batch], pad_id, model.device)
        logits = model(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids).logits
        entropy = top_k_entropy(logits).cpu().numpy()
        for row, i in enumerate(batch):
            # the text's token j - 1 sits at column width - len(own) + j - 1 of its left-padded row
            start = input_ids.shape[1] - len(plain[i])
            values[i][1:] = entropy[row, start : start + len(plain[i])]
    return values


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
