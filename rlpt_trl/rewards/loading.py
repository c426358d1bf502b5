"""Where and how reward models load: whole (never ZeRO-3 partitioned), on this process's device."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from accelerate import PartialState
from transformers.integrations import deepspeed as hf_deepspeed

from ..devices import resolve_device


def reward_device(device: str | None = "auto") -> torch.device:
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
