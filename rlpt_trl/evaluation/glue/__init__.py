"""GLUE evaluation: tasks as YAML specs (`spec`, `task_configs/`), prompts with few-shot examples (`prompts`),
log-likelihood and generation scoring (`loglik`, `generate`, with the few-shot `prefix_cache`), the official metrics
through `evaluate` (`metrics`, `glue_metric/`), the task and its result (`task`), its flags (`arguments`) and the task
kind that the registry finds (`kind`)."""

from typing import TYPE_CHECKING

from ...utils.lazy import lazy_exports


_EXPORTS = {
    "GlueArguments": ".arguments",
    "compute_glue_metrics": ".metrics",
    "load_glue_metric": ".metrics",
    "TaskPrompts": ".prompts",
    "build_task_prompts": ".prompts",
    "predict_from_scores": ".loglik",
    "score_continuations": ".loglik",
    "DEFAULT_TASKS": ".spec",
    "GLUE_EVAL_TASKS": ".spec",
    "GlueTaskSpec": ".spec",
    "get_task": ".spec",
    "select_tasks": ".spec",
    "SCORING_MODES": ".task",
    "GlueResult": ".task",
    "GlueTask": ".task",
    "Scoring": ".task",
    "evaluate_task": ".task",
}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from .arguments import GlueArguments
    from .loglik import predict_from_scores, score_continuations
    from .metrics import compute_glue_metrics, load_glue_metric
    from .prompts import TaskPrompts, build_task_prompts
    from .spec import DEFAULT_TASKS, GLUE_EVAL_TASKS, GlueTaskSpec, get_task, select_tasks
    from .task import SCORING_MODES, GlueResult, GlueTask, Scoring, evaluate_task
