"""The next-segment evaluation during GRPO training: the callback, with the training rewards' own scorers."""

from __future__ import annotations

from transformers import Trainer

from ..callback import EvalCallback
from .arguments import NextSegmentArguments, NextSegmentCallbackArguments
from .prompts import NextSegmentPrompts
from .task import NextSegmentTask


class NextSegmentEvalCallback(EvalCallback):
    """Every `eval_steps` optimizer steps, evaluate the trained model on held-out next-segment prompts and log
    `eval/next_segment/<metric>` (the metrics of `rlpt_trl.evaluation.next_segment.task`).

    Args:
        trainer, eval_steps: As for `EvalCallback`.
        prompts: The held-out prompts (`build_next_segment_prompts`), the same at every evaluation.
        scorer_model_name_or_path, embedding_model_name_or_path, scorer_dtype: The frozen scorer LM and sentence
            encoder, the process's shared ones (`rlpt_trl.models.shared`): with the training rewards' settings, the
            rewards' own models.
        num_samples, temperature, max_new_tokens, seed: The sampling settings of `evaluate_next_segment`.
        batch_size: Prompts per generation batch; defaults to the trainer's `per_device_eval_batch_size`.
    """

    def __init__(
        self,
        trainer: Trainer,
        prompts: NextSegmentPrompts,
        *,
        scorer_model_name_or_path: str,
        embedding_model_name_or_path: str,
        scorer_dtype: str = "auto",
        eval_steps: int | None = None,
        num_samples: int = 4,
        temperature: float = 0.9,
        max_new_tokens: int = 4,
        seed: int = 0,
        batch_size: int | None = None,
    ):
        task = NextSegmentTask(
            prompts,
            scorer_model_name_or_path,
            embedding_model_name_or_path,
            {"num_samples": num_samples, "temperature": temperature, "max_new_tokens": max_new_tokens, "seed": seed},
            batch_size=batch_size or trainer.args.per_device_eval_batch_size,
            scorer_dtype=scorer_dtype,
        )
        task.load_scorers()  # loaded now, before training starts: a bad path fails at once
        super().__init__(trainer, [task], eval_steps)


def next_segment_eval_callback(
    trainer: Trainer,
    args: NextSegmentCallbackArguments,
    settings: NextSegmentArguments,
    *,
    scorer_model_name_or_path: str,
    embedding_model_name_or_path: str,
    scorer_dtype: str = "auto",
    data_dir: str | None = None,
) -> NextSegmentEvalCallback | None:
    """The callback that `args` asks for, or None when `next_segment_eval_steps` is 0.

    The prompts come from `settings.next_segment_data`, else CoLA validation under `data_dir` (a GLUE root; None: the
    Hub), cut with the trainer's tokenizer; the scorers load here, before training starts.
    """
    if args.next_segment_eval_steps <= 0:
        return None
    tokenizer = getattr(trainer.processing_class, "tokenizer", trainer.processing_class)
    return NextSegmentEvalCallback(
        trainer,
        settings.build_prompts(tokenizer, data_dir, args.next_segment_eval_max_samples),
        scorer_model_name_or_path=scorer_model_name_or_path,
        embedding_model_name_or_path=embedding_model_name_or_path,
        scorer_dtype=scorer_dtype,
        eval_steps=args.next_segment_eval_steps,
        **settings.sampling(),
    )
