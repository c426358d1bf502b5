"""GRPO's policy passes with each prompt computed once per group (Prefix Grouper, arXiv 2506.05433): TRL forwards
every completion with its prompt in front, so a prompt's K copies are computed K times, in generation's prefill, in
the training pass, its backward, and the passes that read log-probabilities. Here the distinct prompts of a batch are
forwarded once, with the keys and values of every layer kept (and their gradient path, in training); each completion
is then forwarded on its prompt's keys and values, so the backward pass through a prompt is also done once, with the
K completions' gradients summed into it. Generation computes each distinct prompt but its last token once, and
`generate` continues every row from those keys and values. Positions, padding and attention are those of TRL's own
passes, so the samples, log-probabilities, losses, gradients and weights are TRL's (`tests/test_zero_advantage.py`
checks them to 1e-5 in fp32). Not the package `prefix-grouper`: it patches the attention functions of the models it
knows, where this uses transformers' key/value cache, which every causal LM of the Hub has.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch

from ..models.kv_cache import cache_inputs, cache_of
from .config_checks import first_blocker


logger = logging.getLogger(__name__)


@dataclass
class SharedPromptArguments:
    """Whether GRPO computes each prompt once per group (`rlpt-trl grpo`)."""

    shared_prompt: bool = field(
        default=True,
        metadata={
            "help": "Compute each distinct prompt of a batch once and its completions on its keys and values, in "
            "generation's prefill, the training pass and the log-probability passes (exact: the same samples, "
            "losses, gradients and weights). "
            "Applies to text-only models without activation checkpointing; otherwise every completion is forwarded "
            "with its prompt, as in stock TRL."
        },
    )


def shared_prompt_blocker(trainer: Any) -> str | None:
    """Why a GRPO trainer must forward each completion with its prompt, or None when sharing the prompts is exact."""
    args = trainer.args
    blockers = {
        "activation checkpointing (it drops the keys and values a shared prompt keeps)": bool(
            getattr(args, "activation_checkpointing", False) or getattr(args, "gradient_checkpointing", False)
        ),
        "a load-balancing loss": getattr(trainer, "aux_loss_enabled", False),
        "a vision-language model": getattr(trainer, "_is_vlm", False),
    }
    return first_blocker(blockers)


def per_token_logps(
    logits: torch.Tensor, tokens: torch.Tensor, temperature: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Each token's log-probability under `logits / temperature` (`(rows, length, vocab)` and `(rows, length)`) and
    the entropy of each position's distribution, in fp32."""
    log_probs = torch.log_softmax(logits.float() / temperature, dim=-1)
    picked = log_probs.gather(-1, tokens[..., None]).squeeze(-1)
    entropy = -(log_probs.exp() * log_probs).sum(dim=-1)
    return picked, entropy


def distinct_rows(rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The first row of each distinct value of `rows` (a `(n, ...)` tensor) and each row's index among them."""
    distinct, owner = torch.unique(rows, dim=0, return_inverse=True)
    first = torch.full((len(distinct),), len(rows), device=owner.device)
    return first.scatter_reduce(0, owner, torch.arange(len(rows), device=owner.device), reduce="amin"), owner


@contextmanager
def shared_prefill(model: torch.nn.Module) -> Iterator[None]:
    """While open, `model.generate` computes each distinct left-padded prompt of its batch, but its last token, once
    (positions counted from the attention mask, as `generate` counts them) and continues every row from its prompt's
    keys and values; `generate` then computes only the last prompt token of each row."""
    original = model.generate

    def generate(*, input_ids: torch.Tensor, attention_mask: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        first, owner = distinct_rows(torch.cat([input_ids, attention_mask], dim=1))
        if len(first) == len(input_ids) or input_ids.shape[1] < 2:
            return original(input_ids=input_ids, attention_mask=attention_mask, **kwargs)
        positions = (attention_mask.long().cumsum(-1) - 1).masked_fill(attention_mask == 0, 1)
        prefix = model(
            input_ids=input_ids[first, :-1], attention_mask=attention_mask[first, :-1],
            position_ids=positions[first, :-1], use_cache=True, logits_to_keep=1,
        )  # fmt: skip
        cache = cache_of(prefix)
        cache.reorder_cache(owner)
        return original(input_ids=input_ids, attention_mask=attention_mask, **cache_inputs(cache), **kwargs)

    model.generate = generate
    try:
        yield
    finally:
        del model.generate


class SharedPromptForward:
    """Mixin for `trl.GRPOTrainer` (before it in the bases): generation and `_get_per_token_logps_and_entropies`
    compute each distinct prompt of a batch once (the module docstring). `shared_prompt=False`, multimodal inputs,
    vLLM or continuous-batching generation, or a setting `shared_prompt_blocker` names give TRL's own passes."""

    def __init__(self, *args: Any, shared_prompt: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.shared_prompt = shared_prompt
        blocker = shared_prompt_blocker(self) if shared_prompt else None
        if blocker is not None:
            logger.warning("shared_prompt: every completion is forwarded with its prompt, because of %s", blocker)
            self.shared_prompt = False

    def _generate_single_turn(
        self, prompt_ids: list, images: Any, multimodal_fields: dict, num_generations: int, *args: Any, **kwargs: Any
    ) -> tuple[list, Any]:
        own = (prompt_ids, images, multimodal_fields, num_generations, *args)
        plain = not (self.use_vllm or self.use_transformers_continuous_batching or images or multimodal_fields)
        if not (self.shared_prompt and plain):
            return super()._generate_single_turn(*own, **kwargs)
        with shared_prefill(self.accelerator.unwrap_model(self.model_wrapped)):
            return super()._generate_single_turn(*own, **kwargs)

    def _get_per_token_logps_and_entropies(
        self,
        model: torch.nn.Module,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        logits_to_keep: int,
        batch_size: int | None = None,
        compute_entropy: bool = False,
        compute_aux_loss: bool = False,
        **multimodal: Any,
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        if not self.shared_prompt or compute_aux_loss or any(value is not None for value in multimodal.values()):
            own = (model, input_ids, attention_mask, logits_to_keep, batch_size, compute_entropy, compute_aux_loss)
            return super()._get_per_token_logps_and_entropies(*own, **multimodal)
        # TRL's chunks of `batch_size` rows bound the memory; the prompts repeated within a chunk are shared
        size = batch_size or len(input_ids)
        chunks = [
            self._shared_pass(model, input_ids[start : start + size], attention_mask[start : start + size],
                              input_ids.shape[1] - logits_to_keep)
            for start in range(0, len(input_ids), size)
        ]  # fmt: skip
        logps, entropies = (torch.cat(parts) for parts in zip(*chunks, strict=True))
        return logps, entropies if compute_entropy else None, None

    def _shared_pass(
        self, model: torch.nn.Module, input_ids: torch.Tensor, attention_mask: torch.Tensor, width: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The log-probabilities and entropies of the completions (the columns from `width` on) from one pass over the
        distinct prompts (a prompt is its ids and its padding) and one pass over every completion on its prompt's
        keys and values."""
        first, owner = distinct_rows(torch.cat([input_ids[:, :width], attention_mask[:, :width]], dim=1))
        completions, completion_mask = input_ids[:, width:], attention_mask[:, width:]
        with self.accelerator.autocast():
            prefix = model(
                input_ids=input_ids[first, :width], attention_mask=attention_mask[first, :width], use_cache=True,
                logits_to_keep=1,
            )  # fmt: skip
            cache = cache_of(prefix)
            cache.reorder_cache(owner)  # in place: index_select keeps the gradient path to the prompts
            logits = prefix.logits[owner, -1:]
            if completions.shape[1] > 1:
                rest = model(
                    input_ids=completions[:, :-1], attention_mask=attention_mask[:, :-1], **cache_inputs(cache)
                )
                logits = torch.cat([logits, rest.logits], dim=1)
        logps, entropies = per_token_logps(logits, completions, self.temperature)
        # TRL's fused head scores only the labelled positions: padding after a completion's end reads 0
        real = completion_mask.bool()
        return torch.where(real, logps, 0.0), torch.where(real, entropies, 0.0)
