"""Next-segment evaluation speed on CPU with the real SmolLM2-135M and all-MiniLM-L6-v2 on the CoLA dev set.

    python benchmarks/next_segment.py [--model_name_or_path MODEL] [--second_model MODEL2]
        [--embedding_model MINILM_DIR] [--data_dir GLUE_ROOT] [--num_samples 4] [--max_new_tokens 4]
        [--batch_size 32] [--max_samples N] [--runs 1]

Runs `evaluate_next_segment` on the CoLA dev prompts (those of the 1043 sentences that have a cut) with K samples
each, for the model (which is also the scorer LM, so its samples' NLL comes from its generation) and then for
`--second_model` (scored by the first), as `rlpt-trl eval --tasks next_segment` evaluates two models, and prints each
model's wall time split by part: the prefill of prompt + true completion with the latter's NLL, generation from it, the samples'
NLL taken from generation, the scorer LM's NLL of the other samples, sentence embeddings, the training reward, true
completions scored whole, and the rest (tokenizing, detokenizing, word measures); each also in CPU seconds of this
process, which another job on a shared machine disturbs less than wall time. Each run loads fresh scorers.
`--model_name_or_path` defaults to the GGUF file $RLPT_TEST_GGUF, `--embedding_model` to $RLPT_EMBEDDING_MODEL,
`--data_dir` to $RLPT_GLUE_DIR (see `rlpt-trl assets`).
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import time
from collections import defaultdict
from collections.abc import Callable


os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

from rlpt_trl.cli import run_with_errors  # noqa: E402
from rlpt_trl.evaluation.next_segment import sampling  # noqa: E402
from rlpt_trl.evaluation.next_segment import task as next_segment  # noqa: E402
from rlpt_trl.evaluation.next_segment.prompts import build_next_segment_prompts  # noqa: E402
from rlpt_trl.evaluation.next_segment.task import NextSegmentScorers, evaluate_next_segment  # noqa: E402
from rlpt_trl.models.loading import load_model_and_tokenizer  # noqa: E402
from rlpt_trl.testing.assets import EMBEDDING_MODEL_ENV, GGUF_ENV, GLUE_DIR_ENV  # noqa: E402
from rlpt_trl.utils.errors import RlptError  # noqa: E402


class Stopwatch:
    """Wall and CPU seconds (this process, all threads) spent inside the functions it wraps, by part."""

    def __init__(self) -> None:
        self.wall: dict[str, float] = defaultdict(float)
        self.cpu: dict[str, float] = defaultdict(float)

    def wrap(self, part: str, function: Callable) -> Callable:
        @functools.wraps(function)
        def timed(*args, **kwargs):
            wall, cpu = time.perf_counter(), time.process_time()
            try:
                return function(*args, **kwargs)
            finally:
                self.wall[part] += time.perf_counter() - wall
                self.cpu[part] += time.process_time() - cpu

        return timed

    def report(self, total_wall: float, total_cpu: float) -> str:
        """Each part, then the rest, in wall (CPU) seconds."""
        rest = total_wall - sum(self.wall.values()), total_cpu - sum(self.cpu.values())
        parts = {**{part: (self.wall[part], self.cpu[part]) for part in self.wall}, "rest": rest}
        return ", ".join(f"{part} {wall:.1f} s ({cpu:.1f} s CPU)" for part, (wall, cpu) in parts.items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model_name_or_path", help="SmolLM2-135M(-Instruct): HF directory or .gguf file")
    parser.add_argument("--second_model", help="a second model, scored by the first (e.g. a trained one)")
    parser.add_argument("--embedding_model", default=os.environ.get(EMBEDDING_MODEL_ENV))
    parser.add_argument("--data_dir", default=os.environ.get(GLUE_DIR_ENV))
    parser.add_argument("--num_samples", type=int, default=4)
    parser.add_argument("--temperature", type=float, default=0.9)
    parser.add_argument("--max_new_tokens", type=int, default=4)
    parser.add_argument(
        "--batch_size", type=int, default=32, help="prompts per generation batch (rlpt-trl eval's default)"
    )
    parser.add_argument("--scorer_batch_size", type=int, default=64, help="texts per encoder / scorer LM batch")
    parser.add_argument("--max_samples", type=int, help="first N usable CoLA dev rows only (a quick check)")
    parser.add_argument("--runs", type=int, default=1, help="repetitions, each on fresh scorers")
    args = parser.parse_args()
    if not args.data_dir:
        raise RlptError(f"--data_dir is required (or set {GLUE_DIR_ENV})")
    if not args.embedding_model:
        raise RlptError(f"--embedding_model is required (or set {EMBEDDING_MODEL_ENV})")
    model_path = args.model_name_or_path or os.environ.get(GGUF_ENV)
    if not model_path:
        raise RlptError(f"--model_name_or_path is required (or set {GGUF_ENV})")
    run(args, model_path)


def run(args: argparse.Namespace, model_path: str) -> None:
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU capability "
        f"{torch.backends.cpu.get_cpu_capability()}; fp32"
    )
    models = {
        path: load_model_and_tokenizer(path, dtype="float32", device="cpu")
        for path in (model_path, args.second_model)
        if path
    }
    prompts = build_next_segment_prompts(models[model_path][1], data_dir=args.data_dir, max_samples=args.max_samples)
    watch = Stopwatch()
    sampling._prefill = watch.wrap("prefill + true-completion NLL", sampling._prefill)
    sampling._decode = watch.wrap("generation from the prefill", sampling._decode)
    for model, _ in models.values():
        model.eval()
    next_segment._own_log_perplexities = watch.wrap("samples' NLL from generation", next_segment._own_log_perplexities)
    next_segment._training_reward = watch.wrap("training reward", next_segment._training_reward)
    next_segment.completion_nll = watch.wrap("true completions scored whole", next_segment.completion_nll)
    for number in range(args.runs):
        scorers = NextSegmentScorers.load(
            model_path, args.embedding_model, device="cpu", dtype="float32", batch_size=args.scorer_batch_size
        )
        scorers.embed = watch.wrap("embeddings", scorers.embed)
        scorers.log_perplexities = watch.wrap("scorer LM NLL of the samples", scorers.log_perplexities)
        for path, (model, tokenizer) in models.items():
            watch.wall.clear()
            watch.cpu.clear()
            start, start_cpu = time.perf_counter(), time.process_time()
            result = evaluate_next_segment(
                model,
                tokenizer,
                prompts,
                scorers=scorers,
                num_samples=args.num_samples,
                temperature=args.temperature,
                max_new_tokens=args.max_new_tokens,
                batch_size=args.batch_size,
                scored_by_model=path == model_path,
            )
            total, total_cpu = time.perf_counter() - start, time.process_time() - start_cpu
            print(f"run {number + 1}, {path}: {result.n} prompts x {result.samples} samples in {total:.1f} s")
            print("  " + watch.report(total, total_cpu))
            print(
                "  " + ", ".join(f"{name} {value:.4f}" for name, value in result.metrics.items() if value is not None)
            )


if __name__ == "__main__":
    sys.exit(run_with_errors("next_segment.py", main))
