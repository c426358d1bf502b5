"""Generation scoring: greedy continuations of each prompt, mapped to a label through the task's words."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from tqdm.auto import tqdm
from transformers import GenerationConfig, PreTrainedModel, PreTrainedTokenizerBase

from ...models.batching import padding_id
from .prefix_cache import PrefixBatches


@torch.inference_mode()
def generate_greedy(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: Sequence[str],
    *,
    max_new_tokens: int,
    batch_size: int = 32,
    desc: str | None = None,
    shared_prefix: str = "",
) -> list[str]:
    """The greedy continuation of each prompt (at most `max_new_tokens` tokens, special tokens dropped); the key/value
    cache of `shared_prefix`, a text every prompt starts with, is computed once and reused (see `score_continuations`)."""
    pad_id = padding_id(tokenizer)
    eos_id = model.generation_config.eos_token_id
    # an explicit config: the checkpoint's sampling settings must not leak into greedy decoding
    config = GenerationConfig(
        do_sample=False,
        max_new_tokens=max_new_tokens,
        pad_token_id=pad_id,
        eos_token_id=eos_id if eos_id is not None else tokenizer.eos_token_id,
        use_cache=True,  # a trainer may have turned the model's cache off (gradient checkpointing)
    )
    token_lists = tokenizer(list(prompts))["input_ids"]
    texts = [""] * len(prompts)
    batches = PrefixBatches(model, tokenizer, token_lists, shared_prefix, batch_size)
    for batch in tqdm(batches, desc=desc, disable=desc is None, unit="batch"):
        inputs = batches.generate_inputs(batch)
        output = model.generate(**inputs, generation_config=config)
        new_tokens = output[:, inputs["input_ids"].shape[1] :]
        for index, text in zip(batch, tokenizer.batch_decode(new_tokens, skip_special_tokens=True), strict=True):
            texts[index] = text
    return texts
