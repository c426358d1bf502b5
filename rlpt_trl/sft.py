"""Supervised fine-tuning baseline: CoLA acceptability judgements as prompt / completion pairs for `trl.SFTTrainer`.

A row becomes `prompt = prompt_template.format(sentence=...)` and `completion = " " + label_words[label]`.
SFTTrainer computes the loss on the completion tokens only for prompt / completion data
(`SFTConfig.completion_only_loss`, default on for this format) and appends the eos token to each completion.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field

from datasets import Dataset

from .data.glue import load_glue
from .errors import RlptError


DEFAULT_PROMPT_TEMPLATE = "Sentence: {sentence}\nQuestion: Is this sentence grammatically acceptable?\nAnswer:"
DEFAULT_LABEL_WORDS = ("unacceptable", "acceptable")


@dataclass
class SFTScriptArguments:
    """Script arguments of `recipes/sft.py` (with `trl.SFTConfig` and `trl.ModelConfig`)."""

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


def cola_prompt_completion(dataset: Dataset, prompt_template: str, label_words: list[str]) -> Dataset:
    """Turn CoLA rows (`sentence`, `label`) into `prompt` / `completion` rows."""
    words = [f" {word.strip()}" for word in label_words]
    return dataset.map(
        lambda row: {"prompt": prompt_template.format(sentence=row["sentence"]), "completion": words[row["label"]]},
        remove_columns=dataset.column_names,
    )


def load_sft_datasets(args: SFTScriptArguments) -> tuple[Dataset, Dataset]:
    """CoLA train and validation (through `load_glue`) as prompt / completion datasets, cut to the sample limits."""
    splits = []
    for split, limit in (("train", args.max_train_samples), ("validation", args.max_eval_samples)):
        dataset = load_glue("cola", split, args.data_dir)
        if limit is not None:
            dataset = dataset.select(range(min(limit, len(dataset))))
        splits.append(cola_prompt_completion(dataset, args.prompt_template, args.label_words))
    return splits[0], splits[1]
