"""The recipes on a GPU in one command: environment, GRPO (and with vLLM), SFT, CoLA and next-segment evaluation, an
FSDP launch; one JSON and one Markdown report.

    python tools/gpu_acceptance.py --output_dir results/gpu_acceptance          # CUDA, about 8 minutes
    python tools/gpu_acceptance.py --output_dir /tmp/acceptance --device cpu    # tiny sizes: the plumbing

Stages, each recorded with its status, seconds and (when it fails) its error, the later ones running anyway:
`environment` (GPU, driver, versions, whether the weights are random-init); `data` (the CoLA data build);
`grpo`, the seed's recipe `recipes/smollm2-135m/grpo_cpu.yaml` at its batch (8 prompts x 4 completions, 4 new
tokens; bf16 on CUDA) with both rewards on the device: seconds per step, peak GPU memory, the reward curves;
`grpo_vllm`, the same with `--use_vllm true --vllm_mode colocate` ("not available" when vLLM does not import);
`sft`, a short run of `sft_cpu.yaml`; `cola`, the CoLA dev evaluation (bf16 on CUDA) with its agreement with the
committed CPU predictions of the same model (`results/pipeline/predictions/base/cola.json`: the share of equal
predictions, the largest |log-likelihood| difference); `next_segment` on 128 cuts; `fsdp`, one GRPO step launched
with `accelerate_configs/fsdp.yaml --num_processes 1`.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path


os.environ.setdefault("HF_HUB_OFFLINE", "1")

from transformers import AutoConfig  # noqa: E402

from rlpt_trl.cli import run_with_errors  # noqa: E402
from rlpt_trl.models.random_init import RANDOM_INIT_LABEL, is_random_init  # noqa: E402
from rlpt_trl.testing.assets import (  # noqa: E402
    EMBEDDING_MODEL_ENV,
    GLUE_DIR_ENV,
    check_paths,
    find_minilm,
    portable,
)
from rlpt_trl.testing.tensorboard import read_scalars  # noqa: E402
from rlpt_trl.utils.errors import RlptError  # noqa: E402
from rlpt_trl.utils.files import write_json, write_text_atomic  # noqa: E402
from rlpt_trl.utils.markdown import format_table  # noqa: E402


PROG = "tools/gpu_acceptance.py"
ROOT = Path(__file__).resolve().parents[1]
MODEL_ENV = "RLPT_MODEL_DIR"  # the SmolLM2 folder the offline kit's setup.sh builds
CPU_PREDICTIONS = ROOT / "results" / "pipeline" / "predictions" / "base" / "cola.json"
REPORTED_METRICS = {
    "cola": ("n", "matthews_correlation"),
    "next_segment": ("n", "next_token_accuracy", "greedy_next_token_accuracy", "next_word_accuracy",
                     "true_completion_nll", "cosine_sentence", "empty_rate"),
}  # fmt: skip
VERSIONS = ("torch", "transformers", "trl", "accelerate", "datasets", "peft", "sentence-transformers", "vllm")
# device -> sizes: GRPO steps, SFT steps, data-build rows, CoLA dev rows, next-segment cuts
SIZES = {
    "cuda": {"grpo_steps": 40, "sft_steps": 40, "train_rows": None, "cola_rows": None, "next_segment_cuts": 128},
    "cpu": {"grpo_steps": 2, "sft_steps": 2, "train_rows": 64, "cola_rows": 16, "next_segment_cuts": 8},
}
# run a recipe in this process's child and record its peak GPU memory beside its exit status
MEASURED = """import json, runpy, sys, torch
out, sys.argv = sys.argv[1], sys.argv[2:]
code = 0
try:
    runpy.run_path(sys.argv[0], run_name="__main__")
except SystemExit as exit:
    code = exit.code if isinstance(exit.code, int) else (0 if exit.code is None else 1)
peak = torch.cuda.max_memory_allocated() if torch.cuda.is_available() else None
json.dump({"exit": code, "peak_memory_bytes": peak}, open(out, "w"))
sys.exit(code)
"""


@dataclass
class StageResult:
    """One stage as the report states it."""

    name: str
    status: str  # ok | failed | not available
    seconds: float = 0.0
    command: str = ""
    error: str | None = None
    result: dict = field(default_factory=dict)


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("--output_dir", required=True, help="report folder: acceptance.json, README.md, logs/")
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    parser.add_argument("--model_dir", default=os.environ.get(MODEL_ENV), help=f"SmolLM2 folder (${MODEL_ENV})")
    parser.add_argument("--embedding_model", default=os.environ.get(EMBEDDING_MODEL_ENV) or find_minilm())
    parser.add_argument("--data_dir", default=os.environ.get(GLUE_DIR_ENV), help=f"GLUE root (${GLUE_DIR_ENV})")
    for name, value in SIZES["cuda"].items():
        parser.add_argument(f"--{name}", type=int, help=f"default {value} on cuda, {SIZES['cpu'][name]} on cpu")
    return parser


def parse_args() -> argparse.Namespace:
    args = make_parser().parse_args()
    for name, value in SIZES[args.device].items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    return args


def check_inputs(args: argparse.Namespace) -> None:
    check_paths([("--model_dir", args.model_dir, f"or set {MODEL_ENV}: the offline kit's setup.sh prints it"),
                 ("--embedding_model", args.embedding_model, f"or set {EMBEDDING_MODEL_ENV}"),
                 ("--data_dir", args.data_dir, f"or set {GLUE_DIR_ENV}")])  # fmt: skip
    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise RlptError("--device cuda: torch sees no CUDA device (use --device cpu for the plumbing check)")
    for name in SIZES["cuda"]:
        value = getattr(args, name)
        if value is not None and value < 1:
            raise RlptError(f"--{name} must be at least 1, got {value}")


def _error_line(log: Path) -> str:
    """The line of a failed command's log that says why: its `error:` line, else its last line."""
    lines = [line.strip() for line in log.read_text(errors="replace").splitlines() if line.strip()]
    errors = [line for line in lines if "error" in line.lower()]
    return (errors or lines or ["no output"])[-1][:500]


def report_names(args: argparse.Namespace, work: Path) -> dict[str, str]:
    """Machine paths -> how the report names them: the interpreter, the asset variables, the work folder."""
    return {
        sys.executable: "python", str(Path(args.model_dir)): f"${MODEL_ENV}",
        str(Path(args.embedding_model)): f"${EMBEDDING_MODEL_ENV}", str(Path(args.data_dir)): f"${GLUE_DIR_ENV}",
        str(work): "WORK",
    }  # fmt: skip


def run_command(name: str, command: list[str], logs: Path, names: dict[str, str]) -> StageResult:
    """Run one stage's command with its output in logs/NAME.log (shown with `names` for machine paths); a failure
    is recorded, not raised."""
    log = logs / f"{name}.log"
    start = time.perf_counter()
    with log.open("w") as out:
        status = subprocess.run(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT).returncode
    seconds = round(time.perf_counter() - start, 1)
    shown = " ".join(portable(command, names))
    if status != 0:
        return StageResult(name, "failed", seconds, shown, f"exit {status}: {_error_line(log)}")
    return StageResult(name, "ok", seconds, shown)


def weights_label(model: str) -> str:
    """`real`, or the random-init label of a model the offline kit gave random weights."""
    return RANDOM_INIT_LABEL if is_random_init(AutoConfig.from_pretrained(model)) else "real"


def environment(args: argparse.Namespace) -> StageResult:
    import torch

    versions = {}
    for name in VERSIONS:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    result = {"python": platform.python_version(), "versions": versions, "device": args.device}
    if torch.cuda.is_available():
        result |= {"gpu": torch.cuda.get_device_name(0), "cuda": torch.version.cuda,
                   "gpu_memory_gib": round(torch.cuda.get_device_properties(0).total_memory / 2**30, 1)}  # fmt: skip
        if shutil.which("nvidia-smi"):
            query = ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"]
            result["driver"] = subprocess.run(query, capture_output=True, text=True).stdout.strip()
    result["weights"] = weights_label(args.model_dir)
    result["embedding_weights"] = weights_label(args.embedding_model)
    return StageResult("environment", "ok", result=result)


class Acceptance:
    """The stages' commands and what each reads back from its outputs."""

    def __init__(self, args: argparse.Namespace, work: Path, logs: Path):
        self.args, self.work, self.logs = args, work, logs
        self.names = report_names(args, work)
        self.data = work / "data"
        self.cuda = args.device == "cuda"
        self.real_weights = weights_label(args.model_dir) == "real"

    def data_build(self) -> StageResult:
        args = self.args
        command = [
            sys.executable, "-m", "rlpt_trl.cli", "data", "--output_dir", str(self.data), "--data_dir", args.data_dir,
            "--tokenizer_name_or_path", args.model_dir, "--embedding_model_name_or_path", args.embedding_model,
            *(["--max_samples", str(args.train_rows)] if args.train_rows else []),
        ]  # fmt: skip
        return run_command("data", command, self.logs, self.names)

    def grpo(self, name: str, extra: list[str]) -> StageResult:
        """The seed's recipe for --grpo_steps steps: seconds per step, peak memory, reward curves."""
        args, output = self.args, self.work / name
        measured = self.work / f"{name}.memory.json"
        command = [
            sys.executable, "-c", MEASURED, str(measured), "recipes/grpo.py",
            "--config", "recipes/smollm2-135m/grpo_cpu.yaml", "--model_name_or_path", args.model_dir,
            "--dataset_name", str(self.data), "--embedding_model_name_or_path", args.embedding_model,
            "--output_dir", str(output), "--max_steps", str(args.grpo_steps), "--logging_steps", "1",
            "--save_strategy", "no", *(["--bf16", "true"] if self.cuda else ["--use_cpu", "true"]), *extra,
        ]  # fmt: skip
        stage = run_command(name, command, self.logs, self.names)
        # shown as the recipe's own command, without the measuring wrapper
        stage.command = " ".join(portable(["python", *command[4:]], self.names))
        if stage.status == "ok":
            stage.result = self._training_summary(output, measured)
        return stage

    def grpo_vllm(self) -> StageResult:
        if importlib.util.find_spec("vllm") is None:
            return StageResult("grpo_vllm", "not available", error="vllm does not import here")
        return self.grpo("grpo_vllm", ["--use_vllm", "true", "--vllm_mode", "colocate"])

    def sft(self) -> StageResult:
        args = self.args
        command = [
            sys.executable, "recipes/sft.py", "--config", "recipes/smollm2-135m/sft_cpu.yaml",
            "--model_name_or_path", args.model_dir, "--data_dir", args.data_dir, "--output_dir", str(self.work / "sft"),
            "--max_steps", str(args.sft_steps), "--warmup_steps", "0", "--save_strategy", "no", "--logging_steps", "1",
            *(["--max_train_samples", str(args.train_rows)] if args.train_rows else []),
            *(["--bf16", "true"] if self.cuda else ["--use_cpu", "true"]),
        ]  # fmt: skip
        stage = run_command("sft", command, self.logs, self.names)
        if stage.status == "ok":
            losses = read_scalars(self.work / "sft").get("train/loss", [])
            stage.result = {"steps": len(losses), "loss_first_last": [losses[0][1], losses[-1][1]] if losses else None}
        return stage

    def evaluation(self, task: str) -> StageResult:
        args, output = self.args, self.work / f"eval_{task}"
        rows = args.cola_rows if task == "cola" else args.next_segment_cuts
        command = [
            sys.executable, "recipes/eval.py", "--model_name_or_path", args.model_dir, "--tasks", task,
            "--data_dir", args.data_dir, "--device", args.device, "--dtype", "bfloat16" if self.cuda else "auto",
            "--embedding_model_name_or_path", args.embedding_model, "--output_dir", str(output),
            *(["--max_samples", str(rows)] if rows else []),
        ]  # fmt: skip
        stage = run_command(task, command, self.logs, self.names)
        if stage.status == "ok":
            metrics = json.loads((output / "metrics.json").read_text())
            entry = next(iter(metrics.values()))[task]
            stage.result = {name: entry[name] for name in REPORTED_METRICS[task]}
            if task == "cola":
                stage.result["agreement_with_cpu"] = (
                    cpu_agreement(output / entry["predictions"], CPU_PREDICTIONS)
                    if self.real_weights
                    else f"not comparable: {RANDOM_INIT_LABEL}"
                )
        return stage

    def fsdp(self) -> StageResult:
        args = self.args
        command = [
            sys.executable, "-m", "accelerate.commands.launch", "--config_file", "accelerate_configs/fsdp.yaml",
            "--num_processes", "1", *([] if self.cuda else ["--cpu"]), "recipes/grpo.py",
            "--config", "recipes/smollm2-135m/grpo_cpu.yaml", "--model_name_or_path", args.model_dir,
            "--dataset_name", str(self.data), "--embedding_model_name_or_path", args.embedding_model,
            "--output_dir", str(self.work / "fsdp"), "--max_steps", "1", "--save_strategy", "no",
        ]  # fmt: skip
        return run_command("fsdp", command, self.logs, self.names)

    def _training_summary(self, output: Path, measured: Path) -> dict:
        scalars = read_scalars(output)
        step_times = [value for _, value in scalars.get("train/step_time", [])]
        peak = json.loads(measured.read_text())["peak_memory_bytes"] if measured.is_file() else None
        curves = {tag.removeprefix("train/"): [value for _, value in series] for tag, series in scalars.items()
                  if tag.startswith("train/rewards/") and tag.endswith("/mean")}  # fmt: skip
        # the first step compiles kernels and warms caches: the median of the rest is the step time
        steady = sorted(step_times[1:] or step_times)
        return {
            "steps": len(step_times),
            "seconds_per_step": steady[len(steady) // 2] if steady else None,
            "first_step_seconds": step_times[0] if step_times else None,
            "peak_gpu_memory_gib": None if peak is None else round(peak / 2**30, 2),
            "reward_curves": curves,
        }


def cpu_agreement(predictions: Path, reference: Path) -> dict | str:
    """The share of CoLA predictions equal to the reference run's on the same rows, and the largest |log-likelihood|
    difference of any label word; a string when there is nothing to compare."""
    if not reference.is_file():
        return f"no reference predictions at {os.path.relpath(reference, ROOT)}"
    ours = json.loads(predictions.read_text())
    theirs = {record["idx"]: record for record in json.loads(reference.read_text())}
    paired = [(record, theirs[record["idx"]]) for record in ours if record["idx"] in theirs]
    if not paired or any(a["prompt"] != b["prompt"] or set(a["choices"]) != set(b["choices"]) for a, b in paired):
        return "not comparable: other prompts or label words"
    return {
        "rows": len(paired),
        "equal_predictions": sum(a["prediction"] == b["prediction"] for a, b in paired) / len(paired),
        "max_abs_loglik_difference": max(
            abs(a["choices"][w] - b["choices"][w]) for a, b in paired for w in a["choices"]
        ),
    }


def _shown(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key} {_shown(item)}" for key, item in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_shown(item) for item in value) + "]"
    return str(value)


def render_markdown(stages: list[StageResult], args: argparse.Namespace, seconds: float) -> str:
    """The Markdown report: the environment, one row a stage, the numbers that matter."""
    env = stages[0].result
    lines = [f"# GPU acceptance ({args.device})", ""]
    if env.get("weights") != "real":
        lines += [f"**Weights: {RANDOM_INIT_LABEL}.** Speeds and memory hold; metrics and agreement do not.", ""]
    if env.get("embedding_weights") != "real":
        lines += [f"**Embedding model weights: {RANDOM_INIT_LABEL}.** The embedding reward's values and the "
                  "next-segment cosines do not hold; speeds and memory do.", ""]  # fmt: skip
    hidden = ("versions", "weights", "embedding_weights")
    described = ", ".join(f"{key} {value}" for key, value in env.items() if key not in hidden)
    versions = ", ".join(f"{name} {version}" for name, version in env.get("versions", {}).items())
    weights = f"Weights: policy {env.get('weights')}, embedding model {env.get('embedding_weights')}"
    lines += [f"{described}; {versions}. {weights}. Total {seconds / 60:.1f} min.", ""]
    rows = []
    for stage in stages[1:]:
        shown = {key: value for key, value in stage.result.items() if key != "reward_curves"}
        numbers = ", ".join(f"{key} {_shown(value)}" for key, value in shown.items())
        rows.append([stage.name, stage.status, f"{stage.seconds:.1f}", stage.error or numbers])
    lines += [format_table(["stage", "status", "seconds", "result or error"], rows), ""]
    lines += ["Commands and reward curves: `acceptance.json`; each stage's output: `logs/`.", ""]
    return "\n".join(lines)


def main() -> None:
    args = parse_args()
    check_inputs(args)
    output = Path(args.output_dir)
    work, logs = output / "work", output / "logs"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    logs.mkdir(exist_ok=True)
    start = time.perf_counter()
    plan = Acceptance(args, work, logs)
    stages = [environment(args), plan.data_build()]
    for run in (lambda: plan.grpo("grpo", []), plan.grpo_vllm, plan.sft, lambda: plan.evaluation("cola"),
                lambda: plan.evaluation("next_segment"), plan.fsdp):  # fmt: skip
        stages.append(run())
        print(f"{stages[-1].name}: {stages[-1].status} ({stages[-1].seconds:.0f} s)", flush=True)
    seconds = time.perf_counter() - start
    write_json(output / "acceptance.json", {"seconds": round(seconds, 1), "stages": [asdict(s) for s in stages]})
    write_text_atomic(output / "README.md", render_markdown(stages, args, seconds))
    shutil.rmtree(work)
    print(f"wrote {output / 'README.md'} in {seconds / 60:.1f} min")


if __name__ == "__main__":
    sys.exit(run_with_errors(PROG, main))
