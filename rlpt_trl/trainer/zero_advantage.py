"""GRPO without forwarding the rows that cannot change the model: with no KL term (`beta = 0`) and no entropy term, a
completion whose advantage is 0 (every completion of a group that earned one reward for all) adds exactly 0 to the
loss and to the gradient, yet stock TRL forwards and backpropagates it. Here those rows are left out of the policy's
forward and backward pass, and the loss is rescaled to the normalisation it has over the whole batch, so losses,
gradients and weights are stock TRL's (`tests/test_zero_advantage.py` checks it to 1e-5 in fp32, in DDP too).

Metrics computed from the forwarded rows (`entropy`, `clip_ratio/*`) then cover the informative completions only.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import torch

from .config_checks import first_blocker


logger = logging.getLogger(__name__)

# loss type -> how the loss over kept rows becomes the loss over the whole batch: the factor's numerator and
# denominator are the kept and the whole batch's "rows" (a mean over sequences, or over rows x a fixed length) or
# "tokens" (a mean over completion tokens); "global": the normaliser does not depend on the rows forwarded
LOSS_NORMALISERS = {"grpo": "rows", "dr_grpo": "rows", "bnpo": "tokens", "dapo": "global"}


@dataclass
class ZeroAdvantageArguments:
    """Whether GRPO forwards the completions of zero advantage (`rlpt-trl grpo`)."""

    skip_zero_advantage: bool = field(
        default=True,
        metadata={
            "help": "Leave completions whose advantage is 0 out of the policy's forward and backward pass (exact: the "
            "same losses, gradients and weights). Applies with beta 0, no entropy bonus, loss_type grpo, dapo, "
            "dr_grpo or bnpo and a text-only model; otherwise every completion is forwarded, as in stock TRL."
        },
    )


def skip_blocker(trainer: Any) -> str | None:
    """Why a GRPO trainer must forward every completion (a setting under which a zero-advantage row still counts), or
    None when skipping them is exact."""
    blockers = {
        f"beta {trainer.beta:g} (the KL term reads every row)": trainer.beta != 0.0,
        f"loss_type {trainer.loss_type}": trainer.loss_type not in LOSS_NORMALISERS,
        "an entropy bonus": getattr(trainer, "_entropy_bonus_enabled", False),
        "top_entropy_quantile < 1 (its threshold is over every row)": trainer.top_entropy_quantile < 1.0,
        "a load-balancing loss": getattr(trainer, "aux_loss_enabled", False),
    }
    return first_blocker(blockers)


def kept_rows(informative: torch.Tensor, count: int) -> torch.Tensor:
    """The `count` rows a step forwards, in batch order: every informative one first, then the first uninformative
    ones as filler (each rank forwards the same number, so that TRL's gathered metrics have one shape)."""
    order = torch.argsort((~informative).to(torch.int8), stable=True)
    return order[:count].sort().values


class SkipZeroAdvantageRows:
    """Mixin for `trl.GRPOTrainer` (before it in the bases): `_compute_loss` on the completions whose advantage is
    not 0, rescaled to the whole batch's normalisation (the module docstring). `skip_zero_advantage=False`, or a
    setting `skip_blocker` names, gives stock TRL."""

    def __init__(self, *args: Any, skip_zero_advantage: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.skip_zero_advantage = skip_zero_advantage
        blocker = skip_blocker(self) if skip_zero_advantage else None
        if blocker is not None:
            logger.warning("skip_zero_advantage: every completion is forwarded, because of %s", blocker)
            self.skip_zero_advantage = False
        self.skipped_rows = 0  # completions left out of the forward pass, this process

    def _compute_loss(self, model: torch.nn.Module, inputs: dict[str, Any]) -> torch.Tensor:
        if not self.skip_zero_advantage or "pixel_values" in inputs:
            return super()._compute_loss(model, inputs)
        advantages = inputs["advantages"]
        rows = advantages.shape[0]
        informative = advantages.reshape(rows, -1).ne(0).any(dim=1)
        local = torch.tensor([max(int(informative.sum()), 1)], device=advantages.device)
        count = int(self.accelerator.gather(local).max())
        if count >= rows:
            return super()._compute_loss(model, inputs)
        kept = kept_rows(informative.cpu(), count).to(advantages.device)
        subset = {
            key: value[kept] if isinstance(value, torch.Tensor) and value.dim() and value.shape[0] == rows else value
            for key, value in inputs.items()
        }
        self.skipped_rows += rows - count
        return super()._compute_loss(model, subset) * self._normaliser_ratio(inputs, subset, count, rows)

    def _normaliser_ratio(self, inputs: dict[str, Any], subset: dict[str, Any], count: int, rows: int) -> float:
        """(the kept rows' loss normaliser) / (the whole batch's), by loss type."""
        kind = LOSS_NORMALISERS[self.loss_type]
        if kind == "rows":
            return count / rows
        if kind == "tokens":
            return float(_completion_tokens(subset) / _completion_tokens(inputs))
        return 1.0


def _completion_tokens(inputs: dict[str, Any]) -> torch.Tensor:
    """The completion tokens the loss averages over (TRL's `mask`), at least 1 as TRL clamps it."""
    mask = inputs["completion_mask"]
    if "tool_mask" in inputs:
        mask = mask * inputs["tool_mask"]
    return mask.sum().clamp(min=1.0)
