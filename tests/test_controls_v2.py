"""`experiments/controls_v2.py`: the stages it plans (a warm start every arm starts from, two budget points inside each
run, a run's evaluations once it has saved them), the report's arithmetic, and its bad input."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import controls_v2
import numpy as np
import pytest
from controls_v2 import (
    BUDGET_UNITS,
    GRPO_CONFIGS,
    NTP_CONFIG,
    PREREQUISITES,
    Plan,
    corpus_values,
    eval_stage,
    run_pending,
)
from pipeline_report.controls_v2 import (
    ARMS,
    METRICS,
    bootstrap,
    checkpoint_at,
    compact_values,
    corpus_runs,
    difference,
    line_breaks,
    line_breaks_section,
    mean_over_seeds,
    run_name,
)

from rlpt_trl.trainer.flops import FLOPS_FILE
from rlpt_trl.utils.errors import RlptError


ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "experiments" / "controls_v2.py"


def _value(command: list[str], flag: str) -> str:
    return command[command.index(flag) + 1]


def _plan(tmp_path: Path) -> Plan:
    args = argparse.Namespace(
        work_dir=tmp_path / "work", output_dir=tmp_path / "results", seed=7, warm_steps=70, budget_scale=1.0,
        max_prompts=None, max_documents=None,
        eval_batch_size=16, gguf=tmp_path / "m.gguf", data_dir=tmp_path / "glue", embedding_model=tmp_path / "minilm",
        pydocs_dir=tmp_path / "pydocs",
    )  # fmt: skip
    return Plan(args)


def test_every_arm_starts_from_the_warm_start_with_two_budget_points(tmp_path: Path) -> None:
    plan = _plan(tmp_path)
    stages = {stage.name: stage for stage in plan.stages()}
    warm = stages["warm"].command
    assert _value(warm, "--model_name_or_path").endswith("models/base") and _value(warm, "--max_steps") == "70"
    # running text: no end-of-text token after each premise
    assert _value(warm, "--dataset_name").endswith("data/warm") and _value(warm, "--mode") == "documents"
    assert _value(stages["data_warm"].command, "--dataset_path") == str(tmp_path / "glue" / "rte" / "train.tsv")
    trained = [name for name, stage in stages.items() if "recipes/grpo.py" in stage.command or (
        "recipes/ntp.py" in stage.command and name != "warm")]  # fmt: skip
    expected = [run_name(c, arm, seed).replace("-", "_") for r in (0, 1) for c in ("cola", "pydocs")
                for arm, seed in corpus_runs(c, (r,))]  # fmt: skip
    assert trained == expected
    # the first seed of every arm on both corpora before any second seed
    assert trained.index("pydocs_grpo_ds_s1") < trained.index("cola_ntp_s2")
    for name in trained:
        command, corpus = stages[name].command, name.split("_")[0]
        assert _value(command, "--model_name_or_path").endswith("models/warm")
        assert float(_value(command, "--flops_budget")) == 2 * BUDGET_UNITS[corpus]
        assert float(_value(command, "--save_at_flops")) == BUDGET_UNITS[corpus]
        assert _value(command, "--save_total_limit") == "0"
        assert _value(command, "--seed") == name[-1]
    # NTP reads the corpus text, each token once (pydocs: its documents' running text); GRPO the prompts
    assert _value(stages["pydocs_ntp_s1"].command, "--dataset_name").endswith("data/pydocs")
    assert _value(stages["pydocs_ntp_s1"].command, "--mode") == "documents"
    assert _value(stages["cola_ntp_s1"].command, "--mode") == "pretrain"
    assert _value(stages["cola_ntp_s2"].command, "--config") == NTP_CONFIG
    assert _value(stages["pydocs_grpo_s1"].command, "--config") == GRPO_CONFIGS["pydocs"]
    assert _value(stages["cola_grpo_ds_s1"].command, "--dynamic_sampling") == "true"
    assert "--learning_rate" in stages["cola_grpo_lr_s1"].command and "pydocs_grpo_lr_s1" not in stages
    # seeds: two for next-token training and GRPO, the first seeds of every arm first
    assert [(arm.name, seed) for arm, seed in corpus_runs("cola")] == [
        ("ntp", 1), ("grpo", 1), ("grpo-ds", 1), ("ntp", 2), ("grpo", 2), ("grpo-lr", 1)]  # fmt: skip
    # base and the warm start are evaluated on each corpus; runs not yet trained are not
    evaluations = [name for name in stages if name.startswith("eval_")]
    assert evaluations == ["eval_cola_base", "eval_cola_warm", "eval_pydocs_base", "eval_pydocs_warm"]
    assert _value(stages["eval_pydocs_warm"].command, "--next_segment_data").endswith("data/pydocs")
    assert _value(stages["eval_cola_warm"].command, "--scorer_model_name_or_path").endswith("models/base")


def _saved(run: Path, steps_and_flops: dict[int, float]) -> None:
    for step, flops in steps_and_flops.items():
        (run / f"checkpoint-{step}").mkdir(parents=True)
        (run / f"checkpoint-{step}" / FLOPS_FILE).write_text(json.dumps({"flops": flops, "global_step": step}))


def test_a_finished_runs_budget_points_are_evaluated(tmp_path: Path) -> None:
    plan = _plan(tmp_path)
    run = plan.build.models / "cola-ntp-s1"
    unit = BUDGET_UNITS["cola"]
    _saved(run, {3: 0.4 * unit, 7: 1.02 * unit, 14: 2.01 * unit})
    assert plan.point_model("cola", "cola-ntp-s1", 1) is None  # not finished: no flops.json of its own
    (run / FLOPS_FILE).write_text(json.dumps({"flops": 2.01 * unit, "global_step": 14}))
    assert checkpoint_at(run, unit) == run / "checkpoint-7" and checkpoint_at(run, 3 * unit) is None
    stages = {stage.name: stage for stage in plan.stages()}
    assert _value(stages["eval_cola_cola_ntp_s1_b1"].command, "--model_name_or_path").endswith("checkpoint-7")
    assert _value(stages["eval_cola_cola_ntp_s1_b2"].command, "--model_name_or_path").endswith("models/cola-ntp-s1")
    names = list(stages)
    assert names.index("cola_ntp_s1") < names.index("eval_cola_cola_ntp_s1_b1") < names.index("cola_grpo_s1")


def _commit(results: Path, evaluations: dict[str, list[int]], runs: list[str], settings: dict | None = None) -> None:
    """A committed report holding `evaluations` ("corpus/model" -> held-out prompt ids) and the summaries of `runs`."""
    for name, ids in evaluations.items():
        compact = {"idx": ids, **{metric: [0.5] * len(ids) for metric in METRICS}}
        (results / "values" / name).parent.mkdir(parents=True, exist_ok=True)
        (results / "values" / f"{name}.json").write_text(json.dumps(compact))
    timings = {eval_stage(*name.split("/")): 1.0 for name in evaluations}
    timings |= {run.replace("-", "_"): 1.0 for run in runs} | {"import": 1.0, "warm": 1.0}
    (results / "timings.json").write_text(json.dumps(timings))
    runs_entries = {run: {"seconds": 1.0, "points": {}} for run in runs}
    (results / "metrics.json").write_text(json.dumps({"settings": settings or {}, "runs": runs_entries}))


def test_a_new_work_dir_resumes_from_the_committed_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # cola-grpo-s1 has one budget point evaluated of two: the report does not hold it, so it is trained again
    held_out = {f"{corpus}/{model}": [0, 1, 2] for corpus in ("cola", "pydocs") for model in ("base", "warm")}
    evaluated = {"cola/cola-ntp-s1-b1": [0, 1, 2], "cola/cola-ntp-s1-b2": [0, 1, 2], "cola/cola-grpo-s1-b1": [0, 1, 2]}
    _commit(tmp_path / "results", held_out | evaluated, ["cola-ntp-s1", "cola-grpo-s1"])
    plan = _plan(tmp_path)
    recorded = plan.recorded_stages()
    assert {"eval_cola_base", "eval_pydocs_warm", "cola_ntp_s1", "eval_cola_cola_ntp_s1_b2"} <= recorded
    assert not {"cola_grpo_s1", "eval_cola_cola_grpo_s1_b1", "import", "warm"} & recorded
    ran: list[str] = []

    def run_fake(stages: list, timings_file: Path) -> None:
        ran.append(stages[0].name)
        timings_file.parent.mkdir(parents=True, exist_ok=True)
        timings_file.write_text(json.dumps(dict.fromkeys(ran, 1.0)))

    monkeypatch.setattr(controls_v2, "resume_stages", run_fake)
    reports: list[str] = []
    run_pending(plan, plan.args.work_dir / "timings.json", lambda: reports.append(ran[-1]))
    # what later stages read is made again first; nothing the report holds runs again
    assert ran[: len(PREREQUISITES)] == ["import", "data_warm", "warm", "data_cola", "data_pydocs"]
    assert ran[len(PREREQUISITES)] == "cola_grpo_s1" and "cola_ntp_s1" not in ran
    assert not [name for name in ran if name.startswith("eval_")] and reports == ran
    # the committed values are read back, each held-out prompt in its place
    assert set(corpus_values(plan, "cola", plan.recorded_timings)) == {"base", "warm", "cola-ntp-s1-b1",
                                                                       "cola-ntp-s1-b2", "cola-grpo-s1-b1"}  # fmt: skip


def test_a_finished_report_runs_nothing_and_keeps_its_precision(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    evaluations = {f"{corpus}/{model}": [0, 1] for corpus in ("cola", "pydocs") for model in ("base", "warm")}
    runs = [run_name(corpus, arm, seed) for corpus in ("cola", "pydocs") for arm, seed in corpus_runs(corpus)]
    evaluations |= {f"{run.split('-')[0]}/{run}-b{point}": [0, 1] for run in runs for point in (1, 2)}
    _commit(tmp_path / "results", evaluations, runs, settings={"precision": "float32"})
    plan = _plan(tmp_path)
    monkeypatch.setattr(controls_v2, "resume_stages", lambda stages, timings_file: pytest.fail(stages[0].name))
    run_pending(plan, plan.args.work_dir / "timings.json", lambda: None)
    # every stage trains and evaluates in the precision the report recorded, whatever this machine prefers
    stages = {stage.name: stage.command for stage in plan.stages()}
    assert _value(stages["warm"], "--bf16") == "false" and _value(stages["cola_grpo_s1"], "--bf16") == "false"
    assert _value(stages["eval_cola_base"], "--dtype") == "float32"


def test_evaluations_on_other_held_out_prompts_are_refused(tmp_path: Path) -> None:
    _commit(tmp_path / "results", {"pydocs/base": [0, 1, 2], "pydocs/warm": [0, 2, 1]}, [])
    plan = _plan(tmp_path)
    with pytest.raises(RlptError, match="pydocs evaluations of base and warm are on different held-out prompts"):
        corpus_values(plan, "pydocs", plan.recorded_timings)


def test_seed_means_and_paired_differences() -> None:
    rng = np.random.default_rng(0)
    a1, a2, b = ({name: rng.random(50) for name in METRICS} for _ in range(3))
    a1["first_token_nll"][3] = np.nan  # a prompt one seed has no value for keeps the other's
    mean = mean_over_seeds([a1, a2])
    assert mean["first_token_nll"][3] == a2["first_token_nll"][3]
    np.testing.assert_allclose(
        mean["next_token_accuracy"], (a1["next_token_accuracy"] + a2["next_token_accuracy"]) / 2
    )
    indices = bootstrap(50)
    diff = difference(mean, b, indices)["next_token_accuracy"]
    assert diff["mean"] == pytest.approx(np.mean(mean["next_token_accuracy"] - b["next_token_accuracy"]))
    low, high = diff["ci"]
    assert low < diff["mean"] < high
    # paired: a constant shift has a zero-width interval
    shifted = {name: values + 0.1 for name, values in b.items()}
    assert difference(shifted, b, indices)["next_token_accuracy"]["ci"] == pytest.approx([0.1, 0.1])


def _record(idx: int, completion: str, greedy: str, right: bool) -> dict:
    """A next-segment prediction record whose greedy continuation (and both samples) is `greedy`."""
    return {
        "idx": idx, "completion": completion, "greedy": greedy, "samples": [greedy, greedy], "new_tokens": [1, 1],
        "cosine_sentence": [0.5, 0.5], "cosine_prompt_only": 0.5, "cosine_completion": [0.1, 0.1], "reward": [0, 0],
        "next_word_correct": [0, 0], "greedy_next_word_correct": 0, "completion_log_perplexity": [1.0, 1.0],
        "true_completion_nll": 2.0, "distinct_1": 1.0, "distinct_2": None, "cut_entropy": 1.0, "first_token_nll": 0.5,
        "next_token_correct": [float(right)] * 2, "greedy_next_token_correct": float(right),
    }  # fmt: skip


def test_line_breaks_show_a_policy_that_always_answers_one(tmp_path: Path) -> None:
    continuations = ["\n\nSource code", "\nThe end", " The", " If it"]
    models = {
        # collapsed: a line break everywhere, right exactly where the continuation starts with one
        "collapsed": [_record(i, c, "\n\n\n\n", c.startswith("\n")) for i, c in enumerate(continuations)],
        "varied": [_record(i, c, g, r) for i, (c, g, r) in enumerate(
            zip(continuations, ["\n", " In", " The", " If"], [True, False, True, True], strict=True))],
    }  # fmt: skip
    compacts = {}
    for name, records in models.items():
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(records))
        compacts[name] = compact_values(path)
    compacts["varied"]["greedy_next_token_accuracy"][2] = None  # a prompt without a true token is left out
    compacts["before the check"] = {key: value for key, value in compacts["varied"].items() if "line_break" not in key}
    check = line_breaks(compacts)
    assert check["prompts"] == 4 and check["continuation_line_break"] == 2
    assert check["models"]["collapsed"] == {"greedy_line_break": 1.0, "greedy_accuracy_after_line_break": 1.0,
                                            "greedy_accuracy_otherwise": 0.0}  # fmt: skip
    assert check["models"]["varied"] == {"greedy_line_break": 0.25, "greedy_accuracy_after_line_break": 0.5,
                                         "greedy_accuracy_otherwise": 1.0}  # fmt: skip
    assert "before the check" not in check["models"]
    section = line_breaks_section(check)
    assert "2 of the 4 held-out continuations start with a line break" in section
    assert "| collapsed | 1.000 | 1.000 | 0.000 |" in section
    # a corpus without line breaks, or files that predate the check, get no section
    assert (
        line_breaks_section(line_breaks({"m": {**compacts["varied"], "continuation_line_break": [False] * 4}})) == ""
    )
    assert line_breaks({"m": compacts["before the check"]}) == {} and line_breaks_section({}) == ""


def test_every_arm_is_named_once() -> None:
    names = [arm.name for arm in ARMS]
    assert len(set(names)) == len(names) and names[0] == "ntp"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--warm_steps", "0"], "--warm_steps must be at least 1, got 0"),
        (["--budget_scale", "0"], "--budget_scale must be > 0, got 0.0"),
    ],
)
def test_bad_input_is_one_line(tmp_path: Path, extra: list[str], message: str) -> None:
    # assets that exist: the checks stop the script before any stage reads them
    assets = ["--gguf", str(SCRIPT), "--embedding_model", str(tmp_path), "--data_dir", str(tmp_path), "--pydocs_dir",
              str(tmp_path)]  # fmt: skip
    command = [sys.executable, str(SCRIPT), *assets, "--work_dir", str(tmp_path / "work"), *extra]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr[-2000:]
    assert result.stderr.strip() == f"experiments/controls_v2.py: error: {message}"
    assert not (tmp_path / "work").exists()
