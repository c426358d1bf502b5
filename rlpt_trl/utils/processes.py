"""Whether a process that left a lock or a staging folder behind still runs."""

from __future__ import annotations

import os


def process_running(pid: int) -> bool:
    """Whether `pid` runs on this host (a process of another user counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
