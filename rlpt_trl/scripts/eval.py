"""Evaluate one or more models on GLUE (CoLA, STS-B, MRPC, RTE, WNLI; SST-2 and QNLI on request) and on held-out
next-segment prediction (`--tasks next_segment`, see `rlpt_trl.evaluation.next_segment`).

    rlpt-trl eval --model_name_or_path HuggingFaceTB/SmolLM2-135M-Instruct --output_dir eval/base
    python recipes/eval.py --model_name_or_path MODEL_DIR --model_name_or_path runs/grpo \
        --tasks cola rte --data_dir GLUE_ROOT --scoring loglik --num_fewshot 5 --output_dir eval/compare

Every field of `rlpt_trl.evaluation.EvalArguments` and of the task kinds' own arguments
(`rlpt_trl.evaluation.registry.task_arguments`) is a flag (or a key of a `--config` YAML); `--help` lists them.
Writes metrics.json, predictions/<model>/<task>.json and, with several models, comparison.md / comparison.png.
"""

from __future__ import annotations

from typing import TYPE_CHECKING


if TYPE_CHECKING:
    from trl import TrlParser

    from ..evaluation.arguments import EvalArguments
    from ..evaluation.task import EvalResult


def main(args: EvalArguments, *options: object) -> dict[str, dict[str, EvalResult]]:
    """Evaluate every model on every task and write the report; return the results."""
    from ..evaluation.runner import run_eval

    return run_eval(args, options)


def make_parser(prog: str | None = None) -> TrlParser:
    """The parser of `rlpt-trl eval` and `recipes/eval.py`."""
    from trl import TrlParser

    from ..evaluation.arguments import EvalArguments
    from ..evaluation.registry import task_arguments

    return TrlParser(
        (EvalArguments, *task_arguments()),
        prog=prog,
        description="Evaluate models on GLUE tasks and on held-out next-segment prediction.",
    )
