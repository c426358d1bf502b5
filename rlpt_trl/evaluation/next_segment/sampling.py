"""Seeded sampling for the next-segment evaluation: K samples and one greedy continuation of each prompt.

Sampling is Gumbel-max: greedy decoding of `logits / temperature + G`, with `G` standard Gumbel noise, picks each
token with probability `softmax(logits / temperature)`, exactly what multinomial sampling at that temperature with
top-k and top-p off (GRPO's defaults) draws. The noise of a sample's step is a pure function of
`(seed, prompt key, sample index, step)`, so a re-run draws the same samples, batching changes nothing, and two models
evaluated on the same prompts share their random numbers: their samples differ only where their distributions do.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from transformers import Cache, PreTrainedModel, PreTrainedTokenizerBase

from ...models.batching import last_columns, left_pad, length_sorted_batches, padding_id
from ...models.kv_cache import cache_inputs, cache_of, cache_rows
from ...models.likelihood import token_nll, top_k_entropy
from ...utils.errors import RlptError


SAMPLING_SETTINGS = ("num_samples", "temperature", "max_new_tokens", "seed")


def check_sampling(
    num_samples: int, temperature: float, max_new_tokens: int, seed: int, *, flags: Sequence[str] = SAMPLING_SETTINGS
) -> None:
    """Reject settings that cannot be sampled, with one line naming the setting by its entry in `flags` (the four
    settings' names as the caller's user knows them, e.g. command-line flags)."""
    samples, temperature_flag, new_tokens, seed_flag = flags
    if num_samples < 1:
        raise RlptError(f"--{samples} must be at least 1, got {num_samples}")
    if temperature < 0 or (temperature == 0 and num_samples > 1):
        raise RlptError(
            f"--{temperature_flag} must be > 0 to draw {num_samples} samples, got {temperature} "
            "(temperature 0 is greedy decoding: one sample)"
        )
    if max_new_tokens < 1:
        raise RlptError(f"--{new_tokens} must be at least 1, got {max_new_tokens}")
    if seed < 0:
        raise RlptError(f"--{seed_flag} must be >= 0, got {seed}")


def _uniforms(seed: int, key: int, sample: int, step: int, vocab_size: int) -> torch.Tensor:
    """Uniform numbers over the vocabulary for one step of one sample, drawn on the CPU from a generator seeded by
    `(seed, key, sample, step)` alone (the same on every device and in every batch)."""
    state = np.random.SeedSequence((seed, key, sample, step)).generate_state(1, np.uint64)[0]
    return torch.rand(vocab_size, generator=torch.Generator().manual_seed(int(state)))


def gumbel_noise(uniform: torch.Tensor) -> torch.Tensor:
    """Standard Gumbel noise from uniform numbers."""
    # rand may return exactly 0; the smallest normal float keeps the noise finite
    return -torch.log(-torch.log(uniform.clamp_min(torch.finfo(uniform.dtype).tiny)))


class GumbelMax:
    """Seeded sampling as greedy decoding: each sampled row `(key, sample)` picks the argmax of its
    `scores / temperature` plus its Gumbel noise at the step; greedy rows (`None`) the argmax of their scores."""

    def __init__(self, rows: Sequence[tuple[int, int] | None], *, seed: int, temperature: float):
        self.rows = list(rows)
        self.seed = seed
        self.temperature = temperature

    def __call__(self, scores: torch.Tensor, step: int, active: torch.Tensor | None = None) -> torch.Tensor:
        """The token each row of `scores` (rows x vocabulary) picks at `step`; only `active` rows draw noise (a
        finished row's next token is padding whatever it picks)."""
        active = torch.ones(len(self.rows), dtype=torch.bool) if active is None else active.cpu()
        sampled = [index for index, row in enumerate(self.rows) if row is not None and active[index]]
        others = sorted(set(range(len(self.rows))) - set(sampled))
        tokens = torch.zeros(len(self.rows), dtype=torch.long, device=scores.device)
        if others:
            tokens[others] = scores[others].argmax(dim=-1)
        if sampled:
            uniform = torch.stack(
                [_uniforms(self.seed, *self.rows[index], step, scores.shape[1]) for index in sampled]
            )
            noisy = scores[sampled] / self.temperature + gumbel_noise(uniform).to(scores.device, scores.dtype)
            tokens[sampled] = noisy.argmax(dim=-1)
        return tokens


def _eos_ids(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase) -> list[int]:
    eos = model.generation_config.eos_token_id
    eos = tokenizer.eos_token_id if eos is None else eos
    return [] if eos is None else [eos] if isinstance(eos, int) else list(eos)


@dataclass
class Continuations:
    """What `sample_completions` drew for each prompt i: `samples[i][k]`, `greedy[i]`, `new_tokens[i][k]` (how many
    tokens sample k has before its eos), `tokens[i][k]` (those tokens), `greedy_tokens[i]`, and `logprobs[i][k]` (the
    model's own log-probability of each of sample k's tokens, at temperature 1); `cut_entropy[i]`: the model's
    `top_k_entropy` of the token after prompt i; with true completions, `true_tokens[i]` (the true completion's own
    tokens after the prompt's, None where the prompt's tokens are not the leading tokens of prompt + completion) and
    `true_nll[i]`: the model's mean NLL (nats/token) of them, NaN where None (the caller scores those whole), and
    `first_nll[i]`: its NLL of the first of them (temperature 1), NaN where None."""

    samples: list[list[str]]
    greedy: list[str]
    new_tokens: list[list[int]]
    tokens: list[list[list[int]]] = field(repr=False)
    greedy_tokens: list[list[int]] = field(repr=False)
    logprobs: list[list[list[float]]] = field(repr=False)
    cut_entropy: np.ndarray = field(repr=False)
    true_tokens: list[list[int] | None] | None = field(default=None, repr=False)
    true_nll: np.ndarray | None = None
    first_nll: np.ndarray | None = None


def _true_tokens(tokenizer: PreTrainedTokenizerBase, prompt_ids: list[list[int]], prompts, completions) -> list:
    """Each true completion's own tokens after its prompt's, or None where they do not follow the prompt's tokens."""
    joint = tokenizer([prompt + completion for prompt, completion in zip(prompts, completions, strict=True)])
    return [
        ids[len(prompt) :] if ids[: len(prompt)] == prompt and len(ids) > len(prompt) else None
        for ids, prompt in zip(joint["input_ids"], prompt_ids, strict=True)
    ]


@dataclass
class _Prefill:
    """What one forward pass over a batch of prompts, each followed by its true completion, gives generation: the keys
    and values of every column, the attention mask that sees the prompts' columns only, each prompt's token count
    (the position of its first new token), the logits of each prompt's last position and each true completion's mean
    NLL (NaN where none)."""

    cache: Cache
    prompt_mask: torch.Tensor
    prompt_lengths: torch.Tensor
    next_logits: torch.Tensor
    true_nll: torch.Tensor


def _prefill(
    model: PreTrainedModel, prompts: list[list[int]], truths: list[list[int] | None], pad_id: int
) -> _Prefill:
    """One forward pass over each prompt followed by its true completion, left-padded as one sequence: every row ends
    at the last column, so the logits kept are the last `longest completion + 1` columns."""
    device = next(model.parameters()).device
    tails = [len(truth) if truth else 0 for truth in truths]
    input_ids, attention_mask, position_ids = left_pad(
        [prompt + (truth or []) for prompt, truth in zip(prompts, truths, strict=True)], pad_id, device
    )
    width = max(tails)
    output = model(
        input_ids=input_ids,
        attention_mask=attention_mask,
        position_ids=position_ids,
        use_cache=True,
        logits_to_keep=last_columns(input_ids.shape[1], width + 1, device),
    )
    tail = torch.tensor(tails, device=device)
    # kept column c predicts the token of column c + 1; a row's last prompt token sits `tail` columns before the end
    last_prompt = width - tail
    next_logits = output.logits[torch.arange(len(prompts), device=device), last_prompt].float()
    true_nll = torch.full((len(prompts),), float("nan"))
    if width:
        per_token = token_nll(output.logits[:, :-1], input_ids[:, -width:])
        in_truth = torch.arange(width, device=device) >= last_prompt[:, None]
        summed = torch.where(in_truth, per_token, 0.0).sum(dim=1).cpu()
        true_nll = torch.where(tail.cpu() > 0, summed / tail.cpu().clamp(min=1), true_nll)
    columns = torch.arange(input_ids.shape[1], device=device)
    prompt_mask = attention_mask * (columns < input_ids.shape[1] - tail[:, None])
    lengths = torch.tensor([len(prompt) for prompt in prompts], device=device)
    return _Prefill(cache_of(output), prompt_mask, lengths, next_logits, true_nll)


def _decode(
    model: PreTrainedModel,
    prefill: _Prefill,
    noise: GumbelMax,
    rows_per_prompt: int,
    max_new_tokens: int,
    pad_id: int,
    eos_ids: list[int],
) -> tuple[torch.Tensor, torch.Tensor]:
    """Greedy decoding of `rows_per_prompt` rows a prompt from the prefill (the first token from its logits) with the
    Gumbel noise added: each row's tokens (padding after its eos) and the model's own log-probability of each, at
    temperature 1."""
    device = prefill.next_logits.device
    prompts = torch.arange(len(prefill.prompt_lengths), device=device)
    cache = cache_rows(prefill.cache, prompts.repeat_interleave(rows_per_prompt))
    mask = prefill.prompt_mask.repeat_interleave(rows_per_prompt, dim=0)
    positions = prefill.prompt_lengths.repeat_interleave(rows_per_prompt)[:, None]
    scores = prefill.next_logits.repeat_interleave(rows_per_prompt, dim=0)
    eos = torch.tensor(eos_ids, dtype=torch.long, device=device)
    done = torch.zeros(scores.shape[0], dtype=torch.bool, device=device)
    tokens, logprobs = [], []
    for step in range(max_new_tokens):
        token = torch.where(done, pad_id, noise(scores, step, active=~done))
        logprobs.append(scores.gather(-1, token[:, None]).squeeze(-1) - torch.logsumexp(scores, dim=-1))
        tokens.append(token)
        done = done | torch.isin(token, eos)
        if step + 1 == max_new_tokens or bool(done.all()):
            break
        mask = torch.cat([mask, torch.ones_like(mask[:, :1])], dim=1)
        output = model(
            input_ids=token[:, None], attention_mask=mask, position_ids=positions + step, **cache_inputs(cache)
        )
        scores = output.logits[:, -1].float()
    return torch.stack(tokens, dim=1), torch.stack(logprobs, dim=1)


@torch.inference_mode()
def sample_completions(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: Sequence[str],
    *,
    keys: Sequence[int] | None = None,
    num_samples: int = 4,
    temperature: float = 0.9,
    max_new_tokens: int = 4,
    seed: int = 0,
    batch_size: int = 16,
    true_completions: Sequence[str] | None = None,
) -> Continuations:
    """`num_samples` sampled and one greedy continuation of each prompt, with the model's log-probabilities of the
    sampled tokens and, given `true_completions`, its NLL of them.

    Prompts are tokenized as TRL tokenizes them (with the tokenizer's special tokens); a continuation stops at eos or
    after `max_new_tokens` tokens and is decoded without special tokens. For each batch of `batch_size` prompts, one
    forward pass computes each prompt followed by its true completion (whose NLL it gives) once; every row of the
    prompt (the greedy one and the samples) takes its first token from that pass's logits and continues from its
    cache, one forward pass a step. Not `model.generate`: it would compute each prompt's last token again for every
    row, and it cannot skip the true completion's columns of the cache.

    Args:
        keys: The random stream of prompt i is keyed by `keys[i]` (default: i); pass the prompts' dataset ids so that
            a subset of the prompts draws what the whole set draws for them.
        temperature: 0 (with `num_samples=1`) makes the sample the greedy continuation.
        true_completions: The text each prompt is truly continued with.
    """
    check_sampling(num_samples, temperature, max_new_tokens, seed)
    keys = list(range(len(prompts)) if keys is None else keys)
    if len(keys) != len(prompts):
        raise RlptError(f"{len(keys)} keys for {len(prompts)} prompts")
    sampled = num_samples if temperature > 0 else 0
    pad_id, eos_ids = padding_id(tokenizer), _eos_ids(model, tokenizer)
    token_lists = tokenizer(list(prompts))["input_ids"]
    truths = (
        [None] * len(prompts)
        if true_completions is None
        else _true_tokens(tokenizer, token_lists, prompts, true_completions)
    )
    rows_per_prompt = 1 + sampled
    texts: list[list[str]] = [[] for _ in prompts]
    tokens: list[list[list[int]]] = [[] for _ in prompts]
    logprobs: list[list[list[float]]] = [[] for _ in prompts]
    true_nll, first_nll = np.full(len(prompts), np.nan), np.full(len(prompts), np.nan)
    cut_entropy = np.full(len(prompts), np.nan)
    lengths = [len(ids) + len(truth or []) for ids, truth in zip(token_lists, truths, strict=True)]
    for batch in length_sorted_batches(lengths, batch_size):
        prefill = _prefill(model, [token_lists[i] for i in batch], [truths[i] for i in batch], pad_id)
        true_nll[batch] = prefill.true_nll.numpy()
        firsts = [(number, truths[index][0]) for number, index in enumerate(batch) if truths[index]]
        if firsts:
            rows, first_tokens = map(list, zip(*firsts, strict=True))
            log_probs = torch.log_softmax(prefill.next_logits[rows], dim=-1)
            picked_first = -log_probs[torch.arange(len(rows)), first_tokens].cpu().numpy()
            first_nll[[batch[number] for number in rows]] = picked_first
        cut_entropy[batch] = top_k_entropy(prefill.next_logits).cpu().numpy()
        rows = [row for i in batch for row in [None, *((keys[i], sample) for sample in range(sampled))]]
        noise = GumbelMax(rows, seed=seed, temperature=temperature)
        generated, step_logprobs = _decode(model, prefill, noise, rows_per_prompt, max_new_tokens, pad_id, eos_ids)
        picked = step_logprobs.cpu().tolist()
        new_tokens = []
        for row_tokens in generated.tolist():
            end = next((position for position, token in enumerate(row_tokens) if token in eos_ids), len(row_tokens))
            new_tokens.append(row_tokens[:end])
        decoded = tokenizer.batch_decode(new_tokens, skip_special_tokens=True)
        for number, index in enumerate(batch):
            block = range(number * rows_per_prompt, (number + 1) * rows_per_prompt)
            texts[index] = [decoded[row] for row in block]
            tokens[index] = [new_tokens[row] for row in block]
            logprobs[index] = [picked[row][: len(new_tokens[row])] for row in block]
    first = 0 if not sampled else 1  # temperature 0: the one sample is the greedy continuation
    return Continuations(
        [row[first:] for row in texts],
        [row[0] for row in texts],
        [[len(sample) for sample in row[first:]] for row in tokens],
        [row[first:] for row in tokens],
        [row[0] for row in tokens],
        [row[first:] for row in logprobs],
        cut_entropy,
        None if true_completions is None else truths,
        None if true_completions is None else true_nll,
        None if true_completions is None else first_nll,
    )
