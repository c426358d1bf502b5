"""Local files: telling a path from a Hub id, output folders that can be written, outputs that are complete or absent
(atomic writes), JSON values."""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import socket
import struct
import sys
import tempfile
import uuid
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import RlptError
from .processes import process_running


def is_local_path(name_or_path: str) -> bool:
    """Whether `name_or_path` is written as a filesystem path (`./x`, `../x`, `/x`, `~/x`) rather than a Hub id."""
    return str(name_or_path).startswith((".", "/", "~"))


_TORCH_FILES = (".pt", ".pth", ".bin")


def file_problem(path: Path) -> str | None:
    """Why a saved file (JSON, safetensors, a `torch.save` archive) would not load, read as far as needed to know
    (headers and sizes, not tensors), or None; other files are not judged."""
    try:
        if path.suffix == ".json":
            json.loads(path.read_text())
        elif path.suffix == ".safetensors":
            with path.open("rb") as file:
                header_bytes = struct.unpack("<Q", file.read(8))[0]
                header = json.loads(file.read(header_bytes))
            end = max(
                (entry["data_offsets"][1] for name, entry in header.items() if name != "__metadata__"), default=0
            )
            if path.stat().st_size < 8 + header_bytes + end:
                return f"{path.name} is truncated"
        elif path.suffix in _TORCH_FILES:
            # torch.save writes a zip whose directory is its last record: a truncated file has none
            with zipfile.ZipFile(path):
                pass
    except struct.error:  # shorter than the safetensors header's length field
        return f"{path.name} is truncated"
    except (ValueError, KeyError, TypeError, zipfile.BadZipFile, OSError) as err:
        return f"{path.name} does not parse ({type(err).__name__})"
    return None


def check_output_dir(path: str | Path, flag: str = "--output_dir", *, empty: bool = False) -> None:
    """One line, before any work, when `path` cannot become an output folder: it is a file, it lies under a file, its
    nearest existing folder takes no new files, or (`empty`) it holds files already. Creates nothing."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise RlptError(f"{flag} {path} is a file; name a folder")
    if empty and path.is_dir() and any(path.iterdir()):
        raise RlptError(f"{flag} {path} is not empty; name a new or empty folder")
    ancestor = next(parent for parent in (path, *path.absolute().parents) if parent.exists())
    if not ancestor.is_dir():
        raise RlptError(f"{flag} {path} lies under {ancestor}, which is a file")
    try:
        # a real write, not os.access: root passes access checks on folders it still cannot write (read-only mounts)
        with tempfile.TemporaryFile(dir=ancestor):
            pass
    except OSError as err:
        raise RlptError(f"{flag} {path}: cannot write in {ancestor} ({err.strerror})") from None


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write `text` through a temporary sibling renamed over `path`, so a reader never sees half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.partial")
    try:
        partial.write_text(text, encoding="utf-8")
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return path


def json_number(value: float) -> float | None:
    """`value` for a JSON file: NaN (undefined, e.g. a correlation of constant predictions) is null, as JSON has no
    NaN."""
    return None if math.isnan(value) else float(value)


def write_json(path: str | Path, content: object, indent: int = 1) -> Path:
    """`content` as UTF-8 JSON (non-ASCII kept as is), written atomically."""
    return write_text_atomic(path, json.dumps(content, indent=indent, ensure_ascii=False) + "\n")


def _staging_name(output_dir: Path) -> str:
    """A staging folder's name for `output_dir`: hidden, beside it, naming the host and pid that build it."""
    return f".{output_dir.name}.{socket.gethostname()}-{os.getpid()}.{uuid.uuid4().hex[:12]}.partial"


def remove_stale_staging(output_dir: Path) -> list[Path]:
    """Remove the staging folders of `output_dir` (and only its own) left by a build on this host whose process is
    gone (SIGKILL, a crash), saying so on stderr; return them."""
    pattern = re.compile(
        rf"\.{re.escape(output_dir.name)}\.(?P<host>.+)-(?P<pid>\d+)\.[0-9a-f]{{12}}\.(partial|replaced)"
    )
    removed = []
    for sibling in output_dir.parent.glob(f".{output_dir.name}.*"):
        match = pattern.fullmatch(sibling.name)
        if match and match["host"] == socket.gethostname() and not process_running(int(match["pid"])):
            shutil.rmtree(sibling, ignore_errors=True)
            print(f"removed {sibling}: left by a build that was killed (pid {match['pid']})", file=sys.stderr)
            removed.append(sibling)
    return removed


@contextmanager
def atomic_directory(output_dir: str | Path) -> Iterator[Path]:
    """Yield an empty staging folder beside `output_dir`; on success it replaces `output_dir` whole.

    On any error (or interrupt) the staging folder is removed and `output_dir` is left as it was; the staging folders
    a killed build of the same `output_dir` left are removed first (`remove_stale_staging`).
    """
    output_dir = Path(output_dir)
    output_dir.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_staging(output_dir)
    staging = output_dir.with_name(_staging_name(output_dir))
    staging.mkdir()
    try:
        yield staging
        if output_dir.exists():
            replaced = staging.with_suffix(".replaced")
            output_dir.rename(replaced)
            staging.rename(output_dir)
            shutil.rmtree(replaced)
        else:
            staging.rename(output_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
