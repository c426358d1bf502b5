"""Seeded sampling for the next-segment evaluation: K samples and one greedy continuation of each prompt.

Sampling is Gumbel-max: greedy decoding of `logits / temperature + G`, with `G` standard Gumbel noise, picks each
token with probability `softmax(logits / temperature)`, exactly what multinomial sampling at that temperature with
top-k and top-p off (GRPO's defaults) draws. The noise of a sample's step is a pure function of
`(seed, prompt key, sample index, step)`, so a re-run draws the same samples, batching changes nothing, and two models
evaluated on the same prompts share their random numbers: their samples differ only where their distributions do.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from transformers import (
    GenerationConfig,
    LogitsProcessor,
    LogitsProcessorList,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

from ...models.batching import left_pad, length_sorted_batches, padding_id
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
) -> tuple[list[list[str]], list[str], list[list[int]]]:
    """`num_samples` sampled and one greedy continuation of each prompt.

    Prompts are tokenized as TRL tokenizes them (with the tokenizer's special tokens); a continuation stops at eos or
    after `max_new_tokens` tokens and is decoded without special tokens. The greedy row and the samples of
    `batch_size` prompts are generated in one `model.generate` call.

    Args:
        keys: The random stream of prompt i is keyed by `keys[i]` (default: i); pass the prompts' dataset ids so that
            a subset of the prompts draws what the whole set draws for them.
        temperature: 0 (with `num_samples=1`) makes the sample the greedy continuation.

    Returns:
        `samples[i][k]`, `greedy[i]`, and `new_tokens[i][k]`: the tokens of sample k before its eos.
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
    )
    token_lists = tokenizer(list(prompts))["input_ids"]
    device = next(model.parameters()).device
    rows_per_prompt = 1 + sampled
    continuations: list[list[str]] = [[] for _ in prompts]
    counts: list[list[int]] = [[] for _ in prompts]
    for batch in length_sorted_batches([len(tokens) for tokens in token_lists], batch_size):
        input_ids, attention_mask, _ = left_pad([token_lists[i] for i in batch], pad_id, device)
        rows = [row for i in batch for row in [None, *((keys[i], sample) for sample in range(sampled))]]
        processor = GumbelMaxProcessor(rows, seed=seed, temperature=temperature, prompt_width=input_ids.shape[1])
        output = model.generate(
            input_ids=input_ids.repeat_interleave(rows_per_prompt, dim=0),
            attention_mask=attention_mask.repeat_interleave(rows_per_prompt, dim=0),
            generation_config=config,
            logits_processor=LogitsProcessorList([processor]),
        )
        new_tokens = []
        for tokens in output[:, input_ids.shape[1] :].tolist():
            end = next((position for position, token in enumerate(tokens) if token in eos_ids), len(tokens))
            new_tokens.append(tokens[:end])
        texts = tokenizer.batch_decode(new_tokens, skip_special_tokens=True)
        for number, index in enumerate(batch):
            block = slice(number * rows_per_prompt, (number + 1) * rows_per_prompt)
            continuations[index] = texts[block]
            counts[index] = [len(tokens) for tokens in new_tokens[block]]
    greedy = [texts[0] for texts in continuations]
    if not sampled:  # temperature 0: the one sample is the greedy continuation
        return [[text] for text in greedy], greedy, [row[:1] for row in counts]
    return [texts[1:] for texts in continuations], greedy, [row[1:] for row in counts]
