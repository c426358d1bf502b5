"""The starvation forecast's task kind (`rlpt_trl.evaluation.registry` finds it here)."""

from __future__ import annotations

from ..next_segment.arguments import NextSegmentArguments
from ..task import EvalSetup, TaskKind
from .arguments import StarvationArguments
from .result import HEADLINE_METRICS, TASK
from .task import StarvationTask


def build_starvation_tasks(names: list[str], setup: EvalSetup) -> list[StarvationTask]:
    """The forecast when `names` asks for it, on the next-segment prompts (the split `--starvation_split` names, a
    random `--starvation_sample` of them) cut with the setup's tokenizer, at the next-segment temperature and seed."""
    if not names:
        return []
    args, prompts, own = setup.args, setup.option(NextSegmentArguments), setup.option(StarvationArguments)
    sizes = own.group_sizes()
    max_samples = args.max_samples if prompts.next_segment_max_samples is None else prompts.next_segment_max_samples
    built = prompts.build_prompts(setup.tokenizer(), args.data_dir, max_samples, own.starvation_split)
    return [
        StarvationTask(
            own.sample(built, prompts.next_segment_seed),
            sizes,
            temperature=prompts.next_segment_temperature,
            seed=prompts.next_segment_seed,
            batch_size=args.batch_size,
        )
    ]


TASK_KIND = TaskKind(
    names=(TASK,),
    build=build_starvation_tasks,
    headline_metrics=lambda name: HEADLINE_METRICS,
    arguments=(StarvationArguments,),
)
