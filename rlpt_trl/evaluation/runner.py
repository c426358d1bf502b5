"""The GLUE evaluation command (`recipes/evaluate_glue.py`, `rlpt-trl eval`): models x tasks -> report."""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field
from typing import Literal

from ..devices import evaluation_dtype, resolve_device
from ..errors import RlptError
from ..modeling import load_model_and_tokenizer
from .bootstrap import bootstrap_results
from .evaluator import SCORING_MODES, Scoring, TaskResult, evaluate_task
from .prompts import DEFAULT_FEWSHOT_SEED, TaskPrompts, build_task_prompts
from .report import markdown_table, write_report
from .tasks import select_tasks


class RepeatableList(argparse.Action):
    """A list flag that may be given several times: the values of all its uses, replacing the default (or YAML)."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        current = getattr(namespace, self.dest)
        setattr(namespace, self.dest, [*([] if current is self.default else current), *values])


@dataclass
class GlueEvalArguments:
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
            "help": "Built-in tasks to run (space- or comma-separated): cola, stsb, mrpc, rte, wnli, sst2, qnli. "
            "Default: cola stsb mrpc rte wnli, or none when --task_config is given."
        },
    )
    task_config: list[str] = field(
        default_factory=list,
        metadata={
            "help": "YAML task file (the fields of GlueTaskSpec, as in rlpt_trl/evaluation/task_configs/cola.yaml); "
            "repeat the flag or list several. Its tasks run after those of --tasks; a task file may not reuse the "
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
    batch_size: int = field(default=32, metadata={"help": "Prompts per forward pass."})
    max_samples: int | None = field(default=None, metadata={"help": "Evaluate the first N rows of each task."})
    max_new_tokens: int = field(default=5, metadata={"help": "Generated tokens per prompt (generate scoring)."})
    device: str = field(default="auto", metadata={"help": "auto (CUDA, MPS, else CPU) or a torch device."})
    dtype: Literal["auto", "float32", "bfloat16"] = field(
        default="auto",
        metadata={"help": "auto: bfloat16 on CUDA with bf16 and on CPUs with AMX, float32 elsewhere."},
    )
    trust_remote_code: bool = field(default=False, metadata={"help": "Run modelling code shipped with a checkpoint."})
    bootstrap_iters: int = field(
        default=1000,
        metadata={
            "help": "Bootstrap resamples of each task's examples for 95 % confidence intervals of every metric and, "
            "with several models, of each model's paired difference from the first; 0: no intervals."
        },
    )
    bootstrap_seed: int = field(default=0, metadata={"help": "Seed drawing the bootstrap resamples."})


def run_glue_eval(args: GlueEvalArguments) -> dict[str, dict[str, TaskResult]]:
    """Evaluate every model on every task, print the Markdown table and write the report to `args.output_dir`."""
    specs = select_tasks(args.tasks, args.task_config)
    if args.scoring not in SCORING_MODES:
        raise RlptError(f"unknown --scoring {args.scoring!r}; choose from {', '.join(SCORING_MODES)}")
    for name, least in (("batch_size", 1), ("max_new_tokens", 1), ("bootstrap_iters", 0), ("bootstrap_seed", 0)):
        if getattr(args, name) < least:
            raise RlptError(f"--{name} must be at least {least}, got {getattr(args, name)}")
    # every prompt is built (and every data problem found) before a model loads
    prompts: list[TaskPrompts] = [
        build_task_prompts(
            spec,
            data_dir=args.data_dir,
            num_fewshot=args.num_fewshot,
            seed=args.fewshot_seed,
            max_samples=args.max_samples,
        )
        for spec in specs
    ]
    device = resolve_device(args.device)
    dtype = evaluation_dtype(args.dtype, device)
    results: dict[str, dict[str, TaskResult]] = {}
    for model_name in dict.fromkeys(args.model_name_or_path):
        model, tokenizer = load_model_and_tokenizer(
            model_name, dtype=dtype, device=str(device), trust_remote_code=args.trust_remote_code
        )
        model.eval()
        results[model_name] = {}
        for task in prompts:
            start = time.perf_counter()
            result = evaluate_task(
                model,
                tokenizer,
                task,
                scoring=args.scoring,
                batch_size=args.batch_size,
                max_new_tokens=args.max_new_tokens,
                desc=f"{task.spec.name} ({args.scoring})",
            )
            results[model_name][task.spec.name] = result
            rate = result.n / (time.perf_counter() - start)
            print(f"{model_name} {task.spec.name}: {result.metrics} ({result.n} examples, {rate:.1f}/s)", flush=True)
        del model  # freed before the next model loads, not after
    intervals = bootstrap_results(results, args.bootstrap_iters, args.bootstrap_seed) if args.bootstrap_iters else None
    write_report(args.output_dir, results, intervals)
    print(markdown_table(results, intervals))
    return results
