"""Next-token training controls with `trl.SFTTrainer` on the rows of a data build, the GRPO runs' own data.

    rlpt-trl ntp --config recipes/smollm2-135m/ntp_cpu.yaml --dataset_name DATA_DIR --mode pretrain
    rlpt-trl ntp --config recipes/smollm2-135m/ntp_cpu.yaml --dataset_name DATA_DIR --mode next_segment \
        --flops_budget 1.2e15

Modes:
- `pretrain`: continued pre-training, the causal LM loss on each row's whole sentence (`text`);
- `next_segment`: supervised next segment, each prompt -> its true completion with the loss on the completion only
  (the supervised twin of the GRPO task);
- `documents`: the running text of the build's documents, each token once a pass: a document is its first row's
  prompt followed by every row's completion in sentence order (an `asr` build, or any build with one row a
  document), the documents joined by a blank line with no end-of-text token between them, cut into `max_length`
  blocks (TRL's `wrapped` packing) read in a seeded random order.

In `pretrain` and `next_segment` the rows come in the order a GRPO run with the same `--seed` draws its prompts
(`grpo_order`), one epoch of it, so that a control reads the sentences a GRPO run reads, first to last. Their
`text` or `completion` ends with the tokenizer's end-of-text token, as TRL appends it: after running text that
teaches the model to end there, which `documents` avoids. Every run counts its compute
(`rlpt_trl.trainer.flops`) into `flops.json` in the output folder; `--flops_budget` stops training
at the first step that reaches that many FLOPs (give it a GRPO run's `flops.json` total to match compute). Every
flag of `NTPScriptArguments`, `trl.SFTConfig`, `trl.ModelConfig`, `FlopsArguments` and the in-training evaluation
works in the YAML or on the command line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from trl import ModelConfig, ScriptArguments, SFTConfig, SFTTrainer

from ..data.segmentation import PARAGRAPH_SEPARATOR
from ..trainer.command import TrainerCommand
from ..trainer.flops import FlopsArguments, check_flops_budget
from ..trainer.policy_fit import check_policy_fit
from ..utils.errors import RlptError


if TYPE_CHECKING:
    from datasets import Dataset
    from transformers import Trainer, TrainerCallback

    from ..trainer.command import RunArguments


# mode -> the data-build columns it trains on
MODE_COLUMNS = {
    "pretrain": ("text",),
    "next_segment": ("prompt", "completion"),
    "documents": ("prompt", "completion", "task", "doc_id", "segment_index"),
}


@dataclass
class NTPScriptArguments(ScriptArguments):
    """Script arguments of `rlpt-trl ntp` (with `trl.SFTConfig` and `trl.ModelConfig`).

    `dataset_name` is a folder written by `rlpt-trl data` or a Hub dataset id with the same columns.
    """

    mode: str = field(
        default="pretrain",
        metadata={
            "help": "pretrain: the loss on each row's `text`; next_segment: prompt -> completion, loss on the "
            "completion only; documents: the running text of the build's documents, each token once a pass, in "
            "max_length blocks."
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
    if mode == "documents":
        return document_stream(kept, name)
    return kept.select(grpo_order(len(kept), seed))


def document_stream(rows: Dataset, name: str) -> Dataset:
    """One row whose `text` is the running text of the documents of `rows` (the `documents` mode of the module
    docstring), in the build's document order; a document whose rows are not `asr` rows is refused unless it has
    one row, since cut rows of one document overlap."""
    from datasets import Dataset

    documents: dict[str, list[tuple[int, str, str, str]]] = {}
    for row in rows:
        documents.setdefault(row["doc_id"], []).append(
            (row["segment_index"], row["prompt"], row["completion"], row["task"])
        )
    texts = []
    for doc_id, parts in documents.items():
        parts.sort()
        if len(parts) > 1 and any(task != "asr" for *_, task in parts):
            raise RlptError(
                f"--mode documents needs an asr build or one row a document: document {doc_id!r} of {name} has "
                f"{len(parts)} {parts[0][3]} rows"
            )
        texts.append(parts[0][1] + "".join(completion for _, _, completion, _ in parts))
    return Dataset.from_dict({"text": [PARAGRAPH_SEPARATOR.join(texts)]})


class NTPCommand(TrainerCommand):
    """`rlpt-trl ntp`: `trl.SFTTrainer` on a data build's rows in GRPO's draw order, counting its FLOPs."""

    script_arguments = NTPScriptArguments
    config_class = SFTConfig
    trainer_class = SFTTrainer
    extra_arguments = (FlopsArguments,)
    padding_side = "right"

    def check(self, args: RunArguments) -> None:
        budget = args[FlopsArguments]
        check_flops_budget(budget.flops_budget, budget.save_at_flops, args[self.config_class].save_total_limit)

    def datasets(self, args: RunArguments) -> tuple[Dataset, None]:
        from ..data.prompt_dataset import load_prompt_dataset

        script_args, training_args = args[NTPScriptArguments], args[SFTConfig]
        dataset = load_prompt_dataset(
            script_args.dataset_name,
            split=script_args.dataset_train_split,
            config=script_args.dataset_config,
            max_samples=script_args.max_train_samples,
        )
        policy = args[ModelConfig].model_name_or_path
        check_policy_fit(dataset, script_args.dataset_name, policy, trust_remote_code=training_args.trust_remote_code)
        if script_args.mode == "documents":
            # one stream of text: cut into max_length blocks, read in a seeded random order
            training_args.packing, training_args.packing_strategy = True, "wrapped"
        else:
            # the rows are in GRPO's order already: the sampler must keep it
            training_args.train_sampling_strategy = "sequential"
        return ntp_dataset(dataset, script_args.mode, training_args.seed, script_args.dataset_name), None

    def callbacks(self, args: RunArguments, trainer: Trainer) -> list[TrainerCallback]:
        from ..trainer.flops import FlopsCallback

        budget = args[FlopsArguments]
        return [FlopsCallback({"policy": trainer.model}, budget.flops_budget, budget.save_at_flops)]

    def tags(self, args: RunArguments) -> tuple[str, ...]:
        return ("rlpt_trl", "next-token-control", args[NTPScriptArguments].mode)


COMMAND = NTPCommand()

# what `rlpt_trl.cli` and the recipes call, as for every script module
make_parser = COMMAND.make_parser
main = COMMAND.main
