"""GRPO on prompt / completion pairs with rlpt_trl's rewards (default: perplexity and embedding cosine).

    rlpt-trl grpo --config recipes/quickstart/grpo.yaml
    accelerate launch --config_file accelerate_configs/cpu.yaml recipes/grpo.py --config recipes/quickstart/grpo.yaml

Every flag of `RewardScriptArguments`, the rewards' settings (`rlpt_trl.rewards.RewardArguments`), `trl.GRPOConfig`,
`trl.ModelConfig`, the compute budget (`--flops_budget`) and the in-training evaluation (`--eval_tasks`,
`--eval_every_steps` and the task kinds' flags) works in the YAML or on the command line (the command line wins);
`--help` lists them. The run is assembled by `rlpt_trl.trainer.command.TrainerCommand`.
"""

from __future__ import annotations

from trl import GRPOConfig

from ..trainer.model_card import RLPTGRPOTrainer
from ..trainer.reward_command import RewardTrainerCommand


class GRPOCommand(RewardTrainerCommand):
    """`rlpt-trl grpo`: `trl.GRPOTrainer` (with the rewards in its model card) on a data build's prompts."""

    config_class = GRPOConfig
    trainer_class = RLPTGRPOTrainer


COMMAND = GRPOCommand()

# what `rlpt_trl.cli` and the recipes call, as for every script module
make_parser = COMMAND.make_parser
main = COMMAND.main
