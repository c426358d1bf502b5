"""Supervised fine-tuning baseline on CoLA with `trl.SFTTrainer`.

    rlpt-trl sft --config recipes/smollm-135m/sft.yaml
    python recipes/sft.py --config recipes/smollm-135m/sft.yaml --data_dir GLUE_ROOT --model_name_or_path MODEL.gguf

Every flag of `SFTScriptArguments`, `trl.SFTConfig`, `trl.ModelConfig` and `GlueEvalCallbackArguments` works in the
YAML or on the command line (the command line wins); `--use_peft --lora_r 16 ...` trains LoRA adapters.
`--model_name_or_path` takes a Hub id, a local directory or a `.gguf` file; the output is always a Hugging Face
model directory. SIGTERM / SIGINT stop after the current step with a checkpoint (exit status 128 + signal);
`--resume_from_checkpoint true` continues from the latest complete one.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..data.sft_pairs import DEFAULT_LABEL_WORDS, DEFAULT_PROMPT_TEMPLATE
from ..utils.errors import RlptError


if TYPE_CHECKING:
    from datasets import Dataset
    from trl import ModelConfig, SFTConfig, SFTTrainer, TrlParser

    from ..evaluation.glue.callback import GlueEvalCallbackArguments


TAGS = ["rlpt_trl", "cola"]


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


def sft_trainer(
    model_args: ModelConfig, training_args: SFTConfig, train_dataset: Dataset, eval_dataset: Dataset | None = None
) -> SFTTrainer:
    """The model of `model_args` (right-padding tokenizer, LoRA when asked) in a `trl.SFTTrainer` on the datasets;
    shared by `rlpt-trl sft` and `rlpt-trl ntp`."""
    from trl import SFTTrainer, get_peft_config

    from ..models.loading import load_model_and_tokenizer

    model, tokenizer = load_model_and_tokenizer(
        model_args.model_name_or_path,
        dtype=model_args.dtype or "auto",
        device=None,
        padding_side="right",
        trust_remote_code=training_args.trust_remote_code,
    )
    return SFTTrainer(
        model=model,
        args=training_args,
        train_dataset=train_dataset,
        eval_dataset=eval_dataset,
        processing_class=tokenizer,
        peft_config=get_peft_config(model_args),
    )


def main(
    script_args: SFTScriptArguments,
    training_args: SFTConfig,
    model_args: ModelConfig,
    eval_args: GlueEvalCallbackArguments,
) -> int:
    """Fine-tune and save (or push) the model; return the exit status (`rlpt_trl.trainer.run.finish_training`)."""
    from peft import PeftModel

    from ..data.glue import GLUE_HUB_ID
    from ..evaluation.glue.callback import glue_eval_callback
    from ..trainer.checkpoints import GracefulStopCallback, resolve_resume_checkpoint
    from ..trainer.run import finish_training

    # configuration and data problems surface before a model loads
    if not model_args.model_name_or_path:
        raise RlptError("--model_name_or_path is required (Hub id, local directory or .gguf file)")
    check_sft_arguments(script_args)
    train_dataset, eval_dataset = load_sft_datasets(script_args)
    resume = resolve_resume_checkpoint(training_args.resume_from_checkpoint, training_args.output_dir)

    trainer = sft_trainer(
        model_args, training_args, train_dataset, eval_dataset if training_args.eval_strategy != "no" else None
    )
    stop = GracefulStopCallback()
    trainer.add_callback(stop)
    if (glue_eval := glue_eval_callback(trainer, eval_args)) is not None:
        trainer.add_callback(glue_eval)
    trainer.train(resume_from_checkpoint=resume)
    # an interrupted run keeps its adapter checkpoint as saved, to resume from
    if stop.requested is None and script_args.merge_adapter and isinstance(trainer.model, PeftModel):
        trainer.model = trainer.model.merge_and_unload()
    return finish_training(trainer, stop, dataset_name=GLUE_HUB_ID, tags=TAGS)


def make_parser(prog: str | None = None) -> TrlParser:
    """The parser of `rlpt-trl sft` and `recipes/sft.py`: script, SFT, model and GLUE-callback arguments."""
    from trl import ModelConfig, SFTConfig

    from ..evaluation.glue.callback import GlueEvalCallbackArguments
    from ..trainer.run import training_parser

    return training_parser((SFTScriptArguments, SFTConfig, ModelConfig, GlueEvalCallbackArguments), prog=prog)
