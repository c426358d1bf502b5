"""The flags of the next-segment evaluation: its prompts and samples, and the rewards of its `reward` metric (which a
trainer command with rewards takes from its own flags of the same names)."""

from __future__ import annotations

from dataclasses import dataclass, field

from transformers import PreTrainedTokenizerBase

from ...utils.errors import RlptError
from .prompts import NextSegmentPrompts, build_next_segment_prompts
from .sampling import check_sampling


# `evaluate_next_segment` keyword -> its flag, in `check_sampling`'s order
SAMPLING_FLAGS = {
    "num_samples": "next_segment_samples",
    "temperature": "next_segment_temperature",
    "max_new_tokens": "next_segment_max_new_tokens",
    "seed": "next_segment_seed",
}


@dataclass
class NextSegmentArguments:
    """How `next_segment` draws its held-out prompts and samples."""

    next_segment_data: str | None = field(
        default=None,
        metadata={"help": "A folder written by `rlpt-trl data` (cut already). Default: CoLA validation, cut here."},
    )
    next_segment_seed: int = field(
        default=0, metadata={"help": "Seed of the CoLA validation cuts and of the samples (paired across models)."}
    )
    next_segment_samples: int = field(default=4, metadata={"help": "Sampled completions per prompt (K)."})
    next_segment_temperature: float = field(
        default=0.9, metadata={"help": "Sampling temperature (top-k and top-p off, as GRPO samples)."}
    )
    next_segment_max_new_tokens: int = field(
        default=4, metadata={"help": "New tokens per completion (the GRPO configs' max_completion_length)."}
    )
    next_segment_max_samples: int | None = field(
        default=None, metadata={"help": "next_segment: the first N held-out prompts. Default: the evaluation's."}
    )

    def build_prompts(
        self,
        tokenizer: PreTrainedTokenizerBase,
        data_dir: str | None,
        max_samples: int | None,
        split: str | None = None,
    ) -> NextSegmentPrompts:
        """Check the sampling settings (one error line naming the flag), then build the held-out prompts:
        `next_segment_data` (its `split`, default the held-out one), else CoLA validation under `data_dir` (a GLUE
        root; None: the Hub) cut by `tokenizer`."""
        check_sampling(*self.sampling().values(), flags=tuple(SAMPLING_FLAGS.values()))
        if self.next_segment_max_samples is not None and self.next_segment_max_samples < 1:
            raise RlptError(f"--next_segment_max_samples must be at least 1, got {self.next_segment_max_samples}")
        return build_next_segment_prompts(
            tokenizer,
            data=self.next_segment_data,
            data_dir=None if self.next_segment_data else data_dir,
            split=split,
            seed=self.next_segment_seed,
            max_samples=max_samples,
        )

    def sampling(self) -> dict[str, int | float]:
        """The sampling keywords of `evaluate_next_segment`."""
        return {keyword: getattr(self, flag) for keyword, flag in SAMPLING_FLAGS.items()}


@dataclass
class NextSegmentEvalArguments:
    """The rewards whose weighted sum is next_segment's `reward` metric; their settings and scoring models are the
    reward flags (`rlpt_trl.rewards.RewardArguments`). A trainer command with rewards (GRPO, RLOO) scores with its own
    (these flags are its own `--reward_funcs` and `--reward_weights`)."""

    reward_funcs: list[str] | None = field(
        default=None,
        metadata={
            "help": "next_segment: the rewards of the `reward` metric, registered names or dotted paths. Default: the "
            "rewards a trained model's folder records (rlpt_rewards.json, the first evaluated model that has one), "
            "else embedding_cosine_reward."
        },
    )
    reward_weights: list[float] | None = field(
        default=None, metadata={"help": "next_segment: the weight of each of --reward_funcs (default 1 each)."}
    )
