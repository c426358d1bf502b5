"""Is RL better than next-token training here? Six runs from base SmolLM2-135M-Instruct at one compute budget.

    python experiments/controls.py               # the published run, into results/controls/
    python experiments/controls.py --smoke       # a few steps and examples: checks the plumbing
    python experiments/controls.py --report_only # the report again from --work_dir's finished runs

From the SmolLM2-135M-Instruct GGUF, CoLA train and dev, with fixed seeds: (1) import the GGUF, (2) the data build
with random cuts and (3) with entropy cuts (`--cut_strategy entropy`, the base model as proxy), (4) GRPO with the
seed's rewards (`recipes/smollm2-135m/grpo_cpu.yaml`), whose counted FLOPs (`flops.json`) are the budget of every
other run: (5) GRPO with `prefix_match_reward`, (6) GRPO with RPT's reward on random cuts and (7) on entropy cuts
(`grpo_rpt_cpu.yaml`: one new token), (8) continued pre-training and (9) supervised next segment
(`rlpt-trl ntp`, `ntp_cpu.yaml`, on the random-cut rows in GRPO's order). Each run stops at the first step that
reaches the budget (no in-training evaluation, which would count). (10) One evaluation of base and the six on CoLA
(MCC) and the full held-out next-segment set (CoLA dev cuts, seeded random), each model's paired differences from
base with 95 % bootstrap CIs, and each GRPO run's from continued pre-training. The report in --output_dir: README.md, metrics.json, timings.json and the CoLA and
next-segment prediction files of every model.
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

from pipeline_report.controls import (  # noqa: E402
    RUNS,
    ControlsRun,
    against_control,
    render_controls_readme,
    run_summary,
)
from pipeline_report.hardware import hardware_report  # noqa: E402
from pipeline_report.results_readme import kept_interpretation  # noqa: E402
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
    parse_with_smoke,
    recipe,
    run_stage,
)

from rlpt_trl.cli import run_with_errors  # noqa: E402
from rlpt_trl.evaluation.next_segment.result import TASK as NEXT_SEGMENT  # noqa: E402
from rlpt_trl.testing.assets import EMBEDDING_MODEL_ENV  # noqa: E402
from rlpt_trl.trainer.flops import FLOPS_FILE  # noqa: E402
from rlpt_trl.utils.errors import RlptError  # noqa: E402
from rlpt_trl.utils.files import atomic_directory, write_json, write_text_atomic  # noqa: E402


PROG = "experiments/controls.py"
GRPO_CONFIG = "recipes/smollm2-135m/grpo_cpu.yaml"
RPT_CONFIG = "recipes/smollm2-135m/grpo_rpt_cpu.yaml"
NTP_CONFIG = "recipes/smollm2-135m/ntp_cpu.yaml"
BUDGET_RUN = "grpo-seed"  # the run whose FLOPs every other run gets
# a budgeted run stops at its budget first; these only bound it
MAX_STEPS = "2000"
MAX_EPOCHS = "3"
EVAL_TASKS = ("cola", NEXT_SEGMENT)
SMOKE = {"train_rows": 64, "grpo_steps": 2, "eval_max_samples": 8}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    add_asset_arguments(parser)
    add_folder_arguments(parser, "controls", "models, datasets")
    parser.add_argument("--report_only", action="store_true", help="only write the report from --work_dir's runs")
    parser.add_argument("--seed", type=int, default=42, help="seed of the data builds and every run")
    parser.add_argument("--train_rows", type=int, help="first CoLA train rows of the data builds (default all)")
    parser.add_argument("--grpo_steps", type=int, help=f"steps of the budget run (default: {GRPO_CONFIG})")
    parser.add_argument("--eval_max_samples", type=int, help="first N CoLA dev rows and cuts (default: all)")
    parser.add_argument("--eval_batch_size", type=int, default=32)
    args = parse_with_smoke(parser, SMOKE)
    args.grpo_steps = args.grpo_steps or recipe(GRPO_CONFIG)["max_steps"]
    args.work_dir = Path(
        args.work_dir or ROOT / "outputs" / ("controls-smoke" if args.smoke else "controls")
    ).resolve()
    default_output = args.work_dir / "results" if args.smoke else ROOT / "results" / "controls"
    args.output_dir = Path(args.output_dir or default_output).resolve()
    return args


def check_inputs(args: argparse.Namespace) -> None:
    """What a stage could trip over late, checked before the first one starts."""
    check_assets(args)
    check_at_least_one(args, ("train_rows", "grpo_steps", "eval_max_samples", "eval_batch_size"))
    if args.report_only:
        if not (args.work_dir / "timings.json").is_file():
            raise RlptError(f"--report_only needs a finished run in {args.work_dir} (no timings.json)")
    elif args.work_dir.exists() and not args.overwrite:
        raise RlptError(f"work directory exists: {args.work_dir} (pass --overwrite to replace it)")
    check_work_dir(args)


class Plan:
    """The stages; the budgeted runs' once the budget run has counted its FLOPs."""

    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.build = StageBuilder(args)
        self.models = self.build.models
        self.data = {cuts: self.build.data(f"cola-{cuts}") for cuts in ("random", "entropy")}

    def setup(self) -> list[Stage]:
        """Import, the two data builds and the budget run."""
        rows = ["--max_samples", str(self.args.train_rows)] if self.args.train_rows else []
        return [
            self.build.import_gguf(),
            *(
                self.build.data_build(
                    f"data_{cuts}", f"Data build, {cuts} cuts", f"cola-{cuts}", "--cut_strategy", cuts, *rows
                )
                for cuts in self.data
            ),  # fmt: skip
            self._grpo(BUDGET_RUN, GRPO_CONFIG, "random", ["--max_steps", str(self.args.grpo_steps)]),
        ]

    def budgeted(self, budget: float) -> list[Stage]:
        """The runs given `budget` FLOPs."""
        limit = ["--flops_budget", repr(budget), "--max_steps", MAX_STEPS]
        stages = [
            self._grpo("grpo-prefix-match", GRPO_CONFIG, "random", [*limit, "--reward_funcs", "prefix_match_reward",
                       "--reward_weights", "1.0"]),
            self._grpo("grpo-rpt", RPT_CONFIG, "random", limit),
            self._grpo("grpo-rpt-entropy", RPT_CONFIG, "entropy", limit),
        ]  # fmt: skip
        for mode in ("pretrain", "next_segment"):
            run = f"ntp-{mode.replace('_', '-')}"
            flags = ["--mode", mode, "--dataset_name", self.data["random"], "--flops_budget", repr(budget)]
            stages.append(self.build.train(run, RUNS[run], "ntp", NTP_CONFIG, "base", *flags, "--num_train_epochs",
                                           MAX_EPOCHS))  # fmt: skip
        return stages

    def evaluation(self) -> Stage:
        """Base and the six runs on CoLA and next_segment, each compared with base, scored by base."""
        title = "Evaluation of base and the six runs"
        return self.build.evaluate(title, ("base", *RUNS), dict.fromkeys(RUNS, "base"), EVAL_TASKS,
                                   self.args.work_dir / "eval")  # fmt: skip

    def _grpo(self, run: str, config: str, cuts: str, extra: list[str]) -> Stage:
        flags = ["--dataset_name", self.data[cuts], "--logging_steps", "1", *extra]
        return self.build.train(run, RUNS[run], "grpo", config, "base", *flags)


def read_budget(models: Path) -> float:
    """The FLOPs the budget run counted."""
    return float(json.loads((models / BUDGET_RUN / FLOPS_FILE).read_text())["flops"])


def run_all(args: argparse.Namespace, plan: Plan) -> tuple[list[Stage], dict[str, float]]:
    """Run every stage into --work_dir; return them with their wall times (also in WORK_DIR/timings.json)."""
    if args.work_dir.exists():
        shutil.rmtree(args.work_dir)
    plan.models.mkdir(parents=True)
    timings: dict[str, float] = {}
    start = time.perf_counter()
    stages = plan.setup()
    for stage in stages:
        run_stage(stage, timings)
    later = [*plan.budgeted(read_budget(plan.models)), plan.evaluation()]
    for stage in later:
        run_stage(stage, timings)
    timings["total"] = round(time.perf_counter() - start, 1)
    write_json(args.work_dir / "timings.json", timings)
    return [*stages, *later], timings


def main() -> None:
    args = parse_args()
    check_inputs(args)
    machine = hardware_report()
    interpretation = kept_interpretation(args.output_dir / "README.md")
    plan = Plan(args)
    if args.report_only:
        stages = [*plan.setup(), *plan.budgeted(read_budget(plan.models)), plan.evaluation()]
        timings = json.loads((args.work_dir / "timings.json").read_text())
    else:
        stages, timings = run_all(args, plan)
    with atomic_directory(args.output_dir) as staging:
        glue = collect_evaluation(args.work_dir / "eval", staging, args, EVAL_TASKS)
        aliases = {str(args.embedding_model): f"${EMBEDDING_MODEL_ENV}"}
        runs = {run: run_summary(plan.models / run, timings[run.replace("-", "_")], aliases) for run in RUNS}
        metrics = {"settings": {"seed": args.seed, "train_rows": args.train_rows, "grpo_steps": args.grpo_steps,
                                "eval_max_samples": args.eval_max_samples},
                   "budget_flops": read_budget(plan.models), "runs": runs, "eval": glue}  # fmt: skip
        metrics["against_control"] = against_control(staging, glue)
        write_json(staging / "metrics.json", metrics)
        write_json(staging / "timings.json", timings)
        described = ControlsRun(
            command=plan.build.shown(["python", PROG, *(a for a in sys.argv[1:] if a != "--report_only")]),
            stages={stage.name: plan.build.shown_stage(stage) for stage in stages},
            smoke=args.smoke,
        )
        text = render_controls_readme(described, metrics, timings, machine, interpretation)
        write_text_atomic(staging / "README.md", text)
    print(f"\nwrote {args.output_dir} in {timings['total'] / 60:.1f} min")


if __name__ == "__main__":
    sys.exit(run_with_errors(PROG, main))
