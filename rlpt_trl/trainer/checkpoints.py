"""Checkpoint safety for long runs: resume only from complete checkpoints, stop cleanly on SIGTERM/SIGINT."""

from __future__ import annotations

import json
import os
import re
import signal
import sys
from pathlib import Path

from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

from ..utils.errors import RlptError
from ..utils.files import file_problem


# transformers writes trainer_state.json after the weights, optimizer, scheduler and RNG states,
# so a checkpoint folder without it was interrupted mid-save.
COMPLETE_MARKER = "trainer_state.json"
_CHECKPOINT_RE = re.compile(rf"^{PREFIX_CHECKPOINT_DIR}-(\d+)$")


def checkpoint_problem(path: str | Path) -> str | None:
    """Why `path` is not a checkpoint a run can resume from (no `trainer_state.json`, or a file the resume reads
    that does not parse), or None when it is complete."""
    path = Path(path)
    if not (path / COMPLETE_MARKER).is_file():
        return f"no {COMPLETE_MARKER} (interrupted while saving)"
    for file in sorted(path.iterdir()):
        if file.is_file() and (problem := file_problem(file)):
            return problem
    return None


def last_complete_checkpoint(output_dir: str | Path) -> Path | None:
    """The highest-step `checkpoint-N` folder of `output_dir` that was written completely; each newer one passed
    over is named on stderr with the reason."""
    root = Path(output_dir)
    if not root.is_dir():
        return None
    steps = {
        int(match.group(1)): path
        for path in root.iterdir()
        if path.is_dir() and (match := _CHECKPOINT_RE.match(path.name))
    }
    for step in sorted(steps, reverse=True):
        problem = checkpoint_problem(steps[step])
        if problem is None:
            return steps[step]
        print(f"{steps[step]}: not complete, passed over: {problem}", file=sys.stderr)
    return None


def resolve_resume_checkpoint(resume_from_checkpoint: str | bool | None, output_dir: str | Path) -> str | None:
    """Turn `--resume_from_checkpoint` (`true` = latest complete checkpoint, or a path) into a folder or None."""
    if resume_from_checkpoint in (None, False, "", "false", "False"):
        return None
    if resume_from_checkpoint in (True, "true", "True"):
        checkpoint = last_complete_checkpoint(output_dir)
        if checkpoint is None:
            raise RlptError(f"--resume_from_checkpoint true: no complete checkpoint in {output_dir}")
        return str(checkpoint)
    path = Path(resume_from_checkpoint)
    if not path.is_dir():
        raise RlptError(f"--resume_from_checkpoint: no such checkpoint folder: {path}")
    if problem := checkpoint_problem(path):
        raise RlptError(f"--resume_from_checkpoint: not a complete checkpoint: {path}: {problem}")
    return str(path)


def checkpoint_step(checkpoint: str | Path) -> int:
    """The optimizer steps a (complete) checkpoint was saved after."""
    return int(json.loads((Path(checkpoint) / COMPLETE_MARKER).read_text())["global_step"])


class GracefulStopCallback(TrainerCallback):
    """On SIGTERM or SIGINT, finish the current optimizer step, save a checkpoint and stop training.

    A second signal ends the process at once, as it would without this callback: the previous handler takes it
    (SIGINT's KeyboardInterrupt), or the default action (SIGTERM's: the process dies), for when the user or the
    scheduler really wants out now.
    """

    def __init__(self, signals: tuple[int, ...] = (signal.SIGTERM, signal.SIGINT)) -> None:
        self.signals = signals
        self.requested: int | None = None
        self._previous: dict[int, object] = {}

    def _handle(self, signum: int, frame: object) -> None:
        if self.requested is None:
            self.requested = signum
            return
        previous = self._previous.get(signum)
        if callable(previous):
            previous(signum, frame)
            return
        # SIG_DFL, or a handler installed outside Python: restore it and deliver the signal again
        signal.signal(signum, previous if previous is not None else signal.SIG_DFL)
        os.kill(os.getpid(), signum)

    def on_train_begin(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs):
        for signum in self.signals:
            self._previous[signum] = signal.signal(signum, self._handle)

    def on_step_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs):
        if self.requested is not None:
            control.should_save = True
            control.should_training_stop = True
        return control

    def on_train_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs):
        for signum, previous in self._previous.items():
            signal.signal(signum, previous if previous is not None else signal.SIG_DFL)
        self._previous.clear()
