"""Next-token training controls with `trl.SFTTrainer` on the rows of a data build, the GRPO runs' own data.

    rlpt-trl ntp --config recipes/smollm2-135m/ntp_cpu.yaml --dataset_name DATA_DIR --mode pretrain
    rlpt-trl ntp --config recipes/smollm2-135m/ntp_cpu.yaml --dataset_name DATA_DIR --mode next_segment \
        --flops_budget 1.2e15

Modes:
- `pretrain`: continued pre-training, the causal LM loss on each row's whole sentence (`text`);
- `next_segment`: supervised next segment, each prompt -> its true completion with the loss on the completion only
  (the supervised twin of the GRPO task).

The rows come in the order a GRPO run with the same `--seed` draws its prompts (`grpo_order`), one epoch of it, so
that a control reads the sentences a GRPO run reads, first to last. Every run counts its compute
(`rlpt_trl.trainer.flops`) into `flops.json` in the output folder; `--flops_budget` stops training
at the first step that reaches that many FLOPs (give it a GRPO run's `flops.json` total to match compute). Every
flag of `NTPScriptArguments`, `trl.SFTConfig`, `trl.ModelConfig` and `FlopsArguments` works in the YAML or on the command line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from trl import ScriptArguments

from ..utils.errors import RlptError


if TYPE_CHECKING:
    from datasets import Dataset
    from trl import ModelConfig, SFTConfig, TrlParser

    from ..trainer.flops import FlopsArguments


# mode -> the data-build columns it trains on
MODE_COLUMNS = {"pretrain": ("text",), "next_segment": ("prompt", "completion")}
TAGS = ["rlpt_trl", "next-token-control"]


@dataclass
class NTPScriptArguments(ScriptArguments):
    """Script arguments of `rlpt-trl ntp` (with `trl.SFTConfig` and `trl.ModelConfig`).

    `dataset_name` is a folder written by `rlpt-trl data` or a Hub dataset id with the same columns.
    """

    mode: str = field(
        default="pretrain",
        metadata={
            "help": "pretrain: the loss on each row's `text`; next_segment: prompt -> completion, loss on the "
            "completion only."
        },
    )
    max_train_samples: int | None = field(default=None, metadata={"help": "Keep the first N rows (before ordering)."})


def grpo_order(rows: int, seed: int) -> list[int]:
    """The order in which GRPO (`trl.trainer.utils.RepeatSampler`, seeded by the run's seed) draws `rows` prompts in
    its first epoch."""
    import torch

    return torch.randperm(rows, generator=torch.Generator().manual_seed(seed)).tolist()


def ntp_dataset(dataset: Dataset, mode: str, seed: int, name: str) -> Dataset:
    """The rows of `dataset` that `mode` trains on, with only its columns, in `grpo_order`."""
    if mode not in MODE_COLUMNS:
        raise RlptError(f"--mode must be one of {', '.join(MODE_COLUMNS)}, got {mode!r}")
    columns = MODE_COLUMNS[mode]
    missing = [column for column in columns if column not in dataset.column_names]
    if missing:
        raise RlptError(
            f"dataset {name} lacks column(s) {', '.join(missing)} for --mode {mode} "
            f"(has {', '.join(sorted(dataset.column_names))})"
        )
    if len(dataset) == 0:
        raise RlptError(f"dataset {name} has no rows")
    kept = dataset.select_columns(list(columns))
    return kept.select(grpo_order(len(kept), seed))


def main(
    script_args: NTPScriptArguments, training_args: SFTConfig, model_args: ModelConfig, flops_args: FlopsArguments
) -> int:
    """Train the control and save (or push) it; return the exit status (`rlpt_trl.trainer.run.finish_training`)."""
    from ..data.prompt_dataset import load_prompt_dataset
    from ..trainer.checkpoints import GracefulStopCallback, resolve_resume_checkpoint
    from ..trainer.flops import FlopsCallback, check_flops_budget
    from ..trainer.run import finish_training
    from .sft import sft_trainer

    if not model_args.model_name_or_path:
        raise RlptError("--model_name_or_path is required (Hub id, local directory or .gguf file)")
    check_flops_budget(flops_args.flops_budget)
    dataset = load_prompt_dataset(
        script_args.dataset_name,
        split=script_args.dataset_train_split,
        config=script_args.dataset_config,
        max_samples=script_args.max_train_samples,
    )
    dataset = ntp_dataset(dataset, script_args.mode, training_args.seed, script_args.dataset_name)
    # the rows are in GRPO's order already: the sampler must keep it
    training_args.train_sampling_strategy = "sequential"
    resume = resolve_resume_checkpoint(training_args.resume_from_checkpoint, training_args.output_dir)

    trainer = sft_trainer(model_args, training_args, dataset)
    stop = GracefulStopCallback()
    trainer.add_callback(stop)
    trainer.add_callback(FlopsCallback({"policy": trainer.model}, budget=flops_args.flops_budget))
    trainer.train(resume_from_checkpoint=resume)
    return finish_training(trainer, stop, dataset_name=script_args.dataset_name, tags=[*TAGS, script_args.mode])


def make_parser(prog: str | None = None) -> TrlParser:
    """The parser of `rlpt-trl ntp`: script, SFT, model and compute-budget arguments."""
    from trl import ModelConfig, SFTConfig

    from ..trainer.flops import FlopsArguments
    from ..trainer.run import training_parser

    return training_parser((NTPScriptArguments, SFTConfig, ModelConfig, FlopsArguments), prog=prog)
