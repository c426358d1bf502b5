"""What the training runs logged, summarised from their TensorBoard events: SFT losses and GRPO rewards."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from rlpt_trl.testing.tensorboard import read_scalars
from rlpt_trl.utils.errors import RlptError


Series = list[tuple[int, float]]  # (step, value) pairs, as `read_scalars` returns them
# the perplexity reward is z-scored within each prompt's group, so its mean is 0: the raw perplexity shows the trend
REWARD_TAGS = (
    "train/rewards/perplexity_reward/mean",
    "train/rewards/embedding_cosine_reward/mean",
    "train/reward",
    "train/rewards/perplexity_reward/perplexity",
)


# what the in-training callbacks log on held-out data: SFT's CoLA MCC, GRPO's next-segment objective
SFT_HELDOUT_TAGS = ("eval/cola/matthews_correlation",)
GRPO_HELDOUT_TAGS = ("eval/next_segment/reward", "eval/next_segment/cosine_sentence")


def quarter_means(series: Series) -> dict[str, float]:
    """Mean of the first and of the last quarter of a logged series (at least one value each)."""
    values = [value for _, value in series]
    quarter = max(1, len(values) // 4)
    return {
        "first_quarter_mean": float(np.mean(values[:quarter])),
        "last_quarter_mean": float(np.mean(values[-quarter:])),
    }


def plot_rewards(runs: Mapping[str, Mapping[str, Series]], path: Path) -> None:
    """One panel per reward tag, one line per GRPO run (faint: every step; solid: moving average), saved as `path`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(2, 2, figsize=(10, 7))
    for axis, tag in zip(axes.flat, REWARD_TAGS, strict=True):
        for number, (run, scalars) in enumerate(runs.items()):
            steps, values = (np.asarray(column) for column in zip(*scalars[tag], strict=True))
            window = max(1, len(values) // 10)
            smooth = np.convolve(values, np.ones(window) / window, mode="valid")
            axis.plot(steps, values, color=f"C{number}", alpha=0.3, linewidth=0.8)
            label = run if window == 1 else f"{run} ({window}-step moving mean)"
            axis.plot(steps[window - 1 :], smooth, color=f"C{number}", label=label)
        low, high = axis.get_ylim()
        if high - low < 1e-3:  # a constant series (the z-scored reward's mean) drawn flat, not as its float noise
            axis.set_ylim(low - 0.5, high + 0.5)
        axis.set_title(tag.removeprefix("train/"), fontsize=9)
        axis.set_xlabel("step")
        axis.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def plot_heldout(sft: Mapping[str, Series], grpo: Mapping[str, Mapping[str, Series]], path: Path) -> None:
    """One panel per held-out tag: SFT's, then the GRPO runs' (one line each), saved as `path`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [(tag, {"sft": sft}) for tag in SFT_HELDOUT_TAGS] + [(tag, grpo) for tag in GRPO_HELDOUT_TAGS]
    figure, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 3.5))
    for axis, (tag, runs) in zip(axes, panels, strict=True):
        for run, scalars in runs.items():
            steps, values = zip(*scalars[tag], strict=True)
            axis.plot(steps, values, marker="o", label=run)
        axis.set_title(tag.removeprefix("eval/"), fontsize=9)
        axis.set_xlabel("step")
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def _read_logged(output_dir: Path, tags: Sequence[str]) -> dict[str, Series]:
    """The scalars a run logged under `output_dir`, which must include every one of `tags`."""
    scalars = read_scalars(output_dir)
    missing = [tag for tag in tags if not scalars.get(tag)]
    if missing:
        raise RlptError(f"the TensorBoard events under {output_dir} have no {', '.join(missing)}")
    return scalars


def training_summary(sft_dir: Path, grpo_dirs: Mapping[str, Path], rewards_plot: Path, heldout_plot: Path) -> dict:
    """First- vs last-quarter means of the SFT training loss (with its last eval loss) and of each GRPO run's
    `REWARD_TAGS`, and every held-out evaluation the runs logged as they trained, from the TensorBoard events under
    each output folder; plots the rewards to `rewards_plot` and the held-out metrics to `heldout_plot`.

    Keys: `"sft"`, `"grpo"` (run, as `grpo_dirs` names them -> tag -> means) and `"heldout"` (run -> tag ->
    [[step, value], ...]).
    """
    sft = _read_logged(sft_dir, ("train/loss", "eval/loss", *SFT_HELDOUT_TAGS))
    grpo = {run: _read_logged(output_dir, (*REWARD_TAGS, *GRPO_HELDOUT_TAGS)) for run, output_dir in grpo_dirs.items()}
    plot_rewards(grpo, rewards_plot)
    plot_heldout(sft, grpo, heldout_plot)
    heldout = {"sft": {tag: sft[tag] for tag in SFT_HELDOUT_TAGS}}
    heldout |= {run: {tag: scalars[tag] for tag in GRPO_HELDOUT_TAGS} for run, scalars in grpo.items()}
    return {
        "sft": {"train/loss": quarter_means(sft["train/loss"]), "eval/loss": sft["eval/loss"][-1][1]},
        "grpo": {run: {tag: quarter_means(scalars[tag]) for tag in REWARD_TAGS} for run, scalars in grpo.items()},
        "heldout": {
            run: {tag: [list(point) for point in series] for tag, series in tags.items()}
            for run, tags in heldout.items()
        },  # fmt: skip
    }
