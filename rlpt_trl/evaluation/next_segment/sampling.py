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
from transformers import (
    DynamicCache,
    GenerationConfig,
    LogitsProcessor,
    LogitsProcessorList,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

from ...models.batching import left_pad, length_sorted_batches, padding_id
from ...models.likelihood import token_nll
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


def gumbel_noise(seed: int, key: int, sample: int, step: int, vocab_size: int) -> torch.Tensor:
    """Standard Gumbel noise over the vocabulary for one step of one sample, drawn on the CPU from a generator seeded
    by `(seed, key, sample, step)` alone (the same on every device and in every batch)."""
    state = np.random.SeedSequence((seed, key, sample, step)).generate_state(1, np.uint64)[0]
    uniform = torch.rand(vocab_size, generator=torch.Generator().manual_seed(int(state)))
    # rand may return exactly 0; the smallest normal float keeps the noise finite
    return -torch.log(-torch.log(uniform.clamp_min(torch.finfo(uniform.dtype).tiny)))


class GumbelMaxProcessor(LogitsProcessor):
    """Turns greedy decoding into seeded sampling: adds to each sampled row's `scores / temperature` the Gumbel noise of
    its `(key, sample)` at the current step; greedy rows (`None`) keep their scores."""

    def __init__(self, rows: Sequence[tuple[int, int] | None], *, seed: int, temperature: float, prompt_width: int):
        self.rows = list(rows)
        self.seed = seed
        self.temperature = temperature
        self.prompt_width = prompt_width

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        step = input_ids.shape[1] - self.prompt_width
        sampled = [index for index, row in enumerate(self.rows) if row is not None]
        if not sampled:
            return scores
        noise = torch.stack(
            [gumbel_noise(self.seed, *self.rows[index], step, scores.shape[1]) for index in sampled]
        ).to(scores.device, scores.dtype)
        processed = scores.clone()
        processed[sampled] = scores[sampled] / self.temperature + noise
        return processed


def _eos_ids(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase) -> list[int]:
    eos = model.generation_config.eos_token_id
    eos = tokenizer.eos_token_id if eos is None else eos
    return [] if eos is None else [eos] if isinstance(eos, int) else list(eos)


@dataclass
class Continuations:
    """What `sample_completions` drew for each prompt i: `samples[i][k]`, `greedy[i]`, `new_tokens[i][k]` (how many
    tokens sample k has before its eos), `tokens[i][k]` (those tokens) and `logprobs[i][k]` (the model's own
    log-probability of each of them, at temperature 1); with true completions, `true_nll[i]`: the model's mean NLL
    (nats/token) of prompt i's true completion, NaN where the prompt's tokens are not the leading tokens of prompt +
    completion (the caller scores those whole)."""

    samples: list[list[str]]
    greedy: list[str]
    new_tokens: list[list[int]]
    tokens: list[list[list[int]]] = field(repr=False)
    logprobs: list[list[list[float]]] = field(repr=False)
    true_nll: np.ndarray | None = None


def _true_tokens(tokenizer: PreTrainedTokenizerBase, prompt_ids: list[list[int]], prompts, completions) -> list:
    """Each true completion's own tokens after its prompt's, or None where they do not follow the prompt's tokens."""
    joint = tokenizer([prompt + completion for prompt, completion in zip(prompts, completions, strict=True)])
    return [
        ids[len(prompt) :] if ids[: len(prompt)] == prompt and len(ids) > len(prompt) else None
        for ids, prompt in zip(joint["input_ids"], prompt_ids, strict=True)
    ]


def _prefill(
    model: PreTrainedModel, prompts: list[list[int]], truths: list[list[int] | None], pad_id: int, rows_per_prompt: int
) -> tuple[DynamicCache, torch.Tensor, torch.Tensor]:
    """One forward pass over each left-padded prompt followed by its true completion (right-padded): the prompts'
    keys and values but their last column's, expanded over `rows_per_prompt` rows each (generation recomputes that
    column for every row); the prompts' attention mask; and each true completion's mean NLL (NaN where none)."""
    device = next(model.parameters()).device
    input_ids, prompt_mask, _ = left_pad(prompts, pad_id, device)
    width = max((len(truth) for truth in truths if truth), default=0)
    tail = torch.full((len(prompts), width), pad_id, dtype=torch.long)
    tail_mask = torch.zeros((len(prompts), width), dtype=torch.long)
    for row, truth in enumerate(truths):
        if truth:
            tail[row, : len(truth)] = torch.tensor(truth)
            tail_mask[row, : len(truth)] = 1
    attention_mask = torch.cat([prompt_mask, tail_mask.to(device)], dim=1)
    position_ids = (attention_mask.cumsum(-1) - 1).clamp(min=0)
    output = model(
        input_ids=torch.cat([input_ids, tail.to(device)], dim=1),
        attention_mask=attention_mask,
        position_ids=position_ids,
        use_cache=True,
        logits_to_keep=width + 1,
    )
    true_nll = torch.full((len(prompts),), float("nan"))
    if width:
        # the true completion's token j sits at column (prompt width + j), predicted one column earlier
        per_token = token_nll(output.logits[:, :-1], tail.to(device)).cpu()
        counts = tail_mask.sum(dim=1)
        summed = torch.where(tail_mask.bool(), per_token, 0.0).sum(dim=1)
        true_nll = torch.where(counts > 0, summed / counts.clamp(min=1), true_nll)
    prompt_width = input_ids.shape[1]
    cache = DynamicCache(
        [
            (
                layer.keys[:, :, : prompt_width - 1].repeat_interleave(rows_per_prompt, dim=0),
                layer.values[:, :, : prompt_width - 1].repeat_interleave(rows_per_prompt, dim=0),
            )
            for layer in output.cache.layers
        ]
    )
    return cache, prompt_mask, true_nll


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
    forward pass computes the prompts (followed by their true completions, whose NLL it gives) once, and one
    `model.generate` call continues the greedy row and the samples of every prompt from that cache.

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
    # an explicit config: the checkpoint's sampling settings must not leak in (TRL sets repetition_penalty too)
    config = GenerationConfig(
        do_sample=False,
        max_new_tokens=max_new_tokens,
        pad_token_id=pad_id,
        eos_token_id=eos_ids or None,
        repetition_penalty=1.0,
        use_cache=True,  # a trainer may have turned the model's cache off (gradient checkpointing)
        output_logits=True,
        return_dict_in_generate=True,
    )
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
    true_nll = np.full(len(prompts), np.nan)
    for batch in length_sorted_batches([len(ids) for ids in token_lists], batch_size):
        prompt_ids = [token_lists[i] for i in batch]
        cache, prompt_mask, batch_nll = _prefill(
            model, prompt_ids, [truths[i] for i in batch], pad_id, rows_per_prompt
        )
        true_nll[batch] = batch_nll.numpy()
        input_ids = left_pad(prompt_ids, pad_id, prompt_mask.device)[0]
        rows = [row for i in batch for row in [None, *((keys[i], sample) for sample in range(sampled))]]
        processor = GumbelMaxProcessor(rows, seed=seed, temperature=temperature, prompt_width=input_ids.shape[1])
        output = model.generate(
            input_ids=input_ids.repeat_interleave(rows_per_prompt, dim=0),
            attention_mask=prompt_mask.repeat_interleave(rows_per_prompt, dim=0),
            cache=cache,
            generation_config=config,
            logits_processor=LogitsProcessorList([processor]),
        )
        generated = output.sequences[:, input_ids.shape[1] :]
        # the model's own distribution (temperature 1) at each step, before the sampling noise
        step_logprobs = torch.log_softmax(torch.stack(output.logits, dim=1).float(), dim=-1)
        picked = step_logprobs.gather(-1, generated[..., None]).squeeze(-1).cpu().tolist()
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
        [row[first:] for row in logprobs],
        None if true_completions is None else true_nll,
    )
