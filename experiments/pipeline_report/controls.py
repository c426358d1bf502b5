"""The README.md of a controls results folder (`experiments/controls.py`): the six runs at one compute budget, what
each spent, and each model's paired differences from base on the held-out sets."""

from __future__ import annotations

import datetime
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rlpt_trl.evaluation.bootstrap import bootstrap_results
from rlpt_trl.evaluation.next_segment.result import TASK as NEXT_SEGMENT
from rlpt_trl.evaluation.next_segment.result import NextSegmentResult, record_values
from rlpt_trl.evaluation.paired import paired_table
from rlpt_trl.testing.tensorboard import read_scalars
from rlpt_trl.trainer.flops import FLOPS_FILE
from rlpt_trl.utils.markdown import format_table

from .hardware import describe_hardware
from .results_readme import SMOKE_NOTE


# run (its folder under WORK_DIR/models and its name in the report) -> what it is
RUNS = {
    "ntp-pretrain": "Continued pre-training (next-token loss on each sentence)",
    "ntp-next-segment": "Supervised next segment (prompt -> true completion)",
    "grpo-seed": "GRPO, the seed's rewards (perplexity + embedding cosine)",
    "grpo-prefix-match": "GRPO, prefix_match_reward (word-level)",
    "grpo-rpt": "GRPO, RPT's reward, one token, random cuts",
    "grpo-rpt-entropy": "GRPO, RPT's reward, one token, entropy cuts",
}
# the rows of the paired-difference table
METRICS = {
    NEXT_SEGMENT: [
        *(f"{prefix}next_token_accuracy{bucket}" for prefix in ("", "greedy_") for bucket in ("", "_easy", "_medium",
                                                                                           "_hard")),
        "next_word_accuracy", "greedy_next_word_accuracy", "true_completion_nll", "cosine_sentence", "distinct_2",
        "empty_rate",
    ],
    "cola": ["matthews_correlation"],
}  # fmt: skip
ZERO_STD_TAG = "train/frac_reward_zero_std"
# RLP's control (RPT reports no FLOP-matched one): continued next-token training on the same text, at the same compute
CONTROL = "ntp-pretrain"
GRPO_RUNS = [run for run in RUNS if run.startswith("grpo-")]
# the evaluation's bootstrap (`EvalArguments` defaults)
BOOTSTRAP_ITERS, BOOTSTRAP_SEED = 1000, 0


@dataclass(frozen=True)
class ControlsRun:
    """How the experiment was made, as the README states it."""

    command: str  # the script's own command line, portable
    stages: Mapping[str, str]  # stage name -> its command, portable
    smoke: bool = False


def _aliased(name: str, aliases: Mapping[str, str]) -> str:
    for path, alias in aliases.items():
        name = name.replace(path, alias)
    return name


def run_summary(output_dir: Path, seconds: float, aliases: Mapping[str, str]) -> dict:
    """One training run's steps, counted FLOPs, wall time and, for GRPO, the mean share of groups whose rewards were
    all equal (`frac_reward_zero_std`: no gradient from them); in the counted models' names each path of `aliases`
    is replaced by its alias (an asset variable instead of a machine path)."""
    flops = json.loads((output_dir / FLOPS_FILE).read_text())
    scalars = read_scalars(output_dir)
    zero_std = [value for _, value in scalars.get(ZERO_STD_TAG, [])]
    return {
        "steps": flops["global_step"],
        "flops": flops["flops"],
        "seconds": seconds,
        "frac_reward_zero_std": float(np.mean(zero_std)) if zero_std else None,
        "flops_by_model": {_aliased(name, aliases): entry["flops"] for name, entry in flops["models"].items()},
    }


def against_control(report_dir: Path, glue: Mapping[str, Mapping]) -> dict[str, dict]:
    """Each GRPO run's paired difference from `CONTROL` on the next-segment cuts, with 95 % bootstrap CIs, read from
    the prediction files in `report_dir` (every model's records of the same cuts): model -> {next_segment: its
    metrics.json-style entry with `diff_vs_<CONTROL>`}."""
    results = {}
    for model in (CONTROL, *GRPO_RUNS):
        entry = glue[model][NEXT_SEGMENT]
        records = json.loads((report_dir / entry["predictions"]).read_text())
        settings = {key: entry[key] for key in ("temperature", "max_new_tokens", "seed")}
        result = NextSegmentResult.from_values(record_values(records), records, entry["samples"], settings)
        results[model] = {NEXT_SEGMENT: result}
    intervals = bootstrap_results(
        results, BOOTSTRAP_ITERS, BOOTSTRAP_SEED, references=dict.fromkeys(GRPO_RUNS, CONTROL)
    )
    return {model: {NEXT_SEGMENT: intervals[model][NEXT_SEGMENT].summary(f"diff_vs_{CONTROL}")} for model in GRPO_RUNS}


def _runs_table(runs: Mapping[str, Mapping], budget: float) -> str:
    rows = []
    for run, summary in runs.items():
        zero_std = summary["frac_reward_zero_std"]
        rows.append([
            run, RUNS[run], summary["steps"], f"{summary['flops']:.3e}", f"{summary['flops'] / budget:.3f}",
            f"{summary['seconds']:.0f}", "" if zero_std is None else f"{zero_std:.3f}",
        ])  # fmt: skip
    header = ["run", "what", "steps", "FLOPs", "of the budget", "seconds", "frac_reward_zero_std (mean)"]
    return format_table(header, rows)


def _absolute_table(glue: Mapping[str, Mapping]) -> str:
    rows = [
        [f"{task} {metric}", *(f"{glue[model][task][metric]:.4f}" for model in glue)]
        for task, metrics in METRICS.items()
        for metric in metrics
    ]
    return format_table(["metric", *glue], rows)


def render_controls_readme(
    run: ControlsRun,
    metrics: Mapping,
    timings: Mapping[str, float],
    hardware: Mapping[str, object],
    interpretation: str,
) -> str:
    """The README.md text, from what metrics.json and timings.json hold, `hardware_report()` and the hand-written
    interpretation (`results_readme.kept_interpretation`)."""
    glue, budget = metrics["eval"], metrics["budget_flops"]
    cuts = glue["base"][NEXT_SEGMENT]
    commands = "\n".join(run.stages.values())
    return f"""# Matched-compute controls: GRPO against next-token training

{SMOKE_NOTE if run.smoke else ""}Made on {datetime.date.today().isoformat()} with

```
{run.command}
```

Every run starts from base SmolLM2-135M-Instruct and stops at the first step whose counted compute reaches the
budget: the {budget:.3e} FLOPs of `grpo-seed` (`rlpt_trl.trainer.flops`: 6 N per trained token, 2 N per token read,
reward models included). Held-out: CoLA dev ({glue["base"]["cola"]["n"]} sentences, MCC by log-likelihood) and
{cuts["n"]} next-segment cuts of CoLA dev (seeded random cuts; difficulty by the base model's top-16 entropy at
the cut: easy >= 0.5, medium >= 1.0, hard >= 1.5 nats, nested).

## What it shows

<!-- interpretation: written by hand; kept when the script re-runs -->
{interpretation}
<!-- /interpretation -->

## Runs

{_runs_table(metrics["runs"], budget)}

`frac_reward_zero_std`: the share of prompt groups whose completions all earned the same reward, which give GRPO no
gradient. Seconds: wall time of the run's command, loading included.

## Paired differences from base (95 % bootstrap CIs; * where the CI excludes 0)

{paired_table(glue, dict.fromkeys(RUNS, "base"), METRICS)}

## GRPO against continued pre-training (paired, 95 % bootstrap CIs; * where the CI excludes 0)

The same next-segment cuts, each GRPO run minus `{CONTROL}` (RLP's FLOP-matched control; RPT reports none), recomputed from the
prediction files (`against_control`).

{paired_table(metrics["against_control"], dict.fromkeys(GRPO_RUNS, CONTROL), {NEXT_SEGMENT: METRICS[NEXT_SEGMENT]})}

## Values

{_absolute_table(glue)}

## Machine and commands

{describe_hardware(hardware)} Total wall time {timings["total"] / 60:.1f} min.

```
{commands}
```

`metrics.json` holds every metric with its CI, each run's FLOPs by model; `predictions/` the per-example CoLA and
next-segment records of every model, from which every figure here can be recomputed.
"""
