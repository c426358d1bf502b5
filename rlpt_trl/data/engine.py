"""The data build's engine: datatrove, whose `LocalPipelineExecutor` runs a list of steps in this process or in a pool
of worker processes (its Slurm and Ray executors take the same steps; docs/corpus.md, "Engine and workers").

datatrove's own log lines are switched off here, in every process that imports a step: the build reports through
`stats.json`, its closing line and one `error:` line, and a worker's failure reaches the caller as the exception it
raised (a bad file is an `RlptError` naming it), not as a logged traceback.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from datatrove.data import Document, DocumentsPipeline
from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.base import PipelineStep
from loguru import logger


logger.disable("datatrove")

__all__ = ["Document", "DocumentsPipeline", "PipelineStep", "run_steps", "step_counts"]


def run_steps(steps: Sequence[PipelineStep], workers: int, logging_dir: Path) -> dict[str, dict[str, int]]:
    """Run `steps` as `workers` tasks (one process each when more than one); return `step_counts` of the merged
    statistics."""
    executor = LocalPipelineExecutor(
        pipeline=list(steps), tasks=workers, workers=workers, logging_dir=str(logging_dir), skip_completed=False
    )
    return step_counts(executor.run())


def step_counts(stats) -> dict[str, dict[str, int]]:
    """Each step's counters (`stat_update`) from datatrove's `PipelineStats`, by step name."""
    return {step.name: {name: int(metric.total) for name, metric in step.stats.items()} for step in stats.stats}
