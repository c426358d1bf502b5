"""A prompt order that a resumed run restores: each epoch's permutation drawn from (seed, epoch).

TRL's `RepeatSampler` draws every epoch's permutation from one generator seeded once, and the checkpoint does not
hold that generator: a run resumed in its second epoch or later restarts the sequence and trains on another order
than the uninterrupted run. Reseeding it from (seed, epoch) before each pass, with the epoch the training loop sets,
makes the order a function of where the run is, and gives the first epoch the order stock TRL gives it.
"""

from __future__ import annotations

from collections.abc import Iterator

from torch.utils.data import Sampler


class EpochSeededSampler(Sampler):
    """Wrap a TRL `RepeatSampler`: before each pass, its generator is seeded with `seed + epoch`."""

    def __init__(self, sampler: Sampler, seed: int) -> None:
        self.sampler, self.seed, self.epoch = sampler, seed, 0

    def set_epoch(self, epoch: int) -> None:
        """Called by accelerate's data loader at the start of each epoch, a resumed one included."""
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        if getattr(self.sampler, "shuffle", False):
            self.sampler.generator.manual_seed(self.seed + self.epoch)
        return iter(self.sampler)

    def __len__(self) -> int:
        return len(self.sampler)


class ResumablePromptOrder:
    """Mixin for a TRL trainer built on `RepeatSampler` (GRPO, RLOO): its training prompts in an order a resumed run
    restores (`EpochSeededSampler`)."""

    def _get_train_sampler(self, dataset=None) -> Sampler:
        return EpochSeededSampler(super()._get_train_sampler(dataset), self.args.seed)
