"""Checks shared by the training script tests: an interrupted run, its per-step log, weights that training moved, and
a free port for a multi-process launch."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
from pathlib import Path

import torch
from safetensors.torch import load_file


# Two steps of a GRPO-style trainer on the tiny model: 2 prompts x 2 completions of 4 tokens, in fp32 on any CPU.
TINY_RL_SETTINGS = dict(
    use_cpu=True,
    bf16=False,
    report_to="none",
    per_device_train_batch_size=4,
    num_generations=2,
    max_completion_length=4,
    max_steps=2,
    logging_steps=1,
    save_strategy="no",
)


def interrupt_after_checkpoint(command: list[str], output: Path, step: int, **popen: object) -> tuple[int, str]:
    """Run `command`, send SIGTERM once `output/checkpoint-<step>` is complete; return (exit status, stderr)."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, **popen)
    deadline = time.monotonic() + 600
    while not (output / f"checkpoint-{step}" / "trainer_state.json").is_file():
        assert process.poll() is None and time.monotonic() < deadline, f"no checkpoint-{step} before the run ended"
        time.sleep(0.2)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=300)
    return process.returncode, stderr


def assert_parameters_changed(start: Path, trained: Path) -> None:
    """Every weight tensor of the model saved in `trained` differs from the one in `start` (TRL's own check that
    an optimizer step reached every parameter)."""
    before, after = load_file(start / "model.safetensors"), load_file(trained / "model.safetensors")
    assert before.keys() == after.keys()
    unchanged = [name for name, tensor in before.items() if torch.equal(tensor, after[name])]
    assert not unchanged, f"parameters not changed by training: {unchanged}"


def log_by_step(output: Path, step: int) -> dict[int, dict]:
    """The training log entries (those with a loss) of `output/checkpoint-<step>`, by step."""
    state = json.loads((output / f"checkpoint-{step}" / "trainer_state.json").read_text())
    return {entry["step"]: entry for entry in state["log_history"] if "loss" in entry}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def assert_rewards_recomputed(trainer, dataset, reward_funcs: list, entry: dict) -> None:
    """Each reward, called on the last batch that a GRPO or RLOO `trainer` kept (TRL's completions table) with each
    completion's own dataset row (found by its prompt, unique in `dataset`), gives the rewards the trainer computed,
    and their mean is the one logged in `entry` (the last step's log)."""
    import numpy as np
    import pytest

    kept = trainer._logs
    rows = {row["prompt"]: row for row in dataset}
    prompts, completions = list(kept["prompt"]), list(kept["completion"])
    columns = {name: [rows[prompt][name] for prompt in prompts] for name in dataset.column_names if name != "prompt"}
    for reward in reward_funcs:
        expected = reward(prompts=prompts, completions=completions, **columns)
        name = reward.__name__
        assert list(kept["rewards"][name]) == pytest.approx(expected, abs=1e-5), name
        assert entry[f"rewards/{name}/mean"] == pytest.approx(np.mean(expected), abs=1e-5), name
