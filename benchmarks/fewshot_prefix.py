"""Few-shot evaluation cost with the shared prefix's key/value cache: CoLA dev, K = 5, against lm-eval and zero-shot.

    python benchmarks/fewshot_prefix.py --model_name_or_path MODEL_DIR --lm_eval_python LM_EVAL_ENV/bin/python \
        [--runs 2] [--equivalence]

Times whole commands in fresh processes, in turns (the order rotates each run, so that a changing load hits all
alike), fp32, batch 32, bootstrap off, on CoLA dev (1043 sentences):
  - `recipes/eval.py --tasks cola --num_fewshot 5` (`--prefix_cache auto`, the default),
  - the same with `--prefix_cache off` (every prompt computed whole),
  - the same command zero-shot,
  - lm-evaluation-harness 0.4.13 (`lm_eval.simple_evaluate`, model "hf") on a local task with the same prompt, the
    same 5 solved examples in the same order (sampler `first_n` over them) and the same 1043 rows, run by
    --lm_eval_python (an environment with lm_eval==0.4.13 and the same torch and transformers).
It checks that lm-eval's first prompt is this project's first 5-shot prompt and that auto and off give the same
predictions. With --equivalence it also evaluates the GLUE dev sets 5-shot (all five, or --equivalence_tasks) with
`auto` and with `off` in one process and reports per task the largest log-likelihood difference (or, with
--equivalence_scoring generate, the generated texts that differ) and the predictions that differ.
`--model_name_or_path` defaults to an HF directory imported once from $RLPT_TEST_GGUF, `--data_dir` to
$RLPT_GLUE_DIR (see `rlpt-trl assets`).
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


os.environ.setdefault("HF_HUB_OFFLINE", "1")

import yaml  # noqa: E402

from rlpt_trl.cli import run_with_errors  # noqa: E402
from rlpt_trl.data.glue import load_glue  # noqa: E402
from rlpt_trl.evaluation.glue import (  # noqa: E402
    SCORING_MODES,
    GlueTaskSpec,
    Scoring,
    build_task_prompts,
    evaluate_task,
    get_task,
    select_tasks,
)
from rlpt_trl.models.loading import import_gguf, load_model_and_tokenizer  # noqa: E402
from rlpt_trl.testing.assets import GGUF_ENV, GLUE_DIR_ENV  # noqa: E402
from rlpt_trl.utils.errors import RlptError  # noqa: E402


ROOT = Path(__file__).resolve().parents[1]
PROG = "benchmarks/fewshot_prefix.py"
SHOTS = 5
# lm-eval's glue/cola, reading local files: the validation rows and the solved examples, first_n in file order
LM_EVAL_TASK = {
    "task": "cola_local",
    "dataset_path": "json",
    "output_type": "multiple_choice",
    "training_split": "train",
    "validation_split": "validation",
    "fewshot_split": "train",
    "doc_to_text": "{{sentence}}\nQuestion: Does this sentence make sense?\nAnswer:",
    "doc_to_target": "label",
    "doc_to_choice": ["no", "yes"],
    "fewshot_config": {"sampler": "first_n"},
    "metric_list": [{"metric": "mcc"}],
}
LM_EVAL_SCRIPT = """
import json, sys
import lm_eval
from lm_eval.tasks import TaskManager
model, include, shots = sys.argv[1], sys.argv[2], int(sys.argv[3])
results = lm_eval.simple_evaluate(
    model="hf", model_args=f"pretrained={model},dtype=float32", tasks=["cola_local"], num_fewshot=shots,
    batch_size=32, device="cpu", bootstrap_iters=0, log_samples=True, task_manager=TaskManager(include_path=include),
)
first = min(results["samples"]["cola_local"], key=lambda sample: sample["doc_id"])
print(json.dumps({"version": lm_eval.__version__, "mcc": results["results"]["cola_local"]["mcc,none"],
                  "first_prompt": first["arguments"][0][0]}))
"""


def lm_eval_task(data_dir: str, folder: Path) -> None:
    """Write the local lm-eval task to `folder`: CoLA dev and this project's K solved examples as JSON lines."""
    spec = get_task("cola")
    examples = load_glue("cola", "train", data_dir).select(
        build_task_prompts(spec, data_dir=data_dir, num_fewshot=SHOTS, max_samples=1).fewshot_idx
    )
    files = {"validation": load_glue("cola", "validation", data_dir), "train": examples}
    for split, rows in files.items():
        lines = [json.dumps({"sentence": row["sentence"], "label": int(row["label"])}) for row in rows]
        (folder / f"{split}.jsonl").write_text("\n".join(lines) + "\n")
    task = {
        **LM_EVAL_TASK,
        "dataset_kwargs": {"data_files": {split: str(folder / f"{split}.jsonl") for split in files}},
    }
    (folder / "cola_local.yaml").write_text(yaml.safe_dump(task, sort_keys=False))


def ours(model: str, data_dir: str, output: Path, *flags: str) -> list[str]:
    command = [sys.executable, str(ROOT / "recipes" / "eval.py"), "--model_name_or_path", model]
    command += ["--tasks", "cola", "--data_dir", data_dir, "--dtype", "float32", "--batch_size", "32"]
    return [*command, "--bootstrap_iters", "0", "--output_dir", str(output), *flags]


def timed(command: list[str]) -> tuple[float, str]:
    """Wall time and standard output of `command` in a fresh process; a failure is an error naming it."""
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise RlptError(f"{command[0]} {command[1]} failed: {result.stderr.strip().splitlines()[-1:]}")
    return seconds, result.stdout


def predictions(output: Path) -> list[int]:
    (model,) = json.loads((output / "metrics.json").read_text()).values()
    return [record["prediction"] for record in json.loads((output / model["cola"]["predictions"]).read_text())]


def equivalence(
    model_path: str, data_dir: str, max_samples: int | None, tasks: list[GlueTaskSpec], scoring: Scoring
) -> dict[str, dict]:
    """Per GLUE task (its first `max_samples` dev rows), 5-shot fp32, `scoring` as in `evaluate_task`: what differs
    between auto and off (loglik: the largest |log-likelihood difference|; generate: the generated texts), the
    predictions that differ (STS-B's expected scores: by more than 1e-4) and the largest difference, and the prefix
    reuse."""
    model, tokenizer = load_model_and_tokenizer(model_path, device="cpu", dtype="float32")
    report = {}
    for spec in tasks:
        task = build_task_prompts(spec, data_dir=data_dir, num_fewshot=SHOTS, max_samples=max_samples)
        start = time.perf_counter()
        auto = evaluate_task(model, tokenizer, task, scoring=scoring, batch_size=32)
        middle = time.perf_counter()
        off = evaluate_task(model, tokenizer, task, scoring=scoring, batch_size=32, prefix_cache="off")
        end = time.perf_counter()
        pairs = list(zip(auto.records, off.records, strict=True))
        if scoring == "loglik":
            differs = {
                "max_abs_loglik_diff": max(
                    abs(a["choices"][c] - b["choices"][c]) for a, b in pairs for c in a["choices"]
                )
            }
        else:
            differs = {"generations_differ": sum(a["generated"] != b["generated"] for a, b in pairs)}
        report[spec.name] = {
            "n": auto.n,
            **differs,
            # STS-B's prediction is an expected score, a float: compared within the log-likelihoods' tolerance
            "predictions_differ": sum(
                not math.isclose(a["prediction"], b["prediction"], abs_tol=1e-4) for a, b in pairs
            ),
            "max_abs_prediction_diff": max(abs(a["prediction"] - b["prediction"]) for a, b in pairs),
            "prefix_cache": auto.prefix_cache,
            "seconds_auto": round(middle - start, 1),
            "seconds_off": round(end - middle, 1),
        }
        print(spec.name, report[spec.name], flush=True)
    return report


def timing(args: argparse.Namespace, model: str, scratch: Path) -> dict:
    """The alternated whole-command timings and their checks (same first prompt as lm-eval, auto = off)."""
    lm_eval_task(args.data_dir, scratch)
    commands = {
        "ours 5-shot (prefix_cache auto)": ours(model, args.data_dir, scratch / "auto", "--num_fewshot", str(SHOTS)),
        "ours 5-shot (prefix_cache off)": ours(
            model, args.data_dir, scratch / "off", "--num_fewshot", str(SHOTS), "--prefix_cache", "off"
        ),
        "ours zero-shot": ours(model, args.data_dir, scratch / "zero"),
        "lm-eval 5-shot": [args.lm_eval_python, "-c", LM_EVAL_SCRIPT, model, str(scratch), str(SHOTS)],
    }
    seconds: dict[str, list[float]] = {name: [] for name in commands}
    names = list(commands)
    for run in range(args.runs):
        for name in names[run % len(names) :] + names[: run % len(names)]:
            elapsed, stdout = timed(commands[name])
            seconds[name].append(round(elapsed, 1))
            print(f"run {run + 1} {name}: {elapsed:.1f} s", flush=True)
            if name == "lm-eval 5-shot":
                lm_eval = json.loads(stdout.strip().splitlines()[-1])
    ours_prompt = build_task_prompts(get_task("cola"), data_dir=args.data_dir, num_fewshot=SHOTS, max_samples=1)
    same_prompt = lm_eval["first_prompt"] == ours_prompt.prompts[0]
    same_predictions = predictions(scratch / "auto") == predictions(scratch / "off")
    (model_entry,) = json.loads((scratch / "auto" / "metrics.json").read_text()).values()
    median = {name: statistics.median(values) for name, values in seconds.items()}
    auto = median["ours 5-shot (prefix_cache auto)"]
    return {
        "seconds": seconds,
        "median_seconds": median,
        "auto_vs_lm_eval": round(auto / median["lm-eval 5-shot"], 3),
        "auto_vs_zero_shot": round(auto / median["ours zero-shot"], 3),
        "off_vs_auto": round(median["ours 5-shot (prefix_cache off)"] / auto, 3),
        "lm_eval_version": lm_eval["version"],
        "lm_eval_mcc": lm_eval["mcc"],
        "same_first_prompt_as_lm_eval": same_prompt,
        "auto_and_off_same_predictions": same_predictions,
        "prefix_cache": model_entry["cola"]["prefix_cache"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("--model_name_or_path", help="HF directory of SmolLM2-135M(-Instruct)")
    parser.add_argument("--data_dir", default=os.environ.get(GLUE_DIR_ENV))
    parser.add_argument("--lm_eval_python", help="a python with lm_eval==0.4.13 installed (the timed comparison)")
    parser.add_argument("--runs", type=int, default=2, help="timed runs of each command, in turns")
    parser.add_argument("--equivalence", action="store_true", help="auto vs off on GLUE dev sets, 5-shot")
    parser.add_argument("--equivalence_rows", type=int, help="first N dev rows per task in --equivalence (all)")
    parser.add_argument("--equivalence_tasks", nargs="+", help="tasks of --equivalence (the five GLUE tasks)")
    parser.add_argument(
        "--equivalence_scoring", choices=SCORING_MODES, default="loglik", help="scoring of --equivalence (loglik)"
    )
    parser.add_argument("--skip_timing", action="store_true", help="only --equivalence")
    parser.add_argument("--output", help="write the measurements to this JSON file")
    args = parser.parse_args()
    if not args.data_dir:
        raise RlptError(f"--data_dir is required (or set {GLUE_DIR_ENV})")
    # select_tasks' default is the five tasks; an unknown name is an error before any model loads
    tasks = select_tasks(args.equivalence_tasks)
    if not args.skip_timing and not args.lm_eval_python:
        raise RlptError("--lm_eval_python is required for the timed comparison (or pass --skip_timing)")
    with tempfile.TemporaryDirectory() as scratch_dir:
        scratch = Path(scratch_dir)
        model = args.model_name_or_path
        if model is None:
            if not os.environ.get(GGUF_ENV):
                raise RlptError(f"--model_name_or_path is required (or set {GGUF_ENV})")
            model = str(import_gguf(os.environ[GGUF_ENV], scratch / "smollm2"))
        result = {} if args.skip_timing else timing(args, model, scratch)
        if args.equivalence:
            result["equivalence"] = equivalence(
                model, args.data_dir, args.equivalence_rows, tasks, args.equivalence_scoring
            )
    print(json.dumps(result, indent=1))
    if args.output:
        Path(args.output).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    sys.exit(run_with_errors(PROG, main))
