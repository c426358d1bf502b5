"""RLOO (REINFORCE leave-one-out) on prompt / completion pairs with rlpt_trl's rewards: the GRPO command's rewards,
data and in-training evaluation on `trl.RLOOTrainer`.

    rlpt-trl rloo --config recipes/smollm2-135m/rloo_cpu.yaml --model_name_or_path MODEL --dataset_name DATA_DIR
    accelerate launch --config_file accelerate_configs/cpu.yaml recipes/rloo.py --config recipes/smollm2-135m/rloo_cpu.yaml

Every flag of `RewardScriptArguments`, `rlpt_trl.rewards.RewardArguments`, `trl.RLOOConfig`, `trl.ModelConfig`,
`--flops_budget` and the in-training evaluation works in the YAML or on the command line; `--help` lists them.
"""

from __future__ import annotations

from trl import RLOOConfig

from ..trainer.model_card import RLPTRLOOTrainer
from ..trainer.reward_command import RewardTrainerCommand


class RLOOCommand(RewardTrainerCommand):
    """`rlpt-trl rloo`: `trl.RLOOTrainer` (with the rewards in its model card) on a data build's prompts."""

    config_class = RLOOConfig
    trainer_class = RLPTRLOOTrainer


COMMAND = RLOOCommand()

# what `rlpt_trl.cli` and the recipes call, as for every script module
make_parser = COMMAND.make_parser
main = COMMAND.main
