"""Evaluate one or more models on any registered tasks: GLUE (CoLA, STS-B, MRPC, RTE, WNLI by default; SST-2 and QNLI
on request) and held-out next-segment prediction (`--tasks next_segment`).

    python recipes/eval.py --model_name_or_path HuggingFaceTB/SmolLM2-135M-Instruct --output_dir eval/base

The script is `rlpt_trl.scripts.eval` (also installed as `rlpt-trl eval`); see its docstring for the flags.
"""

import sys

from rlpt_trl.cli import run_command


if __name__ == "__main__":
    sys.exit(run_command("eval", prog="eval.py"))
