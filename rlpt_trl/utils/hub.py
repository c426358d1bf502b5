"""Loading by Hub id or local path, with one-line errors that say what was not found and where it was looked for."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import RlptError


def looked_in(name_or_path: str) -> str:
    """Where `name_or_path` was looked for: the local path it names, then the Hub's cache and (when online) the Hub."""
    from huggingface_hub import constants

    path = Path(name_or_path).expanduser()
    if path.exists():
        return f"the local {'folder' if path.is_dir() else 'file'} {path.resolve()}"
    hub = f"in the Hugging Face Hub cache {constants.HF_HUB_CACHE}"
    hub += " (the Hub itself is off: HF_HUB_OFFLINE is set)" if constants.HF_HUB_OFFLINE else " nor on the Hub"
    return f"no local path {path.resolve()}, not {hub}"


@contextmanager
def loading(what: str, name_or_path: str) -> Iterator[None]:
    """Turn the errors of loading `what` (e.g. "model", "tokenizer") from `name_or_path` inside the block into one
    `RlptError` line naming it, where it was looked for, and the loader's own first line."""
    try:
        yield
    except RlptError:
        raise
    except (OSError, ValueError) as err:
        lines = str(err).strip().splitlines() or [type(err).__name__]
        raise RlptError(
            f"cannot load the {what} {name_or_path}: {looked_in(str(name_or_path))} ({lines[0]})"
        ) from None
