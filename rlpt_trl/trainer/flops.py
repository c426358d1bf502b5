"""Training compute, one count for every run: each forward pass of each model the run uses, counted as it happens.

A pass over T tokens of a model with N parameters costs 2 N T FLOPs when the model only reads them (generation,
scoring, reward and reference models) and 6 N T when a backward pass follows (training: forward + backward), the
usual `C = 6 N D` rule. T counts real tokens (the attention mask's ones; padding and the attention's own
quadratic term are left out), one a row a step during cached generation. N counts the parameters every token goes
through: all but the input embedding tables, which are looked up, not multiplied. The output layer (tied to the input
embeddings or not) counts only on the positions whose logits the pass computes: the last `logits_to_keep` columns
(generation's prefill computes one), the labelled positions of TRL's fused head (`fused_lm_head=True`: GRPO's and
RLOO's completion tokens), else every real token. A control given a GRPO run's count (`--flops_budget`) has spent the
same compute.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from transformers import TrainerCallback

from ..utils.errors import RlptError


FLOPS_FILE = "flops.json"


def matmul_parameters(model: torch.nn.Module) -> int:
    """N of the module docstring: the parameters but the input embedding tables (counting the output layer once)."""
    embedding_tables = {id(module.weight) for module in model.modules() if isinstance(module, torch.nn.Embedding)}
    output = getattr(model, "get_output_embeddings", lambda: None)()
    kept = {id(output.weight)} if output is not None else set()
    seen, total = set(), 0
    for parameter in model.parameters():
        key = id(parameter)
        if key in seen or (key in embedding_tables and key not in kept):
            continue
        seen.add(key)
        total += parameter.numel()
    return total


def output_parameters(model: torch.nn.Module) -> int:
    """The parameters of the model's output layer (0 for a model without one, such as a sentence encoder)."""
    output = getattr(model, "get_output_embeddings", lambda: None)()
    return 0 if output is None else sum(parameter.numel() for parameter in output.parameters())


def _real_tokens(args: tuple, kwargs: dict[str, Any]) -> torch.Tensor | None:
    """Which positions of a forward pass's inputs (keywords, or a features mapping as sentence-transformers passes) are
    real tokens, `(rows, columns)` booleans: the attention mask's ones, else every input; None without inputs."""
    inputs = args[0] if args and isinstance(args[0], Mapping) else kwargs
    ids = inputs.get("input_ids", args[0] if args and isinstance(args[0], torch.Tensor) else None)
    if ids is None and inputs.get("inputs_embeds") is not None:
        ids = inputs["inputs_embeds"][..., 0]
    if ids is None:
        return None
    mask = inputs.get("attention_mask")
    if mask is not None and mask.shape == ids.shape:
        return mask.bool()
    return torch.ones(ids.shape[:2] if ids.dim() > 1 else (1, ids.shape[0]), dtype=torch.bool)


def _logit_positions(real: torch.Tensor, kwargs: dict[str, Any]) -> int:
    """The real positions whose logits a causal LM's forward pass computes (the module docstring's rule)."""
    if kwargs.get("fused_lm_head"):
        labels = kwargs.get("shift_labels")
        labels = kwargs["labels"][:, 1:] if labels is None else labels
        return int((labels != -100).sum())
    keep = kwargs.get("logits_to_keep", 0)
    if isinstance(keep, torch.Tensor):
        return int(real[:, keep.to(real.device)].sum())
    return int(real[:, -keep:].sum()) if keep else int(real.sum())


@dataclass
class FlopCounter:
    """FLOPs of every forward pass of the models it watches (`watch`), by model and by kind (`train`: a backward
    follows; `read`: forward only)."""

    flops: dict[str, dict[str, float]] = field(default_factory=dict)
    tokens: dict[str, dict[str, int]] = field(default_factory=dict)
    logit_positions: dict[str, dict[str, int]] = field(default_factory=dict)
    parameters: dict[str, int] = field(default_factory=dict)
    _hooks: dict[int, Any] = field(default_factory=dict, repr=False)

    def watch(self, name: str, model: torch.nn.Module) -> None:
        """Count `model`'s forward passes under `name` (a model watched already is left as it is)."""
        if id(model) in self._hooks:
            return
        parameters, head = matmul_parameters(model), output_parameters(model)
        self.parameters[name] = parameters

        def count(module: torch.nn.Module, args: tuple, kwargs: dict[str, Any]) -> None:
            kind = "train" if torch.is_grad_enabled() and module.training else "read"
            real = _real_tokens(args, kwargs)
            tokens = 0 if real is None else int(real.sum())
            positions = _logit_positions(real, kwargs) if head and real is not None else 0
            for counts, value in ((self.tokens, tokens), (self.logit_positions, positions)):
                counts.setdefault(name, {}).setdefault(kind, 0)
                counts[name][kind] += value
            self.flops.setdefault(name, {}).setdefault(kind, 0.0)
            per_pass = (parameters - head) * tokens + head * positions
            self.flops[name][kind] += float(6 if kind == "train" else 2) * per_pass

        self._hooks[id(model)] = model.register_forward_pre_hook(count, with_kwargs=True)

    @property
    def total(self) -> float:
        """All FLOPs counted so far."""
        return sum(value for kinds in self.flops.values() for value in kinds.values())

    def summary(self) -> dict[str, Any]:
        """The count as JSON: the total, and per model its N, tokens and FLOPs by kind."""
        return {
            "flops": self.total,
            "rule": "6 N per trained token, 2 N per token read; N: parameters but the input embedding tables, the "
            "output layer's only where logits are computed",
            "models": {
                name: {
                    "parameters": self.parameters[name],
                    "tokens": self.tokens.get(name, {}),
                    "logit_positions": self.logit_positions.get(name, {}),
                    "flops": kinds,
                }
                for name, kinds in self.flops.items()
            },
        }


@dataclass
class FlopsArguments:
    """The compute budget of a `grpo` or `ntp` run (parsed beside its trainer's config)."""

    flops_budget: float | None = field(
        default=None,
        metadata={
            "help": "Stop at the first step whose counted FLOPs reach this (e.g. another run's flops.json total); "
            "max_steps / num_train_epochs still cap the run."
        },
    )
    save_at_flops: list[float] | None = field(
        default=None,
        metadata={
            "help": "Also save a checkpoint at the first step whose counted FLOPs reach each of these (budget points "
            "inside one run; each checkpoint's flops.json holds its count). Needs --save_total_limit 0."
        },
    )


def check_flops_budget(
    budget: float | None, save_at: list[float] | None = None, save_total_limit: int | None = None
) -> None:
    """Reject a budget, or a count to save at, that cannot be trained to, and checkpoints at counts that checkpoint
    rotation would delete."""
    if budget is not None and not budget > 0:
        raise RlptError(f"--flops_budget must be > 0 FLOPs, got {budget}")
    for value in save_at or ():
        if not value > 0:
            raise RlptError(f"--save_at_flops must be > 0 FLOPs, got {value}")
    if save_at and save_total_limit is not None and save_total_limit > 0:
        raise RlptError(f"--save_at_flops keeps its checkpoints only without rotation: pass --save_total_limit 0 "
                        f"(got {save_total_limit})")  # fmt: skip


def _summed(value: float) -> float:
    """`value` summed over the processes of the run (every process must call it)."""
    from accelerate import PartialState
    from accelerate.utils import reduce

    state = PartialState()
    if state.num_processes == 1:
        return value
    return float(reduce(torch.tensor(value, dtype=torch.float64, device=state.device), reduction="sum"))


class FlopsCallback(TrainerCallback):
    """Counts a run's compute (`FlopCounter`, summed over its processes at each step): writes `flops.json` into the
    output folder at the end and into every checkpoint, saves a checkpoint at the first step that reaches each count
    of `save_at`, and stops training at the first step that reaches `budget` FLOPs (every process at the same step).
    A resumed run continues from its checkpoint's count (the per-model detail then covers the passes since).

    `models` names what to watch: each value a module, or a callable giving the modules loaded so far by name (the
    reward models load at their first call), looked at again at each step. In-training evaluations count too.
    """

    def __init__(self, models: dict[str, Any], budget: float | None = None, save_at: list[float] | None = None):
        check_flops_budget(budget, save_at)
        self.models = models
        self.budget = budget
        self.save_at = sorted(save_at or ())
        self.counter = FlopCounter()
        self.total = 0.0
        self.resumed = 0.0  # the count of the checkpoint a resumed run started from

    def _watch(self) -> None:
        for name, model in self.models.items():
            found = {name: model} if isinstance(model, torch.nn.Module) else model()
            for own_name, module in found.items():
                self.counter.watch(own_name, module)

    def on_train_begin(self, args, state, control, **kwargs):
        self._watch()
        resumed = _checkpoint(args, state) / FLOPS_FILE
        if state.global_step and resumed.is_file():
            self.resumed = self.total = float(json.loads(resumed.read_text())["flops"])
            self.save_at = [value for value in self.save_at if value > self.total]

    def on_step_end(self, args, state, control, **kwargs):
        self._watch()
        self.total = self.resumed + _summed(self.counter.total)
        if self.budget is not None and self.total >= self.budget:
            control.should_training_stop = True
            control.should_save = True
        if self.save_at and self.total >= self.save_at[0]:
            self.save_at = [value for value in self.save_at if value > self.total]
            control.should_save = True

    def on_save(self, args, state, control, **kwargs):
        self._write(args, state, _checkpoint(args, state) / FLOPS_FILE)

    def on_train_end(self, args, state, control, **kwargs):
        # what ran after the last step's count (an evaluation at that step) counts too
        self.total = self.resumed + _summed(self.counter.total)
        self._write(args, state, Path(args.output_dir) / FLOPS_FILE)

    def _write(self, args, state, path: Path) -> None:
        if not state.is_world_process_zero:
            return
        summary = {
            "global_step": state.global_step,
            "budget": self.budget,
            **self.counter.summary(),
            # the models' counts are this process's since the run (re)started; the total is the run's
            "flops": self.total,
            **({"resumed_at_flops": self.resumed} if self.resumed else {}),
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(summary, indent=1) + "\n")


def _checkpoint(args, state) -> Path:
    """The folder of the checkpoint at the state's step (where `Trainer` saves it, and resumes from it)."""
    from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

    return Path(args.output_dir) / f"{PREFIX_CHECKPOINT_DIR}-{state.global_step}"
