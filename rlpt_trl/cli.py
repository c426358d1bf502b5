"""The `rlpt-trl` command: one sub-command per task, each a thin wrapper over library calls."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from .errors import RlptError


if TYPE_CHECKING:
    from trl import TrlParser


def run_with_errors(prog: str, main: Callable[[], object]) -> int:
    """Run `main`, turning an `RlptError` into one `prog: error: ...` line on stderr and exit status 1.

    An integer returned by `main` is the exit status; anything else means success.
    """
    try:
        status = main()
    except RlptError as err:
        print(f"{prog}: error: {err}", file=sys.stderr)
        return 1
    finally:
        _destroy_process_group()
    return status if isinstance(status, int) else 0


def _destroy_process_group() -> None:
    # A gloo/NCCL group left alive at interpreter exit can abort the process ("terminate called without an active
    # exception") after all work is done. Checking `sys.modules` keeps torch-free commands from importing torch.
    torch = sys.modules.get("torch")
    if torch is not None and torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


def run_recipe(prog: str, parser: "TrlParser", main: Callable[..., object], argv: Sequence[str] | None = None) -> int:
    """Parse `--config` YAML + CLI flags with a `TrlParser` and run `main(*dataclasses)` through `run_with_errors`.

    TRL's config classes validate in `__post_init__` and raise `ValueError`: those become one line, status 2.
    """
    try:
        parsed = parser.parse_args_and_config(args=None if argv is None else list(argv))
    except ValueError as err:
        print(f"{prog}: error: {err}".replace("\n", " "), file=sys.stderr)
        return 2
    return run_with_errors(prog, lambda: main(*parsed))


def _import_gguf(argv: Sequence[str]) -> None:
    from .modeling import import_gguf

    parser = argparse.ArgumentParser(
        prog="rlpt-trl import-gguf",
        description="Convert a .gguf checkpoint into a Hugging Face model directory (safetensors).",
    )
    parser.add_argument("gguf_file", help="path of the .gguf file")
    parser.add_argument("output_dir", help="directory to write the model, tokenizer and generation config to")
    args = parser.parse_args(argv)
    output = import_gguf(args.gguf_file, args.output_dir)
    print(f"wrote {output}")


def _assets(argv: Sequence[str]) -> None:
    from .assets import asset_environment

    parser = argparse.ArgumentParser(
        prog="rlpt-trl assets",
        description="Print `export` lines for the test-asset variables, found in the installed packages.",
    )
    parser.add_argument("--glue_dir", help="GLUE root folder (one sub-folder per task)")
    args = parser.parse_args(argv)
    for name, value in asset_environment(args.glue_dir).items():
        print(f"export {name}={value}")


def _data(argv: Sequence[str]) -> int:
    from trl import TrlParser

    from .data.cola_build import ColaBuildArguments, build_cola_dataset

    parser = TrlParser((ColaBuildArguments,), prog="rlpt-trl data", description="Build the CoLA GRPO dataset.")
    return run_recipe("rlpt-trl data", parser, build_cola_dataset, argv)


def _eval(argv: Sequence[str]) -> int:
    from trl import TrlParser

    from .evaluation.runner import GlueEvalArguments, run_glue_eval

    parser = TrlParser((GlueEvalArguments,), prog="rlpt-trl eval", description="Evaluate models on GLUE.")
    return run_recipe("rlpt-trl eval", parser, run_glue_eval, argv)


COMMANDS: dict[str, tuple[Callable[[Sequence[str]], int | None], str]] = {
    "import-gguf": (_import_gguf, "convert a .gguf checkpoint into a Hugging Face model directory"),
    "assets": (_assets, "print export lines for the local test assets"),
    "data": (_data, "build the CoLA prompt / completion dataset for GRPO (recipes/create_data.py)"),
    "eval": (_eval, "evaluate models on GLUE tasks (recipes/evaluate_glue.py)"),
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `rlpt-trl COMMAND [ARGS]`."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        lines = [f"  {name:<12} {help_}" for name, (_, help_) in COMMANDS.items()]
        print("usage: rlpt-trl COMMAND [ARGS]\n\ncommands:\n" + "\n".join(lines), file=sys.stderr)
        if argv and argv[0] not in ("-h", "--help"):
            print(f"rlpt-trl: error: unknown command {argv[0]!r}", file=sys.stderr)
            return 2
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    return run_with_errors(f"rlpt-trl {command}", lambda: COMMANDS[command][0](rest))


if __name__ == "__main__":
    sys.exit(main())
