"""The GRPO script end to end on the CPU: accelerate launches, checkpoints, TensorBoard, resume, Hub, bad configs.

The fast tier scores with the tiny sentence-transformer; the slow tests start from the real SmolLM2 with MiniLM.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from concurrent.futures import Future
from pathlib import Path

import pytest
from huggingface_hub import HfApi, RepoUrl
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from training_checks import (
    TINY_RL_SETTINGS,
    assert_parameters_changed,
    free_port,
    interrupt_after_checkpoint,
    log_by_step,
)
from transformers import AutoModelForCausalLM, AutoTokenizer

from rlpt_trl.cli import run_command
from rlpt_trl.models.embeddings import DEFAULT_EMBEDDING_MODEL
from rlpt_trl.testing.assets import GLUE_DIR_ENV, cola_sample_path
from rlpt_trl.testing.tensorboard import read_scalars
from rlpt_trl.trainer.flops import FLOPS_FILE


ROOT = Path(__file__).resolve().parents[1]
GRPO = ROOT / "recipes" / "grpo.py"
QUICKSTART_CONFIG = ROOT / "recipes" / "quickstart" / "grpo.yaml"


@pytest.fixture(scope="module")
def grpo_data(tiny_cola_data: Path) -> Path:
    """The CoLA sample tokenised for the tiny model, with the tiny encoder's target embeddings."""
    return tiny_cola_data


def _build(output: Path, tokenizer: Path, embedding_model: Path) -> Path:
    """The CoLA sample cut with `tokenizer`, with `embedding_model`'s targets, built by `rlpt-trl data`."""
    argv = ["--output_dir", str(output), "--dataset_path", str(cola_sample_path()), "--tokenizer_name_or_path",
            str(tokenizer), "--embedding_model_name_or_path", str(embedding_model)]  # fmt: skip
    assert run_command("data", argv) == 0
    return output


@pytest.fixture(scope="module")
def minilm_grpo_data(
    tiny_model_dir: Path, embedding_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The same rows with the real MiniLM's target embeddings."""
    return _build(tmp_path_factory.mktemp("grpo-data-minilm") / "data", tiny_model_dir, embedding_model_dir)


def _recipe_args(model: Path | str, data: Path, embedding: Path, output: Path, *extra: str) -> list[str]:
    return [
        "--config", str(QUICKSTART_CONFIG),
        "--model_name_or_path", str(model),
        "--dataset_name", str(data),
        "--embedding_model_name_or_path", str(embedding),
        "--output_dir", str(output),
        *extra,
    ]  # fmt: skip


def _env() -> dict[str, str]:
    return {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


def _launch(config: str, args: list[str], *launch_flags: str) -> subprocess.CompletedProcess:
    command = [
        sys.executable, "-m", "accelerate.commands.launch",
        "--config_file", str(ROOT / "accelerate_configs" / config),
        "--num_cpu_threads_per_process", "1",
        *launch_flags, str(GRPO), *args,
    ]  # fmt: skip
    return subprocess.run(command, cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=900)


def _text_tags(output: Path) -> list[str]:
    (events,) = output.glob("runs/*/events.out.tfevents.*")
    accumulator = EventAccumulator(str(events.parent), size_guidance={"tensors": 0})
    accumulator.Reload()
    return accumulator.Tags()["tensors"]


def _run_main(argv: list[str]) -> int:
    """Run the GRPO script in this process, as recipes/grpo.py does (for stubs that a subprocess cannot see)."""
    return run_command("grpo", argv, prog="grpo.py")


def test_cpu_launch_checkpoints_and_tensorboard(
    tiny_model_dir: Path, grpo_data: Path, tiny_embedding_model_dir: Path, cola_sample_glue_dir: Path, tmp_path: Path
) -> None:
    output = tmp_path / "run"
    args = _recipe_args(tiny_model_dir, grpo_data, tiny_embedding_model_dir, output, "--max_steps", "3")
    args += ["--eval_every_steps", "3", "--eval_tasks", "cola", "--eval_data_dir", str(cola_sample_glue_dir)]
    args += ["--eval_max_samples", "16"]
    result = _launch("cpu.yaml", args)
    assert result.returncode == 0, result.stderr[-3000:]

    for folder in (output, output / "checkpoint-3"):
        model = AutoModelForCausalLM.from_pretrained(folder)
        assert (folder / "model.safetensors").is_file()
        tokenizer = AutoTokenizer.from_pretrained(folder)
        assert model.generation_config.eos_token_id == tokenizer.eos_token_id
    scalars = read_scalars(output)
    for tag in ("train/rewards/perplexity_reward/mean", "train/rewards/embedding_cosine_reward/mean", "train/loss"):
        assert [step for step, _ in scalars[tag]] == [1, 2, 3], tag
    assert [step for step, _ in scalars["eval/cola/matthews_correlation"]] == [3]  # the in-training GLUE evaluation
    assert any("completions" in tag for tag in _text_tags(output))
    card = (output / "README.md").read_text()
    assert "`perplexity_reward` (1), `embedding_cosine_reward` (1)" in card
    assert str(tiny_model_dir) in card and "4 generations per prompt" in card
    assert_parameters_changed(tiny_model_dir, output)
    # the run's compute: the policy generating (read) and training, and both reward models reading
    flops = json.loads((output / FLOPS_FILE).read_text())
    models = flops["models"]
    assert models["policy"]["flops"]["read"] > 0 and models["policy"]["flops"]["train"] > 0
    assert {f"scorer {tiny_model_dir}", f"encoder {tiny_embedding_model_dir}"} <= set(models)
    assert all(set(models[name]["flops"]) == {"read"} for name in models if name != "policy")
    assert all(models[name]["tokens"]["read"] > 0 for name in models)
    total = sum(value for entry in models.values() for value in entry["flops"].values())
    assert flops["flops"] == pytest.approx(total) and flops["global_step"] == 3
    # the output layer trained on completion tokens alone (32 completions a step of the logged mean length), those of
    # zero advantage left out
    completion_tokens = sum(32 * length for _, length in scalars["train/completions/mean_length"])
    assert 0 < models["policy"]["logit_positions"]["train"] <= completion_tokens


def test_flops_budget_stops_grpo(
    tiny_model_dir: Path, grpo_data: Path, tiny_embedding_model_dir: Path, tmp_path: Path
) -> None:
    """A budget smaller than one step's compute stops the run after its first step, max_steps notwithstanding."""
    output = tmp_path / "run"
    args = _recipe_args(tiny_model_dir, grpo_data, tiny_embedding_model_dir, output, "--max_steps", "10")
    assert _run_main([*args, "--flops_budget", "1e6", "--save_strategy", "no"]) == 0
    flops = json.loads((output / FLOPS_FILE).read_text())
    assert flops["global_step"] == 1 and flops["budget"] == 1e6 and flops["flops"] >= 1e6
    assert (output / "model.safetensors").is_file()


def test_cpu_two_process_launch(
    tiny_model_dir: Path, grpo_data: Path, tiny_embedding_model_dir: Path, tmp_path: Path
) -> None:
    """Two CPU processes (torchrun; gloo): each generates and scores its slice, and the FLOP count is the run's."""
    output = tmp_path / "ddp"
    args = _recipe_args(
        tiny_model_dir, grpo_data, tiny_embedding_model_dir, output, "--max_steps", "2", "--save_steps", "10"
    )
    command = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", str(free_port()),
        str(GRPO), *args,
    ]  # fmt: skip
    env = {**_env(), "OMP_NUM_THREADS": "1"}
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(p.name for p in output.glob("checkpoint-*")) == ["checkpoint-2"]
    AutoModelForCausalLM.from_pretrained(output)
    state = json.loads((output / "checkpoint-2" / "trainer_state.json").read_text())
    logged = [entry for entry in state["log_history"] if "rewards/perplexity_reward/mean" in entry]
    assert [entry["step"] for entry in logged] == [1, 2]
    assert all("rewards/embedding_cosine_reward/mean" in entry for entry in logged)
    # the total is both processes': more than the first process's own count
    flops = json.loads((output / FLOPS_FILE).read_text())
    own = sum(value for entry in flops["models"].values() for value in entry["flops"].values())
    assert 1.5 * own < flops["flops"] < 2.5 * own


def test_resume_after_sigterm_matches_uninterrupted_run(
    tiny_model_dir: Path, grpo_data: Path, tiny_embedding_model_dir: Path, tmp_path: Path
) -> None:
    """SIGTERM saves and stops; resuming restores step, optimizer, scheduler and RNG: same log as a clean run."""
    # enough steps after checkpoint-2 that the signal lands before the run would end on its own
    max_steps = 10
    steps = ["--max_steps", str(max_steps), "--save_steps", "2", "--save_total_limit", "10"]
    reference = tmp_path / "reference"
    result = _launch("cpu.yaml", _recipe_args(tiny_model_dir, grpo_data, tiny_embedding_model_dir, reference, *steps))
    assert result.returncode == 0, result.stderr[-3000:]

    output = tmp_path / "interrupted"
    command = [
        sys.executable,
        str(GRPO),
        *_recipe_args(tiny_model_dir, grpo_data, tiny_embedding_model_dir, output, *steps),
    ]
    status, stderr = interrupt_after_checkpoint(command, output, 2, cwd=ROOT, env=_env())
    assert status == 128 + signal.SIGTERM, stderr[-3000:]
    saved = sorted(int(p.name.split("-")[1]) for p in output.glob("checkpoint-*"))
    interrupted_at = saved[-1]
    assert 2 <= interrupted_at < max_steps
    assert all((output / f"checkpoint-{s}" / "trainer_state.json").is_file() for s in saved)

    resumed = _launch(
        "cpu.yaml",
        _recipe_args(
            tiny_model_dir, grpo_data, tiny_embedding_model_dir, output, *steps, "--resume_from_checkpoint", "true"
        ),
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    expected, got = log_by_step(reference, max_steps), log_by_step(output, max_steps)
    assert sorted(got) == list(range(1, max_steps + 1))
    for step in range(1, max_steps + 1):
        for key in ("learning_rate", "loss", "rewards/perplexity_reward/mean", "rewards/embedding_cosine_reward/mean"):
            assert got[step][key] == pytest.approx(expected[step][key], rel=1e-4, abs=1e-6), (step, key)


@pytest.mark.parametrize("stop", [2, 4])
def test_resume_either_side_of_an_epoch_boundary_matches_uninterrupted_run(
    tiny_model_dir: Path, grpo_data: Path, tiny_embedding_model_dir: Path, tmp_path: Path, stop: int
) -> None:
    """Stopped after step `stop` and resumed, the run logs what the uninterrupted one does, in the resumed epoch and in
    the next: 24 prompts are 3 steps of 8, so epoch 2 starts at step 4 and its prompt order must be restored too."""
    max_steps = 6
    steps = ["--max_train_samples", "24", "--max_steps", str(max_steps), "--save_steps", "1", "--save_total_limit",
             str(max_steps), "--report_to", "none"]  # fmt: skip
    reference = tmp_path / "reference"
    assert _run_main(_recipe_args(tiny_model_dir, grpo_data, tiny_embedding_model_dir, reference, *steps)) == 0
    output = tmp_path / "resumed"
    output.mkdir()
    shutil.copytree(reference / f"checkpoint-{stop}", output / f"checkpoint-{stop}")
    argv = _recipe_args(tiny_model_dir, grpo_data, tiny_embedding_model_dir, output, *steps)
    assert _run_main([*argv, "--resume_from_checkpoint", "true"]) == 0
    expected, got = log_by_step(reference, max_steps), log_by_step(output, max_steps)
    for step in range(stop + 1, max_steps + 1):
        for key in ("loss", "rewards/perplexity_reward/mean", "rewards/embedding_cosine_reward/mean"):
            assert got[step][key] == pytest.approx(expected[step][key], rel=1e-4, abs=1e-6), (step, key)


@pytest.mark.slow
def test_gguf_start_saves_hf_format(
    smollm2_gguf: Path, smollm2_dir: Path, embedding_model_dir: Path, tmp_path: Path
) -> None:
    data = _build(tmp_path / "data", smollm2_gguf, embedding_model_dir)  # cut with the policy's own tokenizer
    output = tmp_path / "gguf"
    args = _recipe_args(smollm2_gguf, data, embedding_model_dir, output, "--max_steps", "2")
    args += ["--scorer_model_name_or_path", str(smollm2_dir), "--per_device_train_batch_size", "4"]
    result = _launch("cpu.yaml", args)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (output / "model.safetensors").is_file()
    model = AutoModelForCausalLM.from_pretrained(output)
    assert model.config.model_type == "llama" and model.config.num_hidden_layers == 30


def test_lora_through_model_config(
    tiny_model_dir: Path, grpo_data: Path, tiny_embedding_model_dir: Path, tmp_path: Path
) -> None:
    output = tmp_path / "lora"
    args = _recipe_args(tiny_model_dir, grpo_data, tiny_embedding_model_dir, output, "--max_steps", "1")
    args += ["--use_peft", "true", "--lora_r", "4", "--lora_target_modules", "q_proj", "v_proj"]
    assert _run_main(args) == 0
    adapter = json.loads((output / "adapter_config.json").read_text())
    assert adapter["r"] == 4 and sorted(adapter["target_modules"]) == ["q_proj", "v_proj"]
    assert (output / "adapter_model.safetensors").is_file()


def test_push_to_hub_against_stubbed_hfapi(
    tiny_model_dir: Path,
    grpo_data: Path,
    tiny_embedding_model_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The Hub is unreachable: HfApi is stubbed, so this checks what TRL/transformers would send."""
    calls: list[tuple[str, dict]] = []

    def create_repo(self, repo_id, **kwargs):
        calls.append(("create_repo", {"repo_id": repo_id, **kwargs}))
        return RepoUrl(f"https://huggingface.co/{repo_id}")

    def upload_folder(self, **kwargs):
        files = sorted(p.name for p in Path(kwargs["folder_path"]).iterdir())
        calls.append(("upload_folder", {**kwargs, "files": files}))
        if kwargs.get("run_as_future"):
            future: Future = Future()
            future.set_result(None)
            return future
        return None

    monkeypatch.setattr(HfApi, "create_repo", create_repo)
    monkeypatch.setattr(HfApi, "upload_folder", upload_folder)
    output = tmp_path / "hub"
    args = _recipe_args(tiny_model_dir, grpo_data, tiny_embedding_model_dir, output, "--max_steps", "1")
    args += ["--push_to_hub", "true", "--hub_model_id", "someone/rlpt-quickstart", "--hub_strategy", "end"]
    assert _run_main(args) == 0
    assert calls[0] == (
        "create_repo",
        {"repo_id": "someone/rlpt-quickstart", "token": None, "private": None, "exist_ok": True},
    )
    final = [kwargs for name, kwargs in calls if name == "upload_folder"][-1]
    assert final["repo_id"] == "someone/rlpt-quickstart" and Path(final["folder_path"]) == output
    assert {"model.safetensors", "README.md", "config.json", "tokenizer.json"} <= set(final["files"])
    assert "embedding_cosine_reward" in (output / "README.md").read_text()


BAD_CONFIGS = [
    (["--reward_funcs", "fluency_reward"], "unknown reward function 'fluency_reward'"),
    (["--reward_weights", "1.0"], "reward_weights has 1 values but 2 reward functions"),
    (["--scores_column", "acceptability"], "lacks column(s) acceptability for embedding_cosine_reward"),
    (
        ["--reward_funcs", "prefix_match_reward", "--reward_weights", "1.0", "--text_column", "sentence"],
        "lacks column(s) sentence for prefix_match_reward",
    ),
    (
        ["--embedding_compare", "completion", "--completion_embedding_column", "truth", "--text_column", "sentence"],
        "lacks column(s) sentence for embedding_cosine_reward_completion",
    ),
    (["--embedding_baseline", "mean"], "baseline must be None or 'prompt', got 'mean'"),
    (["--per_device_train_batch_size", "6"], "num_generations"),
    (["--flops_budget", "0"], "--flops_budget must be > 0 FLOPs, got 0.0"),
]


@pytest.mark.parametrize(("extra", "message"), BAD_CONFIGS)
def test_bad_config_fails_before_any_model_loads(
    grpo_data: Path,
    tiny_embedding_model_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    message: str,
) -> None:
    # a model path that does not exist: the error must come from the configuration check, not the loader
    args = _recipe_args("/nonexistent/model", grpo_data, tiny_embedding_model_dir, tmp_path / "bad", *extra)
    assert _run_main(args) != 0
    # datasets' progress bars share stderr when the data is read for the first time: the error is the one line
    # that says error
    errors = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert len(errors) == 1 and errors[0].startswith("grpo.py: error: ") and message in errors[0], errors
    assert not (tmp_path / "bad").exists()


def test_missing_model_names_the_flag(grpo_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run_main(["--dataset_name", str(grpo_data), "--output_dir", str(tmp_path / "out")]) == 1
    assert capsys.readouterr().err.strip() == (
        "grpo.py: error: --model_name_or_path is required (Hub id, local directory or .gguf file)"
    )


def test_bad_config_exit_status_from_the_command_line(
    grpo_data: Path, tiny_embedding_model_dir: Path, tmp_path: Path
) -> None:
    extra, message = BAD_CONFIGS[0]
    args = _recipe_args("/nonexistent/model", grpo_data, tiny_embedding_model_dir, tmp_path / "bad", *extra)
    result = subprocess.run(
        [sys.executable, str(GRPO), *args], cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 1
    assert (
        result.stderr.strip().splitlines()[-1] == f"grpo.py: error: {message} (registered: perplexity_reward, "
        "embedding_cosine_reward, prefix_match_reward, rpt_prefix_reward; or a dotted import path)"
    )
    assert "Traceback" not in result.stderr


@pytest.mark.slow  # the quickstart scores with the real MiniLM
def test_quickstart_runs_offline(tmp_path: Path) -> None:
    """`python recipes/quickstart.py` on the tiny model as a newcomer runs it (no GLUE folder, the Hub unreachable):
    data build from the shipped sample, GRPO, checkpoint, eval, and the warning that the sample is too small."""
    output = tmp_path / "quickstart"
    command = [sys.executable, str(ROOT / "recipes" / "quickstart.py"), "--model", "tiny", "--max_steps", "2"]
    command += ["--output_dir", str(output), "--eval_samples", "16"]
    env = {name: value for name, value in _env().items() if name != GLUE_DIR_ENV}
    result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (output / "data" / "stats.json").is_file()
    AutoModelForCausalLM.from_pretrained(output / "grpo")
    assert list((output / "grpo").glob("runs/*/events.out.tfevents.*"))
    assert f"tensorboard --logdir {output / 'grpo'}" in result.stdout
    # it ends with base vs trained on both held-out tasks, each trained metric's paired difference with its CI
    metrics = json.loads((output / "eval" / "metrics.json").read_text())
    assert [list(tasks) for tasks in metrics.values()] == [["cola", "next_segment"]] * 2
    moved = result.stdout.split("What the GRPO steps moved on held-out data")[1]
    assert "| cola MCC |" in moved and "| next_segment reward |" in moved and "grpo - base-model" in moved
    # the sample is named before training and again under the table, with the command of the real run
    before = result.stdout.split("[2/3] GRPO")[0]
    for part in (before, moved):
        assert "64-sentence CoLA sample shipped with rlpt_trl" in part and "--data_dir GLUE_ROOT" in part


def _hub_cache(folder: Path, repo_id: str, cache: Path) -> Path:
    """A Hugging Face Hub cache (`HF_HUB_CACHE`) holding `folder` as the latest revision of `repo_id`: how an offline
    machine gets the models that code loads by Hub id."""
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    revision = "0" * 40
    shutil.copytree(folder, repo / "snapshots" / revision, symlinks=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(revision)
    return cache


@pytest.mark.slow  # the ready embedding reward loads its default model, the real MiniLM
def test_trl_grpo_trains_with_the_dotted_rewards_and_the_data_build(
    tiny_model_dir: Path, minilm_grpo_data: Path, embedding_model_dir: Path, tmp_path: Path
) -> None:
    """TRL's own `trl grpo` command, given rlpt_trl's ready rewards by dotted path and a data-build folder."""
    cache = _hub_cache(embedding_model_dir, DEFAULT_EMBEDDING_MODEL, tmp_path / "hub")
    output = tmp_path / "trl-grpo"
    command = [
        sys.executable, "-c", "import sys; from trl.cli import main; sys.exit(main())", "grpo",
        "--model_name_or_path", str(tiny_model_dir),
        "--dataset_name", str(minilm_grpo_data),
        "--reward_funcs", "rlpt_trl.rewards.prefix_match_reward", "rlpt_trl.rewards.embedding_cosine_reward",
        "--output_dir", str(output),
        *(f"--{name}={value}" for name, value in TINY_RL_SETTINGS.items()),
        "--activation_checkpointing", "false",
    ]  # fmt: skip
    env = {**_env(), "HF_HUB_CACHE": str(cache), "ACCELERATE_USE_CPU": "true"}
    result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    # the trainer prints each step's log: both rewards were computed at both steps
    logged = [line for line in result.stdout.splitlines() if "'rewards/prefix_match_reward/mean'" in line]
    assert len(logged) == 2 and all("'rewards/embedding_cosine_reward/mean'" in line for line in logged), result.stdout
    assert_parameters_changed(tiny_model_dir, output)
