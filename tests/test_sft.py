from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path
from types import ModuleType, SimpleNamespace

import pytest
import torch
from safetensors.torch import load_file
from training_checks import assert_parameters_changed, interrupt_after_checkpoint, log_by_step
from transformers import AutoModelForCausalLM, AutoTokenizer

from rlpt_trl import RlptError
from rlpt_trl.cli import run_script
from rlpt_trl.models.devices import native_bf16, trainer_precision_defaults
from rlpt_trl.scripts import sft as sft_script
from rlpt_trl.scripts.sft import SFTScriptArguments, check_sft_arguments, load_sft_datasets
from rlpt_trl.testing.tensorboard import read_scalars


ROOT = Path(__file__).resolve().parents[1]
QUICK_CONFIG = ROOT / "recipes" / "quickstart" / "sft.yaml"


@pytest.fixture(scope="module")
def recipe() -> ModuleType:
    """The SFT script (`rlpt_trl.scripts.sft`), which recipes/sft.py and `rlpt-trl sft` run."""
    return sft_script


def _quick_args(model: Path | str, data_dir: Path | str | None, *extra: str) -> list[str]:
    """Flags of a run of the quickstart SFT config (`data_dir` None: CoLA from the Hub); `extra` flags win."""
    data = ["--data_dir", str(data_dir)] if data_dir else []
    return ["--config", str(QUICK_CONFIG), "--model_name_or_path", str(model), *data, *extra]


def _train(recipe: ModuleType, argv: list[str]) -> None:
    recipe.main(*recipe.make_parser().parse_args_and_config(args=argv))


def _scalars(output_dir: Path, tag: str) -> list[float]:
    return [value for _, value in read_scalars(output_dir)[tag]]


def test_prompt_completion_rows(cola_sample_glue_dir: Path) -> None:
    args = SFTScriptArguments(
        data_dir=str(cola_sample_glue_dir),
        prompt_template="Is '{sentence}' good English?",
        label_words=["no", "yes"],
        max_train_samples=5,
        max_eval_samples=200,
    )
    train, validation = load_sft_datasets(args)
    assert train.column_names == ["prompt", "completion"] and len(train) == 5
    assert len(validation) == 128  # in-domain + out-of-domain dev, each a copy of the sample
    assert train[0]["prompt"] == "Is 'The students were asked to write a short poem.' good English?"
    assert train[0]["completion"] == " yes"
    assert set(validation["completion"]) == {" yes", " no"}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"prompt_template": "Sentence: {text}"}, r"must fill \{sentence\} and no other field, found \['text'\]"),
        ({"prompt_template": "{sentence} {}"}, r"found \['', 'sentence'\]"),
        ({"prompt_template": "Sentence: {sentence"}, "not a valid format string"),
        ({"prompt_template": "No field here {{sentence}}"}, r"must fill \{sentence\} and no other field, found \[\]"),
        ({"label_words": ["yes"]}, "two distinct non-empty words"),
        ({"label_words": ["yes", " yes "]}, "two distinct non-empty words"),
        ({"max_train_samples": 0}, "--max_train_samples must be at least 1"),
    ],
)
def test_bad_script_arguments(overrides: dict, message: str) -> None:
    with pytest.raises(RlptError, match=message):
        check_sft_arguments(SFTScriptArguments(**overrides))


def test_bad_config_fails_before_model_loads(
    recipe: ModuleType, cola_sample_glue_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing_model = str(tmp_path / "no-such-model")
    argv = ["--output_dir", str(tmp_path / "out"), "--model_name_or_path", missing_model]
    assert run_script("sft.py", recipe.make_parser(), recipe.main, [*argv, "--prompt_template", "{text}"]) == 1
    err = capsys.readouterr().err.strip()
    assert err == "sft.py: error: --prompt_template must fill {sentence} and no other field, found ['text']"
    assert run_script("sft.py", recipe.make_parser(), recipe.main, [*argv, "--data_dir", str(tmp_path)]) == 1
    assert "no cola folder in" in capsys.readouterr().err
    assert run_script("sft.py", recipe.make_parser(), recipe.main, ["--output_dir", str(tmp_path / "out")]) == 1
    assert "--model_name_or_path is required" in capsys.readouterr().err
    (tmp_path / "no-model-type").mkdir()
    (tmp_path / "no-model-type" / "config.json").write_text("{}")
    argv = ["--output_dir", str(tmp_path / "out"), "--model_name_or_path", str(tmp_path / "no-model-type")]
    assert (
        run_script("sft.py", recipe.make_parser(), recipe.main, [*argv, "--data_dir", str(cola_sample_glue_dir)]) == 1
    )
    err = capsys.readouterr().err.strip().splitlines()[-1]  # after the data's progress bars
    assert err.startswith("sft.py: error: cannot read the model config of ") and "model_type" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only bf16 default")
def test_precision_default_follows_the_hardware(
    recipe: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, training_args, *_ = recipe.make_parser().parse_args_and_config(args=["--output_dir", str(tmp_path)])
    defaults = trainer_precision_defaults()
    assert training_args.bf16 is (True if defaults["bf16"] is None else defaults["bf16"])  # None: TRL's default
    if "use_cpu" in defaults:
        # no accelerator: bf16 autocast where this CPU computes bf16 natively, with use_cpu, which transformers
        # requires for bf16 on a CPU; without it, one error line
        assert (training_args.bf16, training_args.use_cpu) == (native_bf16("cpu"), True)
        argv = ["--output_dir", str(tmp_path), "--bf16", "true", "--use_cpu", "false"]
        assert run_script("sft.py", recipe.make_parser(), recipe.main, argv) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("sft.py: error: ") and "bf16" in err and "\n" not in err


def test_sft_script_tiny_model(
    recipe: ModuleType, tiny_model_dir: Path, cola_sample_glue_dir: Path, tmp_path: Path
) -> None:
    """The script end to end: YAML + CLI overrides, checkpoints, eval, TensorBoard, model card, HF reload."""
    output = tmp_path / "sft"
    command = [
        sys.executable, str(ROOT / "recipes" / "sft.py"),
        *_quick_args(tiny_model_dir, cola_sample_glue_dir, "--output_dir", str(output), "--max_steps", "4",
        "--save_steps", "2", "--eval_steps", "2"),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(path.name for path in output.glob("checkpoint-*")) == ["checkpoint-4"]  # save_total_limit: 1
    state = json.loads((output / "checkpoint-4" / "trainer_state.json").read_text())
    assert state["global_step"] == 4 and any("eval_loss" in entry for entry in state["log_history"])
    for folder in (output, output / "checkpoint-4"):
        model = AutoModelForCausalLM.from_pretrained(folder)
        batch = AutoTokenizer.from_pretrained(folder)(["Sentence: A cat sat."], return_tensors="pt")
        with torch.no_grad():
            assert torch.isfinite(model(**batch).logits).all()
    assert len(_scalars(output, "train/loss")) == 4 and _scalars(output, "eval/loss")
    assert_parameters_changed(tiny_model_dir, output)
    card = (output / "README.md").read_text()
    assert "rlpt_trl" in card and "nyu-mll/glue" in card and "SFT" in card
    # --resume_from_checkpoint true continues from the latest complete checkpoint
    argv = command[2:] + ["--max_steps", "6", "--resume_from_checkpoint", "true", "--report_to", "none"]
    _train(recipe, argv)
    state = json.loads((output / "checkpoint-6" / "trainer_state.json").read_text())
    assert state["global_step"] == 6 and state["log_history"][0]["step"] == 1
    # a checkpoint at --max_steps: resuming trains no step past it (the loop would run a 7th) and keeps its model
    _train(recipe, argv)
    assert sorted(path.name for path in output.glob("checkpoint-*")) == ["checkpoint-6"]
    final, saved = load_file(output / "model.safetensors"), load_file(output / "checkpoint-6" / "model.safetensors")
    assert final.keys() == saved.keys() and all(torch.equal(final[name], saved[name]) for name in saved)


def test_resume_after_sigterm_matches_uninterrupted_run(
    recipe: ModuleType, tiny_model_dir: Path, cola_sample_glue_dir: Path, tmp_path: Path
) -> None:
    """SIGTERM saves and stops with status 128 + 15; resuming gives the same per-step log as a clean run."""
    max_steps = 40  # enough steps after checkpoint-2 that the signal lands before the run would end on its own
    args = _quick_args(
        tiny_model_dir, cola_sample_glue_dir, "--max_steps", str(max_steps), "--save_steps", "2",
        "--save_total_limit", str(max_steps), "--eval_strategy", "no", "--report_to", "none",
    )  # fmt: skip
    _train(recipe, [*args, "--output_dir", str(tmp_path / "reference")])

    output = tmp_path / "interrupted"
    command = [sys.executable, str(ROOT / "recipes" / "sft.py"), *args, "--output_dir", str(output)]
    status, stderr = interrupt_after_checkpoint(command, output, 2)
    assert status == 128 + signal.SIGTERM, stderr[-3000:]
    saved = sorted(int(path.name.split("-")[1]) for path in output.glob("checkpoint-*"))
    assert 2 <= saved[-1] < max_steps and not (output / "model.safetensors").exists()

    _train(recipe, [*args, "--output_dir", str(output), "--resume_from_checkpoint", "true"])
    expected, got = log_by_step(tmp_path / "reference", max_steps), log_by_step(output, max_steps)
    assert sorted(got) == list(range(1, max_steps + 1))
    for step in range(1, max_steps + 1):
        for key in ("learning_rate", "loss"):
            assert got[step][key] == pytest.approx(expected[step][key], rel=1e-4, abs=1e-6), (step, key)


def test_sft_loss_decreases(
    recipe: ModuleType, tiny_model_dir: Path, cola_sample_glue_dir: Path, tmp_path: Path
) -> None:
    """16 examples, 24 steps at a high constant learning rate: the tiny model learns the two label words."""
    output = tmp_path / "fit"
    args = _quick_args(
        tiny_model_dir, cola_sample_glue_dir, "--output_dir", str(output), "--max_train_samples", "16", "--max_steps",
        "24", "--learning_rate", "5e-3", "--lr_scheduler_type", "constant", "--eval_strategy", "no", "--save_strategy",
        "no",
    )  # fmt: skip
    _train(recipe, args)
    losses = _scalars(output, "train/loss")
    assert len(losses) == 24
    first, last = sum(losses[:4]) / 4, sum(losses[-4:]) / 4
    assert last < 0.5 * first, losses


def test_sft_lora(recipe: ModuleType, tiny_model_dir: Path, cola_sample_glue_dir: Path, tmp_path: Path) -> None:
    """ModelConfig's LoRA flags train adapters through peft; the final model is merged by default."""
    common = _quick_args(
        tiny_model_dir, cola_sample_glue_dir, "--max_steps", "2", "--eval_strategy", "no", "--save_strategy",
        "no", "--report_to", "none", "--use_peft", "--lora_r", "4", "--lora_alpha", "8",
        "--lora_target_modules", "q_proj", "v_proj", "--learning_rate", "1e-2",
    )  # fmt: skip
    _train(recipe, [*common, "--output_dir", str(tmp_path / "merged")])
    merged = AutoModelForCausalLM.from_pretrained(tmp_path / "merged")
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    assert not (tmp_path / "merged" / "adapter_config.json").exists()
    layer, base_layer = merged.model.layers[0].self_attn, base.model.layers[0].self_attn
    assert not torch.equal(layer.q_proj.weight, base_layer.q_proj.weight)
    assert torch.equal(layer.k_proj.weight, base_layer.k_proj.weight)  # not a LoRA target: untouched

    _train(recipe, [*common, "--output_dir", str(tmp_path / "adapter"), "--merge_adapter", "false"])
    adapter = json.loads((tmp_path / "adapter" / "adapter_config.json").read_text())
    assert adapter["r"] == 4 and sorted(adapter["target_modules"]) == ["q_proj", "v_proj"]
    assert AutoModelForCausalLM.from_pretrained(tmp_path / "adapter").peft_config["default"].r == 4


class _StubHub:
    """Stands in for `huggingface_hub.HfApi` (the Hub is unreachable here): records what the trainer sends."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict]] = []

    def create_repo(self, repo_id: str, **kwargs: object) -> SimpleNamespace:
        self.calls.append(("create_repo", {"repo_id": repo_id, **kwargs}))
        return SimpleNamespace(repo_id=repo_id)

    def upload_folder(self, **kwargs: object) -> None:
        files = sorted(path.name for path in Path(kwargs["folder_path"]).iterdir())
        self.calls.append(("upload_folder", {**kwargs, "files": files}))


def test_sft_push_to_hub_call_path(
    recipe: ModuleType,
    tiny_model_dir: Path,
    cola_sample_glue_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hub = _StubHub()
    monkeypatch.setattr("transformers.trainer.hf_api", lambda: hub)
    output = tmp_path / "pushed"
    args = _quick_args(
        tiny_model_dir, cola_sample_glue_dir, "--output_dir", str(output), "--max_steps", "1", "--eval_strategy", "no",
        "--save_strategy", "no", "--report_to", "none", "--push_to_hub", "--hub_model_id", "user/tiny-cola-sft",
    )  # fmt: skip
    _train(recipe, args)
    (create, created), (upload, uploaded) = hub.calls
    assert create == "create_repo" and created["repo_id"] == "user/tiny-cola-sft"
    assert upload == "upload_folder" and uploaded["repo_id"] == "user/tiny-cola-sft"
    assert uploaded["folder_path"] == str(output)
    assert {"README.md", "config.json", "model.safetensors", "tokenizer.json"} <= set(uploaded["files"])
    card = (output / "README.md").read_text()
    assert "user/tiny-cola-sft" in card and "nyu-mll/glue" in card


@pytest.mark.slow
def test_sft_from_gguf(recipe: ModuleType, smollm2_gguf: Path, glue_dir: str | None, tmp_path: Path) -> None:
    """The real SmolLM2 from its GGUF file trains a few steps on real CoLA and saves a plain HF model."""
    output = tmp_path / "smollm2-sft"
    args = _quick_args(
        smollm2_gguf, glue_dir, "--output_dir", str(output), "--max_steps", "2", "--per_device_train_batch_size", "2",
        "--max_train_samples", "4", "--max_eval_samples", "4", "--eval_steps", "2", "--save_strategy", "no",
        "--max_length", "48", "--per_device_eval_batch_size", "4",
    )  # fmt: skip
    _train(recipe, args)
    assert (output / "model.safetensors").is_file() and not list(output.glob("*.gguf"))
    model = AutoModelForCausalLM.from_pretrained(output)
    tokenizer = AutoTokenizer.from_pretrained(output)
    batch = tokenizer(["Sentence: The cat sat on the mat."], return_tensors="pt")
    with torch.no_grad():
        assert torch.isfinite(model(**batch).logits).all()
    assert _scalars(output, "eval/loss")


def test_seed_config_parses(recipe: ModuleType) -> None:
    script_args, training_args, model_args, eval_args, *_ = recipe.make_parser().parse_args_and_config(
        args=["--config", str(ROOT / "recipes" / "smollm-135m" / "sft.yaml")]
    )
    assert model_args.model_name_or_path == "HuggingFaceTB/SmolLM-135M"
    assert training_args.per_device_train_batch_size == 4 and training_args.num_train_epochs == 3
    assert training_args.report_to == ["tensorboard"] and training_args.eval_strategy == "epoch"
    assert script_args.label_words == ["unacceptable", "acceptable"]
    assert eval_args.eval_every_steps == 0  # the in-training evaluation is opt-in
