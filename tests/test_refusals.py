"""Inputs refused before anything loads: one `error:` line naming the flag and value, a non-zero status, no
traceback, nothing created. The model paths below do not exist, so a refusal proves it came before the model load."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest
import torch

from rlpt_trl.cli import main as cli_main
from rlpt_trl.cli import run_script
from rlpt_trl.scripts import grpo as grpo_script
from rlpt_trl.scripts import sft as sft_script


def _refused(capsys: pytest.CaptureFixture[str], status: int) -> str:
    captured = capsys.readouterr()
    assert status == 1 and "Traceback" not in captured.err, captured.err
    return captured.err.strip().splitlines()[-1]


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--learning_rate", "-1"], "--learning_rate must be above 0, got -1.0"),
        (["--learning_rate", "nan"], "--learning_rate must be above 0, got nan"),
        (["--per_device_train_batch_size", "0"], "--per_device_train_batch_size must be at least 1, got 0"),
        (["--max_length", "0"], "--max_length must be at least 1, got 0"),
        (["--max_steps", "-5"], "--max_steps must be -1 (train --num_train_epochs) or at least 1, got -5"),
        (["--save_steps", "0"], "--save_steps must be above 0, got 0.0"),
        (["--num_train_epochs", "inf"], "--num_train_epochs must be above 0, got inf"),
    ],
)
def test_sft_numbers(tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: list[str], message: str) -> None:
    output = tmp_path / "out"
    argv = ["--model_name_or_path", str(tmp_path / "no-model"), "--output_dir", str(output), *flags]
    status = run_script("sft.py", sft_script.make_parser(), sft_script.main, argv)
    assert _refused(capsys, status) == f"sft.py: error: {message}"
    assert not output.exists()


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--temperature", "-1"], "--temperature must be above 0, got -1.0"),
        (["--max_completion_length", "0"], "--max_completion_length must be at least 1, got 0"),
        (["--top_p", "1.5"], "--top_p must be in (0, 1], got 1.5"),
        (["--reward_weights", "nan", "nan"], "--reward_weights must be finite numbers, got nan nan"),
    ],
)
def test_grpo_numbers(tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: list[str], message: str) -> None:
    output = tmp_path / "out"
    argv = ["--model_name_or_path", str(tmp_path / "no-model"), "--dataset_name", str(tmp_path / "no-data"),
            "--output_dir", str(output), *flags]  # fmt: skip
    status = run_script("grpo.py", grpo_script.make_parser(), grpo_script.main, argv)
    assert _refused(capsys, status) == f"grpo.py: error: {message}"
    assert not output.exists()


@pytest.mark.parametrize("place", ["file", "under_file", "unwritable"])
def test_output_folders_that_cannot_be(tmp_path: Path, capsys: pytest.CaptureFixture[str], place: str) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("kept")
    output, expected = {
        "file": (a_file, f"--output_dir {a_file} is a file; name a folder"),
        "under_file": (a_file / "out", f"--output_dir {a_file / 'out'} lies under {a_file}, which is a file"),
        # /proc takes no new files, even from root
        "unwritable": (Path("/proc/rlpt-test/out"), "cannot write in /proc"),
    }[place]
    for command in ("sft", "eval"):
        argv = [command, "--model_name_or_path", str(tmp_path / "no-model"), "--output_dir", str(output)]
        if command == "eval":
            argv += ["--tasks", "cola"]
        message = _refused(capsys, cli_main(argv))
        assert message.startswith(f"rlpt-trl {command}: error: ") and expected in message
    assert a_file.read_text() == "kept"


@pytest.mark.parametrize("device", ["banana", "cuda:N"])
def test_eval_devices(tmp_path: Path, capsys: pytest.CaptureFixture[str], device: str) -> None:
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if device == "banana":
        message = "--device banana: not a device (auto, cpu, cuda, cuda:N or mps)"
    else:  # one past the last device this machine has
        device = f"cuda:{count}"
        message = f"--device {device}: this machine has {count} CUDA device(s); use --device auto or cpu"
    output = tmp_path / "out"
    argv = ["eval", "--model_name_or_path", str(tmp_path / "no-model"), "--tasks", "cola", "--device", device,
            "--output_dir", str(output)]  # fmt: skip
    assert _refused(capsys, cli_main(argv)) == f"rlpt-trl eval: error: {message}"
    assert not output.exists()


def test_import_gguf_never_writes_over(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The GGUF itself is not read: the target is refused first."""
    gguf = tmp_path / "model.gguf"
    gguf.write_bytes(b"GGUF")
    existing = tmp_path / "existing.txt"
    existing.write_text("kept")
    status = cli_main(["import-gguf", str(gguf), str(existing)])
    assert _refused(capsys, status) == f"rlpt-trl import-gguf: error: output_dir {existing} is a file; name a folder"
    full = tmp_path / "full"
    full.mkdir()
    (full / "mine.txt").write_text("kept")
    status = cli_main(["import-gguf", str(gguf), str(full)])
    message = f"rlpt-trl import-gguf: error: output_dir {full} is not empty; name a new or empty folder"
    assert _refused(capsys, status) == message
    assert existing.read_text() == "kept" and os.listdir(full) == ["mine.txt"]


def test_assets_glue_dir_must_exist(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = cli_main(["assets", "--glue_dir", str(tmp_path / "no-glue")])
    assert _refused(capsys, status) == f"rlpt-trl assets: error: --glue_dir does not exist: {tmp_path / 'no-glue'}"


def test_few_shot_prompts_past_the_context(
    tiny_model_dir: Path, cola_sample_glue_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Refused before any forward pass, naming the limit; nothing written."""
    output = tmp_path / "out"
    argv = ["eval", "--model_name_or_path", str(tiny_model_dir), "--tasks", "cola", "--data_dir",
            str(cola_sample_glue_dir), "--num_fewshot", "40", "--max_samples", "8", "--output_dir", str(output)]  # fmt: skip
    message = _refused(capsys, cli_main(argv))
    assert re.fullmatch(
        r"rlpt-trl eval: error: task cola: the longest prompt with its answer is \d+ tokens \(40-shot\), past the "
        r"model's 2048 positions; lower --num_fewshot",
        message,
    ), message
    assert not output.exists()


@pytest.mark.parametrize("kept", [0.5, 0.0])
def test_truncated_model_weights(
    tiny_model_dir: Path, cola_sample_glue_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], kept: float
) -> None:
    """A weights file cut short (a full disk, a killed copy) or empty is named, not a traceback from deep in loading."""
    model = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model)
    weights = (model / "model.safetensors").read_bytes()
    (model / "model.safetensors").write_bytes(weights[: int(len(weights) * kept)])
    output = tmp_path / "out"
    argv = ["eval", "--model_name_or_path", str(model), "--tasks", "cola", "--data_dir", str(cola_sample_glue_dir),
            "--max_samples", "4", "--output_dir", str(output)]  # fmt: skip
    message = f"rlpt-trl eval: error: model {model}: model.safetensors is truncated; copy or save it again"
    assert _refused(capsys, cli_main(argv)) == message
    assert not output.exists()


def _grpo_on(data: Path, model: Path, embedding: Path, output: Path, *extra: str) -> int:
    argv = ["--model_name_or_path", str(model), "--dataset_name", str(data), "--embedding_model_name_or_path",
            str(embedding), "--output_dir", str(output), "--max_steps", "1", "--per_device_train_batch_size", "8",
            "--num_generations", "2", "--max_completion_length", "4", *extra]  # fmt: skip
    return run_script("grpo.py", grpo_script.make_parser(), grpo_script.main, argv)


def test_a_build_cut_with_another_tokenizer(
    tiny_cola_data: Path, tiny_model_dir: Path, tiny_embedding_model_dir: Path, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """The build records its tokenizer's fingerprint; a policy with another vocabulary is refused."""
    stats = json.loads((tiny_cola_data / "stats.json").read_text())
    assert stats["tokenizer"] == {"name": str(tiny_model_dir), "fingerprint": stats["tokenizer"]["fingerprint"]}
    data = tmp_path / "data"
    shutil.copytree(tiny_cola_data, data)
    stats["tokenizer"] = {"name": "another/tokenizer", "fingerprint": "0" * 64}
    (data / "stats.json").write_text(json.dumps(stats))
    output = tmp_path / "out"
    message = _refused(capsys, _grpo_on(data, tiny_model_dir, tiny_embedding_model_dir, output))
    assert message == (
        f"grpo.py: error: dataset {data} was cut with the tokenizer of another/tokenizer, not with {tiny_model_dir}'s; "
        f"rebuild it with `rlpt-trl data --tokenizer_name_or_path {tiny_model_dir}`"
    )
    assert not output.exists()


def test_prompts_past_the_policys_positions(
    tiny_model_dir: Path, tiny_embedding_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A build allowed long sentences (--max_text_tokens 4000); the tiny policy has 2048 positions: refused, naming
    the row and the limit, before the policy's weights load."""
    rows = tmp_path / "long.jsonl"
    rows.write_text(json.dumps({"text": " ".join(["The cat sat on the mat."] * 200), "label": 1}) + "\n")
    data = tmp_path / "data"
    argv = ["data", "--output_dir", str(data), "--dataset_path", str(rows), "--tokenizer_name_or_path",
            str(tiny_model_dir), "--embedding_model_name_or_path", str(tiny_embedding_model_dir), "--max_text_tokens",
            "4000", "--min_prompt_tokens", "2100"]  # fmt: skip
    assert cli_main(argv) == 0
    capsys.readouterr()
    output = tmp_path / "out"
    message = _refused(capsys, _grpo_on(data, tiny_model_dir, tiny_embedding_model_dir, output))
    assert re.fullmatch(
        rf"grpo\.py: error: dataset {re.escape(str(data))}: the prompt of row 0 is \d+ tokens, with 4 new tokens past "
        rf"the 2048 positions of {re.escape(str(tiny_model_dir))}; rebuild the data with a lower --max_text_tokens",
        message,
    ), message
    assert not output.exists()


@pytest.mark.parametrize("case", ["causal_encoder", "encoder_scorer", "eval_never"])
def test_reward_models_and_evaluation_checked_before_training(
    tiny_cola_data: Path, tiny_model_dir: Path, tiny_embedding_model_dir: Path, tmp_path: Path,
    capsys: pytest.CaptureFixture[str], case: str,
) -> None:  # fmt: skip
    """The rewards' models are loaded at their first call: a wrong local one is named when the reward is built."""
    encoder, extra, message = {
        "causal_encoder": (tiny_model_dir, [], f"embedding model {tiny_model_dir} is a causal language model "
                           "(LlamaForCausalLM), not a sentence encoder"),
        "encoder_scorer": (tiny_embedding_model_dir, ["--scorer_model_name_or_path", str(tiny_embedding_model_dir)],
                           f"not a causal language model (BertModel): {tiny_embedding_model_dir}"),
        "eval_never": (tiny_embedding_model_dir, ["--eval_tasks", "cola", "--eval_every_steps", "0"],
                       "--eval_tasks cola needs --eval_every_steps N: how often to evaluate"),
    }[case]  # fmt: skip
    output = tmp_path / "out"
    assert message in _refused(capsys, _grpo_on(tiny_cola_data, tiny_model_dir, encoder, output, *extra))
    assert not output.exists()
