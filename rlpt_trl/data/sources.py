"""The data build's sources: readers that stream a corpus as datatrove `Document`s, each rank its own shard.

- `TextFilesReader`: text files (a folder's `.txt` / `.md` / `.rst`, a glob, one file), one document per file or,
  with `unit="line"`, per non-blank line; the markup comes from the suffix (`rlpt_trl.data.cleaning.detect_format`)
  unless given. Files are listed once, sorted, into a paths file that every rank shards by line.
- `RowsReader`: labelled rows, one document each: CoLA train (the default source, labels as scores), or a
  `.csv` / `.tsv` / `.jsonl` / `.parquet` table with a text column, then the lines of `--extra_text_files`
  (unlabeled). Row i of the whole input is document i on rank `i % world_size`, and keeps its ordinal, which seeds
  its random cut, so a build's rows do not depend on the number of workers.
- `HubReader`: a Hub dataset through `datasets.load_dataset(..., streaming=True)`.

A document's id is its `id`; its metadata holds its `markup`, `label`, `score` and (rows) `ordinal` and `as_is`.
"""

from __future__ import annotations

import glob
from dataclasses import dataclass
from pathlib import Path

from ..utils.errors import RlptError
from .cleaning import detect_format
from .engine import Document, DocumentsPipeline, PipelineStep
from .glue import load_glue
from .scores import UNLABELED, check_scores, label_scores, parse_label
from .tables import TABLE_SUFFIXES, check_texts, read_table, read_text_lines


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


def _table_rows(source: RowSource) -> tuple[list[str], list[str], list[int], list[float]]:
    path = source.table
    frame = read_table(path)
    columns = ", ".join(map(str, frame.columns))
    if source.id_column is not None and source.id_column not in frame.columns:
        raise RlptError(f"{path}: no column {source.id_column!r} (--id_column); columns: {columns}")
    candidates = (source.text_column,) if source.text_column else TEXT_COLUMNS
    text_column = next((name for name in candidates if name in frame.columns), None)
    if text_column is None:
        raise RlptError(
            f"{path}: no text column {' or '.join(map(repr, candidates))} (--text_column); columns: {columns}"
        )
    texts = check_texts(frame[text_column], f"{path}: column {text_column!r}")
    has_labels = source.label_column in frame.columns
    where = f"{path}: column {source.label_column!r}"
    values = frame[source.label_column] if has_labels else [None] * len(texts)
    labels = [parse_label(value, f"{where}: row {row}") for row, value in enumerate(values, start=1)]
    if source.score_column in frame.columns:
        scores = check_scores(frame[source.score_column], f"{path}: column {source.score_column!r}")
    elif has_labels:
        scores = label_scores(labels, *source.scores_by_label)
    else:
        scores = [UNSCALED_SCORE] * len(texts)
    name = Path(path).name
    ids = [str(value) for value in frame[source.id_column]] if source.id_column else None
    ids = ids or [f"{name}:{row}" for row in range(1, len(texts) + 1)]
    return ids, texts, labels, scores


def read_rows(source: RowSource) -> tuple[list[str], list[str], list[int], list[float], dict[str, int]]:
    """Ids, texts, labels and scores of every input row (the main input, then the extra files' lines), and the rows
    read from each source."""
    if source.table is not None:
        ids, texts, labels, scores = _table_rows(source)
        sources = {source.table: len(texts)}
    else:
        name = f"cola train ({source.data_dir or 'nyu-mll/glue'})"
        cola = load_glue("cola", "train", source.data_dir)
        texts, labels = check_texts(cola["sentence"], name), list(cola["label"])
        ids = [f"cola:train:{row}" for row in range(len(texts))]
        scores, sources = label_scores(labels, *source.scores_by_label), {name: len(texts)}
    for path in source.extra_files:
        lines = read_text_lines(path)
        if not lines:
            raise RlptError(f"{path}: no sentences (one sentence a line expected)")
        sources[path] = len(lines)
        ids += [f"{Path(path).name}:{row}" for row in range(1, len(lines) + 1)]
        texts += lines
        labels += [UNLABELED] * len(lines)
        scores += [source.scores_by_label[2]] * len(lines)
    keep = source.max_rows
    return ids[:keep], texts[:keep], labels[:keep], scores[:keep], sources


class RowsReader(PipelineStep):
    """The rows of a `RowSource`, one plain-text document each; row i goes to rank i % world_size. With `as_is`
    (`--task cut`) a row is one segment as it stands, neither cleaned nor split into sentences."""

    name = "rows"
    type = "reader"

    def __init__(self, source: RowSource, as_is: bool):
        super().__init__()
        self.source, self.as_is = source, as_is

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        ids, texts, labels, scores, _ = read_rows(self.source)
        for ordinal in range(rank, len(texts), world_size):
            self.stat_update("documents")
            yield document(
                ids[ordinal],
                texts[ordinal],
                "text",
                labels[ordinal],
                scores[ordinal],
                ordinal=ordinal,
                as_is=self.as_is,
            )


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
