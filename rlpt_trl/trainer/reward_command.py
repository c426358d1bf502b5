"""What the commands that train on rewards (`rlpt-trl grpo`, `rlpt-trl rloo`) share: the rewards named by flags and
built from the reward settings, checked against the dataset before the model loads, the model card and the
`rlpt_rewards.json` (in the model folder and every checkpoint) that record them, the completions table and the
compute count."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from transformers import TrainerCallback
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR
from trl import ScriptArguments

from ..data.dataset_folder import build_stats
from ..rewards.registry import RewardArguments, reward_settings_from
from ..rewards.run_config import RewardConfig
from ..utils.errors import RlptError
from .command import RunArguments, TrainerCommand
from .flops import FlopsArguments, check_flops_budget
from .policy_fit import check_policy_fit


if TYPE_CHECKING:
    from datasets import Dataset
    from transformers import Trainer


@dataclass
class RewardScriptArguments(ScriptArguments):
    """Script arguments of the reward trainer commands (`rlpt-trl grpo`, `rlpt-trl rloo`).

    `dataset_name` is a folder written by `rlpt-trl data` or a Hub dataset id.
    """

    reward_funcs: list[str] = field(
        default_factory=lambda: ["perplexity_reward", "embedding_cosine_reward"],
        metadata={"help": "Registered reward names (see rlpt_trl.rewards) or dotted import paths."},
    )
    max_train_samples: int | None = field(default=None, metadata={"help": "Keep the first N training rows."})


def reward_settings(reward_args: RewardArguments, training_args: Any, policy: str) -> dict[str, Any]:
    """The `get_reward_funcs` settings of the run: the reward flags and the trainer's, the scorer defaulting to the
    policy's starting checkpoint, whose tokenizer is also the one whose token boundaries `rpt_prefix_reward` accepts."""
    settings = reward_settings_from(reward_args, training_args)
    settings["scorer_model_name_or_path"] = settings["scorer_model_name_or_path"] or policy
    settings["tokenizer_name_or_path"] = policy
    return settings


def check_reward_setup(
    script_args: RewardScriptArguments, training_args: Any, dataset: Dataset, reward_funcs: list
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
    # a data build without embeddings was asked for none: a reward that compares with them is a mistake, not a
    # reason to embed every target while training
    if build_stats(script_args.dataset_name).get("embedding_dim", 0) is None:
        needing = [reward.__name__ for reward in reward_funcs if getattr(reward, "embedding_columns", None)]
        if needing:
            raise RlptError(
                f"dataset {script_args.dataset_name} was built with --embedding_model_name_or_path none, without the "
                f"embeddings {', '.join(needing)} compares with; rebuild it with --embedding_model_name_or_path MODEL "
                "or train without that reward"
            )


class RewardConfigCallback(TrainerCallback):
    """Save the run's `RewardConfig` into every checkpoint (the final model folder gets it from the command)."""

    def __init__(self, config: RewardConfig) -> None:
        self.config = config

    def on_save(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            self.config.save(Path(args.output_dir) / f"{PREFIX_CHECKPOINT_DIR}-{state.global_step}")


class RewardTrainerCommand(TrainerCommand):
    """A TRL trainer that samples completions and learns from rewards, on a data build's prompts."""

    script_arguments = RewardScriptArguments
    extra_arguments = (RewardArguments, FlopsArguments)

    def check(self, args: RunArguments) -> None:
        budget = args[FlopsArguments]
        check_flops_budget(budget.flops_budget, budget.save_at_flops, args[self.config_class].save_total_limit)

    def datasets(self, args: RunArguments) -> tuple[Dataset, None]:
        from ..data.prompt_dataset import load_prompt_dataset

        script_args = args[RewardScriptArguments]
        dataset = load_prompt_dataset(
            script_args.dataset_name,
            split=script_args.dataset_train_split,
            config=script_args.dataset_config,
            max_samples=script_args.max_train_samples,
        )
        return dataset, None

    def reward_config(self, args: RunArguments) -> RewardConfig:
        """The run's rewards: names, weights and settings."""
        from trl import ModelConfig

        training_args = args[self.config_class]
        settings = reward_settings(args[RewardArguments], training_args, args[ModelConfig].model_name_or_path)
        return RewardConfig(args[RewardScriptArguments].reward_funcs, training_args.reward_weights, settings)

    def trainer_kwargs(self, args: RunArguments, train_dataset: Dataset) -> dict[str, Any]:
        from trl import ModelConfig

        script_args, training_args = args[RewardScriptArguments], args[self.config_class]
        reward_funcs = self.reward_config(args).build()
        check_reward_setup(script_args, training_args, train_dataset, reward_funcs)
        policy = args[ModelConfig].model_name_or_path
        check_policy_fit(
            train_dataset, script_args.dataset_name, policy, training_args.max_completion_length,
            training_args.trust_remote_code,
        )  # fmt: skip
        return {"reward_funcs": reward_funcs, "base_model": policy, "dataset_name": script_args.dataset_name}

    def callbacks(self, args: RunArguments, trainer: Trainer) -> list[TrainerCallback]:
        from ..models.shared import loaded_models
        from .completion_samples import CompletionSamplesCallback
        from .flops import FlopsCallback

        # the reward models load at their first call: looked for again at every step
        models = {"policy": trainer.model, "rewards": loaded_models}
        return [
            CompletionSamplesCallback(trainer),
            FlopsCallback(models, args[FlopsArguments].flops_budget, args[FlopsArguments].save_at_flops),
            RewardConfigCallback(self.reward_config(args)),
        ]

    def before_save(self, args: RunArguments, trainer: Trainer) -> None:
        if trainer.is_world_process_zero():
            self.reward_config(args).save(trainer.args.output_dir)
