"""The key/value cache code (`rlpt_trl.models.kv_cache`: the next-segment decoder, the few-shot prefix cache, the
shared-prompt NLLs) on the lowest transformers that setup.cfg admits as on the installed one: the tests that compare
each cached path with an uncached one run again with that version first on the path (`make install` puts it in
`.venv/transformers-floor`)."""

from __future__ import annotations

import configparser
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest


ROOT = Path(__file__).resolve().parents[1]
FLOOR_DIR = ROOT / ".venv" / "transformers-floor"
CACHE_TESTS = [
    "tests/test_next_segment.py::test_greedy_decoding_continues_as_generate_does",
    "tests/test_next_segment.py::test_seeded_sampling_repeats_and_ignores_batching",
    "tests/test_next_segment.py::test_sequence_nll_shares_prompts_and_matches_an_unpadded_forward",
    "tests/test_prefix_cache.py::test_loglik_equals_the_plain_path",
    "tests/test_prefix_cache.py::test_generation_equals_the_plain_path",
]


def _floor() -> str:
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    return re.search(r"transformers>=([\d.]+)", config["options"]["install_requires"]).group(1)


def test_cache_code_on_the_lowest_admitted_transformers() -> None:
    if not FLOOR_DIR.is_dir():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{FLOOR_DIR} is missing: `make install` puts transformers {_floor()} there")
        pytest.skip(f"{FLOOR_DIR} is missing; `make install` puts transformers {_floor()} there")
    env = {**os.environ, "PYTHONPATH": str(FLOOR_DIR)}
    version = subprocess.run(
        [sys.executable, "-c", "import transformers; print(transformers.__version__)"],
        capture_output=True, text=True, env=env, check=True,
    ).stdout.strip()  # fmt: skip
    assert version.removesuffix(".0") == _floor().removesuffix(".0")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *CACHE_TESTS],
        capture_output=True, text=True, env=env, cwd=ROOT,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-4000:]
    # parametrized tests count once per case: every named test ran at least once, none skipped
    passed = re.search(r"(\d+) passed", result.stdout)
    assert passed and int(passed.group(1)) >= len(CACHE_TESTS) and "skipped" not in result.stdout, result.stdout
