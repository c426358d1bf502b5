"""What the SFT and GRPO scripts share around `trainer.train()`: the parser's precision default and the end of a run."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ..models.devices import trainer_precision_defaults


if TYPE_CHECKING:
    from transformers import Trainer
    from trl import TrlParser

    from .checkpoints import GracefulStopCallback


def training_parser(dataclass_types: Sequence[type], prog: str | None = None) -> TrlParser:
    """A `TrlParser` for a trainer script whose precision defaults suit this machine (`trainer_precision_defaults`).

    Set before parsing, so a YAML or command-line value still wins.
    """
    from trl import TrlParser

    parser = TrlParser(tuple(dataclass_types), prog=prog)
    parser.set_defaults(**trainer_precision_defaults())
    return parser


def finish_training(
    trainer: Trainer,
    stop: GracefulStopCallback,
    *,
    dataset_name: str | None = None,
    tags: Sequence[str] = (),
) -> int:
    """End a run: on a stop signal report the saved checkpoint, else save (or push) the model with its card.

    Returns the process exit status: 0, or 128 + the signal number when `stop` caught one, as a shell reports a
    process killed by that signal, so that a scheduler sees the run did not finish.
    """
    args = trainer.args
    if stop.requested is not None:
        trainer.accelerator.print(
            f"Interrupted at step {trainer.state.global_step}; checkpoint saved in {args.output_dir}. "
            "Continue with --resume_from_checkpoint true."
        )
        trainer.end()
        return 128 + stop.requested
    if args.push_to_hub:
        # saves the model and its card into output_dir, then uploads them in one commit
        trainer.push_to_hub(dataset_name=dataset_name, tags=list(tags))
        trainer.accelerator.print(f"Model saved to {args.output_dir}, pushed as {trainer.hub_model_id}.")
    else:
        trainer.save_model(args.output_dir)
        trainer.create_model_card(model_name=Path(args.output_dir).name, dataset_name=dataset_name, tags=list(tags))
        trainer.accelerator.print(f"Model saved to {args.output_dir}.")
    trainer.end()
    return 0
