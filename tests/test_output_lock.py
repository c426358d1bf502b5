"""One run per output folder (`rlpt_trl.trainer.output_lock`): a live run's lock refuses a second run with one line
naming it, a dead run's lock is taken, a failed run leaves no folder it created."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from rlpt_trl import RlptError
from rlpt_trl.cli import run_command
from rlpt_trl.trainer.output_lock import LOCK_FILE, output_lock


def _lock(folder: Path, pid: int, host: str | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    lock = folder / LOCK_FILE
    lock.write_text(json.dumps({"pid": pid, "host": host or socket.gethostname(), "started": "2026-12-04 10:00:00"}))
    return lock


@pytest.fixture
def live_pid():
    """The pid of a process that runs for the test's length."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    yield process.pid
    process.kill()
    process.wait()


def test_a_run_holds_the_lock_and_releases_it(tmp_path: Path) -> None:
    output = tmp_path / "run"
    with output_lock(output):
        held = json.loads((output / LOCK_FILE).read_text())
        assert held["host"] == socket.gethostname() and held["pid"] > 0
        with pytest.raises(RlptError, match=r"in use by the run with pid \d+ on this host"), output_lock(output):
            pass
    assert not (output / LOCK_FILE).exists() and output.is_dir()


def test_a_live_run_refuses_a_second_one(tmp_path: Path, live_pid: int) -> None:
    lock = _lock(tmp_path / "run", live_pid)
    with (
        pytest.raises(RlptError, match=f"in use by the run with pid {live_pid} on this host"),
        output_lock(lock.parent),
    ):
        pass
    assert json.loads(lock.read_text())["pid"] == live_pid  # the running one keeps its lock


def test_a_dead_runs_lock_is_taken(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    lock = _lock(tmp_path / "run", int(finished.stdout))
    with output_lock(lock.parent):
        assert json.loads(lock.read_text())["pid"] != int(finished.stdout)
    assert "is gone; taking its stale lock" in capsys.readouterr().err


def test_another_hosts_lock_names_the_file(tmp_path: Path) -> None:
    lock = _lock(tmp_path / "run", 1234, host="other-host")
    with pytest.raises(RlptError, match=f"on host other-host .*delete {lock}"), output_lock(lock.parent):
        pass


def test_a_failed_run_removes_the_folder_it_created(tmp_path: Path) -> None:
    created, existing = tmp_path / "new", tmp_path / "old"
    existing.mkdir()
    for folder in (created, existing):
        with pytest.raises(ValueError), output_lock(folder):
            raise ValueError("the model did not load")
    assert not created.exists() and existing.is_dir() and not any(existing.iterdir())
    # what a run wrote before it failed goes with the folder it created, unless a complete checkpoint is there
    for checkpoint in (False, True):
        folder = tmp_path / f"with-checkpoint-{checkpoint}"
        with pytest.raises(ValueError), output_lock(folder):
            (folder / "runs").mkdir()
            (folder / "runs" / "events.out.tfevents.1").write_text("logged")
            if checkpoint:
                (folder / "checkpoint-2").mkdir()
                (folder / "checkpoint-2" / "trainer_state.json").write_text('{"global_step": 2}')
            raise ValueError("step 3 ran out of memory")
        assert folder.exists() == checkpoint
    (tmp_path / "file").write_text("x")
    with pytest.raises(RlptError, match="is a file, not a folder"), output_lock(tmp_path / "file"):
        pass


def test_a_second_training_run_into_a_live_runs_folder_is_one_line(
    tiny_model_dir: Path, tiny_cola_data: Path, tiny_embedding_model_dir: Path, tmp_path: Path, live_pid: int, capsys
) -> None:
    output = tmp_path / "rloo"
    lock = _lock(output, live_pid)
    argv = [
        "--model_name_or_path", str(tiny_model_dir), "--dataset_name", str(tiny_cola_data),
        "--embedding_model_name_or_path", str(tiny_embedding_model_dir), "--output_dir", str(output),
        "--per_device_train_batch_size", "4", "--num_generations", "2", "--max_completion_length", "4",
        "--max_steps", "1", "--use_cpu", "true", "--bf16", "false", "--report_to", "none",
    ]  # fmt: skip
    assert run_command("rloo", argv) == 1
    # datasets' progress bars share stderr: the error is the one line that says error
    errors = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert errors == [
        f"rlpt-trl rloo: error: --output_dir {output} is in use by the run with pid {live_pid} on this host (started "
        "2026-12-04 10:00:00); wait for it to end or choose another --output_dir"
    ]
    assert sorted(path.name for path in output.iterdir()) == [LOCK_FILE] and lock.is_file()
