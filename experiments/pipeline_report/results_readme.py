"""The README.md of a run_pipeline results folder: what was run, on which machine, in how long, and the results.

The text is `templates/results_readme.md`, filled with `str.format`. Its numbers come from the run's metrics.json
(settings, GLUE metrics, majority-class baselines, training summary) and timings.json; its one hand-written part,
the interpretation, is carried over from the README it replaces.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from rlpt_trl.evaluation.next_segment.result import TASK as NEXT_SEGMENT
from rlpt_trl.evaluation.paired import paired_table
from rlpt_trl.evaluation.report import METRIC_LABELS
from rlpt_trl.utils.markdown import format_table

from .glue_summary import summary_lines
from .hardware import describe_hardware
from .reproducibility import compare_with_previous


TEMPLATE = Path(__file__).with_name("templates") / "results_readme.md"
SMOKE_NOTE = "**Smoke run: a plumbing check; the numbers mean nothing.**\n\n"
INTERPRETATION = re.compile(r"<!-- interpretation.*?-->\n(.*?)\n<!-- /interpretation -->", re.DOTALL)
INTERPRETATION_PLACEHOLDER = "_To be written by hand after the run: what the numbers do and do not show._"


@dataclass(frozen=True)
class StageSummary:
    """One stage of the pipeline as the README lists it."""

    name: str  # its key in timings.json
    title: str
    command: str  # as the README shows it: portable, with a `cd DIR && ` prefix where it runs elsewhere
    steps: int | None = None  # optimizer steps, for the time per step


@dataclass(frozen=True)
class PipelineRun:
    """How the run was made, as the README states it."""

    command: str  # the pipeline's own command line, portable
    work_dir: str  # where the models, the dataset and the per-example predictions stay
    gguf: str  # the imported GGUF's file name
    sft_config: str  # the SFT recipe's YAML as the README names it, and its content
    sft: Mapping[str, object]
    grpo_config: str  # the same for GRPO
    grpo: Mapping[str, object]
    stages: Sequence[StageSummary]
    starts: Mapping[str, str]  # each trained model -> the model it started from
    smoke: bool = False


def kept_interpretation(readme: Path) -> str:
    """The hand-written interpretation of the README at `readme`, or a placeholder when there is none."""
    kept = INTERPRETATION.search(readme.read_text(encoding="utf-8")) if readme.is_file() else None
    return kept.group(1) if kept else INTERPRETATION_PLACEHOLDER


def _timing_table(stages: Sequence[StageSummary], timings: Mapping[str, float]) -> str:
    rows = [
        [stage.title, f"{timings[stage.name]:.0f}", f"{timings[stage.name] / stage.steps:.1f}" if stage.steps else ""]
        for stage in stages
    ]
    rows.append(["total", f"{timings['total']:.0f} ({timings['total'] / 60:.1f} min)", ""])
    return format_table(["stage", "seconds", "seconds per step, loading included"], rows)


def _baseline_table(baselines: Mapping[str, Mapping[str, float | None]]) -> str:
    rows = [
        [task, METRIC_LABELS.get(metric, metric), "n/a" if value is None else f"{value:.4f}"]
        for task, values in baselines.items()
        for metric, value in values.items()
    ]
    return format_table(["task", "metric", "majority class"], rows)


def _reward_table(grpo: Mapping[str, Mapping]) -> str:
    rows = [
        [run, tag.removeprefix("train/"), f"{means['first_quarter_mean']:.4f}", f"{means['last_quarter_mean']:.4f}"]
        for run, tags in grpo.items()
        for tag, means in tags.items()
    ]
    return format_table(["run", "logged value", "mean, first quarter of steps", "mean, last quarter"], rows)


def _table_models(comparison: str) -> list[str]:
    """The models of a comparison.md table, in its row order."""
    rows = [line for line in comparison.splitlines() if line.startswith("| ")]
    return [row.split(" | ")[0].removeprefix("| ") for row in rows[1:]]


def _comparison_section(name: str, comparison: str) -> str:
    """An evaluation's comparison.md as a README subsection: its table, its legend and its chart."""
    table = "\n".join(line for line in comparison.splitlines() if line.startswith("|"))
    legend = [line for line in comparison.splitlines() if line.startswith("[low, high]")]
    parts = [f"### {', '.join(_table_models(comparison))}", table, *legend, f"![{name}](comparison-{name}.png)"]
    return "\n\n".join(parts)


def render_results_readme(
    run: PipelineRun,
    metrics: Mapping,
    timings: Mapping[str, float],
    hardware: Mapping[str, object],
    comparisons: Mapping[str, str],
    previous: Mapping | None,
    interpretation: str,
) -> str:
    """The README.md text: `metrics` and `timings` are what metrics.json and timings.json hold, `hardware` is
    `hardware_report()`, `comparisons` each evaluation's comparison.md by name (its chart is
    `comparison-<name>.png`), `previous` the metrics.json the report replaces (None: none) and `interpretation` the
    hand-written part (`kept_interpretation`)."""
    glue, baselines, training = metrics["glue"], metrics["majority_baseline"], metrics["training"]
    settings = metrics["settings"]
    weighted = zip(run.grpo["reward_funcs"], run.grpo["reward_weights"], strict=True)
    first_model = next(iter(glue.values()))
    glue_sizes = {task: values["n"] for task, values in first_model.items() if task != NEXT_SEGMENT}
    max_samples, train_rows = settings["eval_max_samples"], settings["train_rows"]
    return TEMPLATE.read_text(encoding="utf-8").format(
        mode=SMOKE_NOTE if run.smoke else "",
        command=run.command,
        date=datetime.date.today().isoformat(),
        settings=settings,
        work_dir=run.work_dir,
        gguf=run.gguf,
        train_rows="CoLA train" if train_rows is None else f"the first {train_rows} CoLA train rows",
        sft_config=run.sft_config,
        sft=run.sft,
        grpo_config=run.grpo_config,
        grpo=run.grpo,
        rewards=" + ".join(f"{weight:g} x {name}" for name, weight in weighted),
        grpo_prompts=run.grpo["per_device_train_batch_size"] // run.grpo["num_generations"],
        evaluations=" and of ".join(", ".join(_table_models(text)) for text in comparisons.values()),
        eval_rows="the full GLUE dev sets"
        if max_samples is None
        else f"the first {max_samples} rows of each GLUE dev set",
        eval_sizes=", ".join(f"{task} {n}" for task, n in glue_sizes.items()),
        next_segment_n=first_model[NEXT_SEGMENT]["n"],
        hardware=hardware,
        commands="\n".join(stage.command for stage in run.stages),
        hardware_text=describe_hardware(hardware),
        timings=_timing_table(run.stages, timings),
        paired=paired_table(glue, run.starts),
        comparisons="\n\n".join(_comparison_section(name, text) for name, text in comparisons.items()),
        baselines=_baseline_table(baselines),
        sft_loss=training["sft"]["train/loss"],
        sft_eval_loss=training["sft"]["eval/loss"],
        grpo_rewards=_reward_table(training["grpo"]),
        summary="\n".join(summary_lines(glue, baselines)),
        interpretation=interpretation,
        reproducibility=compare_with_previous(previous, metrics),
    )
