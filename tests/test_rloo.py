"""`rlpt-trl rloo`: TRL's RLOO trainer through the same run assembly as GRPO (rewards, data build, in-training
evaluation, checkpoints, one-line errors), on the tiny models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from training_checks import assert_parameters_changed
from transformers import AutoModelForCausalLM

from rlpt_trl.cli import run_command
from rlpt_trl.rewards.run_config import RewardConfig
from rlpt_trl.testing.tensorboard import read_scalars
from rlpt_trl.trainer.flops import FLOPS_FILE


ROOT = Path(__file__).resolve().parents[1]
CPU_CONFIG = ROOT / "recipes" / "smollm2-135m" / "rloo_cpu.yaml"


def _argv(model: Path, data: Path, encoder: Path, output: Path, *extra: str) -> list[str]:
    return [
        "--config", str(CPU_CONFIG), "--model_name_or_path", str(model), "--dataset_name", str(data),
        "--embedding_model_name_or_path", str(encoder), "--output_dir", str(output), "--max_steps", "2",
        "--per_device_train_batch_size", "8", "--logging_steps", "1", "--save_steps", "2", "--bf16", "false",
        "--use_cpu", "true", *extra,
    ]  # fmt: skip


def test_rloo_trains_saves_and_logs(
    tiny_model_dir: Path, tiny_cola_data: Path, tiny_embedding_model_dir: Path, cola_sample_glue_dir: Path, tmp_path
) -> None:
    output = tmp_path / "rloo"
    argv = _argv(tiny_model_dir, tiny_cola_data, tiny_embedding_model_dir, output)
    argv += [
        "--eval_every_steps",
        "2",
        "--eval_tasks",
        "cola,next_segment",
        "--eval_data_dir",
        str(cola_sample_glue_dir),
    ]
    argv += ["--eval_max_samples", "8"]
    assert run_command("rloo", argv, prog="rloo.py") == 0

    for folder in (output, output / "checkpoint-2"):
        assert (folder / "model.safetensors").is_file()
        AutoModelForCausalLM.from_pretrained(folder)
    assert_parameters_changed(tiny_model_dir, output)
    scalars = read_scalars(output)
    for tag in ("train/rewards/perplexity_reward/mean", "train/rewards/embedding_cosine_reward/mean", "train/reward"):
        assert [step for step, _ in scalars[tag]] == [1, 2], tag
    assert [step for step, _ in scalars["eval/cola/matthews_correlation"]] == [2]
    assert [step for step, _ in scalars["eval/next_segment/cosine_sentence"]] == [2]
    card = (output / "README.md").read_text()
    assert "## rlpt_trl RLOO run" in card and "`perplexity_reward` (1), `embedding_cosine_reward` (1)" in card
    assert (output / FLOPS_FILE).is_file()
    # the rewards are recorded beside the weights, in the model folder and in every checkpoint
    for folder in (output, output / "checkpoint-2"):
        saved = RewardConfig.read(folder)
        assert (saved.reward_funcs, saved.weights()) == (["perplexity_reward", "embedding_cosine_reward"], [1.0, 1.0])
        assert saved.settings["embedding_model_name_or_path"] == str(tiny_embedding_model_dir)

    # the next-segment `reward` of every evaluated model is the trained model's rewards' weighted sum
    common = ["--model_name_or_path", str(tiny_model_dir), "--model_name_or_path", str(output)]
    common += ["--tasks", "next_segment", "--data_dir", str(cola_sample_glue_dir), "--max_samples", "6"]
    common += ["--embedding_model_name_or_path", str(tiny_embedding_model_dir), "--bootstrap_iters", "0"]
    records = {}
    for name, extra in (("trained", []), ("flags", ["--reward_funcs", "embedding_cosine_reward"])):
        assert run_command("eval", [*common, *extra, "--output_dir", str(tmp_path / name)]) == 0
        metrics = json.loads((tmp_path / name / "metrics.json").read_text())
        described = {entry["next_segment"]["rewards"] for entry in metrics.values()}
        assert described == {"perplexity_reward (1), embedding_cosine_reward (1)" if name == "trained" else
                             "embedding_cosine_reward (1)"}  # fmt: skip
        records[name] = json.loads((tmp_path / name / "predictions" / "rloo" / "next_segment.json").read_text())
    # the perplexity reward's z-scores sum to 0 over a prompt's samples: the sums agree, the samples' values do not
    for trained, flags in zip(records["trained"], records["flags"], strict=True):
        assert sum(trained["reward"]) == pytest.approx(sum(flags["reward"]), abs=1e-5)
    assert any(trained["reward"] != flags["reward"] for trained, flags in zip(*records.values(), strict=True))


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--reward_funcs", "no_such_reward"], "unknown reward function 'no_such_reward'"),
        (["--reward_weights", "1.0"], "reward_weights has 1 values but 2 reward functions are set"),
        (["--flops_budget", "0"], "--flops_budget must be > 0 FLOPs, got 0.0"),
        (["--eval_tasks", "no_such_task"], "unknown evaluation task 'no_such_task'"),
        (["--eval_tasks", "cola", "--num_fewshot", "-1"], "--num_fewshot must be at least 0, got -1"),
    ],
)
def test_rloo_bad_flags_are_one_line(
    extra: list[str],
    message: str,
    tiny_model_dir: Path,
    tiny_cola_data: Path,
    tiny_embedding_model_dir: Path,
    cola_sample_glue_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    output = tmp_path / "rloo"
    argv = _argv(tiny_model_dir, tiny_cola_data, tiny_embedding_model_dir, output, "--eval_every_steps", "1")
    argv += ["--eval_data_dir", str(cola_sample_glue_dir), *extra]
    assert run_command("rloo", argv, prog="rloo.py") != 0
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 1 and errors[0].startswith("rloo.py: error: ") and message in errors[0], errors
    assert not output.exists()  # nothing written before the arguments were checked
