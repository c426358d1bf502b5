"""Evaluation tasks found by name, as lm-evaluation-harness finds its tasks: each kind of task (GLUE, next_segment)
is one entry of `TASK_KINDS`, with the names it answers to, how it builds its tasks, its own flags and the metrics a
paired table shows. A new kind is its subpackage plus one entry here."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..utils.errors import RlptError
from .glue.spec import DEFAULT_TASKS, GLUE_EVAL_TASKS, get_task, task_names
from .glue.task import build_glue_tasks
from .next_segment.arguments import NextSegmentArguments, NextSegmentEvalArguments
from .next_segment.result import HEADLINE_METRICS, TASK
from .next_segment.task import build_next_segment_tasks
from .task import EvalSetup, EvalTask


@dataclass(frozen=True)
class TaskKind:
    """A family of evaluation tasks."""

    names: Sequence[str]  # the built-in task names it answers to
    build: Callable[[list[str], EvalSetup], list[EvalTask]]  # its tasks among the names asked for (maybe none)
    headline_metrics: Callable[[str], Sequence[str]]  # task name -> the metrics a paired-difference table shows
    arguments: tuple[type, ...] = ()  # its own flag dataclasses, parsed by `rlpt-trl eval`


TASK_KINDS: dict[str, TaskKind] = {
    "glue": TaskKind(tuple(GLUE_EVAL_TASKS), build_glue_tasks, lambda name: get_task(name).metrics[:1]),
    TASK: TaskKind(
        (TASK,),
        build_next_segment_tasks,
        lambda name: HEADLINE_METRICS,
        (NextSegmentArguments, NextSegmentEvalArguments),
    ),
}


def task_arguments() -> tuple[type, ...]:
    """Every kind's own flag dataclasses, in registry order."""
    return tuple(arguments for kind in TASK_KINDS.values() for arguments in kind.arguments)


def _kind_of(name: str) -> TaskKind:
    for kind in TASK_KINDS.values():
        if name in kind.names:
            return kind
    known = ", ".join(name for kind in TASK_KINDS.values() for name in kind.names)
    raise RlptError(f"unknown evaluation task {name!r}; choose from {known}")


def build_tasks(names: Sequence[str] | None, setup: EvalSetup) -> list[EvalTask]:
    """The tasks `names` (space- or comma-separated values; default: the GLUE default tasks, or none when task files
    are given), kind by kind in registry order, each kind's in the order named."""
    named = task_names(names) if names else ([] if setup.args.task_config else list(DEFAULT_TASKS))
    by_kind: dict[TaskKind, list[str]] = {}
    for name in named:
        by_kind.setdefault(_kind_of(name), []).append(name)
    return [task for kind in TASK_KINDS.values() for task in kind.build(by_kind.get(kind, []), setup)]


def headline_metrics(task: str) -> Sequence[str]:
    """The metrics of the built-in task `task` that a paired-difference table shows."""
    return _kind_of(task).headline_metrics(task)
