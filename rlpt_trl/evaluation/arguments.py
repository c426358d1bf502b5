"""The flags of `rlpt-trl eval` that every task kind shares (the kinds add their own, `registry.TASK_KINDS`)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from typing import Literal

from .glue.prefix_cache import PrefixCacheMode
from .glue.prompts import DEFAULT_FEWSHOT_SEED
from .glue.task import Scoring


class RepeatableList(argparse.Action):
    """A list flag that may be given several times: the values of all its uses, replacing the default (or YAML)."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        current = getattr(namespace, self.dest)
        setattr(namespace, self.dest, [*([] if current is self.default else current), *values])


@dataclass
class EvalArguments:
    """Arguments of `recipes/evaluate_glue.py` / `rlpt-trl eval`."""

    model_name_or_path: list[str] = field(
        metadata={
            "help": "Hub id, local directory or .gguf file; repeat the flag (or list several) to compare models.",
            "action": RepeatableList,
        }
    )
    output_dir: str = field(metadata={"help": "Folder for metrics.json, predictions/ and the comparison files."})
    tasks: list[str] | None = field(
        default=None,
        metadata={
            "help": "Built-in tasks to run (space- or comma-separated): cola, stsb, mrpc, rte, wnli, sst2, qnli, and "
            "next_segment (held-out sentence continuation, see NextSegmentArguments). Default: cola stsb mrpc rte "
            "wnli, or none when --task_config is given."
        },
    )
    task_config: list[str] = field(
        default_factory=list,
        metadata={
            "help": "YAML task file (the fields of GlueTaskSpec, as in rlpt_trl/evaluation/glue/task_configs/cola.yaml);"
            " repeat the flag or list several. Its tasks run after those of --tasks; a task file may not reuse the "
            "name of a built-in task or of another file's task.",
            "action": RepeatableList,
        },
    )
    data_dir: str | None = field(
        default=None, metadata={"help": "GLUE root folder (cola/, stsb/, ...). Default: nyu-mll/glue from the Hub."}
    )
    scoring: Scoring = field(
        default="loglik",
        metadata={"help": "loglik: choice log-likelihoods (one forward per prompt); generate: greedy text."},
    )
    num_fewshot: int = field(default=0, metadata={"help": "Solved train examples before each prompt."})
    fewshot_seed: int = field(default=DEFAULT_FEWSHOT_SEED, metadata={"help": "Seed drawing the few-shot examples."})
    prefix_cache: PrefixCacheMode = field(
        default="auto",
        metadata={
            "help": "auto: compute the few-shot examples that every prompt of a task starts with once and reuse their "
            "key/value cache (a prompt whose tokens do not start with them is computed whole and counted in "
            "metrics.json's prefix_cache.fallbacks); off: compute every prompt whole."
        },
    )
    batch_size: int = field(default=32, metadata={"help": "Prompts per forward pass."})
    max_samples: int | None = field(default=None, metadata={"help": "Evaluate the first N rows of each task."})
    max_new_tokens: int = field(default=5, metadata={"help": "Generated tokens per prompt (generate scoring)."})
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
