"""The results report's library code: baselines, training summaries, reproducibility and the README, on real files."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest
from matplotlib.image import imread
from pipeline_report.baselines import majority_baselines
from pipeline_report.controls import (
    RUNS,
    ZERO_STD_TAG,
    ControlsRun,
    against_control,
    render_controls_readme,
    run_summary,
)
from pipeline_report.glue_summary import summary_lines
from pipeline_report.hardware import describe_hardware, hardware_report
from pipeline_report.reproducibility import compare_with_previous
from pipeline_report.results_readme import (
    INTERPRETATION_PLACEHOLDER,
    SMOKE_NOTE,
    PipelineRun,
    StageSummary,
    kept_interpretation,
    render_results_readme,
)
from pipeline_report.training import (
    GRPO_HELDOUT_TAGS,
    REWARD_TAGS,
    SFT_HELDOUT_TAGS,
    quarter_means,
    training_summary,
)
from torch.utils.tensorboard import SummaryWriter

from rlpt_trl.evaluation.glue.spec import DEFAULT_TASKS
from rlpt_trl.evaluation.next_segment.result import HEADLINE_METRICS
from rlpt_trl.evaluation.paired import paired_table
from rlpt_trl.trainer.flops import FLOPS_FILE
from rlpt_trl.utils.errors import RlptError


ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "results" / "pipeline"
# the pipeline's stages as timings.json keys them: (name, title, the setting that counts its optimizer steps)
STAGES = (
    ("import", "Import the GGUF", None),
    ("data", "Data build", None),
    ("sft", "SFT from base", "sft_steps"),
    ("grpo_from_base", "GRPO from base", "grpo_steps"),
    ("grpo_from_sft", "GRPO from the SFT model", "grpo_steps"),
    ("eval", "Evaluation of base, sft, grpo-from-base, grpo-from-sft", None),
)
EVALUATIONS = ("all",)
STARTS = {"sft": "base", "grpo-from-base": "base", "grpo-from-sft": "sft"}
# what the published run's recipe configs held (recipes/smollm2-135m/*_cpu.yaml may have changed since)
SFT = {
    "learning_rate": 6e-5,
    "per_device_train_batch_size": 16,
    "lr_scheduler_type": "cosine",
    "label_words": ["no", "yes"],
}
GRPO = {
    "reward_funcs": ["perplexity_reward", "embedding_cosine_reward"],
    "reward_weights": [1.0, 1.0],
    "learning_rate": 2e-5,
    "beta": 0.0,
    "per_device_train_batch_size": 32,
    "num_generations": 4,
    "max_completion_length": 4,
}
TITLE = "# Results: SmolLM2-135M-Instruct on a CPU budget, base vs SFT vs GRPO"
HARDWARE = {
    "nproc": 2,
    "cpu": "Test CPU",
    "memory_gib": 23.5,
    "device": "cpu",
    "torch_threads": 2,
    "eval_dtype": "bfloat16",
    "load_average_at_start": [0.18, 0.26, 0.6],
    "versions": {"python": "3.11.7", "torch": "2.13.0"},
}


@pytest.fixture(scope="module")
def published() -> dict:
    """The committed report's metrics.json."""
    return json.loads((RESULTS / "metrics.json").read_text())


def _pipeline_run(settings: dict, smoke: bool = False) -> PipelineRun:
    return PipelineRun(
        command="python experiments/run_pipeline.py --overwrite",
        work_dir="outputs/pipeline",
        gguf="SmolLM2-135M-Instruct.Q4_1.gguf",
        sft_config="recipes/smollm2-135m/sft_cpu.yaml",
        sft=SFT,
        grpo_config="recipes/smollm2-135m/grpo_cpu.yaml",
        grpo=GRPO,
        stages=[
            StageSummary(name, title, f"python {name}.py", settings[steps] if steps else None)
            for name, title, steps in STAGES
        ],
        starts=STARTS,
        smoke=smoke,
    )


def _render(metrics: dict, smoke: bool = False, previous: dict | None = None) -> str:
    return render_results_readme(
        _pipeline_run(metrics["settings"], smoke),
        metrics,
        json.loads((RESULTS / "timings.json").read_text()),
        HARDWARE,
        {name: (RESULTS / f"comparison-{name}.md").read_text() for name in EVALUATIONS},
        previous,
        kept_interpretation(RESULTS / "README.md"),
    )


def _float_metrics(metrics: dict) -> int:
    return sum(isinstance(value, float) for tasks in metrics["glue"].values() for entry in tasks.values()
               for value in entry.values())  # fmt: skip


def test_results_readme_regenerates_the_published_report(published: dict) -> None:
    text = _render(published, previous=published)
    committed = (RESULTS / "README.md").read_text()
    assert re.findall(r"^#+ .*$", text, re.MULTILINE) == re.findall(r"^#+ .*$", committed, re.MULTILINE)
    # every generated line of the committed report (stage list, tables, summary, training losses) comes out again;
    # table rules may differ in spacing
    generated = [
        line
        for line in committed.splitlines()
        if re.match(r"(\d\. |\| |- |Fixed seed|SFT training loss|the end:)", line) and not line.startswith("| ---")
    ]
    assert len(generated) > 40
    lines = text.splitlines()
    assert [line for line in generated if line not in lines] == []
    assert describe_hardware(HARDWARE) in lines
    assert text.startswith(f"{TITLE}\n\nGenerated by `python")
    reproduced = f"A second run reproduced all {_float_metrics(published)} GLUE metrics of the previous one exactly."
    assert text.endswith(f"the logged series.\n\n{reproduced}\n")
    # every committed prediction file is named in metrics.json, and every model's CoLA and next_segment have one
    named = {entry.get("predictions") for tasks in published["glue"].values() for entry in tasks.values()}
    assert {str(path.relative_to(RESULTS)) for path in RESULTS.glob("predictions/*/*.json")} == named - {None}
    assert len(named - {None}) == 2 * len(STARTS | {"base": None})


def test_results_readme_smoke_run_and_first_run(published: dict) -> None:
    metrics = copy.deepcopy(published)
    metrics["settings"]["eval_max_samples"] = 8
    text = _render(metrics, smoke=True)
    assert f"{TITLE}\n\n{SMOKE_NOTE}Generated by" in text
    assert "(`--reference`): the first 8 rows of each GLUE dev set (cola 1043," in text
    assert text.endswith("First run into this folder: run the same command again to compare.\n")


def test_kept_interpretation_round_trips_through_the_readme(tmp_path: Path, published: dict) -> None:
    readme = tmp_path / "README.md"
    assert kept_interpretation(readme) == INTERPRETATION_PLACEHOLDER
    readme.write_text(_render(published), encoding="utf-8")
    kept = kept_interpretation(readme)
    assert kept == kept_interpretation(RESULTS / "README.md")
    assert kept.startswith("What the numbers show:") and "<!--" not in kept


def test_compare_with_previous_names_the_largest_change(published: dict) -> None:
    assert compare_with_previous(None, published).startswith("First run into this folder")
    count = _float_metrics(published)
    assert compare_with_previous(published, published) == (
        f"A second run reproduced all {count} GLUE metrics of the previous one exactly."
    )
    changed = copy.deepcopy(published)
    changed["glue"]["sft"]["rte"]["accuracy"] += 0.01
    changed["glue"]["base"]["cola"]["matthews_correlation"] += 0.001
    assert compare_with_previous(published, changed) == (
        f"Against the previous run, the largest change among {count} GLUE metrics is 0.01 (sft rte accuracy)."
    )
    other = copy.deepcopy(published)
    other["settings"]["grpo_steps"] += 1
    assert "used other settings" in compare_with_previous(published, other)
    assert "no comparable metrics" in compare_with_previous({**published, "glue": {}}, published)


def test_summary_lines_against_the_baseline() -> None:
    glue = {
        "a": {"rte": {"accuracy": 0.6, "n": 277}, "stsb": {"pearson": None, "spearmanr": None, "n": 8}},
        "b": {"rte": {"accuracy": 0.6, "n": 277}, "stsb": {"pearson": None, "spearmanr": None, "n": 8}},
    }
    baselines = {"rte": {"accuracy": 0.55}, "stsb": {"pearson": None, "spearmanr": None}}
    assert summary_lines(glue, baselines) == [
        "- rte (acc, n=277): best 0.6000 (a, b); baseline 0.5500; above it: a, b.",
        "- stsb (Pearson): undefined for every model (constant predictions).",
    ]


def test_quarter_means() -> None:
    series = list(enumerate([1.0, 3.0, 5.0, 5.0, 5.0, 5.0, 10.0, 20.0], start=1))
    assert quarter_means(series) == {"first_quarter_mean": 2.0, "last_quarter_mean": 15.0}
    # fewer than four values: one value each
    assert quarter_means([(1, 4.0), (2, 8.0)]) == {"first_quarter_mean": 4.0, "last_quarter_mean": 8.0}


def _log(output_dir: Path, series: dict[str, list[float]]) -> None:
    writer = SummaryWriter(log_dir=str(output_dir / "runs" / "Nov01_host"))
    for tag, values in series.items():
        for step, value in enumerate(values, start=1):
            writer.add_scalar(tag, value, step)
    writer.close()


def test_training_summary_from_tensorboard_events(tmp_path: Path) -> None:
    _log(
        tmp_path / "sft",
        {"train/loss": [0.8, 0.6, 0.4, 0.2], "eval/loss": [0.5, 0.3]} | {tag: [0.1, 0.3] for tag in SFT_HELDOUT_TAGS},
    )
    grpo_dirs = {"grpo-from-sft": tmp_path / "grpo-a", "grpo-from-base": tmp_path / "grpo-b"}
    for number, output_dir in enumerate(grpo_dirs.values()):
        _log(
            output_dir, {tag: [number + 0.1 * step for step in range(8)] for tag in (*REWARD_TAGS, *GRPO_HELDOUT_TAGS)}
        )
    rewards, heldout = tmp_path / "grpo_rewards.png", tmp_path / "heldout.png"
    summary = training_summary(tmp_path / "sft", grpo_dirs, rewards, heldout)
    assert list(summary) == ["sft", "grpo", "heldout"]
    assert summary["sft"]["train/loss"] == pytest.approx({"first_quarter_mean": 0.8, "last_quarter_mean": 0.2})
    assert summary["sft"]["eval/loss"] == pytest.approx(0.3)
    assert list(summary["grpo"]) == ["grpo-from-sft", "grpo-from-base"]
    assert list(summary["grpo"]["grpo-from-base"]) == list(REWARD_TAGS)
    assert summary["grpo"]["grpo-from-base"]["train/reward"] == pytest.approx(
        {"first_quarter_mean": 1.05, "last_quarter_mean": 1.65}
    )
    # the held-out series as logged, for the report's plot and for anyone recomputing it
    assert list(summary["heldout"]) == ["sft", "grpo-from-sft", "grpo-from-base"]
    assert summary["heldout"]["sft"][SFT_HELDOUT_TAGS[0]] == [[1, pytest.approx(0.1)], [2, pytest.approx(0.3)]]
    assert len(summary["heldout"]["grpo-from-base"][GRPO_HELDOUT_TAGS[0]]) == 8
    assert json.loads(json.dumps(summary)) == summary
    assert imread(rewards).shape[:2] == (840, 1200)  # 10 x 7 inches at 120 dpi
    assert imread(heldout).shape[:2] == (420, 1440)  # 3 panels of 4 x 3.5 inches at 120 dpi


def test_training_summary_names_a_missing_tag(tmp_path: Path) -> None:
    _log(tmp_path / "sft", {"train/loss": [0.8], "eval/loss": [0.5], SFT_HELDOUT_TAGS[0]: [0.1]})
    _log(tmp_path / "grpo", {"train/reward": [0.1]})
    with pytest.raises(RlptError, match="perplexity_reward/perplexity"):
        training_summary(tmp_path / "sft", {"grpo": tmp_path / "grpo"}, tmp_path / "plot.png", tmp_path / "held.png")
    assert not (tmp_path / "plot.png").exists() and not (tmp_path / "held.png").exists()


def test_majority_baselines_on_the_cola_sample(cola_sample_glue_dir: Path) -> None:
    # a constant prediction has no correlation with the labels: MCC 0
    assert majority_baselines(cola_sample_glue_dir, tasks=("cola",)) == {"cola": {"matthews_correlation": 0.0}}


def test_majority_baselines_predict_the_most_frequent_dev_label(tmp_path: Path) -> None:
    (tmp_path / "rte").mkdir()
    labels = ["not_entailment", "entailment", "entailment", "entailment"]
    for name, rows in (("train.tsv", labels[:1]), ("dev.tsv", labels)):
        lines = [f"{index}\tA premise.\tA hypothesis.\t{label}\n" for index, label in enumerate(rows)]
        (tmp_path / "rte" / name).write_text("index\tsentence1\tsentence2\tlabel\n" + "".join(lines))
    assert majority_baselines(tmp_path, tasks=("rte",)) == {"rte": {"accuracy": 0.75}}
    assert majority_baselines(tmp_path, max_samples=3, tasks=("rte",)) == {"rte": {"accuracy": pytest.approx(2 / 3)}}


@pytest.mark.slow
def test_majority_baselines_reproduce_the_published_ones(glue_dir: str | None, published: dict) -> None:
    baselines = majority_baselines(glue_dir)
    assert list(baselines) == list(DEFAULT_TASKS)
    assert baselines["stsb"] == {"pearson": None, "spearmanr": None}
    for task in ("cola", "mrpc", "rte", "wnli"):
        assert baselines[task] == pytest.approx(published["majority_baseline"][task])


def test_hardware_report_is_json_and_one_paragraph() -> None:
    report = hardware_report()
    assert json.loads(json.dumps(report)) == report
    assert report["nproc"] >= 1 and report["eval_dtype"] in ("float32", "bfloat16")
    sentence = describe_hardware(report)
    assert sentence.startswith(f"{report['nproc']} CPU cores (`nproc`), ")
    assert f"torch {report['versions']['torch']}" in sentence and "\n" not in sentence


def test_paired_table_reads_each_model_against_its_start() -> None:
    glue = {
        "base": {"cola": {"matthews_correlation": 0.01}},
        "sft": {
            "cola": {"matthews_correlation": 0.36, "diff_vs_base": {"matthews_correlation": 0.35,
                                                                    "matthews_correlation_ci": [0.26, 0.44]}},
        },
        "grpo": {
            "cola": {"matthews_correlation": 0.35, "diff_vs_sft": {"matthews_correlation": -0.01,
                                                                   "matthews_correlation_ci": [-0.05, 0.03]}},
            "next_segment": {"reward": 0.2, "diff_vs_sft": {"reward": 0.009, "reward_ci": None}},
        },
    }  # fmt: skip
    table = paired_table(glue, {"sft": "base", "grpo": "sft"}).splitlines()
    assert table[0] == "| metric | sft - base | grpo - sft |"
    assert table[2] == "| cola MCC | +0.3500 [+0.260, +0.440]* | -0.0100 [-0.050, +0.030] |"
    # a metric the model lacks, or a difference without an interval
    assert table[3] == "| next_segment reward | n/a | +0.0090 |"
    assert len(table) == 2 + 1 + len(HEADLINE_METRICS)
    # chosen rows, in the order given
    chosen = paired_table(glue, {"grpo": "sft"}, {"next_segment": ["reward"], "cola": ["matthews_correlation"]})
    assert chosen.splitlines()[2:] == ["| next_segment reward | +0.0090 |", "| cola MCC | -0.0100 [-0.050, +0.030] |"]


CONTROLS = ROOT / "results" / "controls"


def test_run_summary_reads_flops_and_the_zero_std_share(tmp_path: Path) -> None:
    run = tmp_path / "grpo"
    writer = SummaryWriter(str(run / "runs" / "one"))
    for step, value in enumerate((0.5, 0.25, 0.75), start=1):
        writer.add_scalar(ZERO_STD_TAG, value, step)
    writer.close()
    models = {"policy": {"flops": {"train": 4.5e12}}, "encoder /opt/minilm": {"flops": {"read": 1.5e12}}}
    (run / FLOPS_FILE).write_text(json.dumps({"global_step": 3, "flops": 6.0e12, "models": models}))
    summary = run_summary(run, 12.5, {"/opt/minilm": "$RLPT_EMBEDDING_MODEL"})
    assert summary == {
        "steps": 3,
        "flops": 6.0e12,
        "seconds": 12.5,
        "frac_reward_zero_std": pytest.approx(0.5),
        "flops_by_model": {"policy": {"train": 4.5e12}, "encoder $RLPT_EMBEDDING_MODEL": {"read": 1.5e12}},
    }


def test_controls_readme_regenerates_the_published_report() -> None:
    metrics = json.loads((CONTROLS / "metrics.json").read_text())
    timings = json.loads((CONTROLS / "timings.json").read_text())
    run = ControlsRun(command="python experiments/controls.py", stages={"eval": "python recipes/eval.py"})
    text = render_controls_readme(run, metrics, timings, HARDWARE, kept_interpretation(CONTROLS / "README.md"))
    committed = (CONTROLS / "README.md").read_text()
    assert re.findall(r"^#+ .*$", text, re.MULTILINE) == re.findall(r"^#+ .*$", committed, re.MULTILINE)
    tables = [line for line in committed.splitlines() if line.startswith("| ") and not line.startswith("| ---")]
    assert len(tables) > 30 and [line for line in tables if line not in text.splitlines()] == []
    # every run spent the budget, and every model's CoLA and next-segment records are committed
    assert all(summary["flops"] >= metrics["budget_flops"] for summary in metrics["runs"].values())
    named = {entry["predictions"] for tasks in metrics["eval"].values() for entry in tasks.values()}
    assert {str(path.relative_to(CONTROLS)) for path in CONTROLS.glob("predictions/*/*.json")} == named
    assert len(named) == 2 * (len(RUNS) + 1)
    # the GRPO runs against the control, recomputed from the committed prediction files
    assert against_control(CONTROLS, metrics["eval"]) == metrics["against_control"]


def test_portable_names_paths_and_quotes_the_rest(tmp_path: Path) -> None:
    """The one `portable`: a named path, or a path under it, by its name; every other argument shell-quoted."""
    from rlpt_trl.testing.assets import portable

    python, glue, work = (str(tmp_path / name) for name in ("bin/python", "glue", "work"))
    names = {python: "python", glue: '"$RLPT_GLUE_DIR"', work: "WORK"}
    command = [python, "x.py", "--data_dir", glue, "--out", f"{work}/models/a", "a b", f"{tmp_path}/w"]
    assert portable(command, names) == [
        "python", "x.py", "--data_dir", '"$RLPT_GLUE_DIR"', "--out", "WORK/models/a", "'a b'", f"{tmp_path}/w"
    ]  # fmt: skip
