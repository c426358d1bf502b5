"""The next-segment evaluation: held-out sentences cut into prompt and true completion (`prompts`), seeded sampling
(`sampling`), the scoring and the task (`task`), its result (`result`), its flags (`arguments`) and the task kind that
the registry finds (`kind`)."""

from typing import TYPE_CHECKING

from ...utils.lazy import lazy_exports


_EXPORTS = {
    "NextSegmentArguments": ".arguments",
    "NextSegmentEvalArguments": ".arguments",
    "build_next_segment_prompts": ".prompts",
    "NextSegmentResult": ".result",
    "NextSegmentScorers": ".task",
    "NextSegmentTask": ".task",
    "evaluate_next_segment": ".task",
}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from .arguments import NextSegmentArguments, NextSegmentEvalArguments
    from .prompts import build_next_segment_prompts
    from .result import NextSegmentResult
    from .task import NextSegmentScorers, NextSegmentTask, evaluate_next_segment
