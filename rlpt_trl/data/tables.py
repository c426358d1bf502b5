"""User data files: tables (CSV, TSV, JSON Lines, Parquet) and raw text files, read with one-line errors.

Tables are read a chunk of rows at a time (`table_chunks`), text files a line at a time. Text is decoded as strict
UTF-8. TSV files are split on tabs with no quote processing, the rule GLUE files need (their sentences contain bare
`"`); a `.tsv` in CoLA's raw layout (no header; source, label, mark, sentence) is recognised and read with `sentence`
and `label` columns, like `load_glue`.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from ..utils.errors import RlptError
from .glue import read_glue_tsv


TABLE_SUFFIXES = (".csv", ".tsv", ".jsonl", ".parquet")
CHUNK_ROWS = 10_000


def _is_cola_raw(line: str) -> bool:
    fields = line.rstrip("\r\n").split("\t")
    return len(fields) == 4 and fields[1] in ("0", "1")


def read_table(path: str | Path) -> pd.DataFrame:
    """A whole `.csv`, `.tsv`, `.jsonl` or `.parquet` file of at least one row (small files: the seed's CSV, tests);
    CSV and TSV cells are kept as strings ("NA" is text)."""
    return pd.concat(list(table_chunks(path)), ignore_index=True)


def table_chunks(path: str | Path, rows: int | None = None) -> Iterator[pd.DataFrame]:
    """The rows of a `.csv`, `.tsv`, `.jsonl` or `.parquet` file, `rows` (default `CHUNK_ROWS`) at a time, so that a
    corpus dump is never whole in memory (a `.tsv` in CoLA's raw layout, a few thousand rows, is read at once). The
    first chunk comes before any error of a later one: a consumer that must not act on a bad file reads it through
    first."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise RlptError(f"{path}: unknown file type {suffix or '(none)'!r}; use one of {', '.join(TABLE_SUFFIXES)}")
    if not path.is_file():
        raise RlptError(f"file not found: {path}")
    columns, count = [], 0
    try:
        for chunk in _chunks(path, suffix, rows or CHUNK_ROWS):
            columns, count = list(chunk.columns), count + len(chunk)
            if len(chunk):
                yield chunk
    except RlptError:
        raise
    except UnicodeDecodeError as err:
        raise RlptError(f"{path}: not UTF-8 text ({err.reason})") from None
    except Exception as err:  # noqa: BLE001 - pandas/pyarrow parse errors of every kind become one line
        message = " ".join(str(err).split())
        raise RlptError(f"{path}: cannot read as {suffix[1:]} ({type(err).__name__}: {message})") from None
    if not count:
        raise RlptError(f"{path}: no rows (columns: {', '.join(map(str, columns)) or 'none'})")


def _chunks(path: Path, suffix: str, rows: int) -> Iterator[pd.DataFrame]:
    if suffix == ".parquet":
        table = pq.ParquetFile(path)
        for batch in table.iter_batches(batch_size=rows):
            yield batch.to_pandas()
        if not table.metadata.num_rows:
            yield table.schema_arrow.empty_table().to_pandas()
        return
    with path.open(encoding="utf-8-sig", newline="") as handle:
        head = handle.readline()
        if not head.strip() and not handle.read(1 << 16).strip():
            raise RlptError(f"{path}: empty file")
        handle.seek(0)
        if suffix == ".jsonl":
            yield from pd.read_json(handle, lines=True, dtype=False, chunksize=rows)
            return
        if suffix == ".tsv" and _is_cola_raw(head):
            yield pd.DataFrame(read_glue_tsv("cola", path))
            return
        options = {"sep": "\t", "quoting": csv.QUOTE_NONE} if suffix == ".tsv" else {}
        # pandas renames a repeated header to `name.1` and goes on: which column was meant is then a guess
        header = next(csv.reader([head], delimiter=options.get("sep", ","), quoting=options.get("quoting", 0)))
        repeated = sorted({name for name in header if header.count(name) > 1})
        if repeated:
            raise RlptError(f"{path}: column(s) {', '.join(map(repr, repeated))} appear more than once in the header")
        with pd.read_csv(handle, dtype=str, keep_default_na=False, chunksize=rows, **options) as reader:
            yield from reader
        yield pd.DataFrame(columns=header)  # names the columns of a file with a header only


def check_texts(values: Iterable[object], where: str, start: int = 1) -> list[str]:
    """Require every value to be a string with visible content; rows are numbered from `start` in the message."""
    texts = []
    for row, value in enumerate(values, start=start):
        if not isinstance(value, str) or not value.strip():
            raise RlptError(f"{where}: row {row}: empty sentence ({value!r})")
        texts.append(value)
    return texts


def text_lines(path: str | Path) -> Iterator[str]:
    """One sentence a line, streamed, surrounding whitespace removed; blank lines are skipped."""
    path = Path(path)
    if not path.is_file():
        raise RlptError(f"file not found: {path}")
    try:
        with path.open(encoding="utf-8-sig") as handle:
            yield from (line.strip() for line in handle if line.strip())
    except UnicodeDecodeError as err:
        raise RlptError(f"{path}: not UTF-8 text ({err.reason})") from None
