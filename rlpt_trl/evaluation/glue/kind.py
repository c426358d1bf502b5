"""The GLUE task kind: its task names, how its tasks are built from an evaluation's setup, its flags and headline
metrics (`rlpt_trl.evaluation.registry` finds it here)."""

from __future__ import annotations

from ..task import EvalSetup, TaskKind
from .arguments import GlueArguments
from .prompts import build_task_prompts
from .spec import DEFAULT_TASKS, GLUE_EVAL_TASKS, get_task, select_tasks
from .task import GlueTask


def build_glue_tasks(names: list[str], setup: EvalSetup) -> list[GlueTask]:
    """The built-in GLUE tasks `names`, then the tasks of the run's `--task_config` files, with their prompts built."""
    args, own = setup.args, setup.option(GlueArguments)
    own.check()
    return [
        GlueTask(
            build_task_prompts(
                spec,
                data_dir=args.data_dir,
                num_fewshot=own.num_fewshot,
                seed=own.fewshot_seed,
                max_samples=args.max_samples,
            ),
            scoring=own.scoring,
            batch_size=args.batch_size,
            max_new_tokens=own.max_new_tokens,
            prefix_cache=own.prefix_cache,
            progress=setup.progress,
        )
        for spec in select_tasks(names, own.task_config, default=())
    ]


def default_glue_tasks(setup: EvalSetup) -> tuple[str, ...]:
    """The GLUE tasks run when none is named: the default five, or none when task files are given."""
    return () if setup.option(GlueArguments).task_config else DEFAULT_TASKS


TASK_KIND = TaskKind(
    names=tuple(GLUE_EVAL_TASKS),
    build=build_glue_tasks,
    headline_metrics=lambda name: get_task(name).metrics[:1],
    arguments=(GlueArguments,),
    defaults=default_glue_tasks,
)
