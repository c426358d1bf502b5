"""`next_segment` through the eval command (with GLUE, CIs and paired differences) and the GRPO script's callback."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from rlpt_trl.cli import run_command
from rlpt_trl.evaluation.next_segment.result import METRICS
from rlpt_trl.testing.tensorboard import read_scalars


ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def twin_models(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """The tiny model, an identical copy in another folder, and a copy with perturbed weights."""
    root = tmp_path_factory.mktemp("twins")
    twin, other = shutil.copytree(tiny_model_dir, root / "twin"), shutil.copytree(tiny_model_dir, root / "other")
    weights = load_file(other / "model.safetensors")
    generator = torch.Generator().manual_seed(0)
    save_file({name: tensor + 0.05 * torch.randn(tensor.shape, generator=generator) for name, tensor in weights.items()},
              other / "model.safetensors", metadata={"format": "pt"})  # fmt: skip
    return tiny_model_dir, twin, other


def _eval(models: tuple[Path, ...], output: Path, *extra: str) -> int:
    flags = [flag for model in models for flag in ("--model_name_or_path", str(model))]
    return run_command("eval", [*flags, "--output_dir", str(output), *extra])


def _common(glue: Path, embedding: Path) -> list[str]:
    return ["--tasks", "cola", "next_segment", "--data_dir", str(glue), "--embedding_model_name_or_path",
            str(embedding), "--max_samples", "16", "--bootstrap_iters", "200", "--next_segment_samples", "3"]  # fmt: skip


def test_eval_command_with_glue_cis_and_paired_differences(
    twin_models, cola_sample_glue_dir: Path, tiny_embedding_model_dir: Path, tmp_path: Path
) -> None:
    base, twin, other = twin_models
    common = _common(cola_sample_glue_dir, tiny_embedding_model_dir)
    assert _eval((base, twin, other), tmp_path / "run", *common) == 0
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert list(metrics) == [str(base), str(twin), str(other)]
    for model, tasks in metrics.items():
        assert list(tasks) == ["cola", "next_segment"]
        entry = tasks["next_segment"]
        assert entry["n"] == 16 and entry["samples"] == 3
        for metric in METRICS:
            low, high = entry[f"{metric}_ci"]
            assert low <= entry[metric] <= high, (model, metric)
        records = json.loads((tmp_path / "run" / entry["predictions"]).read_text())
        assert len(records) == 16 and all(len(record["samples"]) == 3 for record in records)
    # the same cuts for every model: differences are paired
    prompts = {
        model: [r["prompt"] for r in json.loads((tmp_path / "run" / t["next_segment"]["predictions"]).read_text())]
        for model, t in metrics.items()
    }
    assert prompts[str(base)] == prompts[str(twin)] == prompts[str(other)]
    # identical weights in another folder: the same samples, zero differences whose CI is [0, 0]
    (diff_key,) = [key for key in metrics[str(twin)]["next_segment"] if key.startswith("diff_vs_")]
    same = metrics[str(twin)]["next_segment"][diff_key]
    for metric in METRICS:
        assert same[metric] == 0 and same[f"{metric}_ci"] == [0, 0], metric
    assert metrics[str(twin)]["cola"][diff_key]["matthews_correlation_ci"] == [0, 0]
    changed = metrics[str(other)]["next_segment"][diff_key]
    assert changed["true_completion_nll"] != 0 and changed["cosine_prompt_only"] == 0  # model-independent
    table = (tmp_path / "run" / "comparison.md").read_text()
    assert "next_segment cosine_gain" in table and "cola MCC" in table

    # a re-run gives identical metrics
    assert _eval((base, twin, other), tmp_path / "again", *common) == 0
    assert json.loads((tmp_path / "again" / "metrics.json").read_text()) == metrics


def test_each_model_against_its_own_reference(
    twin_models, cola_sample_glue_dir: Path, tiny_embedding_model_dir: Path, tmp_path: Path
) -> None:
    """`--reference MODEL=START`: one command gives each trained model its differences from the model it started
    from; the others are still compared with the first model."""
    base, twin, other = twin_models
    common = _common(cola_sample_glue_dir, tiny_embedding_model_dir)
    assert _eval((base, other, twin), tmp_path / "run", *common, "--reference", f"{twin}={other}") == 0
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert "diff_vs_" not in " ".join(metrics[str(base)]["next_segment"])
    assert "diff_vs_tiny-llama0" in metrics[str(other)]["next_segment"]
    # the twin has the base model's weights: its differences from the perturbed model are the base's, negated
    from_other = metrics[str(twin)]["next_segment"]["diff_vs_other"]
    from_base = metrics[str(other)]["next_segment"]["diff_vs_tiny-llama0"]
    for metric in ("true_completion_nll", "cosine_sentence", "reward"):
        assert from_other[metric] == pytest.approx(-from_base[metric], abs=1e-12), metric
    legend = (tmp_path / "run" / "comparison.md").read_text()
    assert f"from the model's reference excludes 0 ({other} - {base}, {twin} - {other})" in legend


@pytest.mark.parametrize(
    ("pair", "message"),
    [
        ("nobody=base", "nobody is not one of the --model_name_or_path values"),
        ("base=base", "not compared with itself"),
    ],
)
def test_bad_references_are_one_line(
    tiny_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], pair: str, message: str
) -> None:
    pair = pair.replace("base", str(tiny_model_dir))
    assert _eval((tiny_model_dir,), tmp_path / "out", "--tasks", "cola", "--reference", pair) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith(f"rlpt-trl eval: error: --reference {pair}: ") and message in err
    assert not (tmp_path / "out").exists()


def test_next_segment_alone_and_from_a_data_build(
    tiny_model_dir: Path, tiny_embedding_model_dir: Path, tiny_cola_data: Path, tmp_path: Path
) -> None:
    extra = ["--tasks", "next_segment", "--next_segment_data", str(tiny_cola_data), "--max_samples", "8"]
    extra += ["--embedding_model_name_or_path", str(tiny_embedding_model_dir), "--bootstrap_iters", "0"]
    assert _eval((tiny_model_dir,), tmp_path / "out", *extra) == 0
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())[str(tiny_model_dir)]
    assert list(metrics) == ["next_segment"] and metrics["next_segment"]["n"] == 8
    assert not any(key.endswith("_ci") for key in metrics["next_segment"])


def test_next_segment_max_samples_apart_from_glue(
    tiny_model_dir: Path, tiny_embedding_model_dir: Path, cola_sample_glue_dir: Path, tmp_path: Path
) -> None:
    extra = ["--tasks", "cola", "next_segment", "--data_dir", str(cola_sample_glue_dir), "--max_samples", "12"]
    extra += ["--next_segment_max_samples", "5", "--embedding_model_name_or_path", str(tiny_embedding_model_dir)]
    assert _eval((tiny_model_dir,), tmp_path / "out", *extra, "--bootstrap_iters", "0") == 0
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())[str(tiny_model_dir)]
    assert metrics["cola"]["n"] == 12 and metrics["next_segment"]["n"] == 5


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--next_segment_samples", "0"], "--next_segment_samples must be at least 1, got 0"),
        (["--next_segment_temperature", "0"], "--next_segment_temperature must be > 0"),
        (["--next_segment_data", "/nonexistent/data"], "/nonexistent/data"),
        (["--next_segment_max_samples", "0"], "--next_segment_max_samples must be at least 1, got 0"),
    ],
)
def test_bad_next_segment_settings_are_one_line(
    tiny_model_dir: Path, cola_sample_glue_dir: Path, tmp_path: Path, capsys, extra: list[str], message: str
) -> None:
    common = ["--tasks", "next_segment", "--data_dir", str(cola_sample_glue_dir)]
    assert _eval((tiny_model_dir,), tmp_path / "out", *common, *extra) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("rlpt-trl eval: error: ") and message in err
    assert not (tmp_path / "out").exists()


def test_grpo_callback_logs_next_segment_metrics(
    tiny_model_dir: Path,
    tiny_embedding_model_dir: Path,
    tiny_cola_data: Path,
    cola_sample_glue_dir: Path,
    tmp_path: Path,
) -> None:
    data = tiny_cola_data
    output = tmp_path / "grpo"
    argv = [
        "--config", str(ROOT / "recipes" / "quickstart" / "grpo.yaml"), "--model_name_or_path", str(tiny_model_dir),
        "--dataset_name", str(data), "--embedding_model_name_or_path", str(tiny_embedding_model_dir),
        "--output_dir", str(output), "--max_steps", "2", "--save_strategy", "no",
        "--eval_tasks", "next_segment", "--eval_every_steps", "2", "--eval_max_samples", "8",
        "--eval_data_dir", str(cola_sample_glue_dir),
    ]  # fmt: skip
    assert run_command("grpo", argv, prog="grpo.py") == 0
    scalars = read_scalars(output)
    for metric in ("cosine_sentence", "cosine_gain", "reward", "true_completion_nll", "next_word_accuracy"):
        assert [step for step, _ in scalars[f"eval/next_segment/{metric}"]] == [2], metric
