"""RLOO on prompt / completion pairs with rlpt_trl's rewards (the GRPO recipe's data, rewards and evaluation).

    accelerate launch --config_file accelerate_configs/cpu.yaml recipes/rloo.py --config recipes/smollm2-135m/rloo_cpu.yaml

The script is `rlpt_trl.scripts.rloo` (also installed as `rlpt-trl rloo`); see its docstring for the flags.
"""

import sys

from rlpt_trl.cli import run_command


if __name__ == "__main__":
    sys.exit(run_command("rloo", prog="rloo.py"))
