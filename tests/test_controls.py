"""`experiments/controls.py`: the stages it plans and its bad input (the published run: `results/controls/`, checked in
test_reports.py)."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest
from controls import GRPO_CONFIG, NTP_CONFIG, RPT_CONFIG, Plan
from pipeline_report.controls import RUNS


ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "experiments" / "controls.py"


def _value(command: list[str], flag: str) -> str:
    return command[command.index(flag) + 1]


def test_every_run_gets_the_budget_on_its_rows(tmp_path: Path) -> None:
    args = argparse.Namespace(
        work_dir=tmp_path / "work", seed=7, train_rows=None, grpo_steps=125, eval_max_samples=None, eval_batch_size=32,
        gguf=tmp_path / "m.gguf", data_dir=tmp_path / "glue", embedding_model=tmp_path / "minilm",
    )  # fmt: skip
    plan = Plan(args)
    setup = plan.setup()
    assert [stage.name for stage in setup] == ["import", "data_random", "data_entropy", "grpo_seed"]
    assert [_value(stage.command, "--cut_strategy") for stage in setup[1:3]] == ["random", "entropy"]
    assert _value(setup[3].command, "--config") == GRPO_CONFIG and _value(setup[3].command, "--max_steps") == "125"
    assert "--flops_budget" not in setup[3].command

    budgeted = {stage.name: stage.command for stage in plan.budgeted(4.5e13)}
    # every run but the budget run, under the stage name its wall time is read back by
    assert set(budgeted) == {run.replace("-", "_") for run in RUNS} - {"grpo_seed"}
    assert all(float(_value(command, "--flops_budget")) == 4.5e13 for command in budgeted.values())
    assert all(_value(command, "--seed") == "7" for command in budgeted.values())
    assert _value(budgeted["grpo_prefix_match"], "--reward_funcs") == "prefix_match_reward"
    assert [_value(budgeted[run], "--config") for run in ("grpo_rpt", "grpo_rpt_entropy")] == [RPT_CONFIG] * 2
    data = {run: _value(command, "--dataset_name") for run, command in budgeted.items()}
    assert data["grpo_rpt_entropy"].endswith("cola-entropy")
    assert {data[run] for run in budgeted if run != "grpo_rpt_entropy"} == {plan.data["random"]}
    assert [(_value(budgeted[run], "--config"), _value(budgeted[run], "--mode")) for run in ("ntp_pretrain",
            "ntp_next_segment")] == [(NTP_CONFIG, "pretrain"), (NTP_CONFIG, "next_segment")]  # fmt: skip

    evaluation = plan.evaluation()
    assert evaluation.cwd == plan.models
    command = evaluation.command
    models = [command[i + 1] for i, flag in enumerate(command) if flag == "--model_name_or_path"]
    assert models == ["base", *RUNS]
    references = command[command.index("--reference") + 1 : command.index("--tasks")]
    assert references == [f"{run}=base" for run in RUNS]
    assert _value(command, "--scorer_model_name_or_path") == "base" and "--max_samples" not in command


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--train_rows", "0"], "--train_rows must be at least 1, got 0"),
        (["--data_dir", "no-such-glue"], "--data_dir does not exist"),
        (["--report_only"], "--report_only needs a finished run in"),
        (["--output_dir", "{work}/.."], "--work_dir must lie outside --output_dir"),
    ],
)
def test_bad_input_is_one_error_line(tmp_path: Path, extra: list[str], message: str) -> None:
    work = tmp_path / "work"
    # assets that exist: the checks stop the script before any stage reads them
    assets = ["--gguf", str(SCRIPT), "--embedding_model", str(tmp_path), "--data_dir", str(tmp_path)]
    extra = [value.format(work=work) for value in extra]
    command = [sys.executable, str(SCRIPT), *assets, "--work_dir", str(work), *extra]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    errors = [line for line in result.stderr.splitlines() if "error:" in line]
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr[-3000:]
    assert len(errors) == 1 and errors[0].startswith("experiments/controls.py: error: ") and message in errors[0]
    assert not work.exists()


def test_an_existing_work_dir_needs_overwrite(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    assets = ["--gguf", str(SCRIPT), "--embedding_model", str(tmp_path), "--data_dir", str(tmp_path)]
    result = subprocess.run(
        [sys.executable, str(SCRIPT), *assets, "--work_dir", str(work)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert (
        result.stderr.strip()
        == f"experiments/controls.py: error: work directory exists: {work} (pass --overwrite to replace it)"
    )
