"""The evaluation command (`recipes/evaluate_glue.py`, `rlpt-trl eval`): models x tasks (GLUE, next_segment) -> report."""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field
from typing import Literal

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from ..devices import evaluation_dtype, resolve_device
from ..embeddings import DEFAULT_EMBEDDING_MODEL
from ..errors import RlptError
from ..modeling import load_model_and_tokenizer, load_tokenizer
from .bootstrap import bootstrap_results
from .evaluator import SCORING_MODES, Scoring, TaskResult, evaluate_task
from .next_segment import NextSegmentScorers, evaluate_next_segment
from .next_segment_prompts import NextSegmentPrompts, build_next_segment_prompts
from .next_segment_result import NextSegmentResult
from .next_segment_sampling import check_sampling
from .prefix_cache import PrefixCacheMode, check_prefix_cache
from .prompts import DEFAULT_FEWSHOT_SEED, TaskPrompts, build_task_prompts
from .report import markdown_table, write_report
from .tasks import DEFAULT_TASKS, select_tasks, task_names


NEXT_SEGMENT = "next_segment"


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
            "help": "Built-in tasks to run (space- or comma-separated): cola, stsb, mrpc, rte, wnli, sst2, qnli, and "
            "next_segment (held-out sentence continuation, see NextSegmentArguments). Default: cola stsb mrpc rte "
            "wnli, or none when --task_config is given."
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
    next_segment_max_samples: int | None = field(
        default=None, metadata={"help": "next_segment: the first N held-out prompts. Default: --max_samples."}
    )
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
            "help": "Bootstrap resamples of each task's examples for 95 %% confidence intervals of every metric and, "
            "with several models, of each model's paired difference from the first; 0: no intervals."
        },
    )
    bootstrap_seed: int = field(default=0, metadata={"help": "Seed drawing the bootstrap resamples."})
    embedding_model_name_or_path: str = field(
        default=DEFAULT_EMBEDDING_MODEL,
        metadata={"help": "next_segment: the sentence-transformers model of the cosines and the training reward."},
    )
    scorer_model_name_or_path: str | None = field(
        default=None,
        metadata={"help": "next_segment: the frozen LM of completion_log_perplexity. Default: the first model."},
    )


# `evaluate_next_segment` keyword -> its flag, in `check_sampling`'s order
SAMPLING_FLAGS = {
    "num_samples": "next_segment_samples",
    "temperature": "next_segment_temperature",
    "max_new_tokens": "next_segment_max_new_tokens",
    "seed": "next_segment_seed",
}


@dataclass
class NextSegmentArguments:
    """How `next_segment` draws its held-out prompts and samples (`rlpt-trl eval` and the GRPO script's callback)."""

    next_segment_data: str | None = field(
        default=None,
        metadata={"help": "A folder written by `rlpt-trl data` (cut already). Default: CoLA validation, cut here."},
    )
    next_segment_seed: int = field(
        default=0, metadata={"help": "Seed of the CoLA validation cuts and of the samples (paired across models)."}
    )
    next_segment_samples: int = field(default=4, metadata={"help": "Sampled completions per prompt (K)."})
    next_segment_temperature: float = field(
        default=0.9, metadata={"help": "Sampling temperature (top-k and top-p off, as GRPO samples)."}
    )
    next_segment_max_new_tokens: int = field(
        default=4, metadata={"help": "New tokens per completion (the GRPO configs' max_completion_length)."}
    )

    def build_prompts(
        self, tokenizer: PreTrainedTokenizerBase, data_dir: str | None, max_samples: int | None
    ) -> NextSegmentPrompts:
        """Check the sampling settings (one error line naming the flag), then build the held-out prompts:
        `next_segment_data`, else CoLA validation under `data_dir` (a GLUE root; None: the Hub) cut by `tokenizer`."""
        check_sampling(*self.sampling().values(), flags=tuple(SAMPLING_FLAGS.values()))
        return build_next_segment_prompts(
            tokenizer,
            data=self.next_segment_data,
            data_dir=None if self.next_segment_data else data_dir,
            seed=self.next_segment_seed,
            max_samples=max_samples,
        )

    def sampling(self) -> dict[str, int | float]:
        """The sampling keywords of `evaluate_next_segment`."""
        return {keyword: getattr(self, flag) for keyword, flag in SAMPLING_FLAGS.items()}


def run_glue_eval(
    args: GlueEvalArguments, next_segment_args: NextSegmentArguments | None = None
) -> dict[str, dict[str, TaskResult | NextSegmentResult]]:
    """Evaluate every model on every task, print the Markdown table and write the report to `args.output_dir`."""
    names = task_names(args.tasks) if args.tasks else []
    glue_names = [name for name in names if name != NEXT_SEGMENT]
    # `--tasks next_segment` alone asks for no GLUE task
    specs = select_tasks(glue_names, args.task_config, default=() if names else DEFAULT_TASKS)
    if args.scoring not in SCORING_MODES:
        raise RlptError(f"unknown --scoring {args.scoring!r}; choose from {', '.join(SCORING_MODES)}")
    check_prefix_cache(args.prefix_cache)
    for name, least in (("batch_size", 1), ("max_new_tokens", 1), ("bootstrap_iters", 0), ("bootstrap_seed", 0)):
        if getattr(args, name) < least:
            raise RlptError(f"--{name} must be at least {least}, got {getattr(args, name)}")
    if args.next_segment_max_samples is not None and args.next_segment_max_samples < 1:
        raise RlptError(f"--next_segment_max_samples must be at least 1, got {args.next_segment_max_samples}")
    models = list(dict.fromkeys(args.model_name_or_path))
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
    next_segment = None
    if NEXT_SEGMENT in names:
        next_segment = NextSegmentRun.prepare(models, args, next_segment_args or NextSegmentArguments())
    device = resolve_device(args.device)
    dtype = evaluation_dtype(args.dtype, device)
    results: dict[str, dict[str, TaskResult | NextSegmentResult]] = {}
    for model_name in models:
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
                prefix_cache=args.prefix_cache,
            )
            results[model_name][task.spec.name] = result
            _print_result(model_name, result, start)
        if next_segment is not None:
            start = time.perf_counter()
            results[model_name][NEXT_SEGMENT] = next_segment.evaluate(model, tokenizer, device, args.batch_size)
            _print_result(model_name, results[model_name][NEXT_SEGMENT], start)
        del model  # freed before the next model loads, not after
    intervals = bootstrap_results(results, args.bootstrap_iters, args.bootstrap_seed) if args.bootstrap_iters else None
    write_report(args.output_dir, results, intervals)
    print(markdown_table(results, intervals))
    return results


def _print_result(model_name: str, result: TaskResult | NextSegmentResult, start: float) -> None:
    rate = result.n / (time.perf_counter() - start)
    reuse = getattr(result, "prefix_cache", None)
    reused = f"; prefix cache: {reuse['tokens']} tokens, {reuse['fallbacks']} prompts computed whole" if reuse else ""
    print(f"{model_name} {result.task}: {result.metrics} ({result.n} examples, {rate:.1f}/s{reused})", flush=True)


@dataclass
class NextSegmentRun:
    """The parts of a `next_segment` evaluation that every model of a run shares: the prompts, cut once with the first
    model's tokenizer so that model differences are paired, and the settings; the scorers load on first use."""

    prompts: NextSegmentPrompts
    args: NextSegmentArguments
    embedding_model_name_or_path: str
    scorer_model_name_or_path: str
    scorers: NextSegmentScorers | None = None

    @classmethod
    def prepare(cls, models: list[str], args: GlueEvalArguments, settings: NextSegmentArguments) -> NextSegmentRun:
        """Check the settings and build the prompts with the first model's tokenizer (before any model loads)."""
        tokenizer = load_tokenizer(models[0], trust_remote_code=args.trust_remote_code)
        max_samples = args.max_samples if args.next_segment_max_samples is None else args.next_segment_max_samples
        prompts = settings.build_prompts(tokenizer, args.data_dir, max_samples)
        scorer = args.scorer_model_name_or_path or models[0]
        return cls(prompts, settings, args.embedding_model_name_or_path, scorer)

    def evaluate(
        self, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, device: torch.device, batch_size: int
    ) -> NextSegmentResult:
        """`evaluate_next_segment` of one model on the shared prompts."""
        if self.scorers is None:
            # the scorer LM in the evaluated models' precision (`--dtype`)
            self.scorers = NextSegmentScorers.load(
                self.scorer_model_name_or_path,
                self.embedding_model_name_or_path,
                device=str(device),
                dtype=str(model.dtype).removeprefix("torch."),
            )
        return evaluate_next_segment(
            model, tokenizer, self.prompts, scorers=self.scorers, batch_size=batch_size, **self.args.sampling()
        )
