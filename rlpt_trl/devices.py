"""Device and dtype choices, made at run time from the hardware the process runs on.

One policy for the three places that pick a precision: loading a model (`resolve_dtype`), evaluating one
(`evaluation_dtype`) and the `bf16` default of a TRL trainer config (`trainer_bf16_default`). bf16 is chosen
where the hardware computes it natively: CUDA devices with bf16 support always; CPUs with AMX tiles for
inference only (training on the CPU stays fp32, where transformers' mixed precision does not apply).
"""

from __future__ import annotations

import torch
from transformers.utils import is_torch_bf16_gpu_available

from .errors import RlptError


def resolve_device(device: str | None = "auto") -> torch.device:
    """`"auto"` picks CUDA, then MPS, then CPU; anything else is passed to `torch.device`."""
    if device in (None, "auto"):
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    return torch.device(device)


def _native_bf16(device: torch.device, *, cpu_amx: bool) -> bool:
    """Whether `device` computes bf16 natively; a CPU counts only when `cpu_amx` asks and it has AMX tiles."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    # torch has no public query for AMX; the private one is what its own CPU kernels dispatch on. Without AMX,
    # CPU bf16 matmuls are emulated and several times slower than fp32.
    return cpu_amx and device.type == "cpu" and torch.cpu._is_amx_tile_supported()


def resolve_dtype(dtype: str | torch.dtype = "auto", device: torch.device | str | None = None) -> torch.dtype:
    """`"auto"` is bf16 on a CUDA device that supports it and fp32 elsewhere (CPU, MPS)."""
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype == "auto":
        device = resolve_device(device if device is not None else "auto")
        return torch.bfloat16 if _native_bf16(device, cpu_amx=False) else torch.float32
    resolved = getattr(torch, dtype, None)
    if not isinstance(resolved, torch.dtype):
        raise RlptError(f"unknown dtype {dtype!r}; use auto, float32, bfloat16 or float16")
    return resolved


def evaluation_dtype(dtype: str | torch.dtype, device: torch.device) -> torch.dtype:
    """`"auto"`: bf16 where it is the fast path (CUDA with bf16, CPUs with AMX), fp32 elsewhere."""
    if dtype == "auto" and _native_bf16(device, cpu_amx=True):
        return torch.bfloat16
    return resolve_dtype(dtype, device)


def trainer_bf16_default() -> bool | None:
    """The `bf16` default for a TRL trainer config: TRL's own (bf16 unless fp16 is set) where bf16 training is
    supported, False elsewhere, where transformers would reject it (a CPU-only machine).

    Set it before parsing, so a YAML or CLI value still wins: `parser.set_defaults(bf16=trainer_bf16_default())`.
    """
    return None if is_torch_bf16_gpu_available() else False
