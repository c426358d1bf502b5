"""One way to assemble a training run for any TRL trainer.

A trainer command (`rlpt-trl sft`, `grpo`, `rloo`, `ntp`) is a `TrainerCommand` subclass that declares its config
classes, its trainer class, how its datasets are made and what it adds to the trainer (rewards, callbacks);
`TrainerCommand.main` does the rest, in this order:

1. every argument is checked and every dataset read, the in-training evaluation's tasks built, before any model
   loads and before any folder is created;
2. the run takes its output folder's lock (`output_lock`: one run per folder), the model (Hub id, local folder or
   `.gguf` file) and its tokenizer load, the trainer is built with a graceful
   stop on SIGTERM / SIGINT, the command's callbacks and the evaluation (`--eval_tasks`, `--eval_every_steps`);
3. training starts or resumes (`--resume_from_checkpoint true`: the latest checkpoint whose every file parses; never
   past `--max_steps`);
4. the model is saved with its card, or pushed (`finish_training`).

The parser holds the command's dataclasses, `trl.ModelConfig`, the evaluation's flags and every task kind's own
(`rlpt_trl.evaluation.registry`), with precision defaults that suit the machine (`training_parser`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from ..utils.errors import RlptError


if TYPE_CHECKING:
    from datasets import Dataset
    from transformers import Trainer, TrainerCallback
    from trl import TrlParser

T = TypeVar("T")


@dataclass
class RunArguments:
    """A run's parsed arguments: one instance per dataclass of the command's parser, looked up by class."""

    parsed: tuple[object, ...]

    def __getitem__(self, kind: type[T]) -> T:
        for value in self.parsed:
            if isinstance(value, kind):
                return value
        raise KeyError(kind.__name__)

    def options(self, kinds: tuple[type, ...]) -> dict[type, object]:
        """An instance of each of `kinds`: the parsed one, else one filled from the same-named fields of the parsed
        dataclasses (a task kind's flags that the command already has, such as the rewards' scoring models)."""
        values = {f.name: getattr(value, f.name) for value in self.parsed for f in dataclasses.fields(value)}
        found = {}
        for kind in kinds:
            parsed = [value for value in self.parsed if isinstance(value, kind)]
            names = [f.name for f in dataclasses.fields(kind) if f.name in values]
            found[kind] = parsed[0] if parsed else kind(**{name: values[name] for name in names})
        return found


class TrainerCommand:
    """A training command: what it declares, with the shared assembly in `main`.

    Subclasses set `script_arguments`, `config_class` and `trainer_class` and define `datasets`; they may add
    `extra_arguments`, `check`, `trainer_kwargs`, `callbacks`, `before_save`, `tags` and `dataset_name`.

    Example (the whole of `rlpt-trl rloo`, on the reward commands' shared part):

    ```python
    from trl import RLOOConfig

    from rlpt_trl.trainer.model_card import RLPTRLOOTrainer
    from rlpt_trl.trainer.reward_command import RewardTrainerCommand


    class RLOOCommand(RewardTrainerCommand):
        config_class = RLOOConfig
        trainer_class = RLPTRLOOTrainer


    COMMAND = RLOOCommand()
    make_parser, main = COMMAND.make_parser, COMMAND.main  # what rlpt_trl.cli runs
    ```
    """

    script_arguments: type
    config_class: type
    trainer_class: type
    extra_arguments: tuple[type, ...] = ()
    padding_side: str = "left"  # generation pads on the left; SFT pads on the right

    def arguments(self) -> tuple[type, ...]:
        """The dataclasses of the command's parser. A task kind's flag dataclass is left out when the command
        already has flags of its names; it is then filled from them (`RunArguments.options`)."""
        from trl import ModelConfig

        from ..evaluation.arguments import EvalCallbackArguments
        from ..evaluation.registry import task_arguments

        own = (self.script_arguments, self.config_class, ModelConfig, *self.extra_arguments, EvalCallbackArguments)
        taken = {f.name for kind in own for f in dataclasses.fields(kind)}
        kinds = tuple(kind for kind in task_arguments() if not taken & {f.name for f in dataclasses.fields(kind)})
        return (*own, *kinds)

    def make_parser(self, prog: str | None = None) -> TrlParser:
        """The command's `TrlParser` (YAML `--config` and flags; the flags win)."""
        return training_parser(self.arguments(), prog=prog)

    def check(self, args: RunArguments) -> None:
        """Reject, with one error line, settings the command cannot run with (before any data is read)."""

    def datasets(self, args: RunArguments) -> tuple[Dataset, Dataset | None]:
        """The training dataset and the trainer's own evaluation dataset (or None)."""
        raise NotImplementedError

    def trainer_kwargs(self, args: RunArguments, train_dataset: Dataset) -> dict[str, Any]:
        """What the trainer class takes beyond the model, tokenizer, config, datasets and PEFT config, built (and
        checked against the dataset) before the model loads."""
        return {}

    def callbacks(self, args: RunArguments, trainer: Trainer) -> list[TrainerCallback]:
        """The command's own callbacks, added after the graceful stop and before the evaluation."""
        return []

    def before_save(self, args: RunArguments, trainer: Trainer) -> None:
        """Change the trained model before a completed run saves it (not after an interruption)."""

    def tags(self, args: RunArguments) -> tuple[str, ...]:
        """The Hub tags of the model card."""
        return ("rlpt_trl",)

    def dataset_name(self, args: RunArguments) -> str | None:
        """The dataset named in the model card."""
        return getattr(args[self.script_arguments], "dataset_name", None)

    def main(self, *parsed: object) -> int:
        """Run the command.

        Args:
            *parsed: One instance of each dataclass of `arguments()`, as `make_parser().parse_args_and_config()`
                returns them.

        Returns:
            The exit status: 0, or 128 + the signal that stopped the run after a checkpoint (`finish_training`).

        Raises:
            RlptError: A bad argument, dataset or model path, before any model loads.
        """
        from trl import ModelConfig, get_peft_config

        from ..evaluation.arguments import EvalCallbackArguments
        from ..evaluation.callback import EvalCallback, training_eval_tasks
        from ..evaluation.registry import task_arguments
        from ..models.loading import load_model_and_tokenizer
        from ..utils.files import check_output_dir
        from .checkpoints import GracefulStopCallback, checkpoint_step, resolve_resume_checkpoint
        from .config_checks import check_training_config
        from .output_lock import output_lock

        args = RunArguments(parsed)
        model_args, training_args = args[ModelConfig], args[self.config_class]
        policy = model_args.model_name_or_path
        if not policy:
            raise RlptError("--model_name_or_path is required (Hub id, local directory or .gguf file)")
        check_training_config(training_args)
        check_output_dir(training_args.output_dir)
        self.check(args)
        train_dataset, eval_dataset = self.datasets(args)
        trainer_kwargs = self.trainer_kwargs(args, train_dataset)
        eval_args = args[EvalCallbackArguments]
        eval_tasks = training_eval_tasks(eval_args, args.options(task_arguments()), policy, training_args)
        resume = resolve_resume_checkpoint(training_args.resume_from_checkpoint, training_args.output_dir)

        # one run per output folder, from here to the end
        with output_lock(training_args.output_dir, main_process=training_args.process_index == 0):
            model, tokenizer = load_model_and_tokenizer(
                policy,
                dtype=model_args.dtype or "auto",
                device=None,
                padding_side=self.padding_side,
                trust_remote_code=training_args.trust_remote_code,
            )
            trainer = self.trainer_class(
                model=model,
                processing_class=tokenizer,
                args=training_args,
                train_dataset=train_dataset,
                eval_dataset=eval_dataset,
                peft_config=get_peft_config(model_args),
                **trainer_kwargs,
            )
            stop = GracefulStopCallback()
            trainer.add_callback(stop)
            for callback in self.callbacks(args, trainer):
                trainer.add_callback(callback)
            if eval_tasks:
                trainer.add_callback(EvalCallback(trainer, eval_tasks, eval_args.eval_every_steps))
            if resume is not None and 0 < training_args.max_steps <= checkpoint_step(resume):
                # the training loop would run one step more before it checks max_steps: restore what train() would
                # restore and keep it as the result
                trainer.accelerator.print(
                    f"{resume} is at --max_steps {training_args.max_steps}: nothing left to train; saving its model"
                )
                trainer._load_from_checkpoint(resume)
            else:
                trainer.train(resume_from_checkpoint=resume)
            if stop.requested is None:
                self.before_save(args, trainer)
            return finish_training(trainer, stop, dataset_name=self.dataset_name(args), tags=self.tags(args))


def training_parser(dataclass_types: tuple[type, ...], prog: str | None = None) -> TrlParser:
    """A `TrlParser` for a trainer command whose precision defaults suit this machine (`trainer_precision_defaults`).

    Set before parsing, so a YAML or command-line value still wins.
    """
    from trl import TrlParser

    from ..models.devices import trainer_precision_defaults

    parser = TrlParser(dataclass_types, prog=prog)
    parser.set_defaults(**trainer_precision_defaults())
    return parser


def finish_training(
    trainer: Trainer, stop: Any, *, dataset_name: str | None = None, tags: tuple[str, ...] = ()
) -> int:
    """End a run: on a stop signal report the saved checkpoint, else save (or push) the model with its card.

    Returns the process exit status: 0, or 128 + the signal number when `stop` (a `GracefulStopCallback`) caught
    one, as a shell reports a process killed by that signal, so that a scheduler sees the run did not finish.
    """
    from pathlib import Path

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
