"""Reward throughput and GRPO overhead on CPU with the real SmolLM2-135M and all-MiniLM-L6-v2.

    python benchmarks/rewards.py [--gguf SmolLM2.gguf] [--embedding_model MiniLM_dir]

Prints (1) completions scored per second by each reward on batches shaped like the seed's run (8 prompts x 4
completions of a few tokens), and (2) the median GRPO step time with both rewards over the same run with a
constant reward, and the same ratio within the both-rewards run (its steps over those steps minus the time
spent in the rewards), which a shared machine's changing load does not skew. The GGUF defaults to
$RLPT_TEST_GGUF, MiniLM to $RLPT_EMBEDDING_MODEL (see `rlpt-trl assets`).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path


os.environ.setdefault("HF_HUB_OFFLINE", "1")

from datasets import Dataset  # noqa: E402
from transformers import TrainerCallback  # noqa: E402
from trl import GRPOConfig, GRPOTrainer  # noqa: E402

from rlpt_trl import encode_normalized, import_gguf, load_embedding_model  # noqa: E402
from rlpt_trl.cli import run_with_errors  # noqa: E402
from rlpt_trl.rewards import get_embedding_cosine_reward, get_perplexity_reward  # noqa: E402
from rlpt_trl.testing.assets import (  # noqa: E402
    EMBEDDING_MODEL_ENV,
    GGUF_ENV,
    cola_sample_path,  # noqa: E402
)
from rlpt_trl.utils.errors import RlptError  # noqa: E402


PROMPTS_PER_BATCH = 8
NUM_GENERATIONS = 4


def sample_rows() -> Dataset:
    """The CoLA-format sample as GRPO rows: the first three words prompt the rest of the sentence."""
    rows = [line.split("\t") for line in cola_sample_path().read_text(encoding="utf-8").splitlines()]
    texts = [row[3] for row in rows]
    return Dataset.from_dict(
        {
            "prompt": [" ".join(text.split()[:3]) for text in texts],
            "text": texts,
            "scores": [float(row[1]) for row in rows],
        }
    )


def scoring_batches(rows: Dataset, count: int) -> list[dict]:
    """`count` reward-call batches: 8 prompts x 4 completions (the next one or two words of 4 sentences)."""
    batches = []
    for index in range(count):
        picked = [(index * PROMPTS_PER_BATCH + i) % len(rows) for i in range(PROMPTS_PER_BATCH)]
        prompts, completions, texts, scores = [], [], [], []
        for row in picked:
            for generation in range(NUM_GENERATIONS):
                words = rows[(row + generation) % len(rows)]["text"].split()
                prompts.append(rows[row]["prompt"])
                completions.append(" " + " ".join(words[3 : 4 + generation % 2]))
                texts.append(rows[row]["text"])
                scores.append(rows[row]["scores"])
        batches.append({"prompts": prompts, "completions": completions, "text": texts, "scores": scores})
    return batches


def completions_per_second(reward, batches: list[dict]) -> float:
    reward(**batches[0])  # loads the model
    start = time.perf_counter()
    for batch in batches:
        reward(**batch)
    return sum(len(batch["prompts"]) for batch in batches) / (time.perf_counter() - start)


class StepTimer(TrainerCallback):
    """Wall time of each optimizer step, and the part of it spent inside the reward functions it wraps."""

    def __init__(self):
        self.steps: list[float] = []
        self.rewards: list[float] = []
        self._start = self._in_rewards = 0.0

    def on_step_begin(self, args, state, control, **kwargs):
        self._start, self._in_rewards = time.perf_counter(), 0.0

    def on_step_end(self, args, state, control, **kwargs):
        self.steps.append(time.perf_counter() - self._start)
        self.rewards.append(self._in_rewards)

    def timed(self, reward):
        def call(**kwargs):
            start = time.perf_counter()
            try:
                return reward(**kwargs)
            finally:
                self._in_rewards += time.perf_counter() - start

        call.__name__ = reward.__name__  # TRL logs a reward under its function's name
        return call


def constant_reward(completions: list, **kwargs) -> list[float]:
    return [0.0] * len(completions)


def grpo_steps(model_dir: Path, dataset: Dataset, reward_funcs: list, steps: int, output_dir: str) -> StepTimer:
    """Time a short GRPO run shaped like the seed's (8 prompts x 4 completions of 4 tokens, fp32 on CPU)."""
    timer = StepTimer()
    args = GRPOConfig(
        output_dir=output_dir,
        use_cpu=True,
        bf16=False,  # GRPOConfig defaults to bf16 autocast, which is many times slower on CPUs without bf16 units
        report_to="none",
        per_device_train_batch_size=PROMPTS_PER_BATCH * NUM_GENERATIONS,
        num_generations=NUM_GENERATIONS,
        max_completion_length=4,
        temperature=0.9,
        learning_rate=5e-6,
        max_steps=steps + 1,
        save_strategy="no",
        logging_steps=1,
        seed=0,
    )
    rewards = [timer.timed(reward) for reward in reward_funcs]
    trainer = GRPOTrainer(
        model=str(model_dir), reward_funcs=rewards, args=args, train_dataset=dataset, callbacks=[timer]
    )
    trainer.train()
    # The first step loads the reward models.
    timer.steps, timer.rewards = timer.steps[1:], timer.rewards[1:]
    return timer


def main() -> None:
    parser = argparse.ArgumentParser(prog="benchmarks/rewards.py", description=__doc__.splitlines()[0])
    parser.add_argument("--gguf", default=os.environ.get(GGUF_ENV), help=f"SmolLM2-135M .gguf (default ${GGUF_ENV})")
    embedding_default = os.environ.get(EMBEDDING_MODEL_ENV)
    parser.add_argument("--embedding_model", default=embedding_default, help=f"MiniLM (${EMBEDDING_MODEL_ENV})")
    parser.add_argument("--batches", type=int, default=10, help="timed reward calls of 32 completions each")
    parser.add_argument("--steps", type=int, default=4, help="timed GRPO steps per run (after one warm-up step)")
    args = parser.parse_args()
    if not args.gguf or not args.embedding_model:
        raise RlptError(f"pass --gguf and --embedding_model, or set {GGUF_ENV} and {EMBEDDING_MODEL_ENV}")

    with tempfile.TemporaryDirectory() as workdir:
        model_dir = import_gguf(args.gguf, str(Path(workdir) / "smollm2"))
        rows = sample_rows()
        batches = scoring_batches(rows, args.batches + 1)
        perplexity = get_perplexity_reward(str(model_dir), device="cpu", num_generations=NUM_GENERATIONS)
        embedding = get_embedding_cosine_reward(args.embedding_model, device="cpu")
        print(f"perplexity_reward: {completions_per_second(perplexity, batches):.1f} completions/s")
        print(f"embedding_cosine_reward: {completions_per_second(embedding, batches):.1f} completions/s")

        encoder = load_embedding_model(args.embedding_model, device="cpu")
        dataset = rows.add_column("target_embedding", encode_normalized(encoder, rows["text"]).tolist())
        both = [
            get_perplexity_reward(str(model_dir), num_generations=NUM_GENERATIONS),
            get_embedding_cosine_reward(args.embedding_model),
        ]
        both_run = grpo_steps(model_dir, dataset, both, args.steps, str(Path(workdir) / "both"))
        constant_run = grpo_steps(model_dir, dataset, [constant_reward], args.steps, str(Path(workdir) / "const"))
        with_rewards, constant = statistics.median(both_run.steps), statistics.median(constant_run.steps)
        print(f"GRPO step, median of {args.steps}: both rewards {with_rewards:.2f} s, constant {constant:.2f} s")
        print(f"ratio between the two runs: {with_rewards / constant:.3f}")
        # Same steps, reward time taken out: immune to load changes between the two runs.
        in_run = sum(both_run.steps) / (sum(both_run.steps) - sum(both_run.rewards))
        print(f"reward share of the both-rewards steps: {sum(both_run.rewards) / sum(both_run.steps):.1%}")
        print(f"ratio within the both-rewards run (step / step without reward time): {in_run:.3f}")


if __name__ == "__main__":
    sys.exit(run_with_errors("benchmarks/rewards.py", main))
