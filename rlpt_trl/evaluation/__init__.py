"""Evaluation: tasks of several kinds behind one interface (`task`, found by name in `registry`): GLUE (`glue/`) and
held-out next-segment prediction (`next_segment/`); the command (`runner`, `arguments`), the in-training callback
(`callback`), bootstrap intervals (`bootstrap`), and reports (`report`, `paired`)."""

from typing import TYPE_CHECKING

from ..utils.lazy import lazy_exports


_EXPORTS = {
    "EvalArguments": ".arguments",
    "bootstrap_results": ".bootstrap",
    "EvalCallback": ".callback",
    "GlueEvalCallback": ".glue.callback",
    "GlueEvalCallbackArguments": ".glue.callback",
    "glue_eval_callback": ".glue.callback",
    "compute_glue_metrics": ".glue.metrics",
    "load_glue_metric": ".glue.metrics",
    "TaskPrompts": ".glue.prompts",
    "build_task_prompts": ".glue.prompts",
    "predict_from_scores": ".glue.loglik",
    "score_continuations": ".glue.loglik",
    "DEFAULT_TASKS": ".glue.spec",
    "GLUE_EVAL_TASKS": ".glue.spec",
    "GlueTaskSpec": ".glue.spec",
    "get_task": ".glue.spec",
    "select_tasks": ".glue.spec",
    "task_names": ".glue.spec",
    "SCORING_MODES": ".glue.task",
    "GlueResult": ".glue.task",
    "GlueTask": ".glue.task",
    "Scoring": ".glue.task",
    "evaluate_task": ".glue.task",
    "NextSegmentArguments": ".next_segment.arguments",
    "NextSegmentCallbackArguments": ".next_segment.arguments",
    "NextSegmentEvalCallback": ".next_segment.callback",
    "next_segment_eval_callback": ".next_segment.callback",
    "build_next_segment_prompts": ".next_segment.prompts",
    "NextSegmentResult": ".next_segment.result",
    "NextSegmentScorers": ".next_segment.task",
    "NextSegmentTask": ".next_segment.task",
    "evaluate_next_segment": ".next_segment.task",
    "paired_table": ".paired",
    "TASK_KINDS": ".registry",
    "markdown_table": ".report",
    "write_report": ".report",
    "run_eval": ".runner",
    "EvalResult": ".task",
    "EvalTask": ".task",
}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from .arguments import EvalArguments
    from .bootstrap import bootstrap_results
    from .callback import EvalCallback
    from .glue.callback import GlueEvalCallback, GlueEvalCallbackArguments, glue_eval_callback
    from .glue.loglik import predict_from_scores, score_continuations
    from .glue.metrics import compute_glue_metrics, load_glue_metric
    from .glue.prompts import TaskPrompts, build_task_prompts
    from .glue.spec import DEFAULT_TASKS, GLUE_EVAL_TASKS, GlueTaskSpec, get_task, select_tasks, task_names
    from .glue.task import SCORING_MODES, GlueResult, GlueTask, Scoring, evaluate_task
    from .next_segment.arguments import NextSegmentArguments, NextSegmentCallbackArguments
    from .next_segment.callback import NextSegmentEvalCallback, next_segment_eval_callback
    from .next_segment.prompts import build_next_segment_prompts
    from .next_segment.result import NextSegmentResult
    from .next_segment.task import NextSegmentScorers, NextSegmentTask, evaluate_next_segment
    from .paired import paired_table
    from .registry import TASK_KINDS
    from .report import markdown_table, write_report
    from .runner import run_eval
    from .task import EvalResult, EvalTask
