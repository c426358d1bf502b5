from pathlib import Path

import pytest
from torch.utils.tensorboard import SummaryWriter

from rlpt_trl.testing.tensorboard import read_scalars
from rlpt_trl.utils.errors import RlptError


def _log(run_dir: Path, values: list[float]) -> None:
    writer = SummaryWriter(log_dir=str(run_dir))
    for step, value in enumerate(values, start=1):
        writer.add_scalar("train/reward", value, step)
    writer.add_scalar("eval/loss", 0.5, len(values))
    writer.close()


def test_read_scalars_returns_every_step_in_order(tmp_path: Path) -> None:
    values = [0.1 * step for step in range(1200)]  # more than the accumulator's default sample of 1000
    _log(tmp_path / "runs" / "Nov01_host", values)
    scalars = read_scalars(tmp_path)
    assert [step for step, _ in scalars["train/reward"]] == list(range(1, 1201))
    assert [value for _, value in scalars["train/reward"]] == pytest.approx(values)
    assert scalars["eval/loss"] == [(1200, 0.5)]


def test_read_scalars_needs_exactly_one_run(tmp_path: Path) -> None:
    with pytest.raises(RlptError, match="found none"):
        read_scalars(tmp_path)
    _log(tmp_path / "runs" / "a", [1.0])
    _log(tmp_path / "runs" / "b", [2.0])
    with pytest.raises(RlptError, match="one run"):
        read_scalars(tmp_path)
