"""Reading YAML files with one-line errors: `--config` files and evaluation task files."""

from __future__ import annotations

from pathlib import Path

import yaml

from .errors import RlptError


def yaml_problem(err: yaml.YAMLError) -> tuple[str, int | None, int | None]:
    """What a YAML error says, on one line, and its 1-based line and column (None when the error has no mark)."""
    mark = getattr(err, "problem_mark", None)
    problem = getattr(err, "problem", None) or " ".join(str(err).split())
    return problem, (mark.line + 1 if mark else None), (mark.column + 1 if mark else None)


def read_yaml(path: str | Path, what: str) -> object:
    """The parsed content of the YAML file `path`; an `RlptError` naming `what` (e.g. "task file"), the file and the
    line of a syntax error."""
    try:
        return yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as err:
        raise RlptError(f"cannot read {what} {path}: {err.strerror or err}") from None
    except UnicodeDecodeError:
        raise RlptError(f"{what} {path}: not UTF-8") from None
    except yaml.YAMLError as err:
        problem, line, _ = yaml_problem(err)
        where = f"{path}:{line}" if line is not None else str(path)
        raise RlptError(f"{what} {where}: malformed YAML: {problem}") from None
