"""Device and dtype choices, made at run time from the hardware the process runs on.

One precision policy (`native_bf16`) for the places that pick one: evaluating a model or scoring with a frozen one
(`evaluation_dtype`) and the `bf16` mixed-precision default of a TRL trainer (`trainer_precision_defaults`). bf16 is
chosen where the hardware computes it natively: CUDA devices with bf16 support, and CPUs with AVX-512 BF16 or AMX
instructions; fp32 elsewhere, where bf16 matmuls are emulated and several times slower than fp32. Weights loaded for
training stay fp32 on a CPU (`resolve_dtype`): bf16 there is autocast around fp32 master weights.
"""

from __future__ import annotations

import torch
from transformers.utils import is_torch_bf16_gpu_available

from ..utils.errors import RlptError


def resolve_device(device: str | torch.device | None = "auto", flag: str = "--device") -> torch.device:
    """`"auto"` picks CUDA, then MPS, then CPU; anything else must name a device this machine has (`cpu`, `cuda`,
    `cuda:N`, `mps`), else one error line naming `flag`."""
    if device in (None, "auto"):
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError:
        raise RlptError(f"{flag} {device}: not a device (auto, cpu, cuda, cuda:N or mps)") from None
    if resolved.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if (resolved.index or 0) >= count:
            raise RlptError(f"{flag} {device}: this machine has {count} CUDA device(s); use --device auto or cpu")
    elif resolved.type == "mps" and not torch.backends.mps.is_available():
        raise RlptError(f"{flag} {device}: MPS is not available here; use --device auto or cpu")
    elif resolved.type not in ("cpu", "meta"):
        raise RlptError(f"{flag} {device}: not supported (auto, cpu, cuda, cuda:N or mps)")
    return resolved


def native_bf16(device: torch.device | str) -> bool:
    """Whether `device` computes bf16 natively: CUDA with bf16 support, or a CPU with AVX-512 BF16 or AMX."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        # torch has no public query; these private ones are what its own CPU kernels dispatch on
        return torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()
    return False


def resolve_dtype(dtype: str | torch.dtype = "auto", device: torch.device | str | None = None) -> torch.dtype:
    """`"auto"` is bf16 on a CUDA device that supports it and fp32 elsewhere (CPU, MPS)."""
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype == "auto":
        device = resolve_device(device if device is not None else "auto")
        return torch.bfloat16 if device.type == "cuda" and native_bf16(device) else torch.float32
    resolved = getattr(torch, dtype, None)
    if not isinstance(resolved, torch.dtype):
        raise RlptError(f"unknown dtype {dtype!r}; use auto, float32, bfloat16 or float16")
    return resolved


def evaluation_dtype(dtype: str | torch.dtype, device: torch.device) -> torch.dtype:
    """`"auto"`: bf16 where the device computes it natively (`native_bf16`), fp32 elsewhere."""
    if dtype == "auto" and native_bf16(device):
        return torch.bfloat16
    return resolve_dtype(dtype, device)


def trainer_precision_defaults() -> dict[str, bool | None]:
    """The `bf16` (and `use_cpu`) defaults of a TRL trainer config on this machine.

    With a GPU that trains in bf16: TRL's own default (`None`: bf16 unless fp16 is set). On a machine with no
    accelerator: bf16 autocast where the CPU computes bf16 natively, with `use_cpu`, which transformers requires for
    bf16 on a CPU; fp32 elsewhere. Set them before parsing, so a YAML or CLI value still wins.
    """
    if is_torch_bf16_gpu_available():
        return {"bf16": None}
    if torch.cuda.is_available() or torch.backends.mps.is_available():
        return {"bf16": False}
    return {"bf16": native_bf16("cpu"), "use_cpu": True}
