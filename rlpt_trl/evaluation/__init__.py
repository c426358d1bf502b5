"""Evaluation: GLUE task files, log-likelihood and generation scoring, `evaluate` metrics, held-out next-segment
prediction, bootstrap intervals, reports, in-training callbacks."""

from typing import TYPE_CHECKING

from ..lazy import lazy_exports


_EXPORTS = {
    "evaluation_dtype": "..devices",
    "GlueEvalCallback": ".callback",
    "GlueEvalCallbackArguments": ".callback",
    "glue_eval_callback": ".callback",
    "NextSegmentCallbackArguments": ".callback",
    "NextSegmentEvalCallback": ".callback",
    "PeriodicEvalCallback": ".callback",
    "next_segment_eval_callback": ".callback",
    "NextSegmentScorers": ".next_segment",
    "evaluate_next_segment": ".next_segment",
    "build_next_segment_prompts": ".next_segment_prompts",
    "NextSegmentResult": ".next_segment_result",
    "NextSegmentArguments": ".runner",
    "SCORING_MODES": ".evaluator",
    "Scoring": ".evaluator",
    "TaskResult": ".evaluator",
    "evaluate_task": ".evaluator",
    "predict_from_scores": ".loglik",
    "score_continuations": ".loglik",
    "compute_glue_metrics": ".metrics",
    "load_glue_metric": ".metrics",
    "TaskPrompts": ".prompts",
    "build_task_prompts": ".prompts",
    "markdown_table": ".report",
    "write_report": ".report",
    "GlueEvalArguments": ".runner",
    "run_glue_eval": ".runner",
    "DEFAULT_TASKS": ".tasks",
    "GLUE_EVAL_TASKS": ".tasks",
    "GlueTaskSpec": ".tasks",
    "get_task": ".tasks",
    "select_tasks": ".tasks",
    "task_names": ".tasks",
}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from ..devices import evaluation_dtype
    from .callback import (
        GlueEvalCallback,
        GlueEvalCallbackArguments,
        NextSegmentCallbackArguments,
        NextSegmentEvalCallback,
        PeriodicEvalCallback,
        glue_eval_callback,
        next_segment_eval_callback,
    )
    from .evaluator import SCORING_MODES, Scoring, TaskResult, evaluate_task
    from .loglik import predict_from_scores, score_continuations
    from .metrics import compute_glue_metrics, load_glue_metric
    from .next_segment import NextSegmentScorers, evaluate_next_segment
    from .next_segment_prompts import build_next_segment_prompts
    from .next_segment_result import NextSegmentResult
    from .prompts import TaskPrompts, build_task_prompts
    from .report import markdown_table, write_report
    from .runner import GlueEvalArguments, NextSegmentArguments, run_glue_eval
    from .tasks import DEFAULT_TASKS, GLUE_EVAL_TASKS, GlueTaskSpec, get_task, select_tasks, task_names
