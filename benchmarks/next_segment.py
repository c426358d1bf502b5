"""Next-segment evaluation speed on CPU with the real SmolLM2-135M and all-MiniLM-L6-v2 on the CoLA dev set.

    python benchmarks/next_segment.py [--model_name_or_path MODEL] [--embedding_model MINILM_DIR]
        [--data_dir GLUE_ROOT] [--num_samples 4] [--max_new_tokens 4] [--batch_size 16] [--max_samples N] [--runs 2]

Runs `evaluate_next_segment` on the CoLA dev prompts (those of the 1043 sentences that have a cut) with K samples each and
prints its wall time, the seconds spent inside `model.generate` and those spent outside it, split by part: sentence
embeddings, the training reward, the scorer LM's NLL of the samples, the evaluated model's NLL of the true completions,
and the rest (tokenizing, decoding, word measures); each also in CPU seconds of this process, which another job on a
shared machine disturbs less than wall time. The goal is scoring (everything outside `generate`) at most 30 %
of generation. Run 2 and later evaluate again with the next seed on the same scorers, as a run's next model: the
model-independent embeddings come from the cache, the samples are new.
`--model_name_or_path` (the evaluated model and the scorer LM) defaults to the GGUF file $RLPT_TEST_GGUF,
`--embedding_model` to $RLPT_EMBEDDING_MODEL, `--data_dir` to $RLPT_GLUE_DIR (see `rlpt-trl assets`).
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
from rlpt_trl.evaluation.next_segment import task as next_segment  # noqa: E402
from rlpt_trl.evaluation.next_segment.prompts import build_next_segment_prompts  # noqa: E402
from rlpt_trl.evaluation.next_segment.task import NextSegmentScorers, evaluate_next_segment  # noqa: E402
from rlpt_trl.models.loading import load_model_and_tokenizer  # noqa: E402
from rlpt_trl.utils.assets import EMBEDDING_MODEL_ENV, GGUF_ENV, GLUE_DIR_ENV  # noqa: E402
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
        """Generation against everything outside it, then each part, in wall (CPU) seconds."""
        generate, generate_cpu = self.wall.pop("generate"), self.cpu.pop("generate")
        outside, outside_cpu = total_wall - generate, total_cpu - generate_cpu
        rest = outside - sum(self.wall.values()), outside_cpu - sum(self.cpu.values())
        parts = {**{part: (self.wall[part], self.cpu[part]) for part in self.wall}, "rest": rest}
        return (
            f"generate {generate:.1f} s ({generate_cpu:.1f} s CPU), outside generate {outside:.1f} s "
            f"({outside_cpu:.1f} s CPU) = {100 * outside / generate:.0f} % of generation "
            f"({100 * outside_cpu / generate_cpu:.0f} % by CPU time)\n  "
            + ", ".join(f"{part} {wall:.1f} s ({cpu:.1f} s CPU)" for part, (wall, cpu) in parts.items())
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model_name_or_path", help="SmolLM2-135M(-Instruct): HF directory or .gguf file")
    parser.add_argument("--embedding_model", default=os.environ.get(EMBEDDING_MODEL_ENV))
    parser.add_argument("--data_dir", default=os.environ.get(GLUE_DIR_ENV))
    parser.add_argument("--num_samples", type=int, default=4)
    parser.add_argument("--temperature", type=float, default=0.9)
    parser.add_argument("--max_new_tokens", type=int, default=4)
    parser.add_argument("--batch_size", type=int, default=16, help="prompts per generate call")
    parser.add_argument("--scorer_batch_size", type=int, default=64, help="texts per encoder / scorer LM batch")
    parser.add_argument("--max_samples", type=int, help="first N usable CoLA dev rows only (a quick check)")
    parser.add_argument("--runs", type=int, default=2, help="evaluations on the same scorers, seeds 0, 1, ...")
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
    model, tokenizer = load_model_and_tokenizer(model_path, dtype="float32", device="cpu")
    model.eval()
    prompts = build_next_segment_prompts(tokenizer, data_dir=args.data_dir, max_samples=args.max_samples)
    scorers = NextSegmentScorers.load(
        model_path, args.embedding_model, device="cpu", dtype="float32", batch_size=args.scorer_batch_size
    )
    watch = Stopwatch()
    model.generate = watch.wrap("generate", model.generate)
    scorers.embed = watch.wrap("embeddings", scorers.embed)
    scorers.log_perplexities = watch.wrap("scorer LM NLL of the samples", scorers.log_perplexities)
    next_segment._training_reward = watch.wrap("training reward", next_segment._training_reward)
    next_segment.completion_nll = watch.wrap("model NLL of the true completions", next_segment.completion_nll)
    for seed in range(args.runs):
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
            seed=seed,
            batch_size=args.batch_size,
        )
        total, total_cpu = time.perf_counter() - start, time.process_time() - start_cpu
        print(f"run {seed + 1} (seed {seed}): {result.n} prompts x {result.samples} samples in {total:.1f} s")
        print("  " + watch.report(total, total_cpu))
        print("  " + ", ".join(f"{name} {value:.4f}" for name, value in result.metrics.items() if value is not None))


if __name__ == "__main__":
    sys.exit(run_with_errors("next_segment.py", main))
