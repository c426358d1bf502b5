"""The data build's sources: readers that stream a corpus as datatrove `Document`s, each rank its own shard.

- `TextFilesReader`: text files (a folder's `.txt` / `.md` / `.rst`, a glob, one file), one document per file or,
  with `unit="line"`, per non-blank line; the markup comes from the suffix (`rlpt_trl.data.cleaning.detect_format`)
  unless given. Files are listed once, sorted, into a paths file that every rank shards by line.
- `RowsReader`: labelled rows, one document each: CoLA train (the default source, labels as scores), or a
  `.csv` / `.tsv` / `.jsonl` / `.parquet` table with a text column, streamed a chunk at a time, then the lines of
  `--extra_text_files` (unlabeled). Row i of the whole input is document i on rank `i % world_size`, and keeps its
  ordinal, which seeds its random cut, so a build's rows do not depend on the number of workers.
- `HubReader`: a Hub dataset through `datasets.load_dataset(..., streaming=True)`.

A document's id is its `id`; its metadata holds its `markup`, `label`, `score` and (rows) `ordinal` and `as_is`.
"""

from __future__ import annotations

import glob
import itertools
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import pandas as pd

from ..utils.errors import RlptError
from .cleaning import detect_format
from .engine import Document, DocumentsPipeline, PipelineStep
from .glue import load_glue
from .scores import UNLABELED, check_scores, label_scores, parse_label
from .tables import TABLE_SUFFIXES, check_texts, table_chunks, text_lines


TEXT_SUFFIXES = (".txt", ".md", ".markdown", ".rst")
UNITS = ("file", "line")
DECODE_ERRORS = ("error", "skip")
TEXT_COLUMNS = ("text", "sentence")
UNSCALED_SCORE = 1.0  # text without labels or scores trains the embedding reward unscaled
DROP_UNDECODABLE = "not_utf8"


def is_table(path: str) -> bool:
    """Whether `path` names a table file (`.csv`, `.tsv`, `.jsonl`, `.parquet`)."""
    return Path(path).suffix.lower() in TABLE_SUFFIXES


def is_hub_id(path: str) -> bool:
    """Whether `path` is a Hub dataset id (`owner/name`) rather than anything on this machine."""
    parts = path.split("/")
    return len(parts) == 2 and all(parts) and not Path(path).exists() and not any(c in path for c in "*?[")


def text_files(path: str) -> tuple[Path, list[Path]]:
    """The corpus root and its text files, sorted: a folder's `TEXT_SUFFIXES` files (recursively), a glob's matches, or
    one file."""
    if any(char in path for char in "*?["):
        fixed = Path(path.split("*")[0].split("?")[0].split("[")[0] or ".")
        root = fixed if path[len(str(fixed)) :].startswith("/") and fixed.is_dir() else fixed.parent
        files = sorted(Path(match) for match in glob.glob(path, recursive=True) if Path(match).is_file())
        if not files:
            raise RlptError(f"--dataset_path {path}: the pattern matches no file")
        return root, files
    found = Path(path)
    if found.is_file():
        if found.suffix.lower() not in TEXT_SUFFIXES:
            kinds = ", ".join(TEXT_SUFFIXES + TABLE_SUFFIXES)
            raise RlptError(f"{path}: unknown file type {found.suffix or '(none)'!r}; use one of {kinds}, or a folder")
        return found.parent, [found]
    if not found.is_dir():
        raise RlptError(f"--dataset_path {path}: no such file or folder")
    files = sorted(file for file in found.rglob("*") if file.is_file() and file.suffix.lower() in TEXT_SUFFIXES)
    if not files:
        raise RlptError(f"--dataset_path {path}: no {', '.join(TEXT_SUFFIXES)} file in the folder")
    return found, files


def document(doc_id: str, text: str, markup: str, label: int = UNLABELED, score: float = UNSCALED_SCORE, **more):
    """A source document with the metadata every later step reads."""
    return Document(text=text, id=doc_id, metadata={"markup": markup, "label": label, "score": score, **more})


class TextFilesReader(PipelineStep):
    """Text files listed in `paths_file` (paths relative to `root`, one a line), rank r reading lines r, r + N, ...
    A file that is not UTF-8 text fails the build with its name, or is skipped and counted (`not_utf8`)."""

    name = "text files"
    type = "reader"

    def __init__(self, root: str, paths_file: str, unit: str, markup: str, on_decode_error: str):
        super().__init__()
        self.root, self.paths_file = Path(root), paths_file
        self.unit, self.markup, self.on_decode_error = unit, markup, on_decode_error

    def _decode(self, file: Path) -> str | None:
        data = file.read_bytes()
        if b"\x00" in data:
            problem = "a binary file (it holds NUL bytes), not text"
        else:
            try:
                return data.decode("utf-8-sig")
            except UnicodeDecodeError as err:
                problem = f"not UTF-8 text ({err.reason} at byte {err.start})"
        if self.on_decode_error == "skip":
            self.stat_update(DROP_UNDECODABLE)
            return None
        raise RlptError(f"{file}: {problem}; pass --on_decode_error skip to skip such files")

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        names = Path(self.paths_file).read_text(encoding="utf-8").splitlines()
        for name in names[rank::world_size]:
            file = self.root / name
            text = self._decode(file)
            if text is None:
                continue
            markup = detect_format(file) if self.markup == "auto" else self.markup
            if self.unit == "file":
                self.stat_update("documents")
                yield document(name, text, markup)
                continue
            for number, line in enumerate(text.split("\n"), start=1):
                if line.strip():
                    self.stat_update("documents")
                    yield document(f"{name}:{number}", line, markup)


def write_paths_file(path: str, paths_file: Path, max_files: int | None = None) -> Path:
    """List the text files of `path` (`text_files`; the first `max_files`) into `paths_file`, relative to the corpus
    root; return the root."""
    root, files = text_files(path)
    files = files[:max_files]
    paths_file.write_text("".join(f"{file.relative_to(root).as_posix()}\n" for file in files), encoding="utf-8")
    return root


@dataclass(frozen=True)
class RowSource:
    """What `RowsReader` reads: CoLA train (`data_dir` or the Hub) unless `table`, then the `extra_files`."""

    table: str | None
    data_dir: str | None
    text_column: str | None
    id_column: str | None
    label_column: str
    score_column: str
    scores_by_label: tuple[float, float, float]  # acceptable, unacceptable, unlabeled
    extra_files: tuple[str, ...] = ()
    max_rows: int | None = None


class InputRow(NamedTuple):
    """One input row of a `RowSource`, and the input it came from."""

    source: str
    id: str
    text: str
    label: int
    score: float


def _column(chunk: pd.DataFrame, name: str) -> list:
    """A chunk's column, or missing values where a JSON Lines chunk has no such key."""
    return list(chunk[name]) if name in chunk.columns else [None] * len(chunk)


def _table_rows(source: RowSource) -> Iterator[InputRow]:
    """The rows of a table, read and checked a chunk at a time; its columns are decided by the first chunk."""
    path, name, start = source.table, Path(source.table).name, 1
    for chunk in table_chunks(path):
        columns = ", ".join(map(str, chunk.columns))
        if source.id_column is not None and source.id_column not in chunk.columns:
            span = f" in rows {start}-{start + len(chunk) - 1}" if start > 1 else ""
            raise RlptError(f"{path}: no column {source.id_column!r} (--id_column){span}; columns: {columns}")
        if start == 1:
            candidates = (source.text_column,) if source.text_column else TEXT_COLUMNS
            text_column = next((column for column in candidates if column in chunk.columns), None)
            if text_column is None:
                raise RlptError(
                    f"{path}: no text column {' or '.join(map(repr, candidates))} (--text_column); columns: {columns}"
                )
            has_labels, has_scores = source.label_column in chunk.columns, source.score_column in chunk.columns
        texts = check_texts(_column(chunk, text_column), f"{path}: column {text_column!r}", start)
        where = f"{path}: column {source.label_column!r}"
        values = _column(chunk, source.label_column)
        labels = [parse_label(value, f"{where}: row {row}") for row, value in enumerate(values, start=start)]
        if has_scores:
            scores = check_scores(
                _column(chunk, source.score_column), f"{path}: column {source.score_column!r}", start
            )
        elif has_labels:
            scores = label_scores(labels, *source.scores_by_label)
        else:
            scores = [UNSCALED_SCORE] * len(texts)
        rows = range(start, start + len(texts))
        ids = [str(value) for value in chunk[source.id_column]] if source.id_column else [f"{name}:{r}" for r in rows]
        for row in zip(ids, texts, labels, scores, strict=True):
            yield InputRow(path, *row)
        start += len(texts)


def _cola_rows(source: RowSource) -> Iterator[InputRow]:
    name = f"cola train ({source.data_dir or 'nyu-mll/glue'})"
    cola = load_glue("cola", "train", source.data_dir)  # a few thousand sentences
    texts, labels = check_texts(cola["sentence"], name), list(cola["label"])
    scores = label_scores(labels, *source.scores_by_label)
    for row, (text, label, score) in enumerate(zip(texts, labels, scores, strict=True)):
        yield InputRow(name, f"cola:train:{row}", text, label, score)


def _extra_rows(source: RowSource, path: str) -> Iterator[InputRow]:
    count = 0
    for count, line in enumerate(text_lines(path), start=1):
        yield InputRow(path, f"{Path(path).name}:{count}", line, UNLABELED, source.scores_by_label[2])
    if not count:
        raise RlptError(f"{path}: no sentences (one sentence a line expected)")


def input_rows(source: RowSource) -> Iterator[InputRow]:
    """Every input row, streamed and checked: the table's (or CoLA's), then the extra files' lines; the first
    `max_rows`."""
    main = _table_rows(source) if source.table is not None else _cola_rows(source)
    rows = itertools.chain(main, *(_extra_rows(source, path) for path in source.extra_files))
    return itertools.islice(rows, source.max_rows)


def count_input_rows(source: RowSource) -> dict[str, int]:
    """Read every input row once, checking each (a bad row is an `RlptError` naming its file, column and row), and
    return the rows read from each input."""
    return dict(Counter(row.source for row in input_rows(source)))


class RowsReader(PipelineStep):
    """The rows of a `RowSource`, one plain-text document each; row i goes to rank i % world_size (every rank streams
    the input and keeps its share). With `as_is` (`--task cut`) a row is one segment as it stands, neither cleaned nor
    split into sentences."""

    name = "rows"
    type = "reader"

    def __init__(self, source: RowSource, as_is: bool):
        super().__init__()
        self.source, self.as_is = source, as_is

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        for ordinal, row in enumerate(input_rows(self.source)):
            if ordinal % world_size == rank:
                self.stat_update("documents")
                yield document(row.id, row.text, "text", row.label, row.score, ordinal=ordinal, as_is=self.as_is)


def load_hub_stream(dataset_id: str, config: str | None, split: str):
    """The Hub dataset as an `IterableDataset`, or one line saying why it cannot be read (offline, unknown id)."""
    from datasets import load_dataset

    try:
        return load_dataset(dataset_id, config, split=split, streaming=True)
    except Exception as err:  # noqa: BLE001 - network, auth and missing-dataset errors all become one line
        message = " ".join(str(err).split())[:300]
        raise RlptError(
            f"--dataset_path {dataset_id}: cannot read the Hub dataset ({type(err).__name__}: {message})"
        ) from None


class HubReader(PipelineStep):
    """A Hub dataset's `text_column`, one document per row, the first `limit` rows (all when None); rank r keeps rows
    r, r + N, ... of the stream, so that a row's id (its index, or `id_column`) does not depend on the workers."""

    name = "hub dataset"
    type = "reader"

    def __init__(
        self,
        dataset_id: str,
        config: str | None,
        split: str,
        text_column: str,
        id_column: str | None,
        limit: int | None,
    ):
        super().__init__()
        self.dataset_id, self.config, self.split = dataset_id, config, split
        self.text_column, self.id_column, self.limit = text_column, id_column, limit

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        stream = load_hub_stream(self.dataset_id, self.config, self.split)
        for row, record in enumerate(stream):
            if self.limit is not None and row >= self.limit:
                return
            if row % world_size != rank:
                continue
            if self.text_column not in record:
                raise RlptError(
                    f"{self.dataset_id}: no column {self.text_column!r} (--text_column); columns: {', '.join(record)}"
                )
            text = record[self.text_column]
            if not isinstance(text, str):
                raise RlptError(f"{self.dataset_id}: row {row}: column {self.text_column!r} is not text ({text!r})")
            self.stat_update("documents")
            yield document(str(record[self.id_column]) if self.id_column else f"{self.dataset_id}:{row}", text, "text")
