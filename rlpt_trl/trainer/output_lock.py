"""One run per output folder: a run holds `_rlpt_run.lock` (its pid, host and start time) in its `--output_dir` from
the moment its arguments are checked to its end, so that a second run started into the same folder refuses with one
line naming the first instead of silently overwriting its work. The `_` keeps the file out of a Hub push
(`Trainer.push_to_hub` skips `_*`).

A lock whose process is gone (killed, machine rebooted) is stale: a run on the same host finds that its pid no longer
runs, says so and takes the lock. A lock taken on another host cannot be checked from here: the message says which
file to delete once that run is known to be over.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..utils.errors import RlptError
from ..utils.processes import process_running
from .checkpoints import last_complete_checkpoint


LOCK_FILE = "_rlpt_run.lock"


def _take(lock: Path) -> None:
    """Create `lock` atomically with this process's pid, host and start time; RlptError if a live run holds it."""
    owner = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    for _ in range(2):
        try:
            with os.fdopen(os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY), "w") as file:
                json.dump(owner, file)
            return
        except FileExistsError:
            try:
                held = json.loads(lock.read_text())
            except (OSError, ValueError):
                held = {}
            pid, host = held.get("pid"), held.get("host")
            if not isinstance(pid, int) or host != owner["host"]:
                raise RlptError(
                    f"--output_dir {lock.parent} is in use by a run on host {host or '?'} (pid {pid or '?'}, started "
                    f"{held.get('started', '?')}); choose another --output_dir, or delete {lock} once that run is over"
                ) from None
            if process_running(pid):
                raise RlptError(
                    f"--output_dir {lock.parent} is in use by the run with pid {pid} on this host (started "
                    f"{held.get('started', '?')}); wait for it to end or choose another --output_dir"
                ) from None
            print(f"{lock.parent}: the run with pid {pid} is gone; taking its stale lock", file=sys.stderr)
            lock.unlink(missing_ok=True)
    raise RlptError(f"--output_dir {lock.parent}: another run took the lock at the same time")


@contextmanager
def output_lock(output_dir: str | Path, main_process: bool = True) -> Iterator[None]:
    """Hold the output folder's lock for the block (the main process only; the others share its run).

    The folder is created if needed. A block that fails removes a folder it created unless a complete checkpoint is
    in it (what `--resume_from_checkpoint true` continues from): a run that stops on an error before its first
    checkpoint leaves nothing behind, not even its TensorBoard logs.
    """
    if not main_process:
        yield
        return
    folder = Path(output_dir)
    if folder.exists() and not folder.is_dir():
        raise RlptError(f"--output_dir {folder} is a file, not a folder")
    created = not folder.exists()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise RlptError(f"cannot create --output_dir {folder}: {err.strerror or err}") from None
    lock = folder / LOCK_FILE
    try:
        _take(lock)
    except RlptError:
        if created:
            shutil.rmtree(folder, ignore_errors=True)
        raise
    failed = True
    try:
        yield
        failed = False
    finally:
        lock.unlink(missing_ok=True)
        if failed and created and last_complete_checkpoint(folder) is None:
            shutil.rmtree(folder, ignore_errors=True)
