"""What the training runs logged, summarised from their TensorBoard events: SFT losses and GRPO rewards."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from ..errors import RlptError
from ..logs import read_scalars


Series = list[tuple[int, float]]  # (step, value) pairs, as `read_scalars` returns them
# the perplexity reward is z-scored within each prompt's group, so its mean is 0: the raw perplexity shows the trend
REWARD_TAGS = (
    "train/rewards/perplexity_reward/mean",
    "train/rewards/embedding_cosine_reward/mean",
    "train/reward",
    "train/rewards/perplexity_reward/perplexity",
)


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


def _read_logged(output_dir: Path, tags: Sequence[str]) -> dict[str, Series]:
    """The scalars a run logged under `output_dir`, which must include every one of `tags`."""
    scalars = read_scalars(output_dir)
    missing = [tag for tag in tags if not scalars.get(tag)]
    if missing:
        raise RlptError(f"the TensorBoard events under {output_dir} have no {', '.join(missing)}")
    return scalars


def training_summary(sft_dir: Path, grpo_dirs: Mapping[str, Path], plot: Path) -> dict[str, dict]:
    """First- vs last-quarter means of the SFT training loss (with its last eval loss) and of each GRPO run's
    `REWARD_TAGS`, from the TensorBoard events under each output folder; plots the rewards to `plot`.

    Keys: `"sft"`, then the GRPO runs as `grpo_dirs` names them.
    """
    sft = _read_logged(sft_dir, ("train/loss", "eval/loss"))
    rewards = {run: _read_logged(output_dir, REWARD_TAGS) for run, output_dir in grpo_dirs.items()}
    plot_rewards(rewards, plot)
    return {
        "sft": {"train/loss": quarter_means(sft["train/loss"]), "eval/loss": sft["eval/loss"][-1][1]},
        **{run: {tag: quarter_means(scalars[tag]) for tag in REWARD_TAGS} for run, scalars in rewards.items()},
    }
