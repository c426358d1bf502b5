"""The next-segment task kind (`rlpt_trl.evaluation.registry` finds it here): the held-out continuation task, its
flags and headline metrics."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from ...rewards.registry import RewardArguments
from ...rewards.run_config import RewardConfig
from ..task import EvalSetup, TaskKind
from .arguments import NextSegmentArguments, NextSegmentEvalArguments
from .result import HEADLINE_METRICS, TASK
from .task import NextSegmentTask


def build_next_segment_tasks(names: list[str], setup: EvalSetup) -> list[NextSegmentTask]:
    """The next-segment task when `names` asks for it: its prompts cut with the setup's tokenizer (the first model's),
    its scorers (default: the first model) on the run's device, in the run's dtype unless `--scorer_dtype` says, its
    `reward` metric from `_reward_config`."""
    if not names:
        return []
    args, settings, scoring = setup.args, setup.option(NextSegmentArguments), setup.option(RewardArguments)
    max_samples = args.max_samples if settings.next_segment_max_samples is None else settings.next_segment_max_samples
    return [
        NextSegmentTask(
            settings.build_prompts(setup.tokenizer(), args.data_dir, max_samples),
            scoring.scorer_model_name_or_path or setup.models[0],
            scoring.embedding_model_name_or_path,
            settings.sampling(),
            batch_size=args.batch_size,
            device=str(setup.device),
            # "auto" is the evaluation's dtype, chosen from the hardware for every model alike
            scorer_dtype=str(setup.dtype).removeprefix("torch.")
            if scoring.scorer_dtype == "auto"
            else scoring.scorer_dtype,
            reward_config=_reward_config(setup),
        )
    ]


def _reward_config(setup: EvalSetup) -> RewardConfig:
    """The rewards of the `reward` metric: `--reward_funcs` (a trainer's own), else those that the first evaluated model
    folder with a `rlpt_rewards.json` was trained with, else `embedding_cosine_reward`; with the reward flags'
    settings, or the saved ones."""
    flags, settings = setup.option(NextSegmentEvalArguments), dataclasses.asdict(setup.option(RewardArguments))
    if flags.reward_funcs:
        return RewardConfig(list(flags.reward_funcs), flags.reward_weights, settings)
    saved = (RewardConfig.read(model) for model in setup.models if Path(model).is_dir())
    return next(
        (config for config in saved if config is not None), RewardConfig(["embedding_cosine_reward"], None, settings)
    )


TASK_KIND = TaskKind(
    names=(TASK,),
    build=build_next_segment_tasks,
    headline_metrics=lambda name: HEADLINE_METRICS,
    arguments=(NextSegmentArguments, NextSegmentEvalArguments, RewardArguments),
)
