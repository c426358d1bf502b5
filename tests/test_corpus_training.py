"""Training and evaluation on a next-segment build of a corpus: GRPO with every reward, the next-token control and
the held-out evaluation read ASR / MSR rows as they read CoLA's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from datasets import load_dataset
from training_checks import assert_parameters_changed

from rlpt_trl.cli import run_command
from rlpt_trl.testing.tensorboard import read_scalars


ROOT = Path(__file__).resolve().parents[1]
REWARDS = ["perplexity_reward", "embedding_cosine_reward", "prefix_match_reward", "rpt_prefix_reward"]
DOCUMENTS = [
    "The river rose in the night. By morning the bridge was gone. The village waited for the boats.",
    "A letter came in spring. It asked for help with the harvest. Nobody in the house could read it.",
    "The old clock stopped at noon. Its keeper had left the key upstairs. He found it after dinner.",
    "Birds crossed the valley early. The hunters counted them from the ridge. Rain followed the birds.",
]


@pytest.fixture(scope="module")
def segment_builds(tiny_model_dir: Path, tiny_embedding_model_dir: Path, tmp_path_factory) -> dict[str, Path]:
    """ASR and MSR builds of a small corpus, one document held out, with the tiny encoder's embeddings."""
    root = tmp_path_factory.mktemp("corpus")
    (root / "docs").mkdir()
    for i, text in enumerate(DOCUMENTS):
        (root / "docs" / f"{i}.txt").write_text(text + "\n")
    builds = {}
    for task in ("asr", "msr"):
        argv = ["--task", task, "--dataset_path", str(root / "docs"), "--output_dir", str(root / task),
                "--tokenizer_name_or_path", str(tiny_model_dir), "--validation_size", "1",
                "--embedding_model_name_or_path", str(tiny_embedding_model_dir)]  # fmt: skip
        assert run_command("data", argv) == 0
        builds[task] = root / task
    return builds


@pytest.mark.parametrize("task", ["asr", "msr"])
def test_grpo_trains_on_segment_rows_with_every_reward(
    task: str, segment_builds: dict[str, Path], tiny_model_dir: Path, tiny_embedding_model_dir: Path, tmp_path: Path
) -> None:
    output = tmp_path / "grpo"
    argv = [
        "--model_name_or_path", str(tiny_model_dir), "--dataset_name", str(segment_builds[task]),
        "--output_dir", str(output), "--reward_funcs", *REWARDS, "--scorer_model_name_or_path", str(tiny_model_dir),
        "--embedding_model_name_or_path", str(tiny_embedding_model_dir), "--use_cpu", "true", "--bf16", "false",
        "--per_device_train_batch_size", "4", "--num_generations", "2", "--max_completion_length", "2",
        "--max_steps", "2", "--learning_rate", "5e-3", "--report_to", "tensorboard", "--save_strategy", "no",
        "--activation_checkpointing", "false",
        "--eval_tasks", "next_segment", "--eval_every_steps", "2", "--next_segment_data", str(segment_builds[task]),
    ]  # fmt: skip
    assert run_command("grpo", argv) == 0
    assert_parameters_changed(tiny_model_dir, output)
    scalars = read_scalars(output)
    assert "eval/next_segment/next_token_accuracy" in scalars, sorted(scalars)
    assert all(f"train/rewards/{name}/mean" in scalars for name in REWARDS), sorted(scalars)


def test_ntp_and_evaluation_read_the_held_out_documents(
    segment_builds: dict[str, Path], tiny_model_dir: Path, tiny_embedding_model_dir: Path, tmp_path: Path
) -> None:
    output = tmp_path / "ntp"
    argv = [
        "--config", str(ROOT / "recipes" / "smollm2-135m" / "ntp_cpu.yaml"), "--model_name_or_path",
        str(tiny_model_dir), "--dataset_name", str(segment_builds["asr"]), "--output_dir", str(output),
        "--report_to", "none", "--save_strategy", "no", "--max_steps", "2", "--mode", "next_segment",
    ]  # fmt: skip
    assert run_command("ntp", argv) == 0
    assert_parameters_changed(tiny_model_dir, output)
    evaluation = tmp_path / "eval"
    argv = [
        "--model_name_or_path", str(tiny_model_dir), "--tasks", "next_segment", "--next_segment_data",
        str(segment_builds["asr"]), "--embedding_model_name_or_path", str(tiny_embedding_model_dir),
        "--scorer_model_name_or_path", str(tiny_model_dir), "--output_dir", str(evaluation),
    ]  # fmt: skip
    assert run_command("eval", argv) == 0
    (metrics,) = json.loads((evaluation / "metrics.json").read_text()).values()
    records = json.loads((evaluation / metrics["next_segment"]["predictions"]).read_text())
    held_out = load_dataset(str(segment_builds["asr"]), split="validation")
    assert len(records) == len(held_out) == 2 and "next_token_accuracy" in metrics["next_segment"]


def test_embedding_reward_refuses_a_build_without_embeddings(
    segment_builds: dict[str, Path], tiny_model_dir: Path, tmp_path: Path, capsys
) -> None:
    build = tmp_path / "plain"
    argv = ["--task", "asr", "--dataset_path", str(segment_builds["asr"].parent / "docs"), "--output_dir", str(build),
            "--tokenizer_name_or_path", str(tiny_model_dir), "--embedding_model_name_or_path", "none"]  # fmt: skip
    assert run_command("data", argv) == 0
    argv = ["--model_name_or_path", str(tiny_model_dir), "--dataset_name", str(build), "--output_dir",
            str(tmp_path / "grpo"), "--reward_funcs", "rpt_prefix_reward", "embedding_cosine_reward"]  # fmt: skip
    assert run_command("grpo", argv) == 1
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert f"error: dataset {build} was built with --embedding_model_name_or_path none" in last
    assert "embedding_cosine_reward compares with" in last and not (tmp_path / "grpo").exists()
