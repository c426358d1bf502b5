"""The generated summary of a GLUE comparison: per task, the best model against the majority-class baseline."""

from __future__ import annotations

from collections.abc import Mapping

from rlpt_trl.evaluation.glue.spec import get_task
from rlpt_trl.evaluation.report import METRIC_LABELS


def summary_lines(glue: Mapping, baselines: Mapping) -> list[str]:
    """A Markdown bullet per task of `baselines`: the best model on the task's first metric, the baseline (an
    undefined one, a constant prediction's correlation, counts as chance: 0) and the models above it.

    `glue` is metrics.json's model -> task -> metrics; `baselines` is `majority_baselines()`'s task -> metrics.
    """
    lines = []
    for name, reference_metrics in baselines.items():
        metric = get_task(name).metrics[0]
        label = METRIC_LABELS.get(metric, metric)
        scored = [(tasks[name][metric], model) for model, tasks in glue.items() if tasks[name][metric] is not None]
        if not scored:
            lines.append(f"- {name} ({label}): undefined for every model (constant predictions).")
            continue
        reference = reference_metrics[metric] if reference_metrics[metric] is not None else 0.0
        best = max(value for value, _ in scored)
        leaders = ", ".join(model for value, model in scored if value == best)
        above = ", ".join(model for value, model in scored if value > reference) or "none"
        n = glue[scored[0][1]][name]["n"]
        lines.append(
            f"- {name} ({label}, n={n}): best {best:.4f} ({leaders}); baseline {reference:.4f}; above it: {above}."
        )
    return lines
