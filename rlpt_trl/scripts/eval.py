"""Evaluate one or more models on GLUE (CoLA, STS-B, MRPC, RTE, WNLI; SST-2 and QNLI on request) and on held-out
next-segment prediction (`--tasks next_segment`, see `rlpt_trl.evaluation.next_segment`).

    rlpt-trl eval --model_name_or_path HuggingFaceTB/SmolLM2-135M-Instruct --output_dir eval/base
    python recipes/evaluate_glue.py --model_name_or_path MODEL_DIR --model_name_or_path runs/grpo \
        --tasks cola rte --data_dir GLUE_ROOT --scoring loglik --num_fewshot 5 --output_dir eval/compare

Every field of `GlueEvalArguments` and `NextSegmentArguments` (`rlpt_trl.evaluation.runner`) is a flag (or a key of
a `--config` YAML). Writes metrics.json, predictions/<model>/<task>.json and, with several models, comparison.md /
comparison.png.
"""

from __future__ import annotations

from typing import TYPE_CHECKING


if TYPE_CHECKING:
    from trl import TrlParser

    from ..evaluation.evaluator import TaskResult
    from ..evaluation.runner import GlueEvalArguments, NextSegmentArguments


def main(args: GlueEvalArguments, next_segment_args: NextSegmentArguments) -> dict[str, dict[str, TaskResult]]:
    """Evaluate every model on every task and write the report; return the results."""
    from ..evaluation.runner import run_glue_eval

    return run_glue_eval(args, next_segment_args)


def make_parser(prog: str | None = None) -> TrlParser:
    """The parser of `rlpt-trl eval` and `recipes/evaluate_glue.py`."""
    from trl import TrlParser

    from ..evaluation.runner import GlueEvalArguments, NextSegmentArguments

    return TrlParser(
        (GlueEvalArguments, NextSegmentArguments),
        prog=prog,
        description="Evaluate models on GLUE tasks and on held-out next-segment prediction.",
    )
