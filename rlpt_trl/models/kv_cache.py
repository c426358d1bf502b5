"""Key/value caches through transformers' public API, the same on every version that rlpt_trl admits (setup.cfg).

transformers 5.18 calls a forward pass's cache argument and output field `past_key_values`; later 5.x versions call
them `cache` (the old name still works there, with a deprecation warning). The output classes say which name this
version uses. A cached prefix is reused for several rows with the cache's own `reorder_cache` (beam search's row
selection), on a copy, since a forward pass appends to the cache it is given.
"""

from __future__ import annotations

import copy

import torch
from transformers import Cache
from transformers.modeling_outputs import CausalLMOutputWithPast
from transformers.utils import ModelOutput


CACHE_NAME = "cache" if "cache" in CausalLMOutputWithPast.__dataclass_fields__ else "past_key_values"


def cache_of(output: ModelOutput) -> Cache:
    """The cache a forward pass with `use_cache=True` returned."""
    return getattr(output, CACHE_NAME)


def cache_inputs(cache: Cache) -> dict:
    """The keyword arguments that run a forward pass (or `generate`) on top of `cache`."""
    return {CACHE_NAME: cache, "use_cache": True}


def cache_rows(cache: Cache, rows: torch.Tensor) -> Cache:
    """A copy of `cache` whose row i is row `rows[i]` of `cache` (repeats allowed): a cached prefix for every row that
    continues it."""
    selected = copy.deepcopy(cache)
    selected.reorder_cache(rows)
    return selected
