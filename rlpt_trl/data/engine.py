"""The data build's engine: datatrove, whose executors run a list of steps as tasks, in this process or a pool of
worker processes (`local_executor`), or on a Ray cluster (`ray_executor`; docs/corpus.md, "On a cluster").

datatrove's own log lines are switched off in every process that imports a step: the build reports through
`stats.json`, its closing line and one `error:` line, and a local worker's failure reaches the caller as the exception
it raised (a bad file is an `RlptError` naming it). Ray does not return a task's exception, so its tasks keep
datatrove's task log, from which a failed task's error is read back.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path

from datatrove.data import Document, DocumentsPipeline
from datatrove.executor import LocalPipelineExecutor, RayPipelineExecutor
from datatrove.executor.base import PipelineExecutor
from datatrove.pipeline.base import PipelineStep
from datatrove.utils.stats import PipelineStats
from loguru import logger

from ..utils.errors import RlptError


logger.disable("datatrove")

__all__ = [
    "Document",
    "DocumentsPipeline",
    "ExecutorFactory",
    "PipelineStep",
    "local_executor",
    "ray_executor",
    "run_steps",
]

# (steps, tasks, logging folder) -> the executor that runs them
ExecutorFactory = Callable[[list[PipelineStep], int, str], PipelineExecutor]


def local_executor(steps: list[PipelineStep], tasks: int, logging_dir: str) -> PipelineExecutor:
    """All tasks at once on this machine, one process each when there are more than one."""
    return LocalPipelineExecutor(
        pipeline=steps, tasks=tasks, workers=tasks, logging_dir=logging_dir, skip_completed=False
    )


def ray_executor(cpus_per_task: int = 1, mem_per_cpu_gb: float = 2.0) -> ExecutorFactory:
    """Executors that run each task as a Ray actor of the cluster `ray.init` connected to (the logging folder, like
    the build's `--work_dir`, must be on storage that every node shares)."""

    def make(steps: list[PipelineStep], tasks: int, logging_dir: str) -> PipelineExecutor:
        return _RayExecutor(
            pipeline=steps,
            tasks=tasks,
            logging_dir=logging_dir,
            skip_completed=False,
            cpus_per_task=cpus_per_task,
            mem_per_cpu_gb=mem_per_cpu_gb,
        )

    return make


class _RayExecutor(RayPipelineExecutor):
    def _run_for_rank(self, rank: int, local_rank: int = 0, node_rank: int = -1) -> PipelineStats:
        logger.enable("datatrove")  # the task log is where a Ray task's error can be read back
        return super()._run_for_rank(rank, local_rank, node_rank)


def run_steps(
    steps: Sequence[PipelineStep], tasks: int, logging_dir: Path, executor: ExecutorFactory = local_executor
) -> dict[str, dict[str, int]]:
    """Run `steps` as `tasks` tasks; return each step's counters summed over the tasks, or raise the first failed
    task's error."""
    runner = executor(list(steps), tasks, str(logging_dir))
    runner.run()  # a local task's exception propagates from here
    failed = runner.get_incomplete_ranks(range(tasks), skip_completed=True)
    if failed:
        log = logging_dir / "logs" / f"task_{failed[0]:05d}.log"
        raise RlptError(f"{len(failed)} of {tasks} tasks failed; task {failed[0]}: {_last_error(log)} (log: {log})")
    return _counts([logging_dir / "stats" / f"{rank:05d}.json" for rank in range(tasks)])


def _counts(files: list[Path]) -> dict[str, dict[str, int]]:
    """Each step's counters (`stat_update`), by step name, summed over the tasks' statistics files (read here:
    datatrove 0.10's `PipelineStats.from_json` does not read its counters back as metrics)."""
    counts: dict[str, Counter] = defaultdict(Counter)
    for file in files:
        for step in json.loads(file.read_text()):
            for name, value in step["stats"].items():
                counts[step["name"]][name] += value["total"] if isinstance(value, dict) else value
    return {name: dict(counter) for name, counter in counts.items()}


def _last_error(log: Path) -> str:
    """The exception a task's log ends with, without its type when it is the build's own."""
    lines = [line for line in log.read_text().splitlines() if line.strip()] if log.is_file() else []
    if not lines:
        return "no log was written"
    return lines[-1].removeprefix(f"{RlptError.__module__}.{RlptError.__name__}: ")
