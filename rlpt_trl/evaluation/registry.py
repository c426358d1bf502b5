"""Evaluation tasks found by name, as lm-evaluation-harness finds its tasks: each kind of task is a subpackage of
`rlpt_trl.evaluation` whose `kind` module declares a `TASK_KIND` (`task.TaskKind`: the names it answers to, how it
builds its tasks, its own flags and the metrics a paired table shows). A new kind is its subpackage, nothing more;
kinds come in the order of their package names."""

from __future__ import annotations

import functools
import importlib
import pkgutil
from collections.abc import Sequence
from pathlib import Path

from ..utils.errors import RlptError
from .arguments import split_task_names
from .task import EvalSetup, EvalTask, TaskKind


@functools.cache
def task_kinds() -> dict[str, TaskKind]:
    """Package name -> the task kind it declares."""
    kinds = {}
    for package in sorted(pkgutil.iter_modules([str(Path(__file__).parent)]), key=lambda found: found.name):
        if package.ispkg and (Path(__file__).parent / package.name / "kind.py").is_file():
            kinds[package.name] = importlib.import_module(f"{__package__}.{package.name}.kind").TASK_KIND
    return kinds


def task_arguments() -> tuple[type, ...]:
    """Every kind's own flag dataclasses, in registry order."""
    return tuple(arguments for kind in task_kinds().values() for arguments in kind.arguments)


def _kind_of(name: str) -> TaskKind:
    for kind in task_kinds().values():
        if name in kind.names:
            return kind
    known = ", ".join(name for kind in task_kinds().values() for name in kind.names)
    raise RlptError(f"unknown evaluation task {name!r}; choose from {known}")


def build_tasks(names: Sequence[str] | None, setup: EvalSetup) -> list[EvalTask]:
    """The tasks `names` (space- or comma-separated values; default: every kind's default tasks), kind by kind in
    registry order, each kind's in the order named."""
    if names:
        by_kind: dict[TaskKind, list[str]] = {}
        for name in split_task_names(names):
            by_kind.setdefault(_kind_of(name), []).append(name)
    else:
        by_kind = {kind: list(kind.defaults(setup)) for kind in task_kinds().values()}
    return [task for kind in task_kinds().values() for task in kind.build(by_kind.get(kind, []), setup)]


def headline_metrics(task: str) -> Sequence[str]:
    """The metrics of the built-in task `task` that a paired-difference table shows."""
    return _kind_of(task).headline_metrics(task)
