"""`experiments/stages.py`: a stopped experiment continues at the stage it stopped in, a training stage from the last
checkpoint its stopped run saved (with the time that run spent), any other stage from a clean output."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
from stages import Stage, resume_stages

from rlpt_trl.utils.errors import RlptError


# a trainer's stand-in: without --resume_from_checkpoint it saves checkpoint-3, is killed while saving checkpoint-5
# (no trainer_state.json) and exits as on SIGTERM (143); with it, it checks that checkpoint-3 is there and finishes
TRAINER = """
import pathlib, sys
output = pathlib.Path(sys.argv[1])
if "--resume_from_checkpoint" in sys.argv:
    assert (output / "checkpoint-3" / "trainer_state.json").is_file()
    (output / "model.txt").write_text("trained")
    sys.exit(0)
(output / "checkpoint-3").mkdir(parents=True)
(output / "checkpoint-3" / "trainer_state.json").write_text("{}")
(output / "checkpoint-5").mkdir()
sys.exit(143)
"""


def trainer_stage(tmp_path: Path) -> Stage:
    output = tmp_path / "models" / "run"
    command = [sys.executable, "-c", TRAINER, str(output)]
    return Stage("run", "A run", command, output=output, resume=("--resume_from_checkpoint", "true"))


def test_a_stopped_run_continues_from_its_checkpoint_with_its_earlier_time(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    timings_file = tmp_path / "timings.json"
    stage = trainer_stage(tmp_path)
    with pytest.raises(RlptError, match="exit status 143"):
        resume_stages([stage], timings_file)
    assert not timings_file.exists()
    started = json.loads((tmp_path / "started.json").read_text())["run"]
    assert started["before"] == 0.0

    # the stopped run's checkpoint was saved 100 s after it started
    started["at"] -= 100.0
    (tmp_path / "started.json").write_text(json.dumps({"run": started}))
    timings = resume_stages([stage], timings_file)
    assert re.search(r"A run: continues from checkpoint-3 \(1\d\d s spent before\)", capsys.readouterr().out)
    assert (stage.output / "model.txt").read_text() == "trained"
    assert timings["run"] >= 100.0
    assert json.loads(timings_file.read_text()) == timings
    assert json.loads((tmp_path / "started.json").read_text())["run"]["before"] >= 100.0

    # finished: not run again
    timings_file.write_text(json.dumps({"run": 1.0}))
    assert resume_stages([stage], timings_file) == {"run": 1.0}


def test_a_stage_without_a_checkpoint_starts_again_from_a_clean_output(tmp_path: Path) -> None:
    output = tmp_path / "eval"
    (output / "checkpoint-3").mkdir(parents=True)
    (output / "stale.json").write_text("{}")
    write = "import pathlib, sys; pathlib.Path(sys.argv[1]).mkdir(); (pathlib.Path(sys.argv[1]) / 'new.json').touch()"
    stage = Stage("eval", "An evaluation", [sys.executable, "-c", write, str(output)], output=output)
    resume_stages([stage], tmp_path / "timings.json")
    assert sorted(path.name for path in output.iterdir()) == ["new.json"]
