"""Lazy public names for a package: each submodule is imported the first time one of its names is used.

`import rlpt_trl` then costs nothing of torch, transformers, TRL or sentence-transformers, so `rlpt-trl --help` and
the torch-free commands start at once (the pattern of TRL's and transformers' `_LazyModule`, written with PEP 562's
module `__getattr__`).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable


def lazy_exports(package: str, exports: dict[str, str]) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """The module-level `__getattr__` and `__dir__` of `package`, whose public `name` lives in `exports[name]`
    (a submodule, relative to `package`)."""

    def __getattr__(name: str) -> object:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(exports[name], package), name)
        setattr(sys.modules[package], name, value)  # later look-ups skip this function
        return value

    def __dir__() -> list[str]:
        return sorted({*vars(sys.modules[package]), *exports})

    return __getattr__, __dir__
