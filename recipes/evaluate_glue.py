"""Evaluate one or more models on GLUE (CoLA, STS-B, MRPC, RTE, WNLI; SST-2 and QNLI on request).

    python recipes/evaluate_glue.py --model_name_or_path HuggingFaceTB/SmolLM2-135M-Instruct --output_dir eval/base
    python recipes/evaluate_glue.py --model_name_or_path MODEL_DIR --model_name_or_path runs/grpo \
        --tasks cola rte --data_dir GLUE_ROOT --scoring loglik --num_fewshot 5 --output_dir eval/compare

Every field of `rlpt_trl.evaluation.GlueEvalArguments` is a flag (or a key of a `--config` YAML). Writes
metrics.json, predictions/<model>/<task>.json and, with several models, comparison.md / comparison.png.
The same command is installed as `rlpt-trl eval`.
"""

import sys

from trl import TrlParser

from rlpt_trl.cli import run_recipe
from rlpt_trl.evaluation import GlueEvalArguments, run_glue_eval


if __name__ == "__main__":
    sys.exit(run_recipe("evaluate_glue.py", TrlParser((GlueEvalArguments,)), run_glue_eval))
