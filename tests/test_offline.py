"""The offline kit (`tools/offline_kit.py`), random-init models and the GPU acceptance run's CPU mode
(`tools/gpu_acceptance.py --device cpu`), on the tiny models."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
from gpu_acceptance import cpu_agreement
from offline_kit import needed_wheels, pinned_requirement, read_installed, target_environment, wheel_requirements
from packaging.requirements import Requirement
from packaging.version import Version
from sentence_transformers import SentenceTransformer
from transformers import AutoConfig

from rlpt_trl import RlptError
from rlpt_trl.cli import main as cli_main
from rlpt_trl.models.loading import load_model_and_tokenizer
from rlpt_trl.models.random_init import RANDOM_INIT_KEY, build_random_init, weightless_files


ROOT = Path(__file__).resolve().parents[1]
KIT = ROOT / "tools" / "offline_kit.py"
ACCEPTANCE = ROOT / "tools" / "gpu_acceptance.py"
# what a CUDA PyTorch image lacked when the kit was designed (issue text), removed from this environment's list
ABSENT = {"trl", "datasets", "evaluate", "gguf", "dill", "multiprocess", "rlpt-trl"}


def _freeze(tmp_path: Path, absent: set[str]) -> Path:
    listed = subprocess.run([sys.executable, "-m", "pip", "list", "--format=freeze"], capture_output=True, text=True)
    kept = [line for line in listed.stdout.splitlines() if line.split("==")[0].lower() not in absent]
    path = tmp_path / "installed.txt"
    path.write_text("\n".join(kept) + "\n")
    return path


def _wheel(folder: Path, name: str, version: str, requires: list[str]) -> Path:
    import zipfile

    path = folder / f"{name}-{version}-py3-none-any.whl"
    metadata = "\n".join([f"Name: {name}", f"Version: {version}", *(f"Requires-Dist: {r}" for r in requires)])
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(f"{name}-{version}.dist-info/METADATA", metadata + "\n")
    return path


def test_needed_wheels_follow_requirements_the_target_lacks(tmp_path: Path) -> None:
    env = target_environment("3.12", "manylinux_2_28_x86_64")
    root = _wheel(tmp_path, "app", "1.0", ["lib>=2", "old<1", "present>=1", 'winonly; sys_platform == "win32"',
                                           'extra-dep; extra == "fancy"', "withextra[fancy]"])  # fmt: skip
    catalogue = {
        "lib": _wheel(tmp_path, "lib", "2.1", ["dep"]),
        "old": _wheel(tmp_path, "old", "0.9", []),
        "dep": _wheel(tmp_path, "dep", "1.0", ["lib"]),
        "withextra": _wheel(tmp_path, "withextra", "1.0", ['extra-dep; extra == "fancy"']),
        "extra-dep": _wheel(tmp_path, "extra-dep", "1.0", []),
    }
    asked = []

    def download(requirement: Requirement) -> Path:
        asked.append(f"{requirement.name}{requirement.specifier}")
        return catalogue[requirement.name]

    installed = {"present": Version("1.5"), "old": Version("1.2"), "lib": Version("1.0")}
    wheels = needed_wheels(root, installed, env, download)
    # lib installed too old, old installed too new, present satisfied, winonly not on Linux, extras only when asked
    assert [wheel.name.split("-")[0] for wheel in wheels] == ["app", "lib", "old", "withextra", "dep", "extra"]
    assert asked == ["lib>=2", "old<1", "withextra", "dep", "extra-dep"]
    assert [str(r) for r in wheel_requirements(catalogue["withextra"], (), env)] == []
    # downloads take the version tested here when it satisfies the requirement
    assert pinned_requirement(Requirement("trl>=1.0")) == f"trl=={importlib.metadata.version('trl')}"
    assert pinned_requirement(Requirement("trl>=99")) == "trl>=99"


def test_installed_list_errors(tmp_path: Path) -> None:
    path = tmp_path / "installed.txt"
    path.write_text("# pip freeze\ntorch==2.11.0\n-e git+https://x#egg=y\nlocal @ file:///wheel.whl\n")
    assert read_installed(path) == {"torch": Version("2.11.0"), "local": None}
    path.write_text("torch==two\n")
    with pytest.raises(RlptError, match=r"installed.txt:1: not a version: 'two'"):
        read_installed(path)
    path.write_text("\n")
    with pytest.raises(RlptError, match="no packages"):
        read_installed(path)


def test_random_init_keeps_the_architecture(tiny_model_dir: Path, tiny_embedding_model_dir: Path, tmp_path: Path):
    for source, name in ((tiny_model_dir, "lm"), (tiny_embedding_model_dir, "encoder")):
        for path in weightless_files(source):
            target = tmp_path / name / path.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
    assert cli_main(["random-init", str(tmp_path / "lm"), str(tmp_path / "encoder")]) == 0
    model, tokenizer = load_model_and_tokenizer(str(tmp_path / "lm"), device="cpu")
    real, _ = load_model_and_tokenizer(str(tiny_model_dir), device="cpu")
    assert getattr(model.config, RANDOM_INIT_KEY) is True and not hasattr(real.config, RANDOM_INIT_KEY)
    shapes = {name: tuple(p.shape) for name, p in model.named_parameters()}
    assert shapes == {name: tuple(p.shape) for name, p in real.named_parameters()}
    encoder = SentenceTransformer(str(tmp_path / "encoder"), device="cpu")
    assert (
        encoder.encode(["a sentence"]).shape == SentenceTransformer(str(tiny_embedding_model_dir)).encode(["x"]).shape
    )
    assert getattr(AutoConfig.from_pretrained(tmp_path / "encoder"), RANDOM_INIT_KEY) is True
    with pytest.raises(RlptError, match="holds weights already"):
        build_random_init(tmp_path / "lm")


def _kit(tmp_path: Path, *extra: str) -> subprocess.CompletedProcess:
    command = [sys.executable, str(KIT), "--installed", str(_freeze(tmp_path, ABSENT)), *extra]
    return subprocess.run(command, capture_output=True, text=True, timeout=600)


def test_offline_kit_installs_and_checks_its_parts(
    tiny_model_dir: Path, tiny_embedding_model_dir: Path, cola_sample_glue_dir: Path, tmp_path: Path
) -> None:
    """A kit with real (tiny) policy weights split into parts and a random-init embedding model, set up into a
    target folder; a damaged part is one line."""
    kit = tmp_path / "kit"
    assets = ["--glue_dir", str(cola_sample_glue_dir), "--embedding_model", str(tiny_embedding_model_dir)]
    result = _kit(tmp_path, *assets, "--model", str(tiny_model_dir), "--output_dir", str(kit), "--part_size_mib",
                  "0.1", "--embedding_weights", "random-init")  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    manifest = json.loads((kit / "manifest.json").read_text())
    names = {wheel.split("-")[0].lower().replace("_", "-") for wheel in manifest["wheels"]}
    assert names == ABSENT
    assert all(path.stat().st_size <= 0.1 * 2**20 for path in (kit / "parts").iterdir())
    assert len(manifest["assets"][0]["parts"]) > 1 and (kit / "data" / "cola" / "in_domain_dev.tsv").is_file()
    assert [asset["name"] for asset in manifest["assets"]] == ["smollm2-135m-instruct"]
    assert manifest["weights"] == {"smollm2-135m-instruct": "real", "all-MiniLM-L6-v2": "random-init"}

    target = tmp_path / "site"
    setup = subprocess.run(["bash", str(kit / "setup.sh"), str(target)], capture_output=True, text=True,
                           env={"PYTHON": sys.executable, "PATH": "/usr/bin:/bin"}, timeout=600)  # fmt: skip
    assert setup.returncode == 0, setup.stderr[-3000:]
    assert {f"{name} " for name in ("trl", "datasets", "gguf")} <= {line[: line.find(" ") + 1] for line in
                                                                  setup.stdout.splitlines()}  # fmt: skip
    assert f"export PYTHONPATH={target}" in setup.stdout
    assert (target / "trl").is_dir() and (target / "rlpt_trl").is_dir()
    unpacked = kit / "models" / "smollm2-135m-instruct"
    model, _ = load_model_and_tokenizer(str(unpacked), device="cpu")
    assert not hasattr(model.config, RANDOM_INIT_KEY)
    assert getattr(AutoConfig.from_pretrained(kit / "models" / "all-MiniLM-L6-v2"), RANDOM_INIT_KEY)

    first = kit / "parts" / manifest["assets"][0]["parts"][0]["file"]
    first.write_bytes(b"x" + first.read_bytes()[1:])
    again = subprocess.run(["bash", str(kit / "setup.sh"), str(target)], capture_output=True, text=True,
                           env={"PYTHON": sys.executable, "PATH": "/usr/bin:/bin"}, timeout=600)  # fmt: skip
    assert again.returncode != 0 and "Traceback" not in again.stderr
    assert again.stderr.strip().splitlines()[-1] == f"setup.sh: error: {first.name} is damaged (SHA-256 differs); " \
        "transfer it again"  # fmt: skip


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--glue_dir", "no-such"], "--glue_dir does not exist: no-such"),
        (["--installed", "no-such.txt"], "--installed does not exist: no-such.txt"),
        (["--part_size_mib", "0"], "--part_size_mib must be above 0, got 0.0"),
        (["--python_version", "312"], "--python_version must look like 3.12, got '312'"),
    ],
)
def test_offline_kit_bad_input_is_one_line(
    tmp_path: Path, tiny_model_dir: Path, cola_sample_glue_dir: Path, extra: list[str], message: str
) -> None:
    result = _kit(tmp_path, "--glue_dir", str(cola_sample_glue_dir), "--model", str(tiny_model_dir), "--embedding_model",
                  str(tiny_model_dir), "--output_dir", str(tmp_path / "kit"), *extra)  # fmt: skip
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip() == f"tools/offline_kit.py: error: {message}"
    assert not (tmp_path / "kit").exists()


def test_gpu_acceptance_cpu_mode(
    tiny_model_dir: Path, tiny_embedding_model_dir: Path, cola_sample_glue_dir: Path, tmp_path: Path
) -> None:
    """Every stage runs on the tiny models; vLLM, absent here, is recorded as not available."""
    output = tmp_path / "acceptance"
    command = [
        sys.executable, str(ACCEPTANCE), "--output_dir", str(output), "--device", "cpu", "--model_dir",
        str(tiny_model_dir), "--embedding_model", str(tiny_embedding_model_dir), "--data_dir", str(cola_sample_glue_dir),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((output / "acceptance.json").read_text())
    stages = {stage["name"]: stage for stage in report["stages"]}
    assert list(stages) == ["environment", "data", "grpo", "grpo_vllm", "sft", "cola", "next_segment", "fsdp"]
    assert all(stage["status"] == "ok" for name, stage in stages.items() if name != "grpo_vllm"), stages
    if importlib.util.find_spec("vllm") is None:
        assert stages["grpo_vllm"]["status"] == "not available"
    grpo = stages["grpo"]["result"]
    assert grpo["steps"] == 2 and grpo["seconds_per_step"] > 0 and grpo["peak_gpu_memory_gib"] is None
    assert set(grpo["reward_curves"]) == {"rewards/perplexity_reward/mean", "rewards/embedding_cosine_reward/mean"}
    assert all(len(curve) == 2 for curve in grpo["reward_curves"].values())
    assert stages["cola"]["result"]["n"] == 16 and stages["next_segment"]["result"]["n"] == 8
    # the tiny model's prompts are the sample's, not CoLA dev's: nothing to agree with
    assert stages["cola"]["result"]["agreement_with_cpu"].startswith("not comparable")
    assert stages["environment"]["result"]["weights"] == stages["environment"]["result"]["embedding_weights"] == "real"
    # commands name the assets by their variables, not by this machine's paths
    assert stages["grpo"]["command"].startswith("python recipes/grpo.py --config recipes/smollm2-135m/grpo_cpu.yaml")
    assert "--model_name_or_path $RLPT_MODEL_DIR" in stages["grpo"]["command"]
    assert str(tiny_model_dir) not in (output / "acceptance.json").read_text()
    readme = (output / "README.md").read_text()
    assert f"| grpo_vllm | {stages['grpo_vllm']['status']} |" in readme and not (output / "work").exists()


def test_gpu_acceptance_records_a_failing_stage_and_goes_on(
    tiny_model_dir: Path, tiny_embedding_model_dir: Path, tmp_path: Path
) -> None:
    """A GLUE root without CoLA: the data build, GRPO, SFT and evaluations fail with their error lines, recorded."""
    (tmp_path / "glue").mkdir()
    output = tmp_path / "acceptance"
    command = [
        sys.executable, str(ACCEPTANCE), "--output_dir", str(output), "--device", "cpu", "--model_dir",
        str(tiny_model_dir), "--embedding_model", str(tiny_embedding_model_dir), "--data_dir", str(tmp_path / "glue"),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    stages = {stage["name"]: stage for stage in json.loads((output / "acceptance.json").read_text())["stages"]}
    assert stages["data"]["status"] == "failed" and "error:" in stages["data"]["error"]
    assert stages["grpo"]["status"] == "failed" and stages["fsdp"]["status"] == "failed"


def test_cpu_agreement(tmp_path: Path) -> None:
    record = {"idx": 0, "prompt": "p", "prediction": 1, "choices": {"no": -2.0, "yes": -1.0}}
    reference = tmp_path / "reference.json"
    reference.write_text(json.dumps([record, {**record, "idx": 1}]))
    ours = tmp_path / "ours.json"
    ours.write_text(
        json.dumps([{**record, "choices": {"no": -2.5, "yes": -1.0}}, {**record, "idx": 1, "prediction": 0}])
    )
    assert cpu_agreement(ours, reference) == {"rows": 2, "equal_predictions": 0.5, "max_abs_loglik_difference": 0.5}
    ours.write_text(json.dumps([{**record, "prompt": "other"}]))
    assert cpu_agreement(ours, reference).startswith("not comparable")
