"""Evaluate one or more models on GLUE (CoLA, STS-B, MRPC, RTE, WNLI; SST-2 and QNLI on request).

    python recipes/evaluate_glue.py --model_name_or_path HuggingFaceTB/SmolLM2-135M-Instruct --output_dir eval/base

The script is `rlpt_trl.scripts.eval` (also installed as `rlpt-trl eval`); see its docstring for the flags.
"""

import sys

from rlpt_trl.cli import run_command


if __name__ == "__main__":
    sys.exit(run_command("eval", prog="evaluate_glue.py"))
