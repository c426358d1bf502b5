"""The machine a run used, as a report states it: CPU, memory, device, torch threads, evaluation dtype, versions."""

from __future__ import annotations

import importlib.metadata
import os
import platform
from collections.abc import Mapping
from pathlib import Path

import torch

from rlpt_trl.models.devices import evaluation_dtype, resolve_device


VERSIONED_PACKAGES = ("torch", "transformers", "trl", "datasets")


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (Linux), else what `platform` knows, else "unknown"."""
    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.exists() else []
    names = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    return names[0] if names else platform.processor() or "unknown"


def hardware_report() -> dict[str, object]:
    """Cores this process may use, CPU, memory, device, torch threads, `--dtype auto`'s evaluation dtype, the load
    average now (1 / 5 / 15 min) and the versions of Python and the training stack."""
    device = resolve_device("auto")
    return {
        "nproc": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "cpu": cpu_model(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "device": str(device),
        "torch_threads": torch.get_num_threads(),
        "eval_dtype": str(evaluation_dtype("auto", device)).removeprefix("torch."),
        "load_average_at_start": [round(value, 2) for value in os.getloadavg()],
        "versions": {
            "python": platform.python_version(),
            **{name: importlib.metadata.version(name) for name in VERSIONED_PACKAGES},
        },
    }


def describe_hardware(report: Mapping[str, object]) -> str:
    """`hardware_report()` as one paragraph."""
    versions = ", ".join(f"{name} {version}" for name, version in report["versions"].items())
    load = " / ".join(map(str, report["load_average_at_start"]))
    return (
        f"{report['nproc']} CPU cores (`nproc`), {report['cpu']}, {report['memory_gib']} GiB RAM, device "
        f"{report['device']}, {report['torch_threads']} torch threads; {versions}. Load average (1 / 5 / 15 min) "
        f"when the run started: {load}."
    )
