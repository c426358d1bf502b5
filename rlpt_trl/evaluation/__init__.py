"""GLUE evaluation: task files, log-likelihood and generation scoring, `evaluate` metrics, reports, a callback."""

from ..devices import evaluation_dtype
from .callback import GlueEvalCallback, GlueEvalCallbackArguments, glue_eval_callback
from .evaluator import SCORING_MODES, Scoring, TaskResult, evaluate_task
from .loglik import predict_from_scores, score_continuations
from .metrics import compute_glue_metrics, load_glue_metric
from .prompts import TaskPrompts, build_task_prompts
from .report import markdown_table, write_report
from .runner import GlueEvalArguments, run_glue_eval
from .tasks import DEFAULT_TASKS, GLUE_EVAL_TASKS, GlueTaskSpec, get_task, select_tasks, task_names


__all__ = [
    "DEFAULT_TASKS",
    "GLUE_EVAL_TASKS",
    "SCORING_MODES",
    "Scoring",
    "GlueEvalArguments",
    "GlueEvalCallback",
    "GlueEvalCallbackArguments",
    "GlueTaskSpec",
    "TaskPrompts",
    "TaskResult",
    "build_task_prompts",
    "compute_glue_metrics",
    "evaluate_task",
    "evaluation_dtype",
    "get_task",
    "glue_eval_callback",
    "load_glue_metric",
    "markdown_table",
    "predict_from_scores",
    "run_glue_eval",
    "score_continuations",
    "select_tasks",
    "task_names",
    "write_report",
]
