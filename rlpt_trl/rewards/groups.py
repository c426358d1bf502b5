"""Prompt groups of a GRPO batch across processes, and z-scores within each group.

TRL calls a reward function on every process with that process's slice of the generation batch, then
gathers the rewards in process order. The batch is laid out by TRL's `RepeatSampler`: the
`num_generations` completions of one prompt are consecutive in that global order, and a group may start on
one process and end on the next. Group statistics therefore need the whole batch: `gather_batch` collects
it, the caller computes on it, then keeps its own slice.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from accelerate import PartialState
from accelerate.utils import gather_object

from ..utils.errors import RlptError


# Spreads below this are float noise (the same text scored in differently padded batches), not a signal.
ZERO_SPREAD = 1e-4


def gather_batch(local: list[Any]) -> tuple[list[Any], slice]:
    """All processes' items in global (process) order, and the slice of them that is this process's `local`.

    Processes may hold slices of different lengths. On a single process this returns `local` itself.
    """
    per_process = gather_object([local])
    start = sum(len(items) for items in per_process[: PartialState().process_index])
    return [item for items in per_process for item in items], slice(start, start + len(local))


def group_ids(prompts: list[Any], num_generations: int | None = None) -> list[int]:
    """The group index of each completion in the global batch.

    With `num_generations`, groups are consecutive blocks of that size (TRL's layout), checked to hold one
    prompt each. Without it, a group is a run of consecutive identical prompts; two neighbouring groups that
    happen to share a prompt then merge, which is why the trainer's `num_generations` should be passed.
    """
    if num_generations is None:
        ids = []
        for index, prompt in enumerate(prompts):
            ids.append(0 if index == 0 else ids[-1] + (prompt != prompts[index - 1]))
        return ids
    if len(prompts) % num_generations:
        raise RlptError(
            f"batch of {len(prompts)} completions is not a whole number of groups of num_generations={num_generations}"
        )
    for start in range(0, len(prompts), num_generations):
        if any(prompt != prompts[start] for prompt in prompts[start : start + num_generations]):
            raise RlptError(
                f"completions {start}..{start + num_generations - 1} do not share one prompt; "
                f"num_generations={num_generations} must equal the trainer's"
            )
    return [index // num_generations for index in range(len(prompts))]


def negated_group_zscores(values: np.ndarray, groups: list[int]) -> np.ndarray:
    """`-(value - group mean) / group std` (population std) for every finite value; NaN marks an unscorable item.

    A group with fewer than two finite values, or a spread below `ZERO_SPREAD`, gives 0.0. An unscorable
    item gets the lowest reward of its group (0.0 when nothing in the group is scorable).
    """
    values = np.asarray(values, dtype=np.float64)
    groups = np.asarray(groups)
    rewards = np.zeros_like(values)
    for group in np.unique(groups):
        members = groups == group
        scored = members & np.isfinite(values)
        if scored.sum() >= 2 and values[scored].std() >= ZERO_SPREAD:
            rewards[scored] = -(values[scored] - values[scored].mean()) / values[scored].std()
        if scored.any():
            rewards[members & ~scored] = rewards[scored].min()
    return rewards
