"""Supervised fine-tuning baseline on CoLA with `trl.SFTTrainer`.

    rlpt-trl sft --config recipes/smollm-135m/sft.yaml
    python recipes/sft.py --config recipes/smollm-135m/sft.yaml --data_dir GLUE_ROOT --model_name_or_path MODEL.gguf

Every flag of `SFTScriptArguments`, `trl.SFTConfig`, `trl.ModelConfig` and the in-training evaluation works in the
YAML or on the command line (the command line wins); `--use_peft --lora_r 16 ...` trains LoRA adapters. The run is
assembled by `rlpt_trl.trainer.command.TrainerCommand`; the output is always a Hugging Face model directory.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from trl import SFTConfig, SFTTrainer

from ..data.sft_pairs import DEFAULT_LABEL_WORDS, DEFAULT_PROMPT_TEMPLATE
from ..trainer.command import TrainerCommand
from ..utils.errors import RlptError


if TYPE_CHECKING:
    from datasets import Dataset
    from transformers import Trainer

    from ..trainer.command import RunArguments


@dataclass
class SFTScriptArguments:
    """Script arguments of `rlpt-trl sft` / `recipes/sft.py` (with `trl.SFTConfig` and `trl.ModelConfig`)."""

    data_dir: str | None = field(
        default=None,
        metadata={"help": "GLUE root folder with cola/ (official raw or GLUE TSVs). Default: nyu-mll/glue (Hub)."},
    )
    prompt_template: str = field(
        default=DEFAULT_PROMPT_TEMPLATE,
        metadata={"help": "Prompt with a {sentence} field; the completion follows it."},
    )
    label_words: list[str] = field(
        default_factory=lambda: list(DEFAULT_LABEL_WORDS),
        metadata={"help": "Completion word for label 0 (unacceptable) and for label 1 (acceptable)."},
    )
    max_train_samples: int | None = field(default=None, metadata={"help": "Train on the first N CoLA train rows."})
    max_eval_samples: int | None = field(default=None, metadata={"help": "Evaluate on the first N validation rows."})
    merge_adapter: bool = field(
        default=True,
        metadata={"help": "With --use_peft, save the final model with the LoRA weights merged (a plain HF model)."},
    )


def check_sft_arguments(args: SFTScriptArguments) -> None:
    """Reject a bad template, bad label words or sample counts before any data or model is loaded."""
    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(args.prompt_template) if name is not None}
    except ValueError as err:
        raise RlptError(f"--prompt_template is not a valid format string ({err}); write braces as {{{{ }}}}") from None
    if fields != {"sentence"}:
        raise RlptError(f"--prompt_template must fill {{sentence}} and no other field, found {sorted(fields)}")
    words = [word.strip() for word in args.label_words]
    if len(words) != 2 or not all(words) or words[0] == words[1]:
        raise RlptError(
            f"--label_words needs two distinct non-empty words (label 0, label 1), got {args.label_words!r}"
        )
    for name in ("max_train_samples", "max_eval_samples"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise RlptError(f"--{name} must be at least 1, got {value}")


def load_sft_datasets(args: SFTScriptArguments) -> tuple[Dataset, Dataset]:
    """CoLA train and validation (through `load_glue`) as prompt / completion datasets, cut to the sample limits."""
    from ..data.glue import load_glue
    from ..data.sft_pairs import cola_prompt_completion

    splits = []
    for split, limit in (("train", args.max_train_samples), ("validation", args.max_eval_samples)):
        dataset = load_glue("cola", split, args.data_dir)
        if limit is not None:
            dataset = dataset.select(range(min(limit, len(dataset))))
        splits.append(cola_prompt_completion(dataset, args.prompt_template, args.label_words))
    return splits[0], splits[1]


class SFTCommand(TrainerCommand):
    """`rlpt-trl sft`: `trl.SFTTrainer` on CoLA acceptability as prompt / completion pairs (right padding)."""

    script_arguments = SFTScriptArguments
    config_class = SFTConfig
    trainer_class = SFTTrainer
    padding_side = "right"

    def check(self, args: RunArguments) -> None:
        check_sft_arguments(args[SFTScriptArguments])

    def datasets(self, args: RunArguments) -> tuple[Dataset, Dataset | None]:
        train, validation = load_sft_datasets(args[SFTScriptArguments])
        return train, validation if args[SFTConfig].eval_strategy != "no" else None

    def before_save(self, args: RunArguments, trainer: Trainer) -> None:
        from peft import PeftModel

        # an interrupted run keeps its adapter checkpoint as saved, to resume from
        if args[SFTScriptArguments].merge_adapter and isinstance(trainer.model, PeftModel):
            trainer.model = trainer.model.merge_and_unload()

    def tags(self, args: RunArguments) -> tuple[str, ...]:
        return ("rlpt_trl", "cola")

    def dataset_name(self, args: RunArguments) -> str:
        from ..data.glue import GLUE_HUB_ID

        return GLUE_HUB_ID


COMMAND = SFTCommand()

# what `rlpt_trl.cli` and the recipes call, as for every script module
make_parser = COMMAND.make_parser
main = COMMAND.main
