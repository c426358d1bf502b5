"""Whole `rlpt-trl eval` commands of this checkout against another checkout's (e.g. the last release in a git
worktree), alternated on the same machine, the same data and the same arguments.

    git worktree add ../rlpt_trl-main main
    python benchmarks/eval_against_checkout.py --other ../rlpt_trl-main --runs 2 --output results/next_segment/speed.json \
        -- --model_name_or_path MODEL_A --model_name_or_path MODEL_B --tasks next_segment --data_dir GLUE_ROOT \
           --embedding_model_name_or_path MINILM_DIR

Each run starts a fresh process per checkout (the other one first, importing `rlpt_trl` from its folder), times it,
and compares the two reports: whether every prediction file's sampled and greedy texts are the same, and the largest
difference of each metric and of any per-record number; with `--float64_records N`, also how far each checkout's NLLs
of the first N next-segment records are from a float64 recomputation. Prints the table; `--output` writes it as
JSON.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rlpt_trl.testing.assets import EMBEDDING_MODEL_ENV, GGUF_ENV, GLUE_DIR_ENV, portable


ROOT = Path(__file__).resolve().parents[1]
TEXT_FIELDS = ("samples", "greedy", "prompt", "completion")
ASSET_VARIABLES = (GLUE_DIR_ENV, EMBEDDING_MODEL_ENV, GGUF_ENV)


def asset_names() -> dict[str, str]:
    """The assets' paths (as given and resolved) -> their variables (`rlpt-trl assets`), for `portable`."""
    paths = {name: os.environ[name] for name in ASSET_VARIABLES if os.environ.get(name)}
    return {path: f"${name}" for name, value in paths.items() for path in (value, str(Path(value).resolve()))}


# `python -m` would put the working directory first on the path, ahead of PYTHONPATH: run from this checkout, the
# other checkout's command would run this code. The checkout goes first, and the command names the file it imported.
LAUNCH = (
    "import runpy, sys; sys.path.insert(0, sys.argv.pop(1)); import rlpt_trl; "
    "print('rlpt_trl:', rlpt_trl.__file__, flush=True); runpy.run_module('rlpt_trl.cli', run_name='__main__')"
)


def run_eval(checkout: Path, arguments: list[str], output: Path) -> float:
    """The wall seconds of `rlpt-trl eval ARGUMENTS --output_dir OUTPUT` with `checkout`'s code (checked: the process
    must import `rlpt_trl` from `checkout`)."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    start = time.perf_counter()
    command = [sys.executable, "-c", LAUNCH, str(checkout), "eval", *arguments, "--output_dir", str(output)]
    process = subprocess.run(command, env=env, stdout=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - start
    imported = next(
        (line.split(" ", 1)[1] for line in process.stdout.splitlines() if line.startswith("rlpt_trl: ")), ""
    )
    if not Path(imported).resolve().is_relative_to(checkout.resolve()):
        sys.exit(f"eval_against_checkout.py: error: {checkout}: the command imported rlpt_trl from {imported or '?'}")
    status = process.returncode
    if status:
        sys.exit(f"eval_against_checkout.py: error: {checkout}: rlpt-trl eval failed with status {status}")
    return seconds


def _numbers(value: object) -> list[float]:
    if isinstance(value, bool) or value is None:
        return []
    if isinstance(value, (int, float)):
        return [float(value)]
    if isinstance(value, list):
        return [number for item in value for number in _numbers(item)]
    return []


def compare_reports(first: Path, second: Path) -> dict:
    """Same texts in every prediction file, and the largest |difference| of each metric and of per-record numbers."""
    metrics = [json.loads((folder / "metrics.json").read_text()) for folder in (first, second)]
    metric_diffs: dict[str, float] = {}
    largest_record, same_texts = 0.0, True
    for model, tasks in metrics[0].items():
        for task, entry in tasks.items():
            other = metrics[1][model][task]
            for name, value in entry.items():
                if isinstance(value, float) and isinstance(other.get(name), float):
                    key = f"{task}/{name}"
                    metric_diffs[key] = max(metric_diffs.get(key, 0.0), abs(value - other[name]))
            records = [json.loads((folder / entry["predictions"]).read_text()) for folder in (first, second)]
            for mine, theirs in zip(*records, strict=True):
                same_texts &= all(mine.get(field) == theirs.get(field) for field in TEXT_FIELDS)
                for name, value in mine.items():
                    if name in TEXT_FIELDS:
                        continue
                    pairs = zip(_numbers(value), _numbers(theirs.get(name)), strict=False)
                    largest_record = max([largest_record, *(abs(a - b) for a, b in pairs if not math.isnan(a - b))])
    return {
        "same_texts": same_texts,
        "max_abs_metric_diff": max(metric_diffs.values(), default=0.0),
        "metric_diffs": {name: value for name, value in metric_diffs.items() if value > 0},
        "max_abs_record_diff": largest_record,
    }


def float64_deviation(folder: Path, count: int) -> dict[str, dict[str, float]]:
    """How far the first model's first `count` next-segment records in `folder` are from the first model in float64,
    each sequence alone (no padding): `true_completion_nll`, and `completion_log_perplexity` of the samples (the first
    model being the scorer LM); the mean and the largest |difference|."""
    import numpy as np
    import torch

    from rlpt_trl.models.likelihood import completion_tokens
    from rlpt_trl.models.loading import load_model_and_tokenizer

    metrics = json.loads((folder / "metrics.json").read_text())
    model_path = next(iter(metrics))
    model, tokenizer = load_model_and_tokenizer(model_path, dtype="float32", device="cpu")
    model = model.double().eval()
    records = json.loads((folder / metrics[model_path]["next_segment"]["predictions"]).read_text())[:count]

    def exact(prompt: str, completion: str) -> float:
        ((ids, start),) = completion_tokens(tokenizer, [prompt], [completion])
        with torch.inference_mode():
            logprobs = torch.log_softmax(model(input_ids=torch.tensor([ids])).logits[0], dim=-1)
        return float(-np.mean([logprobs[i - 1, ids[i]].item() for i in range(start, len(ids))]))

    gaps: dict[str, list[float]] = {"true_completion_nll": [], "completion_log_perplexity": []}
    for record in records:
        gaps["true_completion_nll"].append(
            record["true_completion_nll"] - exact(record["prompt"], record["completion"])
        )
        for sample, value in zip(record["samples"], record["completion_log_perplexity"], strict=True):
            if value is not None:
                gaps["completion_log_perplexity"].append(value - exact(record["prompt"], sample))
    return {
        name: {"mean": float(np.mean(values)), "max_abs": float(np.max(np.abs(values)))}
        for name, values in gaps.items()
        if values
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--other", required=True, type=Path, help="the other checkout's folder (a git worktree)")
    parser.add_argument("--runs", type=int, default=2, help="alternated pairs of runs")
    parser.add_argument("--output", type=Path, help="write the timings and the comparison as JSON")
    parser.add_argument(
        "--float64_records",
        type=int,
        default=0,
        help="also recompute the first model's first N next_segment records' NLLs in float64 (see float64_deviation)",
    )
    parser.add_argument("eval_arguments", nargs=argparse.REMAINDER, help="after --: the arguments of rlpt-trl eval")
    args = parser.parse_args()
    arguments = [argument for argument in args.eval_arguments if argument != "--"]
    timings: dict[str, list[float]] = {"other": [], "this": []}
    with tempfile.TemporaryDirectory() as scratch:
        for run in range(args.runs):
            for name, checkout in (("other", args.other.resolve()), ("this", ROOT)):
                timings[name].append(round(run_eval(checkout, arguments, Path(scratch) / f"{name}-{run}"), 1))
                print(f"run {run + 1}, {name}: {timings[name][-1]} s", flush=True)
        comparison = compare_reports(Path(scratch) / "other-0", Path(scratch) / "this-0")
        if args.float64_records > 0:
            comparison["float64_deviation"] = {
                name: float64_deviation(Path(scratch) / f"{name}-0", args.float64_records) for name in timings
            }
    medians = {name: statistics.median(values) for name, values in timings.items()}
    report = {
        "arguments": portable(arguments, asset_names()),
        "seconds": timings,
        "ratio": round(medians["this"] / medians["other"], 3),
    }
    report |= comparison
    print(json.dumps(report, indent=1))
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
