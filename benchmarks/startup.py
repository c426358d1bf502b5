"""Start-up time of the `rlpt-trl` commands: what a user waits for before any work happens.

    python benchmarks/startup.py --model_name_or_path models/smollm2-135m-instruct --data_dir "$RLPT_GLUE_DIR"

Each measure is the wall time of a fresh process, the median of --repeats runs (alternated, so that load changes
hit every measure alike): `python -c "import rlpt_trl"`, `rlpt-trl --help`, and the eval command's start-up on
CoLA dev, i.e. everything before its first forward pass (interpreter, imports, argument parsing, reading and
formatting the 1043 prompts, loading the model and tokenizer), timed up to the first `torch.nn.Module` call.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time


# Runs the eval command and exits at the first module call: prints the wall clock of that moment.
FIRST_FORWARD = """
import os, sys, time
import torch

def first_call(self, *args, **kwargs):
    print(time.time(), flush=True)
    os._exit(0)

torch.nn.Module.__call__ = first_call
from rlpt_trl.cli import main
sys.exit(main(sys.argv[1:]))
"""


def wall_time(command: list[str]) -> float:
    """Seconds from spawning `command` to its exit."""
    start = time.time()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.time() - start


def eval_startup(model: str, data_dir: str | None, output_dir: str) -> float:
    """Seconds from spawning `rlpt-trl eval --tasks cola` to its first forward pass."""
    flags = ["--model_name_or_path", model, "--tasks", "cola", "--output_dir", output_dir]
    flags += ["--data_dir", data_dir] if data_dir else []
    start = time.time()
    result = subprocess.run(
        [sys.executable, "-c", FIRST_FORWARD, "eval", *flags], check=True, capture_output=True, text=True
    )
    return float(result.stdout.split()[-1]) - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model_name_or_path", required=True, help="HF model directory (import a .gguf first)")
    parser.add_argument("--data_dir", help="GLUE root folder (default: nyu-mll/glue from the Hub)")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as output_dir:
        measures = {
            'python -c "import rlpt_trl"': lambda: wall_time([sys.executable, "-c", "import rlpt_trl"]),
            "rlpt-trl --help": lambda: wall_time([sys.executable, "-m", "rlpt_trl.cli", "--help"]),
            "rlpt-trl eval --tasks cola, up to the first forward pass": lambda: eval_startup(
                args.model_name_or_path, args.data_dir, output_dir
            ),
        }
        times: dict[str, list[float]] = {name: [] for name in measures}
        for _ in range(args.repeats):
            for name, measure in measures.items():
                times[name].append(measure())
    for name, values in times.items():
        print(f"{name}: median {statistics.median(values):.2f} s (min {min(values):.2f}, max {max(values):.2f})")


if __name__ == "__main__":
    main()
