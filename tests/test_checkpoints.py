from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from transformers import TrainerControl, TrainerState, TrainingArguments

from rlpt_trl import RlptError
from rlpt_trl.trainer.checkpoints import (
    GracefulStopCallback,
    checkpoint_problem,
    last_complete_checkpoint,
    resolve_resume_checkpoint,
)


def _checkpoint(root: Path, step: int, complete: bool = True) -> Path:
    """A checkpoint folder with the files a resume reads, each small but real."""
    path = root / f"checkpoint-{step}"
    path.mkdir()
    save_file({"weight": torch.ones(4, 4)}, path / "model.safetensors")
    torch.save({"state": {}, "param_groups": []}, path / "optimizer.pt")
    torch.save({"python": 1}, path / "rng_state.pth")
    if complete:
        (path / "trainer_state.json").write_text(json.dumps({"global_step": step}))
    return path


def test_latest_complete_checkpoint_skips_half_written(tmp_path: Path) -> None:
    _checkpoint(tmp_path, 2)
    ten = _checkpoint(tmp_path, 10)
    _checkpoint(tmp_path, 12, complete=False)  # killed mid-save
    (tmp_path / "checkpoint-x").mkdir()
    assert last_complete_checkpoint(tmp_path) == ten
    assert resolve_resume_checkpoint("true", tmp_path) == str(ten)
    assert resolve_resume_checkpoint(True, tmp_path) == str(ten)
    assert resolve_resume_checkpoint(None, tmp_path) is None
    assert resolve_resume_checkpoint(str(ten), tmp_path) == str(ten)


def _half_written_state(path: Path) -> None:
    (path / "trainer_state.json").write_text('{"global_step": 1')


def _truncated_weights(path: Path) -> None:
    data = (path / "model.safetensors").read_bytes()
    (path / "model.safetensors").write_bytes(data[:-10])


def _empty_weights(path: Path) -> None:
    (path / "model.safetensors").write_bytes(b"")


def _truncated_optimizer(path: Path) -> None:
    data = (path / "optimizer.pt").read_bytes()
    (path / "optimizer.pt").write_bytes(data[: len(data) // 2])


@pytest.mark.parametrize(
    ("damage", "problem"),
    [
        (_half_written_state, "trainer_state.json does not parse (JSONDecodeError)"),
        (_truncated_weights, "model.safetensors is truncated"),
        (_empty_weights, "model.safetensors is truncated"),
        (_truncated_optimizer, "optimizer.pt does not parse (BadZipFile)"),
    ],
)
def test_a_damaged_checkpoint_is_passed_over_with_its_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], damage: Callable[[Path], None], problem: str
) -> None:
    """Complete means every file the resume reads parses; resume falls back to the newest complete one, saying so."""
    four = _checkpoint(tmp_path, 4)
    eight = _checkpoint(tmp_path, 8)
    damage(eight)
    assert checkpoint_problem(four) is None and checkpoint_problem(eight) == problem
    assert resolve_resume_checkpoint("true", tmp_path) == str(four)
    assert capsys.readouterr().err == f"{eight}: not complete, passed over: {problem}\n"
    with pytest.raises(RlptError, match=re.escape(f"not a complete checkpoint: {eight}: {problem}")):
        resolve_resume_checkpoint(str(eight), tmp_path)


def test_resume_errors(tmp_path: Path) -> None:
    with pytest.raises(RlptError, match="no complete checkpoint in"):
        resolve_resume_checkpoint("true", tmp_path)
    with pytest.raises(RlptError, match="no such checkpoint folder"):
        resolve_resume_checkpoint(str(tmp_path / "checkpoint-9"), tmp_path)
    half = _checkpoint(tmp_path, 4, complete=False)
    with pytest.raises(RlptError, match="not a complete checkpoint"):
        resolve_resume_checkpoint(str(half), tmp_path)


def test_signal_requests_save_and_stop(tmp_path: Path) -> None:
    callback = GracefulStopCallback(signals=(signal.SIGUSR1,))
    args = TrainingArguments(output_dir=str(tmp_path), report_to="none")
    state, control = TrainerState(), TrainerControl()
    callback.on_train_begin(args, state, control)
    try:
        callback.on_step_end(args, state, control)
        assert not control.should_save and not control.should_training_stop
        os.kill(os.getpid(), signal.SIGUSR1)
        callback.on_step_end(args, state, control)
        assert callback.requested == signal.SIGUSR1
        assert control.should_save and control.should_training_stop
    finally:
        callback.on_train_end(args, state, control)
    assert signal.getsignal(signal.SIGUSR1) is signal.SIG_DFL


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_second_signal_ends_the_process_at_once(signum: int, tmp_path: Path) -> None:
    """The first signal asks for a clean stop; the second ends the process as it would without the callback
    (SIGTERM: killed by the signal; SIGINT: KeyboardInterrupt), not after the step or the save."""
    script = f"""
import os, signal, time
from transformers import TrainerControl, TrainerState, TrainingArguments
from rlpt_trl.trainer.checkpoints import GracefulStopCallback
# Python's own SIGINT handler, as an interactive start has it: a job started in the background inherits SIGINT ignored
signal.signal(signal.SIGINT, signal.default_int_handler)
callback = GracefulStopCallback()
args = TrainingArguments(output_dir={str(tmp_path)!r}, report_to="none")
callback.on_train_begin(args, TrainerState(), TrainerControl())
os.kill(os.getpid(), {int(signum)})
assert callback.requested == {int(signum)}
print("first signal: stop requested", flush=True)
os.kill(os.getpid(), {int(signum)})
time.sleep(30)
print("survived the second signal", flush=True)
"""
    start = time.monotonic()
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.stdout.splitlines() == ["first signal: stop requested"], result.stderr[-2000:]
    if signum == signal.SIGTERM:
        assert result.returncode == -signal.SIGTERM
    else:
        assert result.returncode != 0 and "KeyboardInterrupt" in result.stderr
    assert time.monotonic() - start < 25  # not after the 30 s sleep
