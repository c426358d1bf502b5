"""User data files: tables (CSV, TSV, JSON Lines, Parquet) and raw text files, read with one-line errors.

Text is decoded as strict UTF-8. TSV files are split on tabs with no quote processing, the rule GLUE files
need (their sentences contain bare `"`); a `.tsv` in CoLA's raw layout (no header; source, label, mark,
sentence) is recognised and read with `sentence` and `label` columns, like `load_glue`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from ..utils.errors import RlptError
from .glue import read_glue_tsv


TABLE_SUFFIXES = (".csv", ".tsv", ".jsonl", ".parquet")


def read_utf8(path: str | Path) -> str:
    """The text of `path`, or an `RlptError` when it is missing or not UTF-8."""
    path = Path(path)
    if not path.is_file():
        raise RlptError(f"file not found: {path}")
    try:
        return path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise RlptError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from None


def _is_cola_raw(text: str) -> bool:
    fields = text.split("\n", 1)[0].rstrip("\r").split("\t")
    return len(fields) == 4 and fields[1] in ("0", "1")


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a `.csv`, `.tsv`, `.jsonl` or `.parquet` file of at least one row; CSV and TSV cells are kept as strings
    ("NA" is text)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise RlptError(f"{path}: unknown file type {suffix or '(none)'!r}; use one of {', '.join(TABLE_SUFFIXES)}")
    frame = _read_table(path, suffix)
    if frame.empty:
        raise RlptError(f"{path}: no rows (columns: {', '.join(map(str, frame.columns)) or 'none'})")
    return frame


def _read_table(path: Path, suffix: str) -> pd.DataFrame:
    try:
        if suffix == ".parquet":
            if not path.is_file():
                raise RlptError(f"file not found: {path}")
            return pd.read_parquet(path)
        text = read_utf8(path)
        if not text.strip():
            raise RlptError(f"{path}: empty file")
        if suffix == ".jsonl":
            return pd.read_json(io.StringIO(text), lines=True, dtype=False)
        if suffix == ".tsv" and _is_cola_raw(text):
            return pd.DataFrame(read_glue_tsv("cola", path))
        options = {"sep": "\t", "quoting": csv.QUOTE_NONE} if suffix == ".tsv" else {}
        # pandas renames a repeated header to `name.1` and goes on: which column was meant is then a guess
        header = next(
            csv.reader(io.StringIO(text), delimiter=options.get("sep", ","), quoting=options.get("quoting", 0))
        )
        repeated = sorted({name for name in header if header.count(name) > 1})
        if repeated:
            raise RlptError(f"{path}: column(s) {', '.join(map(repr, repeated))} appear more than once in the header")
        return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, **options)
    except RlptError:
        raise
    except Exception as err:  # noqa: BLE001 - pandas/pyarrow parse errors of every kind become one line
        message = " ".join(str(err).split())
        raise RlptError(f"{path}: cannot read as {suffix[1:]} ({type(err).__name__}: {message})") from None


def check_texts(values: Iterable[object], where: str) -> list[str]:
    """Require every value to be a string with visible content; rows are numbered from 1 in the message."""
    texts = []
    for row, value in enumerate(values, start=1):
        if not isinstance(value, str) or not value.strip():
            raise RlptError(f"{where}: row {row}: empty sentence ({value!r})")
        texts.append(value)
    return texts


def read_text_lines(path: str | Path) -> list[str]:
    """One sentence a line, surrounding whitespace removed; blank lines are skipped."""
    lines = (line.strip() for line in read_utf8(path).split("\n"))
    return [line for line in lines if line]
