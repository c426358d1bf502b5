"""Record, and compare, what the training and evaluation commands compute, so that a refactor can show it moved
nothing: GRPO and SFT for 4 steps on the tiny models (fp32, fixed seed, with in-training CoLA and next-segment
evaluation), then `rlpt-trl eval` of the starting and the GRPO-trained model on CoLA and `next_segment`.

    python tests/behaviour_snapshot.py record --work WORK --output before.json [--legacy_flags]
    python tests/behaviour_snapshot.py compare before.json after.json [--tolerance 1e-6]

`WORK` keeps the tiny models and the data build between recordings (a second recording reuses them, so both read the
same weights); `--legacy_flags` spells the in-training evaluation as the commands did before the common evaluation
flags (`--glue_eval_*`, `--next_segment_eval_*`; see docs/changelog.md). Timings and paths are left out of the
snapshot; every other number must agree within the tolerance and every other value exactly.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
from pathlib import Path


# log entries that measure the machine, not the computation
TIMING_KEYS = {
    "train_runtime", "train_samples_per_second", "train_steps_per_second", "step_time", "total_flos",
    "eval_runtime", "eval_samples_per_second", "eval_steps_per_second",
}  # fmt: skip
# differences that the change meant, each with its reason (docs/changelog.md)
DOCUMENTED_CHANGES = {
    "/next_segment/num_fewshot": "next_segment's metrics.json entry no longer carries GLUE's num_fewshot (always 0)",
    "/eval_next_segment/reward": "in training, next_segment's reward is the run's own rewards' weighted sum",
}


def _run(*argv: str) -> None:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    result = subprocess.run(["rlpt-trl", *argv], capture_output=True, text=True, env=env)
    if result.returncode != 0:
        sys.exit(f"rlpt-trl {argv[0]} failed ({result.returncode}):\n{result.stderr[-4000:]}")


def _assets(work: Path) -> dict[str, Path]:
    """The tiny models, a GLUE root of the shipped CoLA sample and its data build, made once in `work`."""
    import shutil

    from rlpt_trl.testing.assets import cola_sample_path
    from rlpt_trl.testing.tiny_models import build_tiny_causal_lm, build_tiny_sentence_transformer

    paths = {name: work / name for name in ("policy", "encoder", "glue", "data")}
    if not paths["policy"].exists():
        build_tiny_causal_lm(paths["policy"])
        build_tiny_sentence_transformer(paths["encoder"])
        (paths["glue"] / "cola").mkdir(parents=True)
        for name in ("in_domain_train.tsv", "in_domain_dev.tsv", "out_of_domain_dev.tsv"):
            shutil.copy(cola_sample_path(), paths["glue"] / "cola" / name)
        _run(
            "data", "--output_dir", str(paths["data"]), "--dataset_path", str(cola_sample_path()),
            "--tokenizer_name_or_path", str(paths["policy"]),
            "--embedding_model_name_or_path", str(paths["encoder"]),
        )  # fmt: skip
    return paths


def _eval_flags(paths: dict[str, Path], legacy: bool, next_segment: bool) -> list[str]:
    """In-training evaluation every 2 steps on 16 CoLA dev rows (and 8 next-segment prompts)."""
    if legacy:
        flags = ["--glue_eval_steps", "2", "--glue_eval_data_dir", str(paths["glue"]), "--glue_eval_max_samples", "16"]
        return flags + (
            ["--next_segment_eval_steps", "2", "--next_segment_eval_max_samples", "8"] if next_segment else []
        )
    tasks = "cola,next_segment" if next_segment else "cola"
    flags = ["--eval_tasks", tasks, "--eval_every_steps", "2", "--eval_data_dir", str(paths["glue"])]
    return flags + ["--eval_max_samples", "16"] + (["--next_segment_max_samples", "8"] if next_segment else [])


def _history(output_dir: Path) -> list[dict]:
    """The run's log, one entry per step: what was logged at a step in several calls (one per evaluation callback
    before the common evaluation flags) is merged."""
    state = json.loads((output_dir / "checkpoint-4" / "trainer_state.json").read_text())
    steps: dict[int, dict] = {}
    for entry in state["log_history"]:
        steps.setdefault(entry["step"], {}).update({k: v for k, v in entry.items() if k not in TIMING_KEYS})
    return list(steps.values())


def record(work: Path, legacy: bool) -> dict:
    """Run the three commands in `work` and return what they computed."""
    paths = _assets(work)
    runs = work / ("runs-legacy" if legacy else "runs")
    common = ["--max_steps", "4", "--use_cpu", "true", "--bf16", "false", "--report_to", "none", "--seed", "7"]
    common += ["--save_steps", "4", "--logging_steps", "1"]
    grpo = runs / "grpo"
    _run(
        "grpo", "--config", "recipes/quickstart/grpo.yaml", "--model_name_or_path", str(paths["policy"]),
        "--dataset_name", str(paths["data"]), "--embedding_model_name_or_path", str(paths["encoder"]),
        "--per_device_train_batch_size", "8", "--output_dir", str(grpo), *common,
        *_eval_flags(paths, legacy, next_segment=True),
    )  # fmt: skip
    sft = runs / "sft"
    _run(
        "sft", "--config", "recipes/quickstart/sft.yaml", "--model_name_or_path", str(paths["policy"]),
        "--data_dir", str(paths["glue"]), "--output_dir", str(sft), *common,
        *_eval_flags(paths, legacy, next_segment=False),
    )  # fmt: skip
    evaluation = runs / "eval"
    _run(
        "eval", "--model_name_or_path", str(paths["policy"]), "--model_name_or_path", str(grpo),
        "--tasks", "cola,next_segment", "--data_dir", str(paths["glue"]), "--max_samples", "32",
        "--embedding_model_name_or_path", str(paths["encoder"]), "--device", "cpu", "--dtype", "float32",
        "--bootstrap_iters", "200", "--output_dir", str(evaluation),
        # the reward of the evaluation before it read a trained model's rewards (rlpt_rewards.json)
        *([] if legacy else ["--reward_funcs", "embedding_cosine_reward"]),
    )  # fmt: skip
    metrics = json.loads((evaluation / "metrics.json").read_text())
    predictions = {
        f"{path.parent.name}/{path.name}": json.loads(path.read_text())
        for path in sorted((evaluation / "predictions").glob("*/*.json"))
    }
    return {
        "grpo": _history(grpo),
        "sft": _history(sft),
        "eval": {"metrics": list(metrics.values()), "predictions": list(predictions.values())},
    }


def differences(before: object, after: object, tolerance: float, where: str = "") -> list[str]:
    """Where `after` differs from `before`: numbers by more than `tolerance`, anything else at all."""
    if isinstance(before, dict) and isinstance(after, dict):
        keys = [key for key in before if key not in ("model", "model_name_or_path", "embedding_model")]
        found = [f"{where}/{key}: missing" for key in keys if key not in after]
        return found + [
            d
            for key in keys
            if key in after
            for d in differences(before[key], after[key], tolerance, f"{where}/{key}")
        ]
    if isinstance(before, list) and isinstance(after, list):
        if len(before) != len(after):
            return [f"{where}: {len(before)} items, then {len(after)}"]
        return [
            d
            for i, (b, a) in enumerate(zip(before, after, strict=True))
            for d in differences(b, a, tolerance, f"{where}[{i}]")
        ]
    numbers = (int, float)
    if isinstance(before, numbers) and isinstance(after, numbers) and not isinstance(before, bool):
        if math.isnan(before) and math.isnan(after):
            return []
        return [] if abs(before - after) <= tolerance else [f"{where}: {before} -> {after}"]
    return [] if before == after else [f"{where}: {before!r} -> {after!r}"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    record_parser = commands.add_parser("record")
    record_parser.add_argument("--work", type=Path, required=True)
    record_parser.add_argument("--output", type=Path, required=True)
    record_parser.add_argument("--legacy_flags", action="store_true")
    compare_parser = commands.add_parser("compare")
    compare_parser.add_argument("before", type=Path)
    compare_parser.add_argument("after", type=Path)
    compare_parser.add_argument("--tolerance", type=float, default=1e-6)
    args = parser.parse_args()
    if args.command == "record":
        args.output.write_text(json.dumps(record(args.work, args.legacy_flags), indent=1, allow_nan=True))
        return 0
    found = differences(json.loads(args.before.read_text()), json.loads(args.after.read_text()), args.tolerance)
    meant = [d for d in found if any(change in d for change in DOCUMENTED_CHANGES)]
    unexplained = [d for d in found if d not in meant]
    for change, reason in DOCUMENTED_CHANGES.items():
        if any(change in d for d in meant):
            print(f"documented change {change}: {reason}")
    print("\n".join(unexplained[:50]) or f"otherwise identical within {args.tolerance:g}")
    return 1 if unexplained else 0


if __name__ == "__main__":
    sys.exit(main())
