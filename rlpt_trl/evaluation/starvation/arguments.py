"""The flags of the starvation forecast; its prompts and sampling are the next-segment flags (`--next_segment_data`,
`--next_segment_temperature`, `--next_segment_seed`, `--next_segment_max_samples`)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ...data.dataset_folder import TRAIN_SPLIT, VALIDATION_SPLIT
from ...utils.errors import RlptError
from ..next_segment.prompts import NextSegmentPrompts


@dataclass
class StarvationArguments:
    """Which group sizes the starvation forecast covers, which split of a data folder it reads, and how many of its
    prompts."""

    starvation_group_sizes: list[int] = field(
        default_factory=lambda: [2, 4, 8, 16, 64],
        metadata={
            "help": "starvation: the group sizes K (GRPO's num_generations) to forecast; each prompt draws as many "
            "samples as the largest to check the forecast."
        },
    )
    starvation_split: str | None = field(
        default=None,
        metadata={
            "help": "starvation: the split of --next_segment_data to forecast (train: the prompts a run trains on). "
            "Default: validation when the folder has one, else train.",
            "choices": [TRAIN_SPLIT, VALIDATION_SPLIT],
        },
    )

    starvation_sample: int | None = field(
        default=None,
        metadata={
            "help": "starvation: forecast a uniform random sample of N of the prompts, drawn with "
            "--next_segment_seed (an unbiased estimate of the whole set's shares, with its CI). Default: every prompt."
        },
    )

    def group_sizes(self) -> list[int]:
        """The group sizes, checked (one error line naming the flag) and sorted."""
        if not self.starvation_group_sizes or min(self.starvation_group_sizes) < 2:
            raise RlptError(
                f"--starvation_group_sizes must be at least 2 each (a group of one has no variance), got "
                f"{self.starvation_group_sizes}"
            )
        return sorted(set(self.starvation_group_sizes))

    def sample(self, prompts: NextSegmentPrompts, seed: int) -> NextSegmentPrompts:
        """`starvation_sample` of the prompts drawn uniformly without replacement with `seed`, in their order; all of
        them when it is unset or not smaller."""
        if self.starvation_sample is not None and self.starvation_sample < 1:
            raise RlptError(f"--starvation_sample must be at least 1, got {self.starvation_sample}")
        if self.starvation_sample is None or self.starvation_sample >= len(prompts):
            return prompts
        rows = np.random.default_rng(seed).choice(len(prompts), self.starvation_sample, replace=False)
        return prompts.select(sorted(rows.tolist()))
