"""Official GLUE metrics through `evaluate`, from the metric module shipped in this package (no Hub access)."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING


if TYPE_CHECKING:
    import evaluate


GLUE_METRIC_PATH = Path(__file__).with_name("glue_metric")


@functools.cache
def load_glue_metric(task: str) -> evaluate.EvaluationModule:
    """`evaluate.load` of the shipped GLUE metric for a GLUE task (`cola`, `stsb`, `mrpc`, ...), once per process."""
    # imported here, after the forward passes: `evaluate` costs about a second to import
    import evaluate

    return evaluate.load(str(GLUE_METRIC_PATH), task)


def compute_glue_metrics(task: str, predictions: Sequence[float], references: Sequence[float]) -> dict[str, float]:
    """The task's official metrics for the predictions."""
    return load_glue_metric(task).compute(predictions=list(predictions), references=list(references))
