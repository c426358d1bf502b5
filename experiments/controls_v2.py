"""Does GRPO beat next-token training at matched compute, once it pays only its algorithmic cost? On CoLA and pydocs.

    python experiments/controls_v2.py               # the published run, into results/controls_v2/; rerun to resume
    python experiments/controls_v2.py --smoke       # a few steps and prompts: checks the plumbing
    python experiments/controls_v2.py --report_only # the report of the stages finished so far

From the SmolLM2-135M-Instruct GGUF: (1) import it; (2) the warm start every arm starts from: next-token training on
GLUE RTE's training premises (news and encyclopedia text, disjoint from both corpora) as running text
(`rlpt-trl ntp --mode documents`: no end-of-text token after each premise, which would teach the model to stop at a
sentence's end), `--warm_steps` steps of 128-token blocks, so that no arm is credited with repairing the GGUF's
quantization. Then for each corpus: (3) its data build: CoLA's random cuts of train (held out: the 1031 dev cuts of
the next-segment evaluation); pydocs' next-sentence rows with prompts of up to 128 tokens (`--task asr`; held out:
its validation documents), whose training documents' running text next-token training reads, each token once a pass
(`--mode documents`); (4) the arms (`pipeline_report/controls_v2.ARMS`), each run
to twice the corpus's budget unit of counted FLOPs with a checkpoint at one unit (`--save_at_flops`): next-token
training and GRPO with RPT's reward and shared prompts (two seeds each), GRPO with dynamic sampling, and on CoLA GRPO
at a second learning rate; (5) the next-segment evaluation of base, the warm start and every run at both budget
points (K = 4 samples at temperature 0.9, base as the frozen scorer). Every stage is a command with its log on disk;
a stopped experiment continues at the stage it stopped in. The report is rewritten after every stage, and it is what
a rerun resumes from when --work_dir is gone (a new machine): a run whose evaluations the report holds is not run
again; the import, the data builds and the warm start are, when a stage left needs them (each run records the digest
of the warm start it started from), and every stage runs in the precision the report recorded first. The report in
--output_dir: README.md (its first paragraphs written by hand and kept), metrics.json, timings.json, each model's
per-prompt values (`values/`) and the plot of accuracy against FLOPs.
"""

from __future__ import annotations

import argparse
import datetime
import functools
import hashlib
import json
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path


os.environ.setdefault("HF_HUB_OFFLINE", "1")

from pipeline_report.controls_v2 import (  # noqa: E402
    ARMS,
    CONTROL,
    CORPORA,
    HEADLINE,
    PLOTTED,
    POINTS,
    Arm,
    arms_table,
    bootstrap,
    checkpoint_at,
    compact_values,
    corpus_runs,
    difference,
    differences_table,
    line_breaks,
    line_breaks_section,
    mean_over_seeds,
    per_prompt,
    plot,
    run_log,
    run_name,
    summarize,
)
from pipeline_report.hardware import describe_hardware  # noqa: E402
from pipeline_report.results_readme import SMOKE_NOTE, kept_interpretation  # noqa: E402
from stages import (  # noqa: E402
    ROOT,
    Stage,
    StageBuilder,
    check_resumable,
    parse_resumable,
    read_timings,
    relative,
    resumable_parser,
    resume_stages,
    run_resumable,
)
from transformers.utils import SAFE_WEIGHTS_NAME as WEIGHTS_FILE  # noqa: E402

from rlpt_trl.cli import run_with_errors  # noqa: E402
from rlpt_trl.models.devices import native_bf16  # noqa: E402
from rlpt_trl.trainer.flops import FLOPS_FILE  # noqa: E402
from rlpt_trl.utils.errors import RlptError  # noqa: E402
from rlpt_trl.utils.files import write_json, write_text_atomic  # noqa: E402
from rlpt_trl.utils.markdown import format_table  # noqa: E402


PROG = "experiments/controls_v2.py"
NTP_CONFIG = "recipes/smollm2-135m/ntp_cpu.yaml"
GRPO_CONFIGS = {"cola": "recipes/smollm2-135m/grpo_rpt_cpu.yaml", "pydocs": "recipes/smollm2-135m/grpo_asr_cpu.yaml"}
# counted FLOPs of one budget unit, per corpus (chosen so that a corpus's runs take about 3 h on an idle 2-core CPU)
BUDGET_UNITS = {"cola": 2.15e13, "pydocs": 1.0e14}
# a budgeted run stops at its budget first; these only bound it
MAX_STEPS, MAX_EPOCHS = "100000", "50"
RTE_TRAIN = "rte/train.tsv"
SMOKE = {"warm_steps": 2, "budget_scale": 1e-2, "max_prompts": 16, "max_documents": 40}


def parse_args() -> argparse.Namespace:
    description = __doc__.split("\n\n")[0]
    parser = resumable_parser(PROG, description, "controls_v2", "seed of the data builds and the warm start")
    parser.add_argument("--warm_steps", type=int, default=70, help="steps of the warm start (8 blocks of 128 tokens)")
    parser.add_argument("--budget_scale", type=float, default=1.0, help="multiply every budget unit (plumbing checks)")
    parser.add_argument("--max_prompts", type=int, help="first N held-out prompts of each evaluation (default: all)")
    return parse_resumable(parser, "controls_v2", SMOKE)


def precision(recorded: Mapping[str, object]) -> str:
    """The dtype every stage trains and evaluates in: the one the report recorded first, so that stages run on
    different machines stay comparable; on a new report, bf16 where this CPU computes it natively, else fp32."""
    return str(recorded.get("precision") or ("bfloat16" if native_bf16("cpu") else "float32"))


def check_inputs(args: argparse.Namespace) -> None:
    """What a stage could trip over late, checked before the first one starts."""
    if not args.budget_scale > 0:
        raise RlptError(f"--budget_scale must be > 0, got {args.budget_scale}")
    check_resumable(args, ("warm_steps", "max_prompts", "max_documents", "eval_batch_size"))


class Plan:
    """The stages, in the order they run; a run's evaluations join once the run has saved its budget points."""

    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.build = StageBuilder(args)
        self.evaluations = args.work_dir / "eval"
        # the report committed so far: what a rerun without --work_dir resumes from
        metrics_file = args.output_dir / "metrics.json"
        self.recorded = json.loads(metrics_file.read_text()) if metrics_file.is_file() else {}
        self.recorded_timings = read_timings(args.output_dir / "timings.json")
        self.precision = precision(self.recorded.get("settings", {}))

    def precision_flags(self) -> list[str]:
        """The training commands' flag for the experiment's precision (bf16 autocast or fp32)."""
        return ["--bf16", "true" if self.precision == "bfloat16" else "false"]

    @functools.cached_property
    def warm_digest(self) -> str:
        """The digest of the warm start in --work_dir, read once: every run in it started from this one, since the
        warm start is made before any run."""
        return weights_digest(self.build.models / "warm")

    def budget(self, corpus: str, point: int) -> float:
        """The counted FLOPs of a budget point."""
        return BUDGET_UNITS[corpus] * self.args.budget_scale * point

    def stages(self) -> list[Stage]:
        warm_data = self.build.data("warm")
        warm = self.build.train(
            "warm", f"Warm start: {self.args.warm_steps} steps of next-token training on RTE premises", "ntp",
            NTP_CONFIG, "base", "--mode", "documents", "--dataset_name", warm_data, "--max_steps",
            str(self.args.warm_steps), *self.precision_flags(),
        )  # fmt: skip
        stages = [
            Stage("import", "Import the GGUF", self.build.import_gguf().command, output=self.build.models / "base"),
            self._data("data_warm", "Data build, RTE training premises", "warm", "--dataset_path",
                       str(Path(self.args.data_dir) / RTE_TRAIN), "--text_column", "sentence1", "--label_column",
                       "none", "--task", "cut"),
            warm,
        ]  # fmt: skip
        for corpus in CORPORA:
            stages += self._data_builds(corpus)
            stages += [self._evaluate(corpus, model, self.build.model(model)) for model in ("base", "warm")]
        for round_ in (0, 1):
            for corpus in CORPORA:
                for arm, seed in corpus_runs(corpus, (round_,)):
                    stages += self._run(corpus, arm, seed)
        return stages

    def _run(self, corpus: str, arm: Arm, seed: int) -> list[Stage]:
        """A run's training, then the evaluation of each budget point it has saved."""
        run = run_name(corpus, arm, seed)
        stages = [self._train(corpus, arm, seed)]
        for point in POINTS:
            model = self.point_model(corpus, run, point)
            if model is not None:
                stages.append(self._evaluate(corpus, f"{run}-b{point}", relative(model)))
        return stages

    def recorded_values(self, corpus: str, name: str) -> Path | None:
        """The committed per-prompt values of model `name`'s evaluation on `corpus`, where the report holds them."""
        path = self.args.output_dir / "values" / corpus / f"{name}.json"
        return path if eval_stage(corpus, name) in self.recorded_timings and path.is_file() else None

    def recorded_stages(self) -> set[str]:
        """The stages the committed report holds the results of: an evaluation of base or the warm start, and a run
        with the evaluations of all its budget points (a run short of one is trained again)."""
        done = {
            eval_stage(corpus, name)
            for corpus in CORPORA
            for name in ("base", "warm")
            if self.recorded_values(corpus, name)
        }
        for corpus in CORPORA:
            for arm, seed in corpus_runs(corpus):
                run = run_name(corpus, arm, seed)
                evaluations = [eval_stage(corpus, f"{run}-b{point}") for point in POINTS]
                recorded = all(self.recorded_values(corpus, f"{run}-b{point}") for point in POINTS)
                if recorded and run in self.recorded.get("runs", {}):
                    done |= {run.replace("-", "_"), *evaluations}
        return done

    def point_model(self, corpus: str, run: str, point: int) -> Path | None:
        """The folder of a finished run's model at a budget point: its checkpoint there, its final model at the last."""
        folder = self.build.models / run
        if not (folder / FLOPS_FILE).is_file():
            return None
        return folder if point == POINTS[-1] else checkpoint_at(folder, self.budget(corpus, point))

    def _data(self, stage: str, title: str, name: str, *flags: str) -> Stage:
        command = [
            self.build.python, "-m", "rlpt_trl.cli", "data", *flags, "--embedding_model_name_or_path", "none",
            "--tokenizer_name_or_path", self.build.model("base"), "--seed", self.build.seed, "--output_dir",
            self.build.data(name),
        ]  # fmt: skip
        return Stage(stage, title, command, output=ROOT / self.build.data(name))

    def _data_builds(self, corpus: str) -> list[Stage]:
        if corpus == "cola":
            rows = ["--max_samples", str(self.args.max_prompts)] if self.args.max_prompts else []
            return [self._data("data_cola", "Data build, CoLA random cuts", "cola", "--data_dir",
                               str(self.args.data_dir), "--cut_strategy", "random", *rows)]  # fmt: skip
        documents = ["--max_samples", str(self.args.max_documents)] if self.args.max_documents else []
        return [
            self._data("data_pydocs", "Data build, pydocs next sentences", "pydocs", "--dataset_path",
                       f"{self.args.pydocs_dir}/**/*.rst.txt", *documents, "--task", "asr", "--max_prompt_tokens", "128")
        ]  # fmt: skip

    def _train(self, corpus: str, arm: Arm, seed: int) -> Stage:
        run = run_name(corpus, arm, seed)
        limit = [
            "--flops_budget", repr(self.budget(corpus, POINTS[-1])), "--save_at_flops",
            *(repr(self.budget(corpus, point)) for point in POINTS[:-1]), "--save_total_limit", "0",
        ]  # fmt: skip
        if arm.trainer == "ntp":
            # CoLA: each training sentence, as the first controls; pydocs: the training documents' running text
            mode = "pretrain" if corpus == "cola" else "documents"
            flags = ["--mode", mode, "--dataset_name", self.build.data(corpus), "--num_train_epochs", MAX_EPOCHS]
            config = NTP_CONFIG
        else:
            flags = ["--dataset_name", self.build.data(corpus), "--max_steps", MAX_STEPS, "--logging_steps", "1"]
            config = GRPO_CONFIGS[corpus]
        return self.build.train(run, f"{arm.title}, {corpus}, seed {seed}", arm.trainer, config, "warm", *flags,
                                *arm.flags, *limit, *self.precision_flags(), seed=seed)  # fmt: skip

    def _evaluate(self, corpus: str, name: str, model: str) -> Stage:
        """The next-segment evaluation of one model on the corpus's held-out prompts, base as the frozen scorer."""
        held_out = (
            ["--data_dir", str(self.args.data_dir)]
            if corpus == "cola"
            else ["--next_segment_data", self.build.data("pydocs")]
        )
        rows = ["--next_segment_max_samples", str(self.args.max_prompts)] if self.args.max_prompts else []
        output = self.evaluations / corpus / name
        command = [
            self.build.python, "recipes/eval.py", "--model_name_or_path", model, "--tasks", "next_segment",
            *held_out, *rows, "--scorer_model_name_or_path", self.build.model("base"), "--embedding_model_name_or_path",
            str(self.args.embedding_model), "--dtype", self.precision, "--batch_size", str(self.args.eval_batch_size),
            "--output_dir", relative(output),
        ]  # fmt: skip
        return Stage(eval_stage(corpus, name), f"Evaluation, {corpus}, {name}", command, output=output)


# the stages whose outputs later stages read and the report does not hold: run again on a new --work_dir when a stage
# that needs them is left
PREREQUISITES = ("import", "data_warm", "warm", "data_cola", "data_pydocs")


def eval_stage(corpus: str, name: str) -> str:
    """The stage name of model `name`'s evaluation on `corpus`."""
    return f"eval_{corpus}_{name}".replace("-", "_")


def run_pending(plan: Plan, timings_file: Path, after_stage: Callable[[], None]) -> None:
    """Run the first stage neither finished in --work_dir nor held by the committed report, then `after_stage`, and
    again, until only prerequisites would be left: the stage list is rebuilt after each, so that a run's evaluations
    follow it."""
    recorded = plan.recorded_stages()
    while True:
        done = read_timings(timings_file).keys() | recorded
        pending = [stage for stage in plan.stages() if stage.name not in done]
        if all(stage.name in PREREQUISITES for stage in pending):
            return
        resume_stages(pending[:1], timings_file)
        after_stage()


def collect(plan: Plan, timings: dict[str, float], hardware: Mapping[str, object]) -> dict[str, object]:
    """metrics.json of the report from the finished stages, and the per-prompt files it refers to."""
    files: dict[str, dict] = {}
    models: dict[str, dict] = {}
    runs: dict[str, dict] = {}
    arms: dict[str, dict] = {}
    differences: dict[str, dict] = {}
    curves: dict[str, dict] = {}
    checks: dict[str, dict] = {}
    for corpus in CORPORA:
        values = {}
        compacts = corpus_values(plan, corpus, timings)
        for name, compact in compacts.items():
            files[f"{corpus}/{name}"] = compact
            values[name] = per_prompt(compact)
        if not values:
            continue
        checks[corpus] = line_breaks(compacts)
        indices = bootstrap(len(next(iter(values.values()))[HEADLINE]))
        models[corpus] = {name: summarize(value, indices) for name, value in values.items()}
        comparisons = {}
        if {"base", "warm"} <= set(values):
            comparisons["warm start - base"] = difference(values["warm"], values["base"], indices)
        arms[corpus], curves[corpus] = {}, {}
        seeded: dict[tuple[str, int], dict] = {}
        for arm, seed in corpus_runs(corpus):
            run = run_name(corpus, arm, seed)
            if (plan.build.models / run / FLOPS_FILE).is_file() and run.replace("-", "_") in timings:
                runs[run] = _run_summary(plan, corpus, run, timings, hardware)
            elif run in plan.recorded.get("runs", {}):
                runs[run] = plan.recorded["runs"][run]
            for point in POINTS:
                if f"{run}-b{point}" in values:
                    seeded.setdefault((arm.name, point), []).append(values[f"{run}-b{point}"])
        for (arm_name, point), per_seed in seeded.items():
            mean = mean_over_seeds(per_seed)
            label = f"{arm_name} @ {point}x ({len(per_seed)} seed{'s' if len(per_seed) > 1 else ''})"
            arms[corpus][label] = summarize(mean, indices)
            flops = [
                runs[run]["points"][str(point)]["flops"]
                for run in runs
                if run.startswith(f"{corpus}-{arm_name}-s") and str(point) in runs[run]["points"]
            ]
            # every arm starts at the warm start, before it has spent anything
            warm = models[corpus].get("warm")
            start = [{"point": 0, "flops": 0.0, **{name: warm[name] for name in PLOTTED}}] if warm else []
            curves[corpus].setdefault(arm_name, start).append(
                {
                    "point": point,
                    "flops": float(sum(flops) / len(flops)) if flops else None,
                    **{name: arms[corpus][label][name] for name in PLOTTED},
                }  # fmt: skip
            )
            control = seeded.get((CONTROL, point))
            if arm_name != CONTROL and control:
                comparisons[f"{arm_name} - {CONTROL} @ {point}x"] = difference(mean, mean_over_seeds(control), indices)
        differences[corpus] = comparisons
    settings = {name: getattr(plan.args, name) for name in ("seed", "warm_steps", "budget_scale", "max_prompts",
                                                            "max_documents")}  # fmt: skip
    # one entry per session's machine (its first hardware.json), in the order they ran stages
    machines = list(plan.recorded.get("machines", []))
    if hardware not in machines:
        machines.append(dict(hardware))
    return {
        "machines": machines,
        "settings": {**settings, "precision": plan.precision, "budget_units": BUDGET_UNITS, "points": list(POINTS),
                     "arms": {arm.name: arm.title for arm in ARMS}},
        "runs": runs,
        "models": models,
        "arms": arms,
        "differences": differences,
        "curves": curves,
        "line_breaks": checks,
        "files": files,
    }  # fmt: skip


def corpus_values(plan: Plan, corpus: str, timings: Mapping[str, float]) -> dict[str, dict[str, list]]:
    """Each evaluated model's compact per-prompt values on `corpus`, by name: from --work_dir's evaluations where they
    finished, else from the committed report; all on the same held-out prompts, in the same order, or none is paired."""
    found = {}
    for path in sorted((plan.args.output_dir / "values" / corpus).glob("*.json")):
        if plan.recorded_values(corpus, path.stem):
            found[path.stem] = json.loads(path.read_text())
    for folder in sorted((plan.evaluations / corpus).glob("*/metrics.json")):
        name = folder.parent.name
        if eval_stage(corpus, name) in timings:
            (entry,) = json.loads(folder.read_text()).values()
            found[name] = compact_values(folder.parent / entry["next_segment"]["predictions"])
    first_name, first = next(iter(found.items()), (None, None))
    for name, compact in found.items():
        if compact["idx"] != first["idx"]:
            raise RlptError(f"the {corpus} evaluations of {first_name} and {name} are on different held-out prompts: "
                            f"were the data builds made with other settings?")  # fmt: skip
    return dict(sorted(found.items()))  # one order whether a value came from --work_dir or the report


def weights_digest(model: Path) -> str:
    """The first 12 hex digits of the SHA-256 of a model folder's weights file: which warm start a run started from."""
    digest = hashlib.sha256()
    with (model / WEIGHTS_FILE).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 24), b""):
            digest.update(block)
    return digest.hexdigest()[:12]


def _run_summary(
    plan: Plan, corpus: str, run: str, timings: Mapping[str, float], hardware: Mapping[str, object]
) -> dict[str, object]:
    """What a finished run spent at each budget point (steps, counted FLOPs), its wall time, the machine and the warm
    start it ran from, the count it was last resumed at when it was stopped, and its GRPO logs."""
    folder = plan.build.models / run
    resumed = json.loads((folder / FLOPS_FILE).read_text()).get("resumed_at_flops")
    points = {}
    for point in POINTS:
        model = plan.point_model(corpus, run, point)
        if model is not None:
            counted = json.loads((model / FLOPS_FILE).read_text())
            points[str(point)] = {"step": counted["global_step"], "flops": counted["flops"]}
    return {
        "seconds": timings[run.replace("-", "_")],
        "points": points,
        "cpu": hardware["cpu"],
        "warm_start": plan.warm_digest,
        **({"resumed_at_flops": resumed} if resumed else {}),
        **run_log(folder),
    }


def render_readme(plan: Plan, metrics: dict, timings: dict[str, float], readme: Path) -> str:
    """The report's README.md: how it was made, the tables, the kept interpretation."""
    stages = plan.stages()
    pending = [stage.name for stage in stages if stage.name not in timings]
    status = (
        f"Stages not yet run: {', '.join(pending)} (and the evaluations of runs not yet finished). Rerun the command "
        "to continue.\n\n"
        if pending
        else ""
    )
    units = ", ".join(f"{corpus} {BUDGET_UNITS[corpus] * plan.args.budget_scale:.3g}" for corpus in CORPORA)
    sections = []
    for corpus in CORPORA:
        if corpus not in metrics["models"]:
            continue
        runs = [[run, f"{entry['seconds']:.0f}", *(
            f"{entry['points'][str(p)]['step']} / {entry['points'][str(p)]['flops']:.3g}" if str(p) in entry["points"]
            else "" for p in POINTS),
            f"{entry['frac_reward_zero_std']:.3f}" if "frac_reward_zero_std" in entry else "",
            f"{entry['groups_kept']:.1f} of {entry['groups_drawn']:.1f}" if "groups_drawn" in entry else "",
            entry.get("cpu", ""), entry.get("warm_start", "")]
            for run, entry in metrics["runs"].items() if run.startswith(f"{corpus}-")]  # fmt: skip
        header = ["run", "seconds", *(f"{p}x: step / FLOPs" for p in POINTS), "zero-std groups", "groups kept / drawn",
                  "CPU", "warm start"]  # fmt: skip
        models = {name: entry for name, entry in metrics["models"][corpus].items() if name in ("base", "warm")}
        sections.append(f"""## {corpus}

### Runs

{format_table(header, runs)}

### Base and warm start

{arms_table(models)}

### Arms (mean over seeds; 95 % bootstrap CIs over the held-out prompts)

{arms_table(metrics["arms"][corpus])}

### Paired differences (same prompts; * where the CI excludes 0)

{differences_table(metrics["differences"][corpus])}

{line_breaks_section(metrics["line_breaks"].get(corpus, {}))}""")
    seconds = ", ".join(f"{name} {value:.0f} s" for name, value in timings.items())
    machines = "\n".join(f"- {describe_hardware(machine)}" for machine in metrics["machines"])
    shown = "\n".join(plan.build.shown_stage(stage) for stage in stages)
    return f"""# The controls again: GRPO at its algorithmic cost against next-token training, CoLA and pydocs

{SMOKE_NOTE if plan.args.smoke else ""}Made on {datetime.date.today().isoformat()} with

```
python {PROG}{" --smoke" if plan.args.smoke else ""}
```

{status}## What it shows

<!-- interpretation: written by hand; kept when the script re-runs -->
{kept_interpretation(readme)}
<!-- /interpretation -->

Every arm starts from the warm start and stops at the first step whose counted FLOPs (`flops.json`: 6 N per trained
token, 2 N per token read, the output layer only where logits are computed, the reward model and every discarded
generation included) reach twice the corpus's budget unit ({units} FLOPs), with a checkpoint at one unit. Held-out
metrics of the next-segment evaluation (K = 4 samples at temperature 0.9, 4 new tokens; base scores): next-token
accuracy of the samples and of the greedy continuation, pass@4 (any sample's first token right), the NLL of the first
true token and of the whole true completion. An arm's value at a budget point averages its seeds per prompt; the CIs
are over prompts, not seeds.

{PLOT_LINE if _curves(metrics) else ""}{"".join(sections).rstrip()}

## How it was made

Machines, one per session that ran stages, in order:

{machines}

Every stage trains and evaluates in {plan.precision} (chosen from the first session's hardware and kept, so that
stages run on other machines stay comparable); each run's CPU and the digest of the warm start it started from are
in its corpus's runs table (the import, the data builds and the warm start are made again on a new machine; the wall
times below are each stage's latest).

Stages (wall time: {seconds or "none yet"}):

```
{shown}
```

`values/CORPUS/MODEL.json` (and the checks the interpretation cites: `replicates/`, `first_design/values/`): each
held-out prompt's id, its value of every metric above and whether its true and greedy continuations start with a
line break, from which every figure is recomputed (`pipeline_report/controls_v2.py`).
"""


PLOT = "accuracy_vs_flops.png"
PLOT_LINE = (
    f"![held-out next-token accuracy, sampled and greedy, against counted FLOPs]({PLOT})\n\n"
    "Bars: each arm's own 95 % CI over the prompts; whether two arms differ is read from the paired differences.\n\n"
)


def _curves(metrics: dict) -> dict[str, dict[str, list[dict]]]:
    """The plot's points: each corpus's arms that have reached a budget point, from the warm start on."""
    return {
        corpus: {arm: [point for point in points if point["flops"] is not None] for arm, points in arms.items()}
        for corpus, arms in metrics["curves"].items()
        if arms
    }


def write_report(plan: Plan, hardware: dict) -> None:
    """The report of the finished stages in --output_dir."""
    output = plan.args.output_dir
    # the committed report's stages, then this --work_dir's (a prerequisite run again keeps its latest time)
    timings = {**plan.recorded_timings, **read_timings(plan.args.work_dir / "timings.json")}
    metrics = collect(plan, timings, hardware)
    for name, values in metrics.pop("files").items():
        write_json(output / "values" / f"{name}.json", values, indent=None)
    write_json(output / "metrics.json", metrics)
    write_json(output / "timings.json", timings)
    if _curves(metrics):
        plot(_curves(metrics), output / PLOT)
    readme = output / "README.md"
    write_text_atomic(readme, render_readme(plan, metrics, timings, readme))
    print(f"report: {relative(readme)}", flush=True)


def main() -> None:
    args = parse_args()
    check_inputs(args)
    plan = Plan(args)
    hardware_file = args.work_dir / "hardware.json"

    def report_so_far() -> None:
        write_report(plan, json.loads(hardware_file.read_text()))

    run_resumable(
        args,
        lambda: run_pending(plan, args.work_dir / "timings.json", report_so_far),
        lambda hardware: write_report(plan, hardware),
    )


if __name__ == "__main__":
    sys.exit(run_with_errors(PROG, main))
