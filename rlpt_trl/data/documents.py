"""Corpus sources as a stream of documents: text files (a folder, a glob, one file) and tables with a text column.

A text file is one document (`unit="file"`) or one document per non-blank line (`unit="line"`); its markup comes
from its suffix (`rlpt_trl.data.cleaning.detect_format`) unless given. A table row is one document of plain text.
Files are read one at a time, in sorted path order, so that a build does not depend on the file system's order;
the document id is the path relative to the corpus root (with `:LINE` for lines) or the table's id column.
"""

from __future__ import annotations

import glob
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..utils.errors import RlptError
from .cleaning import Format, detect_format
from .scores import UNLABELED, check_score, parse_label
from .tables import TABLE_SUFFIXES, read_table


TEXT_SUFFIXES = (".txt", ".md", ".markdown", ".rst")
UNITS = ("file", "line")
DECODE_ERRORS = ("error", "skip")
UNSCALED_SCORE = 1.0  # text without labels or scores trains the embedding reward unscaled
DROP_UNDECODABLE = "not_utf8"


@dataclass(frozen=True)
class Document:
    """One document of a corpus, before cleaning."""

    doc_id: str
    text: str
    markup: Format
    label: int = UNLABELED
    score: float = UNSCALED_SCORE


def is_table(path: str) -> bool:
    """Whether `path` names a table file (`.csv`, `.tsv`, `.jsonl`, `.parquet`) rather than text files."""
    return Path(path).suffix.lower() in TABLE_SUFFIXES


def is_text_corpus(path: str) -> bool:
    """Whether `path` names text files: a folder, a glob pattern, or a file with a `TEXT_SUFFIXES` suffix."""
    return any(char in path for char in "*?[") or Path(path).is_dir() or Path(path).suffix.lower() in TEXT_SUFFIXES


def text_files(path: str) -> tuple[Path, list[Path]]:
    """The corpus root and its text files, sorted: a folder's `TEXT_SUFFIXES` files (recursively), a glob's matches, or
    one file."""
    if any(char in path for char in "*?["):
        root = Path(glob.escape(path).split("*")[0].split("?")[0].split("[")[0] or ".")
        root = root if root.is_dir() else root.parent
        files = sorted(Path(match) for match in glob.glob(path, recursive=True) if Path(match).is_file())
        if not files:
            raise RlptError(f"--dataset_path {path}: the pattern matches no file")
        return root, files
    found = Path(path)
    if found.is_file():
        return found.parent, [found]
    if not found.is_dir():
        raise RlptError(f"--dataset_path {path}: no such file or folder")
    files = sorted(file for file in found.rglob("*") if file.is_file() and file.suffix.lower() in TEXT_SUFFIXES)
    if not files:
        raise RlptError(f"--dataset_path {path}: no {', '.join(TEXT_SUFFIXES)} file in the folder")
    return found, files


def _decode(file: Path, on_decode_error: str, drops: Counter) -> str | None:
    data = file.read_bytes()
    problem = None
    if b"\x00" in data:
        problem = "a binary file (it holds NUL bytes), not text"
    else:
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError as err:
            problem = f"not UTF-8 text ({err.reason} at byte {err.start})"
    if on_decode_error == "skip":
        drops[DROP_UNDECODABLE] += 1
        return None
    raise RlptError(f"{file}: {problem}; pass --on_decode_error skip to skip such files")


def read_text_files(
    path: str, *, unit: str = "file", markup: str = "auto", on_decode_error: str = "error", drops: Counter
) -> Iterator[Document]:
    """The documents of the text files under `path` (see `text_files`); undecodable files are counted in `drops`
    when skipped."""
    root, files = text_files(path)
    for file in files:
        text = _decode(file, on_decode_error, drops)
        if text is None:
            continue
        name = file.relative_to(root).as_posix() if file.is_relative_to(root) else str(file)
        kind = detect_format(file) if markup == "auto" else markup
        if unit == "file":
            yield Document(name, text, kind)
            continue
        for number, line in enumerate(text.split("\n"), start=1):
            if line.strip():
                yield Document(f"{name}:{number}", line, kind)


def read_table_documents(
    path: str,
    *,
    text_column: str,
    id_column: str | None,
    label_column: str,
    score_column: str,
    scores_by_label: dict[int, float],
) -> Iterator[Document]:
    """One plain-text document per row of a table. Its score: the `score_column` value, else `scores_by_label` of its
    `label_column` value, else (a table with neither column) `UNSCALED_SCORE`."""
    frame = read_table(path)
    columns = ", ".join(map(str, frame.columns))
    for flag, column in (("--text_column", text_column), ("--id_column", id_column)):
        if column is not None and column not in frame.columns:
            raise RlptError(f"{path}: no column {column!r} ({flag}); columns: {columns}")
    name = Path(path).name
    for row, record in enumerate(frame.to_dict("records"), start=1):
        text = record[text_column]
        if not isinstance(text, str):
            raise RlptError(f"{path}: row {row}: column {text_column!r} is not text ({text!r})")
        where = f"{path}: row {row}"
        label = parse_label(record.get(label_column), f"{where}: column {label_column!r}")
        if score_column in record:
            score = check_score(record[score_column], f"{where}: column {score_column!r}")
        else:
            score = scores_by_label[label] if label_column in record else UNSCALED_SCORE
        doc_id = str(record[id_column]) if id_column else f"{name}:{row}"
        yield Document(doc_id, text, "text", label, score)
