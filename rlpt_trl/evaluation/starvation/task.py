"""The starvation forecast as an evaluation task (`rlpt_trl.evaluation.task.EvalTask`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from transformers import PreTrainedModel, PreTrainedTokenizerBase

from ..next_segment.prompts import NextSegmentPrompts
from .forecast import next_token_hits
from .result import TASK, StarvationResult


@dataclass
class StarvationTask:
    """The forecast ready for any model: the prompts, the group sizes, and the sampling temperature and seed."""

    prompts: NextSegmentPrompts
    group_sizes: list[int]
    temperature: float = 0.9
    seed: int = 0
    batch_size: int = 16
    name: str = field(default=TASK, init=False)

    def evaluate(
        self, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, model_name: str | None = None
    ) -> StarvationResult:
        hits = next_token_hits(
            model,
            tokenizer,
            self.prompts.prompt,
            self.prompts.completion,
            keys=self.prompts.idx,
            temperature=self.temperature,
            num_samples=max(self.group_sizes),
            seed=self.seed,
            batch_size=self.batch_size,
        )
        records = [
            {
                "idx": self.prompts.idx[row],
                "prompt": self.prompts.prompt[row],
                "completion": self.prompts.completion[row],
                "hit_probability": float(hits.probability[row]),
                "sampled_hits": hits.sampled[row].astype(int).tolist(),
            }
            for row in range(len(self.prompts))
        ]
        settings = {"temperature": self.temperature, "seed": self.seed, "source": self.prompts.source}
        # the metrics are read back from the records, so that the predictions file recomputes every one
        return StarvationResult.from_records(records, self.group_sizes, settings)
