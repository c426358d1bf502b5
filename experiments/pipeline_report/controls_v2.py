"""The controls again (`experiments/controls_v2.py`): the arms, where each run's budget points are, the per-prompt
values every figure is recomputed from, the tables and the plot of its README."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rlpt_trl.evaluation.bootstrap import bootstrap_indices, percentile_ci
from rlpt_trl.evaluation.next_segment.result import nanmean, record_values
from rlpt_trl.testing.tensorboard import read_scalars
from rlpt_trl.trainer.flops import FLOPS_FILE
from rlpt_trl.utils.markdown import format_table

from .controls import BOOTSTRAP_ITERS, BOOTSTRAP_SEED, ZERO_STD_TAG


@dataclass(frozen=True)
class Arm:
    """One way to spend the budget: a trainer command with its flags, run once per seed, on some corpora."""

    name: str
    title: str
    trainer: str  # "ntp" or "grpo"
    flags: tuple[str, ...] = ()
    seeds: tuple[int, ...] = (1,)
    corpora: tuple[str, ...] = ("cola", "pydocs")


CORPORA = ("cola", "pydocs")
SECOND_LR = "5e-6"
ARMS = (
    Arm("ntp", "Next-token training on the corpus text", "ntp", seeds=(1, 2)),
    Arm("grpo", "GRPO, RPT's reward, shared prompts", "grpo", seeds=(1, 2)),
    Arm("grpo-ds", "GRPO, RPT's reward, shared prompts, dynamic sampling", "grpo", ("--dynamic_sampling", "true")),
    Arm("grpo-lr", f"GRPO, RPT's reward, shared prompts, learning rate {SECOND_LR}", "grpo",
        ("--learning_rate", SECOND_LR), corpora=("cola",)),
)  # fmt: skip
CONTROL = "ntp"
POINTS = (1, 2)  # budget points: multiples of the corpus's budget unit
# the metrics the report shows and commits per prompt: (name in record_values, label)
METRICS = {
    "next_token_accuracy": "next-token accuracy (sampled)",
    "greedy_next_token_accuracy": "next-token accuracy (greedy)",
    "next_token_pass_at_k": "next-token pass@4",
    "first_token_nll": "first-token NLL (nats)",
    "true_completion_nll": "completion NLL (nats/token)",
    "empty_rate": "empty samples",
}
HEADLINE = "next_token_accuracy"
# the plot's rows: sampled and greedy accuracy, which GRPO's sharpening pulls apart
PLOTTED = ("next_token_accuracy", "greedy_next_token_accuracy")
# per-prompt facts a compact file keeps beside METRICS: whether the true continuation and the greedy one start with a
# line break, the commonest first token after a pydocs prompt and the one a collapsed policy answers everywhere
LINE_BREAK_FIELDS = ("continuation_line_break", "greedy_line_break")


def run_name(corpus: str, arm: Arm, seed: int) -> str:
    """A run's folder under WORK_DIR/models."""
    return f"{corpus}-{arm.name}-s{seed}"


def corpus_runs(corpus: str, rounds: Sequence[int] = (0, 1)) -> list[tuple[Arm, int]]:
    """The corpus's runs of the given rounds, in the order they run: round 0 is every arm's first seed, round 1 the
    second seeds and the arms of one corpus (the second learning rate), so that the first round answers on both
    corpora before the second starts."""
    arms = [arm for arm in ARMS if corpus in arm.corpora]
    first = [(arm, arm.seeds[0]) for arm in arms if len(arm.corpora) == len(CORPORA)]
    second = [(arm, seed) for arm in arms for seed in arm.seeds[1:]]
    second += [(arm, arm.seeds[0]) for arm in arms if len(arm.corpora) < len(CORPORA)]
    return [run for index in rounds for run in (first, second)[index]]


def checkpoint_at(run_dir: Path, flops: float) -> Path | None:
    """The run's first checkpoint whose counted FLOPs reach `flops` (what `--save_at_flops` saved), or None."""
    found = []
    for folder in run_dir.glob("checkpoint-*"):
        counted = folder / FLOPS_FILE
        if counted.is_file() and json.loads(counted.read_text())["flops"] >= flops:
            found.append((int(folder.name.rsplit("-", 1)[1]), folder))
    return min(found)[1] if found else None


def compact_values(predictions: Path) -> dict[str, list]:
    """A next-segment predictions file reduced to each prompt's id and its values of the report's metrics."""
    records = json.loads(predictions.read_text())
    values = record_values(records)
    compact: dict[str, list] = {"idx": [record["idx"] for record in records]}
    for name in METRICS:
        compact[name] = [None if np.isnan(value) else float(value) for value in values[name]]
    for name, field in zip(LINE_BREAK_FIELDS, ("completion", "greedy"), strict=True):
        compact[name] = [starts_with_line_break(record[field]) for record in records]
    return compact


def starts_with_line_break(text: str) -> bool:
    """Whether a continuation's first character is a line break."""
    return text.startswith(("\n", "\r"))


def line_breaks(compacts: Mapping[str, Mapping[str, list]]) -> dict[str, object]:
    """How much of each model's greedy accuracy line breaks carry: the share of held-out continuations that start with
    one, and for every model whose file records it (files committed before the check have not) the share of its greedy
    continuations that do and its greedy accuracy on the prompts whose true continuation does and does not; {} when
    no file records it."""
    recorded = {name: compact for name, compact in compacts.items() if LINE_BREAK_FIELDS[0] in compact}
    if not recorded:
        return {}
    truth = np.array(next(iter(recorded.values()))[LINE_BREAK_FIELDS[0]], dtype=bool)
    models = {}
    for name, compact in recorded.items():
        greedy = per_prompt(compact)["greedy_next_token_accuracy"]  # NaN where a prompt has no true token
        models[name] = {
            "greedy_line_break": float(np.mean(compact[LINE_BREAK_FIELDS[1]])),
            "greedy_accuracy_after_line_break": float(nanmean(greedy[truth])) if truth.any() else None,
            "greedy_accuracy_otherwise": float(nanmean(greedy[~truth])) if (~truth).any() else None,
        }
    return {"prompts": int(truth.size), "continuation_line_break": int(truth.sum()), "models": models}


def line_breaks_section(check: Mapping[str, object]) -> str:
    """The README's section of a corpus's `line_breaks` check, one row per model; none where no held-out continuation
    starts with a line break."""
    if not check or not check["continuation_line_break"]:
        return ""

    def share(value: float | None) -> str:
        return "" if value is None else f"{value:.3f}"

    rows = [[name, share(entry["greedy_line_break"]), share(entry["greedy_accuracy_after_line_break"]),
             share(entry["greedy_accuracy_otherwise"])] for name, entry in check["models"].items()]  # fmt: skip
    header = ["model", "greedy continuation starts with a line break", "greedy accuracy where the true one does",
              "greedy accuracy elsewhere"]  # fmt: skip
    return f"""### Line breaks

{check["continuation_line_break"]} of the {check["prompts"]} held-out continuations start with a line break. What each
model's greedy continuation does (models evaluated before this check was added have no row):

{format_table(header, rows)}

"""


def per_prompt(compact: Mapping[str, list]) -> dict[str, np.ndarray]:
    """The metric -> per-prompt values (NaN where a prompt has none) of a compact file."""
    return {name: np.array([np.nan if v is None else v for v in compact[name]], dtype=np.float64) for name in METRICS}


def mean_over_seeds(values: Sequence[Mapping[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Each prompt's value averaged over runs of one arm (their seeds)."""
    return {name: nanmean(np.stack([run[name] for run in values]), axis=0) for name in METRICS}


def interval(values: np.ndarray, indices: np.ndarray) -> dict[str, object]:
    """The mean of per-prompt `values` (NaN left out) and its 95 % bootstrap CI over the prompts."""
    return {"mean": float(nanmean(values)), "ci": list(percentile_ci(nanmean(values[indices], axis=1)))}


def summarize(values: Mapping[str, np.ndarray], indices: np.ndarray) -> dict[str, dict]:
    """Every metric's mean and CI."""
    return {name: interval(values[name], indices) for name in METRICS}


def difference(a: Mapping[str, np.ndarray], b: Mapping[str, np.ndarray], indices: np.ndarray) -> dict[str, dict]:
    """a - b per metric, paired per prompt (the same resamples for both), with its 95 % bootstrap CI."""
    return {name: interval(a[name] - b[name], indices) for name in METRICS}


def bootstrap(n: int) -> np.ndarray:
    """The report's resamples of `n` prompts (the evaluation's settings)."""
    return bootstrap_indices(n, BOOTSTRAP_ITERS, BOOTSTRAP_SEED)


def run_log(run_dir: Path) -> dict[str, object]:
    """What a GRPO run logged that the report shows: the mean share of zero-variance groups, and with dynamic sampling
    the mean rounds a step and groups kept of those drawn."""
    scalars = read_scalars(run_dir)
    summary: dict[str, object] = {}
    for key, tag in (("frac_reward_zero_std", ZERO_STD_TAG), ("rounds", "train/dynamic_sampling/rounds"),
                     ("groups_drawn", "train/dynamic_sampling/groups_drawn"),
                     ("groups_kept", "train/dynamic_sampling/groups_kept")):  # fmt: skip
        if tag in scalars:
            summary[key] = float(np.mean([value for _, value in scalars[tag]]))
    return summary


def _cell(entry: Mapping[str, object], digits: int = 3, signed: bool = False) -> str:
    low, high = entry["ci"]
    sign = "+" if signed else ""
    star = "*" if signed and (low > 0 or high < 0) else ""
    return f"{entry['mean']:{sign}.{digits}f} [{low:{sign}.{digits}f}, {high:{sign}.{digits}f}]{star}"


def arms_table(arms: Mapping[str, Mapping[str, dict]]) -> str:
    """One row per arm and budget point (seed-averaged), one column per metric."""
    rows = [[name, *(_cell(entry[metric]) for metric in METRICS)] for name, entry in arms.items()]
    return format_table(["arm @ budget", *METRICS.values()], rows)


def differences_table(differences: Mapping[str, Mapping[str, dict]]) -> str:
    """One row per comparison, one column per metric: paired differences with their CIs (* where 0 is outside)."""
    rows = [[name, *(_cell(entry[metric], signed=True) for metric in METRICS)] for name, entry in differences.items()]
    return format_table(["comparison", *METRICS.values()], rows)


def plot(points: Mapping[str, Mapping[str, list[dict]]], path: Path) -> None:
    """Held-out next-token accuracy (a row for each metric of `PLOTTED`) against counted FLOPs, one line per arm with
    95 % CI bars, one column per corpus; `points`: corpus -> arm -> [{flops, METRIC: {mean, ci}}] in budget order."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(
        len(PLOTTED), len(points), figsize=(5.5 * len(points), 4 * len(PLOTTED)), squeeze=False
    )
    for row, metric in zip(axes, PLOTTED, strict=True):
        for axis, (corpus, arms) in zip(row, points.items(), strict=True):
            for arm, entries in arms.items():
                flops = [entry["flops"] for entry in entries]
                means = np.array([entry[metric]["mean"] for entry in entries])
                cis = [entry[metric]["ci"] for entry in entries]
                errors = np.array([[m - ci[0], ci[1] - m] for m, ci in zip(means, cis, strict=True)]).T
                axis.errorbar(flops, means, yerr=errors, marker="o", capsize=3, label=arm)
            axis.set_title(corpus)
            axis.set_xlabel("counted training FLOPs")
            axis.set_ylabel(f"held-out {METRICS[metric]}")
            axis.grid(alpha=0.3)
            axis.legend(fontsize=8)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)
