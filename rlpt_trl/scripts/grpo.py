"""GRPO on prompt / completion pairs with rlpt_trl's perplexity and embedding-cosine rewards.

    rlpt-trl grpo --config recipes/quickstart/grpo.yaml
    accelerate launch --config_file accelerate_configs/cpu.yaml recipes/grpo.py --config recipes/quickstart/grpo.yaml

Every flag of `GRPOScriptArguments`, the rewards' settings (`rlpt_trl.rewards.RewardArguments`), `trl.GRPOConfig`,
`trl.ModelConfig`, the in-training GLUE and next-segment evaluations (`GlueEvalCallbackArguments`,
`NextSegmentCallbackArguments`, `NextSegmentArguments`) and the compute budget (`--flops_budget`,
`rlpt_trl.trainer.flops`) works in the YAML or on the command line (the command line
wins); `--help` lists them. `--model_name_or_path` takes a Hub id, a local directory or a `.gguf` file. SIGTERM /
SIGINT stop after the current step with a checkpoint (exit status 128 + signal); `--resume_from_checkpoint true`
continues from the latest complete one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from trl import ScriptArguments

from ..utils.errors import RlptError


if TYPE_CHECKING:
    from datasets import Dataset
    from trl import GRPOConfig, ModelConfig, TrlParser

    from ..evaluation.glue.callback import GlueEvalCallbackArguments
    from ..evaluation.next_segment.arguments import NextSegmentArguments, NextSegmentCallbackArguments
    from ..rewards import RewardArguments
    from ..trainer.flops import FlopsArguments


@dataclass
class GRPOScriptArguments(ScriptArguments):
    """Script arguments of `rlpt-trl grpo` / `recipes/grpo.py`.

    `dataset_name` is a folder written by `rlpt-trl data` or a Hub dataset id.
    """

    reward_funcs: list[str] = field(
        default_factory=lambda: ["perplexity_reward", "embedding_cosine_reward"],
        metadata={"help": "Registered reward names (see rlpt_trl.rewards) or dotted import paths."},
    )
    max_train_samples: int | None = field(default=None, metadata={"help": "Keep the first N training rows."})


def check_grpo_setup(
    script_args: GRPOScriptArguments, training_args: GRPOConfig, dataset: Dataset, reward_funcs: list
) -> None:
    """Fail with one line, before any model loads, on settings TRL would only reject later (or never)."""
    weights = training_args.reward_weights
    if weights is not None and len(weights) != len(reward_funcs):
        raise RlptError(
            f"reward_weights has {len(weights)} values but {len(reward_funcs)} reward functions are set "
            f"({', '.join(script_args.reward_funcs)})"
        )
    if len(dataset) == 0:
        raise RlptError(f"dataset {script_args.dataset_name} has no rows")
    columns = dataset.column_names
    needed_by = {"prompt": ["the trainer"]}
    for reward in reward_funcs:
        # rewards that do not declare their columns (imported callables) are trusted
        for column in getattr(reward, "required_columns", lambda _: [])(columns):
            needed_by.setdefault(column, []).append(getattr(reward, "__name__", type(reward).__name__))
    missing = [column for column in needed_by if column not in columns]
    if missing:
        needs = "; ".join(f"{column} for {', '.join(needed_by[column])}" for column in missing)
        raise RlptError(
            f"dataset {script_args.dataset_name} lacks column(s) {needs} (has {', '.join(sorted(columns))})"
        )


def reward_settings(reward_args: RewardArguments, training_args: GRPOConfig, policy: str) -> dict[str, Any]:
    """The `get_reward_funcs` settings of the run: the reward flags and the trainer's, the scorer defaulting to the
    policy's starting checkpoint, whose tokenizer is also the one whose token boundaries `rpt_prefix_reward` accepts."""
    from ..rewards.registry import reward_settings_from

    settings = reward_settings_from(reward_args, training_args)
    settings["scorer_model_name_or_path"] = settings["scorer_model_name_or_path"] or policy
    settings["tokenizer_name_or_path"] = policy
    return settings


def main(
    script_args: GRPOScriptArguments,
    training_args: GRPOConfig,
    model_args: ModelConfig,
    reward_args: RewardArguments,
    eval_args: GlueEvalCallbackArguments,
    next_segment_eval_args: NextSegmentCallbackArguments,
    next_segment_args: NextSegmentArguments,
    flops_args: FlopsArguments,
) -> int:
    """Train with GRPO and save (or push) the model; return the exit status (`rlpt_trl.trainer.run.finish_training`)."""
    from trl import get_peft_config

    from ..data.prompt_dataset import load_prompt_dataset
    from ..evaluation.glue.callback import glue_eval_callback
    from ..evaluation.next_segment.callback import next_segment_eval_callback
    from ..models.loading import load_model_and_tokenizer
    from ..models.shared import loaded_models
    from ..rewards import get_reward_funcs
    from ..trainer.checkpoints import GracefulStopCallback, resolve_resume_checkpoint
    from ..trainer.completion_samples import CompletionSamplesCallback
    from ..trainer.flops import FlopsCallback, check_flops_budget
    from ..trainer.grpo_trainer import RLPTGRPOTrainer
    from ..trainer.run import finish_training

    # everything that can be wrong with the configuration is checked before a model loads
    policy = model_args.model_name_or_path
    if not policy:
        raise RlptError("--model_name_or_path is required (Hub id, local directory or .gguf file)")
    check_flops_budget(flops_args.flops_budget)
    dataset = load_prompt_dataset(
        script_args.dataset_name,
        split=script_args.dataset_train_split,
        config=script_args.dataset_config,
        max_samples=script_args.max_train_samples,
    )
    settings = reward_settings(reward_args, training_args, policy)
    reward_funcs = get_reward_funcs(script_args.reward_funcs, **settings)
    check_grpo_setup(script_args, training_args, dataset, reward_funcs)
    resume = resolve_resume_checkpoint(training_args.resume_from_checkpoint, training_args.output_dir)

    model, tokenizer = load_model_and_tokenizer(
        policy, dtype=model_args.dtype or "auto", device=None, trust_remote_code=training_args.trust_remote_code
    )
    samples = CompletionSamplesCallback()
    trainer = RLPTGRPOTrainer(
        model=model,
        processing_class=tokenizer,
        reward_funcs=samples.record(reward_funcs),
        args=training_args,
        train_dataset=dataset,
        peft_config=get_peft_config(model_args),
        base_model=policy,
        dataset_name=script_args.dataset_name,
    )
    stop = GracefulStopCallback()
    trainer.add_callback(stop)
    samples.trainer = trainer
    trainer.add_callback(samples)
    # the reward models load at their first call: looked for again at every step
    trainer.add_callback(
        FlopsCallback({"policy": trainer.model, "rewards": loaded_models}, budget=flops_args.flops_budget)
    )
    if (glue_eval := glue_eval_callback(trainer, eval_args)) is not None:
        trainer.add_callback(glue_eval)
    next_segment_eval = next_segment_eval_callback(
        trainer,
        next_segment_eval_args,
        next_segment_args,
        # the training rewards' own models: one scorer LM and one sentence encoder in the process
        scorer_model_name_or_path=settings["scorer_model_name_or_path"],
        embedding_model_name_or_path=settings["embedding_model_name_or_path"],
        scorer_dtype=settings["scorer_dtype"],
        data_dir=eval_args.glue_eval_data_dir,
    )
    if next_segment_eval is not None:
        trainer.add_callback(next_segment_eval)
    trainer.train(resume_from_checkpoint=resume)
    return finish_training(trainer, stop, dataset_name=script_args.dataset_name)


def make_parser(prog: str | None = None) -> TrlParser:
    """The parser of `rlpt-trl grpo` and `recipes/grpo.py`: script, GRPO, model, reward and evaluation arguments."""
    from trl import GRPOConfig, ModelConfig

    from ..evaluation.glue.callback import GlueEvalCallbackArguments
    from ..evaluation.next_segment.arguments import NextSegmentArguments, NextSegmentCallbackArguments
    from ..rewards import RewardArguments
    from ..trainer.flops import FlopsArguments
    from ..trainer.run import training_parser

    dataclass_types = (
        GRPOScriptArguments,
        GRPOConfig,
        ModelConfig,
        RewardArguments,
        GlueEvalCallbackArguments,
        NextSegmentCallbackArguments,
        NextSegmentArguments,
        FlopsArguments,
    )
    return training_parser(dataclass_types, prog=prog)
