"""The evaluation command (`rlpt-trl eval`, `recipes/eval.py`): models x tasks -> report."""

from __future__ import annotations

import time
from collections.abc import Sequence

from ..models.devices import evaluation_dtype, resolve_device
from ..models.loading import load_model_and_tokenizer
from ..utils.errors import RlptError
from ..utils.files import check_output_dir
from .arguments import EvalArguments
from .bootstrap import bootstrap_results, first_model_references
from .registry import build_tasks
from .report import markdown_table, write_report
from .task import EvalResult, EvalSetup


def check_eval_arguments(args: EvalArguments) -> None:
    """One error line for a shared flag value no task can run with (each kind checks its own flags)."""
    for name, least in (("batch_size", 1), ("bootstrap_iters", 0), ("bootstrap_seed", 0)):
        if getattr(args, name) < least:
            raise RlptError(f"--{name} must be at least {least}, got {getattr(args, name)}")
    check_output_dir(args.output_dir)


def references(args: EvalArguments, models: Sequence[str]) -> dict[str, str]:
    """Each model's reference for paired differences: the first model, or what `--reference MODEL=START` says."""
    chosen = first_model_references(models)
    for pair in args.reference:
        model, _, start = pair.partition("=")
        for name in (model, start):
            if name not in models:
                raise RlptError(
                    f"--reference {pair}: {name or '(nothing)'} is not one of the --model_name_or_path values "
                    f"({', '.join(models)})"
                )
        if model == start:
            raise RlptError(f"--reference {pair}: a model is not compared with itself")
        chosen[model] = start
    return chosen


def run_eval(args: EvalArguments, options: Sequence[object] = ()) -> dict[str, dict[str, EvalResult]]:
    """Evaluate every model on every task, print the Markdown table and write the report to `args.output_dir`.

    `options` holds the task kinds' own parsed flags (`registry.task_arguments()`); a kind left out gets its defaults.
    Every task is built, and every data or flag problem found, before a model loads.
    """
    check_eval_arguments(args)
    models = list(dict.fromkeys(args.model_name_or_path))
    compared = references(args, models)
    device = resolve_device(args.device)
    dtype = evaluation_dtype(args.dtype, device)
    setup = EvalSetup(args, {type(option): option for option in options}, models, device, dtype)
    tasks = build_tasks(args.tasks, setup)
    results: dict[str, dict[str, EvalResult]] = {}
    for model_name in models:
        model, tokenizer = load_model_and_tokenizer(
            model_name, dtype=dtype, device=device, trust_remote_code=args.trust_remote_code
        )
        model.eval()
        results[model_name] = {}
        for task in tasks:
            start = time.perf_counter()
            results[model_name][task.name] = result = task.evaluate(model, tokenizer, model_name)
            _print_result(model_name, result, start)
        del model  # freed before the next model loads, not after
    intervals = (
        bootstrap_results(results, args.bootstrap_iters, args.bootstrap_seed, references=compared)
        if args.bootstrap_iters
        else None
    )
    write_report(args.output_dir, results, intervals)
    print(markdown_table(results, intervals))
    return results


def _print_result(model_name: str, result: EvalResult, start: float) -> None:
    rate = result.n / (time.perf_counter() - start)
    reuse = result.summary().get("prefix_cache")
    reused = f"; prefix cache: {reuse['tokens']} tokens, {reuse['fallbacks']} prompts computed whole" if reuse else ""
    print(f"{model_name} {result.task}: {result.metrics} ({result.n} examples, {rate:.1f}/s{reused})", flush=True)
