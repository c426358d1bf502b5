"""The documentation says what the code does: its links resolve, its layout is the package's, and every flag it
names is a flag of the command it names."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from transformers import HfArgumentParser

from rlpt_trl.cli import SCRIPTS, run_command


ROOT = Path(__file__).resolve().parents[1]
# pages outside the mkdocs site (its own links are checked by `mkdocs build --strict`, `make docs`)
PAGES = [
    ROOT / "README.md",
    ROOT / "benchmarks" / "README.md",
    ROOT / "experiments" / "README.md",
    ROOT / "tools" / "README.md",
    *sorted((ROOT / "results").glob("**/README.md")),
]
GUIDES = sorted((ROOT / "docs").glob("*.md"))
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
FLAG = re.compile(r"(?<![\w-])--([a-z][a-z0-9_-]*[a-z0-9])")
# TrlParser's own --config, `rlpt-trl assets --glue_dir`, and the flags of the other tools the pages show:
# accelerate launch, trl vllm-serve, pip, tensorboard, mkdocs
OTHER_TOOLS = {
    "config", "glue_dir", "config_file", "num_processes", "num_machines", "machine_rank", "main_process_ip",
    "main_process_port", "rdzv_backend", "num_cpu_threads_per_process", "model", "no-deps", "logdir", "strict", "help",
    "nproc_per_node", "mpirun_hostfile", "format", "head", "address",
}  # fmt: skip


@pytest.mark.parametrize("page", PAGES, ids=lambda path: str(path.relative_to(ROOT)))
def test_relative_links_resolve(page: Path) -> None:
    targets = [target for target in LINK.findall(page.read_text()) if "://" not in target]
    missing = [target for target in targets if not (page.parent / target).exists()]
    assert not missing, f"{page.relative_to(ROOT)} links to missing {missing}"


def test_layout_lists_every_module() -> None:
    layout = (ROOT / "docs" / "extending.md").read_text().split("## Layout", 1)[1]
    package = ROOT / "rlpt_trl"
    modules = [path for path in package.glob("**/*.py") if path.name != "__init__.py"]
    for module in modules:
        folder, name = module.parent.relative_to(package), module.name
        assert re.search(rf"(^\s+|/){re.escape(name)}\s", layout, re.M), f"docs layout lacks {folder / name}"
    folders = {path.parent.relative_to(package) for path in modules} - {Path(".")}
    for folder in folders:
        assert re.search(rf"^\s+{re.escape(folder.name)}/", layout, re.M), f"docs layout lacks {folder}/"


def _known_flags() -> set[str]:
    flags = set(OTHER_TOOLS)
    for command in SCRIPTS:
        module = __import__(f"rlpt_trl.scripts.{SCRIPTS[command][0]}", fromlist=["make_parser"])
        parser = module.make_parser()
        flags |= {option[2:] for action in parser._actions for option in action.option_strings}
    sys.path.insert(0, str(ROOT / "recipes"))
    try:
        from data_ray import RayArguments
        from quickstart import QuickstartArguments
    finally:
        sys.path.pop(0)
    # the benchmark scripts a guide shows (docs/gpu.md)
    from gpu_acceptance import make_parser as acceptance_parser
    from offline_kit import make_parser as kit_parser

    for parser in (HfArgumentParser((QuickstartArguments, RayArguments)), acceptance_parser(), kit_parser()):
        flags |= {option[2:] for action in parser._actions for option in action.option_strings}
    return flags


def test_every_flag_in_the_guides_exists() -> None:
    known = _known_flags()
    # the changelog names the flags that were renamed or removed
    for page in [ROOT / "README.md", *(guide for guide in GUIDES if guide.name != "changelog.md")]:
        unknown = sorted(set(FLAG.findall(page.read_text())) - known)
        assert not unknown, f"{page.relative_to(ROOT)} names flags no command has: {unknown}"


def test_grpo_help_lists_each_reward_setting_once(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        run_command("grpo", ["--help"])
    usage = capsys.readouterr().out
    for flag in ("--reward_batch_size", "--scorer_model_name_or_path", "--embedding_baseline", "--text_column"):
        assert len(re.findall(rf"^\s+{flag}\b", usage, re.M)) == 1, flag
