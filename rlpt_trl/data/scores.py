"""Acceptability scores: the per-row weight the embedding-cosine reward multiplies its similarity by.

A score comes from the human CoLA label (acceptable 1 -> `acceptable_score`, unacceptable 0 ->
`unacceptable_score`), from an explicit score column, or is `unlabeled_score` for unlabeled extra text.
Every score is finite and within `SCORE_RANGE`. The default mapping 1 -> 1.0, 0 -> -1.0 makes the reward
pull a generated sentence towards a grammatical original and push it away from an ungrammatical one.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from ..utils.errors import RlptError


SCORE_RANGE = (-1.0, 1.0)
ACCEPTABLE, UNACCEPTABLE, UNLABELED = 1, 0, -1
LABEL_NAMES = ("unacceptable", "acceptable")  # index = label, as nyu-mll/glue's ClassLabel


def check_score(value: object, where: str) -> float:
    """`value` as a float, or an `RlptError` naming `where` when it is not a finite number in `SCORE_RANGE`."""
    try:
        score = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise RlptError(f"{where}: score {value!r} is not a number") from None
    low, high = SCORE_RANGE
    if not math.isfinite(score):
        raise RlptError(f"{where}: score {value!r} is not finite")
    if not low <= score <= high:
        raise RlptError(f"{where}: score {score} is outside the range [{low}, {high}]")
    return score


def check_scores(values: Iterable[object], where: str, start: int = 1) -> list[float]:
    """Check every value with `check_score`; rows are numbered from `start` in the message."""
    return [check_score(value, f"{where}: row {row}") for row, value in enumerate(values, start=start)]


def parse_label(value: object, where: str) -> int:
    """A CoLA label from a data file: 1 / "acceptable", 0 / "unacceptable", or -1 / empty / missing (unlabeled)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return UNLABELED
    if isinstance(value, str):
        value = value.strip()
        if value in LABEL_NAMES:
            return LABEL_NAMES.index(value)
        if not value:
            return UNLABELED
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        number = math.nan
    if number in (ACCEPTABLE, UNACCEPTABLE, UNLABELED):
        return int(number)
    raise RlptError(f"{where}: invalid label {value!r}; use 1 (acceptable), 0 (unacceptable) or -1/empty (unlabeled)")


def label_scores(
    labels: Sequence[int], acceptable_score: float, unacceptable_score: float, unlabeled_score: float
) -> list[float]:
    """Map CoLA labels (1 acceptable, 0 unacceptable, -1 unlabeled) to scores."""
    mapping = {ACCEPTABLE: acceptable_score, UNACCEPTABLE: unacceptable_score, UNLABELED: unlabeled_score}
    return [mapping[label] for label in labels]
