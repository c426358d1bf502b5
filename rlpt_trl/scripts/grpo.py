"""GRPO on prompt / completion pairs with rlpt_trl's rewards (default: perplexity and embedding cosine).

    rlpt-trl grpo --config recipes/quickstart/grpo.yaml
    accelerate launch --config_file accelerate_configs/cpu.yaml recipes/grpo.py --config recipes/quickstart/grpo.yaml

Every flag of `RewardScriptArguments`, the rewards' settings (`rlpt_trl.rewards.RewardArguments`), `trl.GRPOConfig`,
`trl.ModelConfig`, the compute budget (`--flops_budget`), `--shared_prompt`, `--skip_zero_advantage`,
`--dynamic_sampling` and the in-training evaluation (`--eval_tasks`, `--eval_every_steps` and the task kinds' flags)
works in the YAML or on the command line (the command line wins); `--help` lists them. The run is assembled by `rlpt_trl.trainer.command.TrainerCommand`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from trl import GRPOConfig

from ..trainer.dynamic_sampling import DynamicSamplingArguments, check_dynamic_sampling
from ..trainer.model_card import RLPTGRPOTrainer
from ..trainer.reward_command import RewardTrainerCommand
from ..trainer.shared_prompt import SharedPromptArguments
from ..trainer.zero_advantage import ZeroAdvantageArguments


if TYPE_CHECKING:
    from datasets import Dataset

    from ..trainer.command import RunArguments


class GRPOCommand(RewardTrainerCommand):
    """`rlpt-trl grpo`: `trl.GRPOTrainer` (with the rewards in its model card, each prompt computed once per group,
    without forwarding the completions of zero advantage, DAPO's dynamic sampling on request) on a data build's
    prompts."""

    config_class = GRPOConfig
    trainer_class = RLPTGRPOTrainer
    extra_arguments = (
        *RewardTrainerCommand.extra_arguments,
        SharedPromptArguments,
        ZeroAdvantageArguments,
        DynamicSamplingArguments,
    )

    def check(self, args: RunArguments) -> None:
        super().check(args)
        sampling = args[DynamicSamplingArguments]
        if sampling.dynamic_sampling:
            check_dynamic_sampling(args[self.config_class], sampling.max_resample_rounds)

    def trainer_kwargs(self, args: RunArguments, train_dataset: Dataset) -> dict[str, Any]:
        return {
            **super().trainer_kwargs(args, train_dataset),
            "shared_prompt": args[SharedPromptArguments].shared_prompt,
            "skip_zero_advantage": args[ZeroAdvantageArguments].skip_zero_advantage,
            "dynamic_sampling": args[DynamicSamplingArguments].dynamic_sampling,
            "max_resample_rounds": args[DynamicSamplingArguments].max_resample_rounds,
        }


COMMAND = GRPOCommand()

# what `rlpt_trl.cli` and the recipes call, as for every script module
make_parser = COMMAND.make_parser
main = COMMAND.main
