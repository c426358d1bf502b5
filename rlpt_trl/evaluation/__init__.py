"""Evaluation: tasks of any kind behind one interface (`task`), found by name (`registry`), each kind in its own
subpackage that the registry finds; the command (`runner`, `arguments`), the in-training callback (`callback`),
bootstrap intervals (`bootstrap`) and reports (`report`, `paired`)."""

from typing import TYPE_CHECKING

from ..utils.lazy import lazy_exports


_EXPORTS = {
    "EvalArguments": ".arguments",
    "EvalCallbackArguments": ".arguments",
    "bootstrap_results": ".bootstrap",
    "EvalCallback": ".callback",
    "eval_callback": ".callback",
    "paired_table": ".paired",
    "build_tasks": ".registry",
    "task_kinds": ".registry",
    "markdown_table": ".report",
    "write_report": ".report",
    "run_eval": ".runner",
    "EvalResult": ".task",
    "EvalSetup": ".task",
    "EvalTask": ".task",
    "TaskKind": ".task",
}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from .arguments import EvalArguments, EvalCallbackArguments
    from .bootstrap import bootstrap_results
    from .callback import EvalCallback, eval_callback
    from .paired import paired_table
    from .registry import build_tasks, task_kinds
    from .report import markdown_table, write_report
    from .runner import run_eval
    from .task import EvalResult, EvalSetup, EvalTask, TaskKind
