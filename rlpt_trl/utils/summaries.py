"""Summaries of measured values for statistics files."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def percentiles(values: Sequence[float]) -> dict[str, float]:
    """min, p5, p25, p50, p75, p95, max and mean of `values`, rounded to 3 decimals."""
    points = {"min": 0, "p5": 5, "p25": 25, "p50": 50, "p75": 75, "p95": 95, "max": 100}
    stats = {name: np.percentile(values, q) for name, q in points.items()}
    return {name: round(float(value), 3) for name, value in {**stats, "mean": np.mean(values)}.items()}
