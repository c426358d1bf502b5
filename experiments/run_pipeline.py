"""End-to-end results on SmolLM2-135M-Instruct on a CPU budget: base, SFT, GRPO from base and from SFT, with a report.

    python experiments/run_pipeline.py            # the published run, into results/pipeline/
    python experiments/run_pipeline.py --smoke    # a few steps and examples: checks the plumbing

From the SmolLM2-135M-Instruct GGUF, CoLA train and the GLUE dev sets, with fixed seeds: (1) import the GGUF into a
Hugging Face directory (`rlpt-trl import-gguf`), (2) build the GRPO dataset from CoLA train
(`recipes/create_data.py`), (3) SFT from base with the CPU recipe (`recipes/smollm2-135m/sft_cpu.yaml`), logging
CoLA MCC on held-out rows as it trains, (4) GRPO from base and (5) from the SFT model with the CPU recipe
(`recipes/smollm2-135m/grpo_cpu.yaml`), logging held-out next-segment metrics as they train, (6) one evaluation of
the four models on cola, stsb, mrpc, rte, wnli and next_segment (`recipes/eval.py`): every metric with its
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
import shutil
import sys
import time
from pathlib import Path


os.environ.setdefault("HF_HUB_OFFLINE", "1")

from pipeline_report.baselines import majority_baselines  # noqa: E402
from pipeline_report.hardware import hardware_report  # noqa: E402
from pipeline_report.results_readme import (  # noqa: E402
    PipelineRun,
    StageSummary,
    kept_interpretation,
    render_results_readme,
)
from pipeline_report.training import training_summary  # noqa: E402
from stages import (  # noqa: E402
    ROOT,
    Stage,
    StageBuilder,
    add_asset_arguments,
    add_folder_arguments,
    check_assets,
    check_at_least_one,
    check_work_dir,
    collect_evaluation,
    every,
    logging,
    parse_with_smoke,
    recipe,
    relative,
    run_stage,
)

from rlpt_trl.cli import run_with_errors  # noqa: E402
from rlpt_trl.evaluation.glue.spec import DEFAULT_TASKS  # noqa: E402
from rlpt_trl.evaluation.next_segment.result import TASK as NEXT_SEGMENT  # noqa: E402
from rlpt_trl.utils.errors import RlptError  # noqa: E402
from rlpt_trl.utils.files import atomic_directory, write_json, write_text_atomic  # noqa: E402


PROG = "experiments/run_pipeline.py"
SFT_CONFIG = "recipes/smollm2-135m/sft_cpu.yaml"
GRPO_CONFIG = "recipes/smollm2-135m/grpo_cpu.yaml"
# the models' folder names under work_dir/models, which are also their names in the report
GRPO_RUNS = {"grpo-from-base": "base", "grpo-from-sft": "sft"}  # run -> starting model
# evaluation -> its models; the first is the reference of the others' paired differences
STARTS = {"sft": "base", **GRPO_RUNS}  # each trained model -> the model it started from
EVALUATED = ("base", *STARTS)  # in one evaluation, each trained model compared with its start (--reference)
EVALUATION = "all"
DATA = "cola-grpo"  # the data build's folder under work_dir/data
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
    check_at_least_one(args, [name for name in SETTINGS if name != "seed"])
    if args.work_dir.exists() and not args.overwrite:
        raise RlptError(f"work directory exists: {args.work_dir} (pass --overwrite to replace it)")
    check_work_dir(args)


def plan(args: argparse.Namespace) -> list[Stage]:
    """The stages, in order."""
    build, glue = StageBuilder(args), str(args.data_dir)
    rows = ["--max_samples", str(args.train_rows)] if args.train_rows else []
    sft_interval = every(args.sft_steps, args.heldout_evals)
    sft_flags = [
        "--data_dir", glue, "--max_steps", str(args.sft_steps), "--logging_steps", logging(SFT_CONFIG, args.sft_steps),
        "--eval_strategy", "steps", "--eval_steps", sft_interval, "--max_eval_samples", str(args.sft_eval_rows),
        "--eval_every_steps", sft_interval, "--eval_tasks", "cola", "--eval_data_dir", glue,
        "--eval_max_samples", str(args.heldout_cola_rows), *(["--max_train_samples", str(args.train_rows)] if rows else []),
    ]  # fmt: skip
    grpo_flags = [
        "--dataset_name", build.data(DATA), "--max_steps", str(args.grpo_steps),
        "--logging_steps", logging(GRPO_CONFIG, args.grpo_steps), "--eval_every_steps",
        every(args.grpo_steps, args.heldout_evals), "--eval_tasks", "next_segment",
        "--eval_max_samples", str(args.heldout_next_segment_prompts), "--eval_data_dir", glue,
    ]  # fmt: skip
    return [
        build.import_gguf(),
        build.data_build("data", "Data build", DATA, *rows),
        build.train("sft", "SFT from base", "sft", SFT_CONFIG, "base", *sft_flags, steps=args.sft_steps),
        *(
            build.train(
                run,
                f"GRPO from {'the SFT model' if start == 'sft' else start}",
                "grpo",
                GRPO_CONFIG,
                start,
                *grpo_flags,
                steps=args.grpo_steps,
            )
            for run, start in GRPO_RUNS.items()
        ),  # fmt: skip
        build.evaluate(
            f"Evaluation of {', '.join(EVALUATED)}",
            EVALUATED,
            STARTS,
            EVAL_TASKS,
            args.work_dir / "eval" / EVALUATION,
            "--next_segment_max_samples",
            str(args.next_segment_max_samples),
        ),  # fmt: skip
    ]


def describe_run(args: argparse.Namespace, stages: list[Stage]) -> PipelineRun:
    """What the README says about how the run was made, with commands that name no machine path."""
    build = StageBuilder(args)
    summaries = [StageSummary(stage.name, stage.title, build.shown_stage(stage), stage.steps) for stage in stages]
    return PipelineRun(
        command=build.shown(["python", PROG, *sys.argv[1:]]),
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
        glue = collect_evaluation(evaluation, staging, args, COMMITTED_PREDICTIONS)
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
