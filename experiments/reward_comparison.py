"""Which reward moves which held-out metric: the same GRPO budget with different rewards, each model evaluated on the
held-out next-segment task against the starting model.

    python experiments/reward_comparison.py --model_name_or_path SMOLLM2_DIR --dataset_name DATA_DIR \
        [--embedding_model MINILM_DIR] [--data_dir GLUE_ROOT] [--output_dir outputs/reward-comparison]
        [--max_steps N --max_samples N]   # a quick plumbing check, not the comparison

Each variant trains with `recipes/smollm2-135m/grpo_cpu.yaml` (125 steps of 8 prompts x 4 completions) and only its
rewards changed:

- `seed`: `perplexity_reward` + `embedding_cosine_reward` (the config as it is);
- `completion`: `perplexity_reward` + `embedding_cosine_reward(compare="completion")`;
- `prefix_match`: `prefix_match_reward` alone.

The prompt-baseline variant is left out: its per-prompt constant cancels in GRPO's group baseline, so it trains the
seed's model (measured with `--max_steps 2`: the same held-out metrics to 4 decimals; README, "Rewards").

Then one `rlpt-trl eval --tasks next_segment` run scores the starting model and every variant on the CoLA dev cuts,
with 95 % bootstrap intervals and each variant's paired difference from the start (`OUTPUT_DIR/eval/metrics.json`),
and the table of gains is printed. A variant whose model folder exists already is not trained again.
`--embedding_model` defaults to $RLPT_EMBEDDING_MODEL, `--data_dir` to $RLPT_GLUE_DIR (see `rlpt-trl assets`).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path


os.environ.setdefault("HF_HUB_OFFLINE", "1")

from rlpt_trl.cli import run_with_errors  # noqa: E402
from rlpt_trl.evaluation.report import model_slugs  # noqa: E402
from rlpt_trl.testing.assets import EMBEDDING_MODEL_ENV, GLUE_DIR_ENV  # noqa: E402
from rlpt_trl.utils.errors import RlptError  # noqa: E402
from rlpt_trl.utils.markdown import format_table  # noqa: E402


ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "recipes" / "smollm2-135m" / "grpo_cpu.yaml"
VARIANTS = {
    "seed": [],
    "completion": ["--embedding_compare", "completion"],
    "prefix_match": ["--reward_funcs", "prefix_match_reward", "--reward_weights", "1.0"],
}
METRICS = (
    "reward",
    "cosine_sentence",
    "cosine_gain",
    "cosine_completion",
    "next_word_accuracy",
    "true_completion_nll",
    "distinct_2",
    "empty_rate",
)


def run(command: list[str]) -> float:
    """Run a stage in a fresh process; its wall seconds."""
    print(f"$ {shlex.join(command)}", flush=True)
    start = time.perf_counter()
    if subprocess.run(command, cwd=ROOT).returncode != 0:
        raise RlptError(f"stage failed: {shlex.join(command)}")
    return time.perf_counter() - start


def gains_table(metrics: dict, start: str) -> str:
    """Each variant's paired gain over the starting model, with its 95 % interval, per metric."""
    rows = []
    diff_key = f"diff_vs_{model_slugs([start])[start]}"
    for model, tasks in metrics.items():
        if model == start:
            continue
        diff = tasks["next_segment"][diff_key]
        cells = [f"{diff[name]:+.4f} [{diff[name + '_ci'][0]:+.4f}, {diff[name + '_ci'][1]:+.4f}]" for name in METRICS]
        rows.append([Path(model).name, *cells])
    return format_table(["variant", *METRICS], rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model_name_or_path", required=True, help="the starting model (HF folder)")
    parser.add_argument("--dataset_name", required=True, help="a folder written by rlpt-trl data")
    parser.add_argument("--embedding_model", default=os.environ.get(EMBEDDING_MODEL_ENV))
    parser.add_argument("--data_dir", default=os.environ.get(GLUE_DIR_ENV))
    parser.add_argument("--output_dir", default="outputs/reward-comparison")
    parser.add_argument("--max_steps", type=int, help="GRPO steps instead of the config's (plumbing check)")
    parser.add_argument("--max_samples", type=int, help="first N next-segment prompts only (plumbing check)")
    args = parser.parse_args()
    if not args.embedding_model or not args.data_dir:
        raise RlptError(
            f"--embedding_model and --data_dir are required (or set {EMBEDDING_MODEL_ENV}, {GLUE_DIR_ENV})"
        )
    output = Path(args.output_dir).resolve()
    seconds = {}
    for variant, flags in VARIANTS.items():
        folder = output / variant
        if (folder / "model.safetensors").is_file():
            print(f"{variant}: trained already in {folder}")
            continue
        seconds[variant] = run(
            [
                sys.executable, "-m", "rlpt_trl.cli", "grpo", "--config", str(CONFIG),
                "--model_name_or_path", args.model_name_or_path, "--dataset_name", args.dataset_name,
                "--embedding_model_name_or_path", args.embedding_model, "--output_dir", str(folder), *flags,
                *(["--max_steps", str(args.max_steps)] if args.max_steps else []),
            ]
        )  # fmt: skip
    models = [args.model_name_or_path, *(str(output / variant) for variant in VARIANTS)]
    seconds["eval"] = run(
        [
            sys.executable, "-m", "rlpt_trl.cli", "eval", "--tasks", "next_segment", "--data_dir", args.data_dir,
            "--embedding_model_name_or_path", args.embedding_model, "--output_dir", str(output / "eval"),
            *(flag for model in models for flag in ("--model_name_or_path", model)),
            *(["--max_samples", str(args.max_samples)] if args.max_samples else []),
        ]
    )  # fmt: skip
    metrics = json.loads((output / "eval" / "metrics.json").read_text())
    print(", ".join(f"{stage} {value / 60:.1f} min" for stage, value in seconds.items()))
    print(gains_table(metrics, next(iter(metrics))))


if __name__ == "__main__":
    sys.exit(run_with_errors("reward_comparison.py", main))
