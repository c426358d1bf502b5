"""GLUE evaluation speed on CPU with the real SmolLM2-135M on the CoLA dev set (1043 sentences).

    python benchmarks/evaluate_glue.py --model_name_or_path MODEL_DIR --data_dir GLUE_ROOT [--anchor_seconds S]
        [--compare_dtypes]

Prints (1) the wall time of the whole `recipes/eval.py --tasks cola` command (a fresh process:
imports, model load, scoring, metrics, report), against the wall time of lm-evaluation-harness 0.4.13 on its
glue/cola task with the same data (fp32, batch 32, bootstrap off; `--anchor_seconds`, measured separately);
(2) examples/s of loglik scoring, of generate scoring and of the floor for loglik: one plain batched forward
over the same prompts that keeps only the last position's logits, timed in turns on chunks of --chunk prompts
so that the changing load of a shared machine hits all three alike; (3) with --compare_dtypes, how many CoLA
predictions bf16 changes against fp32.
`--model_name_or_path` defaults to an HF directory imported once from $RLPT_TEST_GGUF (`rlpt-trl import-gguf`),
`--data_dir` to $RLPT_GLUE_DIR (see `rlpt-trl assets`).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from rlpt_trl.cli import run_with_errors  # noqa: E402
from rlpt_trl.evaluation.glue import (  # noqa: E402
    build_task_prompts,
    compute_glue_metrics,
    get_task,
    predict_from_scores,
    score_continuations,
)
from rlpt_trl.evaluation.glue.generate import generate_greedy  # noqa: E402
from rlpt_trl.models.devices import evaluation_dtype  # noqa: E402
from rlpt_trl.models.loading import import_gguf, load_model_and_tokenizer  # noqa: E402
from rlpt_trl.testing.assets import GGUF_ENV, GLUE_DIR_ENV  # noqa: E402
from rlpt_trl.utils.errors import RlptError  # noqa: E402


ROOT = Path(__file__).resolve().parents[1]
# lm-evaluation-harness 0.4.13's glue/cola on the hardware the evaluation issue was written for
LM_EVAL_ANCHOR_S = 39.0


def whole_command(model: str, data_dir: str, batch_size: int, dtype: str, max_samples: int | None) -> float:
    """Wall time of `recipes/eval.py` on CoLA in a fresh process."""
    with tempfile.TemporaryDirectory() as output:
        command = [
            sys.executable,
            str(ROOT / "recipes" / "eval.py"),
            "--model_name_or_path",
            model,
            "--tasks",
            "cola",
            "--data_dir",
            data_dir,
            "--batch_size",
            str(batch_size),
            "--dtype",
            dtype,
            "--output_dir",
            output,
            *(["--max_samples", str(max_samples)] if max_samples else []),
        ]
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return time.perf_counter() - start


@torch.inference_mode()
def floor_forward(model, tokenizer, prompts: list[str], batch_size: int) -> None:
    """The floor: a plain batched forward over the prompts (length-sorted, right-padded), last position only."""
    encoded = tokenizer(prompts)["input_ids"]
    order = sorted(range(len(prompts)), key=lambda i: len(encoded[i]))
    for start in range(0, len(order), batch_size):
        rows = [encoded[i] for i in order[start : start + batch_size]]
        batch = tokenizer.pad({"input_ids": rows}, return_tensors="pt")
        model(**batch, logits_to_keep=1, use_cache=False)


def timed(function, *args, **kwargs) -> tuple[float, object]:
    start = time.perf_counter()
    value = function(*args, **kwargs)
    return time.perf_counter() - start, value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model_name_or_path", help="HF directory of SmolLM2-135M(-Instruct)")
    parser.add_argument("--data_dir", default=os.environ.get(GLUE_DIR_ENV))
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--dtype", default="auto", choices=["auto", "float32", "bfloat16"])
    parser.add_argument("--max_new_tokens", type=int, default=5)
    parser.add_argument("--max_samples", type=int, help="first N CoLA dev rows only (a quick check)")
    parser.add_argument("--chunk", type=int, default=32, help="prompts per round of the interleaved timing")
    parser.add_argument("--compare_dtypes", action="store_true", help="count CoLA predictions bf16 changes vs fp32")
    parser.add_argument(
        "--anchor_seconds",
        type=float,
        default=LM_EVAL_ANCHOR_S,
        help="wall time of lm-eval 0.4.13 glue/cola on this machine (fp32, batch 32, bootstrap off)",
    )
    args = parser.parse_args()
    if not args.data_dir:
        raise RlptError(f"--data_dir is required (or set {GLUE_DIR_ENV})")
    with tempfile.TemporaryDirectory() as scratch:
        model_path = args.model_name_or_path
        if model_path is None:
            if not os.environ.get(GGUF_ENV):
                raise RlptError(f"--model_name_or_path is required (or set {GGUF_ENV})")
            model_path = str(import_gguf(os.environ[GGUF_ENV], Path(scratch) / "smollm2"))
        run(args, model_path)


def run(args: argparse.Namespace, model_path: str) -> None:
    dtype = evaluation_dtype(args.dtype, torch.device("cpu"))
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU capability "
        f"{torch.backends.cpu.get_cpu_capability()}, AMX {torch.cpu._is_amx_tile_supported()}; dtype {dtype}"
    )
    seconds = whole_command(model_path, args.data_dir, args.batch_size, args.dtype, args.max_samples)
    rows = f", first {args.max_samples} rows" if args.max_samples else ""
    print(
        f"whole command (CoLA dev{rows}, --dtype {args.dtype}): {seconds:.1f} s = {seconds / args.anchor_seconds:.2f}x "
        f"the lm-eval 0.4.13 anchor ({args.anchor_seconds:.0f} s)"
    )

    task = build_task_prompts(get_task("cola"), data_dir=args.data_dir, max_samples=args.max_samples)
    n = len(task.prompts)
    model, tokenizer = load_model_and_tokenizer(model_path, dtype=dtype, device="cpu", padding_side="right")
    phases = {
        "floor": lambda prompts: floor_forward(model, tokenizer, prompts, args.batch_size),
        "loglik": lambda prompts: score_continuations(
            model, tokenizer, prompts, task.spec.choices, batch_size=args.batch_size
        ),
        "generate": lambda prompts: generate_greedy(
            model, tokenizer, prompts, max_new_tokens=args.max_new_tokens, batch_size=args.batch_size
        ),
    }
    # the machine is shared: the phases take turns on each chunk of prompts (in rotating order), so that a
    # change in load hits all of them alike
    seconds = dict.fromkeys(phases, 0.0)
    scores = []
    order = list(phases)
    for number, start in enumerate(range(0, n, args.chunk)):
        prompts = task.prompts[start : start + args.chunk]
        turn = number % len(order)
        names = order[turn:] + order[:turn]
        for name in names:
            elapsed, value = timed(phases[name], prompts)
            seconds[name] += elapsed
            if name == "loglik":
                scores.append(value)
    floor, loglik, generate = seconds["floor"], seconds["loglik"], seconds["generate"]
    print(f"floor (plain forward, last position): {n / floor:.1f} examples/s ({floor:.1f} s)")
    print(f"loglik: {n / loglik:.1f} examples/s ({loglik:.1f} s) = {loglik / floor:.2f}x the floor")
    print(
        f"generate ({args.max_new_tokens} new tokens): {n / generate:.1f} examples/s ({generate:.1f} s); "
        f"loglik is {generate / loglik:.1f}x faster"
    )
    if args.compare_dtypes:
        compare_dtypes(model_path, task, args.batch_size, np.concatenate(scores) if dtype == torch.float32 else None)


def compare_dtypes(model_path: str, task, batch_size: int, fp32_scores: np.ndarray | None) -> None:
    """CoLA predictions and MCC in fp32 and bf16, and how many predictions differ."""
    predictions = {}
    for dtype in (torch.float32, torch.bfloat16):
        scores = fp32_scores if dtype == torch.float32 else None
        if scores is None:
            model, tokenizer = load_model_and_tokenizer(model_path, dtype=dtype, device="cpu")
            seconds, scores = timed(
                score_continuations, model, tokenizer, task.prompts, task.spec.choices, batch_size=batch_size
            )
            print(f"loglik in {dtype}: {len(task.prompts) / seconds:.1f} examples/s")
        predictions[dtype] = predict_from_scores(task.spec, scores)
        mcc = compute_glue_metrics("cola", predictions[dtype].tolist(), task.labels)["matthews_correlation"]
        print(f"{dtype}: MCC {mcc:.4f}")
    changed = int((predictions[torch.float32] != predictions[torch.bfloat16]).sum())
    print(f"bf16 changes {changed} of {len(task.prompts)} CoLA predictions ({100 * changed / len(task.prompts):.1f}%)")


if __name__ == "__main__":
    sys.exit(run_with_errors("eval.py", main))
