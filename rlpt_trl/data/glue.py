"""GLUE splits as `datasets.Dataset`, from the Hub (`nyu-mll/glue`) or from the official release files on disk.

Local files are read with the same columns and label conventions as the Hub dataset, so code written
against one runs on the other. Files are split on tabs with no quote processing: GLUE sentences
contain bare `"` characters that a CSV reader would swallow.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from datasets import ClassLabel, Dataset, Features, Value, load_dataset

from ..utils.errors import RlptError


GLUE_HUB_ID = "nyu-mll/glue"
SPLIT_FILES = {"train": ("train.tsv",), "validation": ("dev.tsv",)}
# The official CoLA release (raw/): GLUE's validation split is in-domain dev followed by out-of-domain dev.
COLA_RAW_FILES = {"train": ("in_domain_train.tsv",), "validation": ("in_domain_dev.tsv", "out_of_domain_dev.tsv")}
# GLUE was built from CoLA v1.0; a `v1.0/` folder next to the newer release is preferred to match it.
COLA_GLUE_VERSION_DIR = "v1.0"


@dataclass(frozen=True)
class GlueFileFormat:
    """Where a task's TSV files live and which columns hold the text and the label."""

    folders: tuple[str, ...]
    num_columns: int
    text_columns: dict[str, int]
    label_column: int
    label_names: tuple[str, ...] | None  # None: a float label (STS-B)
    header: bool = True

    def features(self) -> Features:
        label = ClassLabel(names=list(self.label_names)) if self.label_names else Value("float32")
        return Features(
            {**{name: Value("string") for name in self.text_columns}, "label": label, "idx": Value("int32")}
        )


GLUE_TASKS: dict[str, GlueFileFormat] = {
    "cola": GlueFileFormat(("cola", "CoLA"), 4, {"sentence": 3}, 1, ("unacceptable", "acceptable"), header=False),
    "sst2": GlueFileFormat(("sst2", "SST-2"), 2, {"sentence": 0}, 1, ("negative", "positive")),
    "mrpc": GlueFileFormat(("mrpc", "MRPC"), 5, {"sentence1": 3, "sentence2": 4}, 0, ("not_equivalent", "equivalent")),
    "stsb": GlueFileFormat(("stsb", "STS-B"), 10, {"sentence1": 7, "sentence2": 8}, 9, None),
    "rte": GlueFileFormat(("rte", "RTE"), 4, {"sentence1": 1, "sentence2": 2}, 3, ("entailment", "not_entailment")),
    "wnli": GlueFileFormat(("wnli", "WNLI"), 4, {"sentence1": 1, "sentence2": 2}, 3, ("not_entailment", "entailment")),
    "qnli": GlueFileFormat(("qnli", "QNLI"), 4, {"question": 1, "sentence": 2}, 3, ("entailment", "not_entailment")),
}


def _check_task_split(task: str, split: str) -> GlueFileFormat:
    if task not in GLUE_TASKS:
        raise RlptError(f"unknown GLUE task {task!r}; choose from {', '.join(GLUE_TASKS)}")
    if split not in SPLIT_FILES:
        raise RlptError(f"unknown GLUE split {split!r} for {task}; choose from {', '.join(SPLIT_FILES)}")
    return GLUE_TASKS[task]


def glue_files(task: str, split: str, data_dir: str | Path) -> list[Path]:
    """The files that make up `split` of `task` under a GLUE root folder (one sub-folder per task)."""
    spec = _check_task_split(task, split)
    root = Path(data_dir)
    folder = next((root / name for name in spec.folders if (root / name).is_dir()), None)
    if folder is None:
        looked = ", ".join(f"{name}/" for name in spec.folders)
        raise RlptError(f"no {task} folder in {root} (looked for {looked})")
    names = SPLIT_FILES[split]
    if task == "cola" and not (folder / "train.tsv").exists() and not (folder / "dev.tsv").exists():
        if (folder / COLA_GLUE_VERSION_DIR).is_dir():
            folder = folder / COLA_GLUE_VERSION_DIR
        names = COLA_RAW_FILES[split]
    files = [folder / name for name in names]
    for file in files:
        if not file.is_file():
            raise RlptError(f"GLUE file not found: {file}")
    return files


def _parse_label(spec: GlueFileFormat, value: str, where: str) -> int | float:
    try:
        if spec.label_names is None:
            return float(value)
        if value in spec.label_names:
            return spec.label_names.index(value)
        index = int(value)
        if 0 <= index < len(spec.label_names):
            return index
    except ValueError:
        pass
    raise RlptError(f"{where}: invalid label {value!r}")


def read_glue_tsv(task: str, file: Path) -> dict[str, list]:
    """Read one GLUE/CoLA TSV into columns (text columns and `label`), checking every row's column count."""
    spec = GLUE_TASKS[task]
    try:
        # utf-8-sig drops the BOM that MRPC's header carries
        text = file.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as err:
        raise RlptError(f"{file}: not UTF-8 text ({err.reason} at byte {err.start})") from None
    # split on "\n" only: str.splitlines would also break on form feeds and other separators in the text
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    if lines and lines[-1] == "":
        lines.pop()
    columns: dict[str, list] = {name: [] for name in [*spec.text_columns, "label"]}
    for number, line in enumerate(lines, start=1):
        if spec.header and number == 1:
            continue
        fields = line.split("\t")
        if len(fields) != spec.num_columns:
            raise RlptError(f"{file}:{number}: expected {spec.num_columns} tab-separated columns, found {len(fields)}")
        for name, index in spec.text_columns.items():
            columns[name].append(fields[index])
        columns["label"].append(_parse_label(spec, fields[spec.label_column], f"{file}:{number}"))
    return columns


def load_glue(task: str, split: str, data_dir: str | Path | None = None) -> Dataset:
    """Load a GLUE split with the Hub's columns and label conventions.

    Args:
        task: `cola`, `sst2`, `mrpc`, `stsb`, `rte`, `wnli` or `qnli`.
        split: `train` or `validation`.
        data_dir: A GLUE root folder with one sub-folder per task (`cola/`, `stsb/`, ... or GLUE's
            `CoLA/`, `STS-B/`, ...). `None` loads `nyu-mll/glue` from the Hugging Face Hub.
    """
    spec = _check_task_split(task, split)
    if data_dir is None:
        try:
            return load_dataset(GLUE_HUB_ID, task, split=split)
        except Exception as err:  # noqa: BLE001 - any Hub/network failure becomes one actionable line
            raise RlptError(
                f"cannot load {GLUE_HUB_ID}/{task} ({split}) from the Hub: {type(err).__name__}: {err}; "
                "pass a local GLUE folder as data_dir"
            ) from None
    columns: dict[str, list] = {}
    for file in glue_files(task, split, data_dir):
        for name, values in read_glue_tsv(task, file).items():
            columns.setdefault(name, []).extend(values)
    columns["idx"] = list(range(len(columns["label"])))
    return Dataset.from_dict(columns, features=spec.features())
