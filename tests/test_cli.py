"""The `rlpt-trl` command and the script pattern: commands, lazy imports, one-line errors for bad `--config` files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from rlpt_trl.cli import SCRIPTS, UTILITIES, main, run_command


ROOT = Path(__file__).resolve().parents[1]
HEAVY_MODULES = ("torch", "transformers", "trl", "datasets", "sentence_transformers", "evaluate")


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_help_and_readme_list_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    """`rlpt-trl --help` and the README's command table have one line for each registered command."""
    assert main(["--help"]) == 0
    usage = capsys.readouterr().err.splitlines()
    readme = (ROOT / "README.md").read_text().splitlines()
    for command in (*SCRIPTS, *UTILITIES):
        assert len([line for line in usage if line.startswith(f"  {command} ")]) == 1, command
        assert len([line for line in readme if line.startswith(f"| `rlpt-trl {command}` |")]) == 1, command
    assert main([]) == 2
    assert main(["frobnicate"]) == 2
    assert capsys.readouterr().err.strip().endswith("rlpt-trl: error: unknown command 'frobnicate'")


def test_import_and_help_load_no_heavy_library() -> None:
    """`import rlpt_trl` and `rlpt-trl --help` import none of torch, transformers, TRL, datasets, ... (lazy API)."""
    check = f"import sys; print(sorted(m for m in {HEAVY_MODULES!r} if m in sys.modules))"
    result = _python(f"import rlpt_trl, rlpt_trl.data, rlpt_trl.cli; rlpt_trl.cli.main(['--help']); {check}")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
    # a public name imports its own module on first use, and only then
    result = _python(f"import rlpt_trl; rlpt_trl.RlptError; {check}")
    assert result.stdout.strip() == "[]", result.stderr
    result = _python("import rlpt_trl; print(rlpt_trl.load_glue.__module__, 'load_glue' in dir(rlpt_trl))")
    assert result.stdout.split() == ["rlpt_trl.data.glue", "True"], result.stderr
    assert _python("import rlpt_trl; rlpt_trl.no_such_name").returncode == 1


@pytest.mark.parametrize("command", sorted(SCRIPTS))
def test_script_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        run_command(command, ["--help"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: rlpt-trl {command}")


@pytest.mark.parametrize("command", sorted(SCRIPTS))
def test_bad_config_file_is_one_line(command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "missing.yaml"
    assert run_command(command, ["--config", str(missing), "--output_dir", str(tmp_path / "out")]) == 1
    assert capsys.readouterr().err.strip() == (
        f"rlpt-trl {command}: error: cannot read --config {missing}: No such file or directory"
    )
    malformed = tmp_path / "malformed.yaml"
    malformed.write_text("learning_rate: 1e-4\nmax_steps: [10\n")
    assert run_command(command, ["--config", str(malformed), "--output_dir", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"rlpt-trl {command}: error: --config {malformed} is not valid YAML: ")
    assert "(line 3, column 1)" in err and "\n" not in err
    assert not (tmp_path / "out").exists()


def test_recipe_reports_a_bad_config_without_traceback(tmp_path: Path) -> None:
    malformed = tmp_path / "malformed.yaml"
    malformed.write_text("reward_funcs: [perplexity_reward\n")
    result = subprocess.run(
        [sys.executable, str(ROOT / "recipes" / "grpo.py"), "--config", str(malformed)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.strip().startswith(f"grpo.py: error: --config {malformed} is not valid YAML: ")
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


UNREACHABLE_MODEL = "nobody/no-such-model"  # neither a local path nor in the Hub cache; the tests run offline


def _command_args(command: str, tmp_path: Path, tiny_model_dir: Path, tiny_cola_data: Path, glue: Path) -> list[str]:
    out = ["--output_dir", str(tmp_path / "out")]
    return {
        "eval": ["--model_name_or_path", UNREACHABLE_MODEL, "--tasks", "cola", "--data_dir", str(glue), *out],
        "sft": ["--model_name_or_path", UNREACHABLE_MODEL, "--data_dir", str(glue), "--max_steps", "1", *out],
        "grpo": ["--model_name_or_path", UNREACHABLE_MODEL, "--dataset_name", str(tiny_cola_data), *out]
        + ["--reward_funcs", "prefix_match_reward"],
        "data": ["--tokenizer_name_or_path", UNREACHABLE_MODEL, "--data_dir", str(glue), *out],
        "data-encoder": ["--tokenizer_name_or_path", str(tiny_model_dir), "--data_dir", str(glue), *out]
        + ["--embedding_model_name_or_path", UNREACHABLE_MODEL],
    }[command]


@pytest.mark.parametrize(
    ("command", "what"),
    [
        ("eval", "model"),
        ("sft", "model"),
        ("grpo", "tokenizer"),  # read first, to check the data build against it
        ("data", "tokenizer"),
        ("data-encoder", "sentence encoder"),
    ],
)
def test_unreachable_model_is_one_line_naming_where_it_was_looked_for(
    command: str,
    what: str,
    tmp_path: Path,
    tiny_model_dir: Path,
    tiny_cola_data: Path,
    cola_sample_glue_dir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = _command_args(command, tmp_path, tiny_model_dir, tiny_cola_data, cola_sample_glue_dir)
    name = command.split("-")[0]
    assert run_command(name, args) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith(f"rlpt-trl {name}: error: cannot load the {what} {UNREACHABLE_MODEL}: no local path ")
    assert "not in the Hugging Face Hub cache" in err and "HF_HUB_OFFLINE" in err
    assert not (tmp_path / "out").exists()


def test_no_recipe_shadows_an_installed_module() -> None:
    """`python recipes/X.py` puts recipes/ first on the path: a recipe named as a package (evaluate.py) would be
    imported in its place by the recipes beside it."""
    import importlib.util

    shadowing = [path.name for path in (ROOT / "recipes").glob("*.py") if importlib.util.find_spec(path.stem)]
    assert shadowing == []
