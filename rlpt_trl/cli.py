"""The `rlpt-trl` command: one sub-command per script of `rlpt_trl.scripts`, plus two asset utilities.

Every command reports bad input as one `PROG: error: ...` line on stderr with a non-zero exit status.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from .utils.errors import RlptError


if TYPE_CHECKING:
    from trl import TrlParser


def run_with_errors(prog: str, main: Callable[[], object]) -> int:
    """Run `main`, turning an `RlptError` into one `prog: error: ...` line on stderr and exit status 1.

    An integer returned by `main` is the exit status; anything else means success.
    """
    try:
        status = main()
    except RlptError as err:
        print(f"{prog}: error: {one_line(err)}", file=sys.stderr)
        return 1
    finally:
        _destroy_process_group()
    return status if isinstance(status, int) else 0


def one_line(err: Exception) -> str:
    """An error's message on one line: the messages of the libraries underneath may span several."""
    return str(err).replace("\n", " ")


def _destroy_process_group() -> None:
    # A gloo/NCCL group left alive at interpreter exit can abort the process ("terminate called without an active
    # exception") after all work is done. Checking `sys.modules` keeps torch-free commands from importing torch.
    torch = sys.modules.get("torch")
    if torch is not None and torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


def _config_path(argv: Sequence[str]) -> str:
    """The value of `--config` in `argv`, as `TrlParser` reads it."""
    return argv[list(argv).index("--config") + 1]


def _parse(parser: TrlParser, argv: list[str]) -> tuple:
    """`parser.parse_args_and_config(argv)`, with an unreadable or malformed `--config` file as an `RlptError`."""
    import yaml

    from .utils.yaml import yaml_problem

    try:
        return parser.parse_args_and_config(args=argv)
    except OSError as err:
        raise RlptError(f"cannot read --config {_config_path(argv)}: {err.strerror or err}") from None
    except yaml.YAMLError as err:
        problem, line, column = yaml_problem(err)
        where = f" (line {line}, column {column})" if line is not None else ""
        raise RlptError(f"--config {_config_path(argv)} is not valid YAML: {problem}{where}") from None


def run_script(prog: str, parser: TrlParser, main: Callable[..., object], argv: Sequence[str] | None = None) -> int:
    """Parse `--config` YAML + command-line flags with `parser` and run `main(*dataclasses)` through
    `run_with_errors`.

    TRL's config classes validate in `__post_init__` and raise `ValueError`: those become one line, status 2, like
    argparse's own usage errors. An unreadable or malformed `--config` file is status 1.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        parsed = _parse(parser, argv)
    except RlptError as err:
        print(f"{prog}: error: {one_line(err)}", file=sys.stderr)
        return 1
    except ValueError as err:
        print(f"{prog}: error: {one_line(err)}", file=sys.stderr)
        return 2
    return run_with_errors(prog, lambda: main(*parsed))


def _import_gguf(argv: Sequence[str]) -> None:
    from .models.loading import import_gguf

    parser = argparse.ArgumentParser(
        prog="rlpt-trl import-gguf",
        description="Convert a .gguf checkpoint into a Hugging Face model directory (safetensors).",
    )
    parser.add_argument("gguf_file", help="path of the .gguf file")
    parser.add_argument("output_dir", help="directory to write the model, tokenizer and generation config to")
    args = parser.parse_args(argv)
    output = import_gguf(args.gguf_file, args.output_dir)
    print(f"wrote {output}")


def _random_init(argv: Sequence[str]) -> None:
    from .models.random_init import RANDOM_INIT_LABEL, build_random_init

    parser = argparse.ArgumentParser(
        prog="rlpt-trl random-init",
        description=f"Give model folders that hold a config and a tokenizer but no weights {RANDOM_INIT_LABEL}.",
    )
    parser.add_argument("folders", nargs="+", help="causal LM or sentence-transformers folders without weights")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    for folder in args.folders:
        print(f"wrote {build_random_init(folder, args.seed)} ({RANDOM_INIT_LABEL})")


def _assets(argv: Sequence[str]) -> None:
    from .testing.assets import asset_environment, check_paths

    parser = argparse.ArgumentParser(
        prog="rlpt-trl assets",
        description="Print `export` lines for the test-asset variables, found in the installed packages.",
    )
    parser.add_argument("--glue_dir", help="GLUE root folder (one sub-folder per task)")
    args = parser.parse_args(argv)
    if args.glue_dir is not None:
        check_paths([("--glue_dir", args.glue_dir, None)])
    for name, value in asset_environment(args.glue_dir).items():
        print(f"export {name}={value}")


# command -> its module in rlpt_trl.scripts (imported only when the command runs) and its help line
SCRIPTS: dict[str, tuple[str, str]] = {
    "data": ("data", "build prompt / completion rows from CoLA or any corpus (recipes/create_data.py)"),
    "sft": ("sft", "supervised fine-tuning baseline on CoLA (recipes/sft.py)"),
    "grpo": ("grpo", "GRPO on a data build with rlpt_trl's rewards (recipes/grpo.py)"),
    "rloo": ("rloo", "RLOO on a data build with the same rewards (recipes/rloo.py)"),
    "ntp": ("ntp", "next-token training controls on a data build's rows, at a FLOP budget (recipes/ntp.py)"),
    "eval": ("eval", "evaluate models on GLUE and next-segment tasks (recipes/eval.py)"),
}
UTILITIES: dict[str, tuple[Callable[[Sequence[str]], None], str]] = {
    "import-gguf": (_import_gguf, "convert a .gguf checkpoint into a Hugging Face model directory"),
    "assets": (_assets, "print export lines for the local test assets"),
    "random-init": (_random_init, "random weights for model folders that carry only configs and tokenizers"),
}


def _usage() -> str:
    commands = {**{name: help_ for name, (_, help_) in SCRIPTS.items()}, **{n: h for n, (_, h) in UTILITIES.items()}}
    lines = [f"  {name:<12} {help_}" for name, help_ in commands.items()]
    return (
        "usage: rlpt-trl COMMAND [ARGS]\n\ncommands:\n"
        + "\n".join(lines)
        + "\n\n`rlpt-trl COMMAND --help` for its flags."
    )


def run_command(command: str, argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    """Run one command (a key of `SCRIPTS` or `UTILITIES`) on `argv` (default: `sys.argv[1:]`); return its status.

    `prog` names the command in its messages (default `rlpt-trl COMMAND`; a recipe passes its file name).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    prog = prog or f"rlpt-trl {command}"
    if command in SCRIPTS:
        script = importlib.import_module(f".scripts.{SCRIPTS[command][0]}", __package__)
        return run_script(prog, script.make_parser(prog=prog), script.main, argv)
    return run_with_errors(prog, lambda: UTILITIES[command][0](argv))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `rlpt-trl COMMAND [ARGS]`."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage(), file=sys.stderr)
        return 0 if argv else 2
    if argv[0] not in SCRIPTS and argv[0] not in UTILITIES:
        print(_usage(), file=sys.stderr)
        print(f"rlpt-trl: error: unknown command {argv[0]!r}", file=sys.stderr)
        return 2
    return run_command(argv[0], argv[1:])


if __name__ == "__main__":
    sys.exit(main())
