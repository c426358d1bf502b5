"""Markdown tables, as reports, model cards and TensorBoard text panels show them."""

from __future__ import annotations

from collections.abc import Sequence


def _cell(value: object) -> str:
    # a pipe or a line break inside a cell would end the cell or the row
    return str(value).replace("|", "\\|").replace("\n", " ")


def format_table(header: Sequence[object], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub-flavoured Markdown table: one header row, a rule, one line per row (cells as given, escaped)."""
    lines = [
        "| " + " | ".join(map(_cell, header)) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(map(_cell, row)) + " |" for row in rows),
    ]
    return "\n".join(lines)
