"""GRPO on prompt / completion pairs with rlpt_trl's perplexity and embedding-cosine rewards.

    rlpt-trl grpo --config recipes/quickstart/grpo.yaml
    accelerate launch --config_file accelerate_configs/cpu.yaml recipes/grpo.py --config recipes/quickstart/grpo.yaml

Every flag of `GRPOScriptArguments`, `trl.GRPOConfig`, `trl.ModelConfig`, `GlueEvalCallbackArguments`,
`NextSegmentCallbackArguments` and `NextSegmentArguments` works in the YAML or on the command line (the command line
wins). `--model_name_or_path` takes a Hub id, a local directory
or a `.gguf` file. SIGTERM / SIGINT stop after the current step with a checkpoint (exit status 128 + signal);
`--resume_from_checkpoint true` continues from the latest complete one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from trl import ScriptArguments

from ..embeddings import DEFAULT_EMBEDDING_MODEL
from ..errors import RlptError


if TYPE_CHECKING:
    from datasets import Dataset
    from trl import GRPOConfig, ModelConfig, TrlParser

    from ..evaluation.callback import GlueEvalCallbackArguments, NextSegmentCallbackArguments
    from ..evaluation.runner import NextSegmentArguments


@dataclass
class GRPOScriptArguments(ScriptArguments):
    """Script arguments of `rlpt-trl grpo` / `recipes/grpo.py`.

    `dataset_name` is a folder written by `rlpt-trl data` (`save_to_disk`) or a Hub dataset id.
    """

    reward_funcs: list[str] = field(
        default_factory=lambda: ["perplexity_reward", "embedding_cosine_reward"],
        metadata={"help": "Registered reward names (see rlpt_trl.rewards) or dotted import paths."},
    )
    scorer_model_name_or_path: str | None = field(
        default=None,
        metadata={"help": "Frozen LM of the perplexity reward (Hub id, dir or .gguf); default: the policy's start."},
    )
    embedding_model_name_or_path: str = field(
        default=DEFAULT_EMBEDDING_MODEL, metadata={"help": "sentence-transformers model of the embedding reward."}
    )
    reward_batch_size: int = field(default=32, metadata={"help": "Batch size of the reward models' forward passes."})
    text_column: str = field(default="text", metadata={"help": "Column with the original sentence."})
    scores_column: str = field(default="scores", metadata={"help": "Column with the acceptability score."})
    embedding_column: str = field(
        default="target_embedding", metadata={"help": "Column with the original sentence's L2-normalised embedding."}
    )
    embedding_baseline: str | None = field(
        default=None,
        metadata={"help": "'prompt': the embedding reward pays only the meaning a completion adds to its prompt."},
    )
    embedding_compare: str = field(
        default="sentence",
        metadata={"help": "Embedding reward target: 'sentence' (prompt + completion) or 'completion' (true one)."},
    )
    scale_by_score: bool = field(
        default=True, metadata={"help": "Multiply the embedding reward by the scores column."}
    )
    completion_embedding_column: str = field(
        default="completion_embedding",
        metadata={"help": "Column with the true completion's L2-normalised embedding (compare='completion')."},
    )
    max_train_samples: int | None = field(default=None, metadata={"help": "Keep the first N training rows."})


def reward_config(script_args: GRPOScriptArguments, training_args: GRPOConfig, policy: str) -> dict:
    """The settings `rlpt_trl.rewards.get_reward_funcs` takes, from the script and training arguments."""
    return {
        "scorer_model_name_or_path": script_args.scorer_model_name_or_path or policy,
        "embedding_model_name_or_path": script_args.embedding_model_name_or_path,
        "reward_batch_size": script_args.reward_batch_size,
        "num_generations": training_args.num_generations,
        "text_column": script_args.text_column,
        "scores_column": script_args.scores_column,
        "embedding_column": script_args.embedding_column,
        "embedding_baseline": script_args.embedding_baseline,
        "embedding_compare": script_args.embedding_compare,
        "scale_by_score": script_args.scale_by_score,
        "completion_embedding_column": script_args.completion_embedding_column,
    }


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


def main(
    script_args: GRPOScriptArguments,
    training_args: GRPOConfig,
    model_args: ModelConfig,
    eval_args: GlueEvalCallbackArguments,
    next_segment_eval_args: NextSegmentCallbackArguments,
    next_segment_args: NextSegmentArguments,
) -> int:
    """Train with GRPO and save (or push) the model; return the exit status (`rlpt_trl.training.finish_training`)."""
    from trl import get_peft_config

    from ..callbacks import CompletionSamplesCallback
    from ..checkpoints import GracefulStopCallback, resolve_resume_checkpoint
    from ..data.prompt_dataset import load_prompt_dataset
    from ..evaluation.callback import glue_eval_callback, next_segment_eval_callback
    from ..grpo_trainer import RLPTGRPOTrainer
    from ..modeling import load_model_and_tokenizer
    from ..rewards import get_reward_funcs
    from ..training import finish_training

    # everything that can be wrong with the configuration is checked before a model loads
    dataset = load_prompt_dataset(
        script_args.dataset_name,
        split=script_args.dataset_train_split,
        config=script_args.dataset_config,
        max_samples=script_args.max_train_samples,
    )
    policy = model_args.model_name_or_path
    reward_funcs = get_reward_funcs(script_args.reward_funcs, **reward_config(script_args, training_args, policy))
    check_grpo_setup(script_args, training_args, dataset, reward_funcs)
    resume = resolve_resume_checkpoint(training_args.resume_from_checkpoint, training_args.output_dir)

    model, tokenizer = load_model_and_tokenizer(
        policy, dtype=model_args.dtype or "auto", device=None, trust_remote_code=training_args.trust_remote_code
    )
    trainer = RLPTGRPOTrainer(
        model=model,
        processing_class=tokenizer,
        reward_funcs=reward_funcs,
        args=training_args,
        train_dataset=dataset,
        peft_config=get_peft_config(model_args),
        base_model=policy,
        dataset_name=script_args.dataset_name,
    )
    stop = GracefulStopCallback()
    trainer.add_callback(stop)
    trainer.add_callback(CompletionSamplesCallback(trainer))
    if (glue_eval := glue_eval_callback(trainer, eval_args)) is not None:
        trainer.add_callback(glue_eval)
    next_segment_eval = next_segment_eval_callback(
        trainer,
        next_segment_eval_args,
        next_segment_args,
        scorer_model_name_or_path=script_args.scorer_model_name_or_path or policy,
        embedding_model_name_or_path=script_args.embedding_model_name_or_path,
        data_dir=eval_args.glue_eval_data_dir,
    )
    if next_segment_eval is not None:
        trainer.add_callback(next_segment_eval)
    trainer.train(resume_from_checkpoint=resume)
    return finish_training(trainer, stop, dataset_name=script_args.dataset_name)


def make_parser(prog: str | None = None) -> TrlParser:
    """The parser of `rlpt-trl grpo` and `recipes/grpo.py`: script, GRPO, model and GLUE-callback arguments."""
    from trl import GRPOConfig, ModelConfig

    from ..evaluation.callback import GlueEvalCallbackArguments, NextSegmentCallbackArguments
    from ..evaluation.runner import NextSegmentArguments
    from ..training import training_parser

    dataclass_types = (
        GRPOScriptArguments,
        GRPOConfig,
        ModelConfig,
        GlueEvalCallbackArguments,
        NextSegmentCallbackArguments,
        NextSegmentArguments,
    )
    return training_parser(dataclass_types, prog=prog)
