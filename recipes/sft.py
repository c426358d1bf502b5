"""Supervised fine-tuning baseline on CoLA with `trl.SFTTrainer`.

    python recipes/sft.py --config recipes/smollm-135m/sft.yaml

The script is `rlpt_trl.scripts.sft` (also installed as `rlpt-trl sft`); see its docstring for the flags.
"""

import sys

from rlpt_trl.cli import run_command


if __name__ == "__main__":
    sys.exit(run_command("sft", prog="sft.py"))
