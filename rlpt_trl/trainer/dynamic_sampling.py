"""DAPO's dynamic sampling (arXiv 2503.14476, section 3.2) for TRL's GRPO: a group of K completions that earned one
reward for all has no advantage and moves nothing, and under a starved reward (RPT's on a small model: most groups,
docs/starvation.md) a step of stock TRL trains on the few groups left. Here the groups of equal rewards are dropped
and new prompts drawn, round after round, until the step has as many informative groups as it draws or
`max_resample_rounds` more rounds have run. A step still short is filled with the dropped groups of its first round:
they add nothing to the gradient (and with `skip_zero_advantage`, no compute) and count in the loss's normaliser as in
stock TRL. Every round's generation, scoring and log-probability passes count in the run's FLOPs.

A round's new prompts are drawn at random from the training set, as a function of (seed, step, round, process), so
that a resumed run draws what the uninterrupted run drew; the main prompt order stays TRL's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from datasets import IterableDataset
from trl.trainer.utils import nanstd

from ..utils.errors import RlptError
from .config_checks import first_blocker


# the batch keys padded on the left (TRL left-pads prompts); every other per-row matrix is padded on the right
LEFT_PADDED = ("prompt_ids", "prompt_mask")


@dataclass
class DynamicSamplingArguments:
    """DAPO's dynamic sampling for `rlpt-trl grpo`."""

    dynamic_sampling: bool = field(
        default=False,
        metadata={
            "help": "Drop the groups whose completions all earned one reward and draw new prompts until the step has "
            "as many informative groups as it draws (DAPO). Every round's passes count in the FLOPs."
        },
    )
    max_resample_rounds: int = field(
        default=10,
        metadata={
            "help": "With --dynamic_sampling, the most rounds of new prompts a step draws after its first; a step "
            "still short then trains on what it has, filled with its first round's dropped groups."
        },
    )


def check_dynamic_sampling(config: Any, max_resample_rounds: int) -> None:
    """Reject a `trl.GRPOConfig` under which dropping groups would change the kept groups' advantages, or a batch
    that cannot be cut into whole groups on each process."""
    if max_resample_rounds < 0:
        raise RlptError(f"--max_resample_rounds must be >= 0, got {max_resample_rounds}")
    if config.scale_rewards == "batch":
        raise RlptError("--dynamic_sampling needs scale_rewards group or none: with batch, every advantage depends on "
                        "the groups that are dropped")  # fmt: skip
    if config.multi_objective_aggregation != "sum_then_normalize":
        raise RlptError("--dynamic_sampling needs multi_objective_aggregation sum_then_normalize: the other "
                        "normalises the advantages over the whole batch, dropped groups included")  # fmt: skip
    rows = config.per_device_train_batch_size * config.steps_per_generation
    if rows % config.num_generations:
        raise RlptError(
            f"--dynamic_sampling needs each process's generation batch (per_device_train_batch_size x "
            f"steps_per_generation = {rows}) to be whole groups of num_generations {config.num_generations}"
        )


def dynamic_sampling_blocker(trainer: Any) -> str | None:
    """What a GRPO trainer has that dropping and redrawing groups does not support, or None."""
    blockers = {
        "tools or environments (their per-row state is not merged across rounds)": bool(
            trainer.tools or trainer.environment_factories
        ),
        "a vision-language model": getattr(trainer, "_is_vlm", False),
        "an iterable training set (new prompts are drawn by index)": isinstance(
            trainer.train_dataset, (IterableDataset, torch.utils.data.IterableDataset)
        ),
    }
    return first_blocker(blockers)


def informative_groups(rewards_per_func: torch.Tensor, weights: torch.Tensor, group_size: int) -> torch.Tensor:
    """Which groups of `group_size` consecutive completions have rewards that are not all equal (TRL's
    `frac_reward_zero_std` counts the others), from the `(completions, reward functions)` rewards; a group that no
    reward function scored is not informative."""
    rewards = (rewards_per_func * weights.to(rewards_per_func.device)).nansum(dim=1)
    rewards[torch.isnan(rewards_per_func).all(dim=1)] = torch.nan
    std = nanstd(rewards.view(-1, group_size), dim=1)
    return ~(torch.isclose(std, torch.zeros_like(std)) | torch.isnan(std))


def resample_indices(dataset_size: int, count: int, seed: int, step: int, round_: int, process: int) -> np.ndarray:
    """`count` training rows for one round of one step on one process, a function of those numbers: distinct ones,
    unless the set has fewer."""
    generator = np.random.default_rng([seed, step, round_, process])
    return generator.choice(dataset_size, size=count, replace=count > dataset_size)


def select_groups(informative: list[torch.Tensor], wanted: int) -> list[tuple[int, int]]:
    """(round, group) of the groups a step keeps: the informative ones in the order drawn, up to `wanted`, then the
    first round's others as filler."""
    kept = [(round_, int(group)) for round_, flags in enumerate(informative) for group in flags.nonzero().flatten()]
    filler = [(0, int(group)) for group in (~informative[0]).nonzero().flatten()]
    return (kept + filler)[:wanted]


def merge_batches(
    batches: list[dict[str, Any]], picks: list[tuple[int, int]], group_size: int, pad_token_id: int
) -> dict[str, Any]:
    """One generation batch of TRL's (`_generate_and_score_completions`' output) from the picked groups of several:
    rows taken in pick order, matrices padded to the widest (prompts on the left); `num_items_in_batch` is left to the
    caller."""
    merged: dict[str, Any] = {}
    for key, first in batches[0].items():
        if key == "num_items_in_batch":
            continue
        pieces = [batches[round_][key][group * group_size : (group + 1) * group_size] for round_, group in picks]
        if first.dim() == 1:
            merged[key] = torch.cat(pieces)
            continue
        width = max(piece.shape[1] for piece in pieces)
        value = pad_token_id if key.endswith("_ids") else 0
        left = key in LEFT_PADDED
        merged[key] = torch.cat(
            [
                torch.nn.functional.pad(piece, (width - piece.shape[1], 0) if left else (0, width - piece.shape[1]),
                                        value=value)
                for piece in pieces
            ]
        )  # fmt: skip
    return merged


class DynamicSampling:
    """Mixin for `trl.GRPOTrainer` (before it in the bases): each training generation batch made of informative
    groups drawn over several rounds (the module docstring). `dynamic_sampling=False` gives stock TRL."""

    def __init__(
        self, *args: Any, dynamic_sampling: bool = False, max_resample_rounds: int = 10, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.dynamic_sampling, self.max_resample_rounds = dynamic_sampling, max_resample_rounds
        if not dynamic_sampling:
            return
        check_dynamic_sampling(self.args, max_resample_rounds)
        blocker = dynamic_sampling_blocker(self)
        if blocker is not None:
            raise RlptError(f"--dynamic_sampling does not support {blocker}")
        self._round_rewards: torch.Tensor | None = None
        self._resample_dataset = None

    def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list) -> torch.Tensor:
        rewards = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)
        self._round_rewards = rewards  # every process's completions, as TRL gathers them
        return rewards

    def _generate_and_score_completions(self, inputs: list[dict[str, Any]]) -> dict[str, Any]:
        if not self.dynamic_sampling or not self.model.training:
            return super()._generate_and_score_completions(inputs)
        group_size, groups = self.num_generations, len(inputs) // self.num_generations
        device = self.accelerator.device
        batches, informative = [], []
        prompts = inputs
        while True:
            batches.append(super()._generate_and_score_completions(prompts))
            local = slice(self.accelerator.process_index * groups, (self.accelerator.process_index + 1) * groups)
            flags = informative_groups(self._round_rewards, self.reward_weights, group_size)[local].cpu()
            informative.append(flags)
            short = max(groups - sum(int(found.sum()) for found in informative), 0)
            short_anywhere = int(self.accelerator.gather(torch.tensor([short], device=device)).max())
            if short_anywhere == 0 or len(batches) > self.max_resample_rounds:
                break
            prompts = self._resample_prompts(groups, round_=len(batches))
        merged = merge_batches(
            batches, select_groups(informative, groups), group_size, self.processing_class.pad_token_id
        )
        merged["num_items_in_batch"] = self.accelerator.gather(merged["completion_mask"].sum()).sum()
        kept = min(sum(int(found.sum()) for found in informative), groups)
        counts = self.accelerator.gather(torch.tensor([len(batches) * groups, kept], device=device)).view(-1, 2)
        metrics = self._metrics["train"]
        metrics["dynamic_sampling/rounds"].append(float(len(batches)))
        metrics["dynamic_sampling/groups_drawn"].append(float(counts[:, 0].sum()))
        metrics["dynamic_sampling/groups_kept"].append(float(counts[:, 1].sum()))
        return merged

    def _resample_prompts(self, groups: int, round_: int) -> list[dict[str, Any]]:
        """This process's rows for one more round: `groups` prompts drawn at random, each repeated for its group as
        TRL's sampler repeats it."""
        if self._resample_dataset is None:
            dataset = self.train_dataset
            if hasattr(dataset, "column_names"):
                dataset = self._remove_unused_columns(dataset, description="training")
            self._resample_dataset = dataset
        dataset = self._resample_dataset
        # several generations a step when steps_per_generation < gradient_accumulation_steps
        generation = self._step % self.args.gradient_accumulation_steps
        step = self.state.global_step * self.args.gradient_accumulation_steps + generation
        rows = resample_indices(len(dataset), groups, self.args.seed, step, round_, self.accelerator.process_index)
        return [dataset[int(row)] for row in rows for _ in range(self.num_generations)]
