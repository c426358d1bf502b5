"""GRPO on CoLA prompt / completion pairs with rlpt_trl's perplexity and embedding-cosine rewards.

    accelerate launch --config_file accelerate_configs/cpu.yaml recipes/grpo.py --config recipes/quickstart/grpo.yaml

The script is `rlpt_trl.scripts.grpo` (also installed as `rlpt-trl grpo`); see its docstring for the flags.
"""

import sys

from rlpt_trl.cli import run_command


if __name__ == "__main__":
    sys.exit(run_command("grpo", prog="grpo.py"))
