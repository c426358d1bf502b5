"""The flags every evaluation shares, whatever its tasks: `rlpt-trl eval`'s (`EvalArguments`) and the in-training
evaluation's of every trainer command (`EvalCallbackArguments`). Each task kind adds its own (`registry.task_kinds`)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from ..utils.errors import RlptError


class RepeatableList(argparse.Action):
    """A list flag that may be given several times: the values of all its uses, replacing the default (or YAML)."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        current = getattr(namespace, self.dest)
        setattr(namespace, self.dest, [*([] if current is self.default else current), *values])


def split_task_names(values: Sequence[str]) -> list[str]:
    """Task names from space- and comma-separated values, in order, without repeats."""
    names = [name.strip() for value in values for name in value.split(",") if name.strip()]
    if not names:
        raise RlptError(f"no task named in {list(values)!r}")
    return list(dict.fromkeys(names))


TASKS_HELP = (
    "Registered tasks by name, space- or comma-separated (docs/evaluation.md lists them), e.g. cola,next_segment."
)
DATA_DIR_HELP = (
    "Local folder of the tasks' datasets, one sub-folder per dataset (cola/, stsb/, ...). Default: each task's Hub "
    "dataset."
)


@dataclass
class EvalArguments:
    """Arguments of `rlpt-trl eval` / `recipes/eval.py` that every task kind shares."""

    model_name_or_path: list[str] = field(
        metadata={
            "help": "Hub id, local directory or .gguf file; repeat the flag (or list several) to compare models.",
            "action": RepeatableList,
        }
    )
    output_dir: str = field(metadata={"help": "Folder for metrics.json, predictions/ and the comparison files."})
    tasks: list[str] | None = field(
        default=None, metadata={"help": f"{TASKS_HELP} Default: each task kind's default tasks."}
    )
    data_dir: str | None = field(default=None, metadata={"help": DATA_DIR_HELP})
    batch_size: int = field(default=32, metadata={"help": "Prompts per forward pass."})
    max_samples: int | None = field(default=None, metadata={"help": "Evaluate the first N rows of each task."})
    device: str = field(default="auto", metadata={"help": "auto (CUDA, MPS, else CPU) or a torch device."})
    dtype: Literal["auto", "float32", "bfloat16"] = field(
        default="auto",
        metadata={
            "help": "auto: bfloat16 where the device computes it natively (CUDA with bf16, CPUs with AVX-512 BF16 or "
            "AMX), float32 elsewhere."
        },
    )
    trust_remote_code: bool = field(default=False, metadata={"help": "Run modelling code shipped with a checkpoint."})
    bootstrap_iters: int = field(
        default=1000,
        metadata={
            "help": "Bootstrap resamples of each task's examples for 95 %% confidence intervals of every metric and, "
            "with several models, of each model's paired difference from its reference (--reference; default the "
            "first model); 0: no intervals."
        },
    )
    bootstrap_seed: int = field(default=0, metadata={"help": "Seed drawing the bootstrap resamples."})
    reference: list[str] = field(
        default_factory=list,
        metadata={
            "help": "MODEL=START: take MODEL's paired differences from START (both as given to --model_name_or_path) "
            "instead of from the first model, e.g. a trained model from the model it started from; repeat the flag "
            "or list several.",
            "action": RepeatableList,
        },
    )


@dataclass
class EvalCallbackArguments:
    """The in-training evaluation of every trainer command (`rlpt-trl sft`, `grpo`, `rloo`, `ntp`): any registered
    tasks, with the task kinds' own flags (the same as `rlpt-trl eval`'s)."""

    eval_tasks: list[str] = field(
        default_factory=list, metadata={"help": f"{TASKS_HELP} Evaluated during training with --eval_every_steps."}
    )
    eval_every_steps: int = field(
        default=0,
        metadata={"help": "Every N optimizer steps, evaluate the model on --eval_tasks and log eval/<task>/<metric>."},
    )
    eval_data_dir: str | None = field(default=None, metadata={"help": DATA_DIR_HELP})
    eval_max_samples: int | None = field(default=128, metadata={"help": "First N rows of each task (None: all)."})
