"""The frozen models a process scores with, loaded once per process and shared by everyone who asks for the same
one: the rewards, the next-segment evaluation and the in-training callbacks.

They load whole on the device accelerate gives the process (never ZeRO-3 partitioned), in eval mode and without
gradients.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import torch
from accelerate import PartialState
from transformers import PreTrainedModel, PreTrainedTokenizerBase
from transformers.integrations import deepspeed as hf_deepspeed

from .devices import evaluation_dtype, resolve_device
from .embeddings import load_embedding_model
from .loading import load_model_and_tokenizer


if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer


_ENCODERS: dict[tuple[str, str], SentenceTransformer] = {}
_SCORERS: dict[tuple[str, str, str], tuple[PreTrainedModel, PreTrainedTokenizerBase]] = {}


def process_device(device: str | torch.device | None = "auto") -> torch.device:
    """`"auto"` (or `None`) is the device accelerate gives this process: its own GPU under a multi-GPU launch,
    the CPU under `use_cpu=True`; anything else is passed to `resolve_device`."""
    if device in (None, "auto"):
        return PartialState().device
    return resolve_device(device)


@contextmanager
def unpartitioned() -> Iterator[None]:
    """Load models inside this block whole on every process, even while a DeepSpeed ZeRO-3 run is active.

    Each process scores only its own slice of completions, at its own pace; a ZeRO-3 partitioned scorer would
    need every process in each forward pass, and would hang. transformers decides `zero.Init` from one
    process-wide DeepSpeed config and offers no per-model switch (transformers#28106), so the config is
    unregistered for the duration of the block and registered again afterwards.
    """
    active = hf_deepspeed._hf_deepspeed_config_weak_ref
    hf_deepspeed.unset_hf_deepspeed_config()
    try:
        yield
    finally:
        hf_deepspeed._hf_deepspeed_config_weak_ref = active


def shared_encoder(model_name_or_path: str, device: str | torch.device | None = "auto") -> SentenceTransformer:
    """The sentence-transformers model `model_name_or_path` on `device` (`process_device`), loaded on the first
    request of this process."""
    device = process_device(device)
    key = (str(model_name_or_path), str(device))
    if key not in _ENCODERS:
        with unpartitioned():
            _ENCODERS[key] = load_embedding_model(str(model_name_or_path), device=str(device))
    return _ENCODERS[key]


def shared_scorer(
    model_name_or_path: str, device: str | torch.device | None = "auto", dtype: str | torch.dtype = "auto"
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """The frozen causal LM `model_name_or_path` and its left-padding tokenizer on `device` (`process_device`) in
    `dtype` (`"auto"`: `evaluation_dtype`), loaded on the first request of this process."""
    device = process_device(device)
    dtype = evaluation_dtype(dtype, device)
    key = (str(model_name_or_path), str(device), str(dtype))
    if key not in _SCORERS:
        with unpartitioned():
            model, tokenizer = load_model_and_tokenizer(
                str(model_name_or_path), dtype=dtype, device=device, padding_side="left"
            )
        _SCORERS[key] = model.eval().requires_grad_(False), tokenizer
    return _SCORERS[key]


def loaded_models() -> dict[str, torch.nn.Module]:
    """Every shared model this process has loaded so far, named `scorer <path>` / `encoder <path>` (counted by
    `rlpt_trl.trainer.flops`)."""
    scorers = {f"scorer {key[0]}": model for key, (model, _) in _SCORERS.items()}
    return scorers | {f"encoder {key[0]}": encoder for key, encoder in _ENCODERS.items()}
