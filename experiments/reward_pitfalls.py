"""Which rewards can be won without predicting the next segment: every reward on fixed probes over the CoLA dev cuts.

    python experiments/reward_pitfalls.py [--model_name_or_path MODEL] [--embedding_model MINILM_DIR]
        [--data_dir GLUE_ROOT] [--seed 0] [--max_samples N] [--output_json FILE]

The CoLA dev sentences are cut into prompt and true completion as the next-segment evaluation cuts them (SmolLM2's
tokenizer, `--seed`). Each reward is the mean over the prompts of what it pays each probe completion:

- `empty`: the empty completion;
- `repeat`: the prompt's last word repeated as many times as the true completion has words;
- `other_row`: the true completion of another row (a random derangement drawn with `--seed`);
- `first_token`: the true completion's first token (the model's tokenizer), then nothing: a completion that stops
  after its first correct token;
- `samples`: the model's own sampled completions (4 a prompt, temperature 0.9, 4 new tokens; the next-segment
  evaluation's seeded draws);
- `true`: the true completion.

Rewards: the seed's `embedding_cosine_reward`, its `baseline="prompt"` (with and without the score weighting) and
`compare="completion"` variants,
`prefix_match_reward`, `rpt_prefix_reward`, and the raw log-perplexity (nats/token, lower is better) under the model as frozen scorer,
which `perplexity_reward` z-scores within each group; the empty completion has no token to score and gets its group's
lowest reward. A reward is sound when no probe scores above the true completion and the empty completion does not beat
the model's samples; a probe that ties the true completion is named. `--model_name_or_path` defaults to the GGUF file $RLPT_TEST_GGUF, `--embedding_model` to
$RLPT_EMBEDDING_MODEL, `--data_dir` to $RLPT_GLUE_DIR (see `rlpt-trl assets`).
"""

from __future__ import annotations

import argparse
import os
import sys
import time


os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
from transformers import PreTrainedTokenizerBase  # noqa: E402

from rlpt_trl.cli import run_with_errors  # noqa: E402
from rlpt_trl.evaluation.next_segment.prompts import NextSegmentPrompts, build_next_segment_prompts  # noqa: E402
from rlpt_trl.evaluation.next_segment.sampling import sample_completions  # noqa: E402
from rlpt_trl.models.loading import load_model_and_tokenizer  # noqa: E402
from rlpt_trl.rewards import (  # noqa: E402
    get_embedding_cosine_reward,
    get_perplexity_reward,
    get_prefix_match_reward,
    get_rpt_prefix_reward,
)
from rlpt_trl.testing.assets import EMBEDDING_MODEL_ENV, GGUF_ENV, GLUE_DIR_ENV  # noqa: E402
from rlpt_trl.utils.errors import RlptError  # noqa: E402
from rlpt_trl.utils.files import write_json  # noqa: E402
from rlpt_trl.utils.markdown import format_table  # noqa: E402
from rlpt_trl.utils.words import normalized_words  # noqa: E402


PROBES = ("empty", "repeat", "other_row", "first_token", "samples", "true")
LOG_PERPLEXITY = "log-perplexity (lower is better)"
NUM_SAMPLES, TEMPERATURE, MAX_NEW_TOKENS = 4, 0.9, 4


def probe_completions(
    prompts: NextSegmentPrompts, samples: list[list[str]], tokenizer: PreTrainedTokenizerBase, seed: int
) -> dict[str, list[list[str]]]:
    """Each probe's completions of every prompt (one, or the K samples)."""
    n = len(prompts)
    rng = np.random.default_rng(seed)
    # a derangement: every row gets another row's completion
    other = (np.arange(n) + rng.integers(1, n, size=n)) % n if n > 1 else np.zeros(1, dtype=int)
    repeat = [
        " " + " ".join([prompt.split()[-1]] * len(normalized_words(completion)))
        for prompt, completion in zip(prompts.prompt, prompts.completion, strict=True)
    ]
    first_tokens = [ids[:1] for ids in tokenizer(prompts.completion, add_special_tokens=False)["input_ids"]]
    return {
        "empty": [[""] for _ in range(n)],
        "repeat": [[text] for text in repeat],
        "other_row": [[prompts.completion[row]] for row in other],
        "first_token": [[tokenizer.decode(ids, clean_up_tokenization_spaces=False)] for ids in first_tokens],
        "samples": samples,
        "true": [[completion] for completion in prompts.completion],
    }


def mean_reward(reward, prompts: NextSegmentPrompts, completions: list[list[str]]) -> float:
    """The reward of each completion, averaged over a prompt's completions, then over the prompts (NaN-free)."""
    rows = [row for row, group in enumerate(completions) for _ in group]
    values = np.asarray(
        reward(
            prompts=[prompts.prompt[row] for row in rows],
            completions=[completion for group in completions for completion in group],
            text=[prompts.text[row] for row in rows],
            scores=[prompts.score[row] for row in rows],
        ),
        dtype=np.float64,
    )
    per_prompt = np.bincount(rows, weights=values, minlength=len(prompts)) / np.bincount(rows, minlength=len(prompts))
    return float(per_prompt.mean())


def mean_log_perplexity(scorer, prompts: NextSegmentPrompts, completions: list[list[str]]) -> float | None:
    """The scorer's mean NLL (nats/token) per prompt over its non-empty completions, averaged; None for none."""
    rows = [row for row, group in enumerate(completions) for text in group if text]
    if not rows:
        return None
    texts = [text for group in completions for text in group if text]
    values = scorer.log_perplexities([prompts.prompt[row] for row in rows], texts)
    per_prompt = np.bincount(rows, weights=values, minlength=len(prompts)) / np.bincount(rows, minlength=len(prompts))
    return float(np.nanmean(per_prompt))


def verdict(means: dict[str, float | None], lower_is_better: bool) -> str:
    """Whether no probe scores above the true completion and the empty one does not beat the samples, from the means;
    probes that tie the true completion are named."""
    sign = -1.0 if lower_is_better else 1.0
    scored = {probe: sign * value for probe, value in means.items() if value is not None}
    problems = [f"{probe} beats true" for probe, value in scored.items() if value > scored["true"]]
    if "empty" in scored and scored["empty"] > scored["samples"]:
        problems.append("empty beats samples")
    ties = [probe for probe, value in scored.items() if probe != "true" and value == scored["true"]]
    tied = f" ({', '.join(ties)} ties true)" if ties else ""
    return ("no: " + ", ".join(problems) if problems else "yes") + tied


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model_name_or_path", default=os.environ.get(GGUF_ENV), help="SmolLM2: HF folder or .gguf")
    parser.add_argument("--embedding_model", default=os.environ.get(EMBEDDING_MODEL_ENV))
    parser.add_argument("--data_dir", default=os.environ.get(GLUE_DIR_ENV))
    parser.add_argument("--seed", type=int, default=0, help="seed of the cuts, the samples and the other-row draw")
    parser.add_argument("--max_samples", type=int, help="first N usable CoLA dev rows only (a quick check)")
    parser.add_argument("--output_json", help="also write the table's numbers to this JSON file")
    args = parser.parse_args()
    for flag, value, env in (
        ("--model_name_or_path", args.model_name_or_path, GGUF_ENV),
        ("--embedding_model", args.embedding_model, EMBEDDING_MODEL_ENV),
        ("--data_dir", args.data_dir, GLUE_DIR_ENV),
    ):
        if not value:
            raise RlptError(f"{flag} is required (or set {env})")
    start = time.perf_counter()
    model, tokenizer = load_model_and_tokenizer(args.model_name_or_path, dtype="float32", device="cpu")
    prompts = build_next_segment_prompts(
        tokenizer, data_dir=args.data_dir, seed=args.seed, max_samples=args.max_samples
    )
    samples = sample_completions(
        model.eval(),
        tokenizer,
        prompts.prompt,
        keys=prompts.idx,
        num_samples=NUM_SAMPLES,
        temperature=TEMPERATURE,
        max_new_tokens=MAX_NEW_TOKENS,
        seed=args.seed,
    ).samples
    probes = probe_completions(prompts, samples, tokenizer, args.seed)
    embedding = {"model_name_or_path": args.embedding_model, "device": "cpu"}
    rewards = {
        "embedding_cosine_reward (seed)": get_embedding_cosine_reward(**embedding),
        'embedding_cosine_reward(baseline="prompt")': get_embedding_cosine_reward(**embedding, baseline="prompt"),
        'embedding_cosine_reward(baseline="prompt", scale_by_score=False)': get_embedding_cosine_reward(
            **embedding, baseline="prompt", scale_by_score=False
        ),
        'embedding_cosine_reward(compare="completion")': get_embedding_cosine_reward(
            **embedding, compare="completion"
        ),
        "prefix_match_reward": get_prefix_match_reward(),
        "rpt_prefix_reward": get_rpt_prefix_reward(args.model_name_or_path),
    }
    table = {
        name: {probe: mean_reward(reward, prompts, probes[probe]) for probe in PROBES}
        for name, reward in rewards.items()
    }
    scorer = get_perplexity_reward(args.model_name_or_path, device="cpu", dtype="float32")
    table[LOG_PERPLEXITY] = {probe: mean_log_perplexity(scorer, prompts, probes[probe]) for probe in PROBES}
    rows = [
        [name, *(f"{means[probe]:.4f}" if means[probe] is not None else "n/a" for probe in PROBES),
         verdict(means, lower_is_better=name == LOG_PERPLEXITY)]
        for name, means in table.items()
    ]  # fmt: skip
    print(
        f"{len(prompts)} CoLA dev cuts ({prompts.source}, seed {args.seed}); samples: {NUM_SAMPLES} a prompt, "
        f"temperature {TEMPERATURE}, {MAX_NEW_TOKENS} new tokens; {time.perf_counter() - start:.0f} s"
    )
    print(format_table(["reward", *PROBES, "sound"], rows))
    if args.output_json:
        write_json(args.output_json, {"prompts": len(prompts), "seed": args.seed, "means": table}, indent=2)


if __name__ == "__main__":
    sys.exit(run_with_errors("reward_pitfalls.py", main))
