"""The flags of the next-segment evaluation: prompts and samples (`rlpt-trl eval` and the GRPO command's callback),
the eval command's own, and the in-training callback's."""

from __future__ import annotations

from dataclasses import dataclass, field

from transformers import PreTrainedTokenizerBase

from ...models.embeddings import DEFAULT_EMBEDDING_MODEL
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
    """How `next_segment` draws its held-out prompts and samples (`rlpt-trl eval` and the GRPO script's callback)."""

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

    def build_prompts(
        self, tokenizer: PreTrainedTokenizerBase, data_dir: str | None, max_samples: int | None
    ) -> NextSegmentPrompts:
        """Check the sampling settings (one error line naming the flag), then build the held-out prompts:
        `next_segment_data`, else CoLA validation under `data_dir` (a GLUE root; None: the Hub) cut by `tokenizer`."""
        check_sampling(*self.sampling().values(), flags=tuple(SAMPLING_FLAGS.values()))
        return build_next_segment_prompts(
            tokenizer,
            data=self.next_segment_data,
            data_dir=None if self.next_segment_data else data_dir,
            seed=self.next_segment_seed,
            max_samples=max_samples,
        )

    def sampling(self) -> dict[str, int | float]:
        """The sampling keywords of `evaluate_next_segment`."""
        return {keyword: getattr(self, flag) for keyword, flag in SAMPLING_FLAGS.items()}


@dataclass
class NextSegmentEvalArguments:
    """The next-segment flags of `rlpt-trl eval` only (in training, the rewards' models score)."""

    next_segment_max_samples: int | None = field(
        default=None, metadata={"help": "next_segment: the first N held-out prompts. Default: --max_samples."}
    )
    embedding_model_name_or_path: str = field(
        default=DEFAULT_EMBEDDING_MODEL,
        metadata={"help": "next_segment: the sentence-transformers model of the cosines and the training reward."},
    )
    scorer_model_name_or_path: str | None = field(
        default=None,
        metadata={"help": "next_segment: the frozen LM of completion_log_perplexity. Default: the first model."},
    )


@dataclass
class NextSegmentCallbackArguments:
    """Flags of the in-training next-segment evaluation, for the GRPO script's `TrlParser` (with
    `NextSegmentArguments` for the prompts and samples)."""

    next_segment_eval_steps: int = field(
        default=0,
        metadata={
            "help": "Every N optimizer steps, evaluate on held-out next-segment prompts and log "
            "eval/next_segment/<metric> (0: off)."
        },
    )
    next_segment_eval_max_samples: int = field(default=128, metadata={"help": "Held-out prompts per evaluation."})
