"""GLUE evaluation tasks as data: where the rows come from, how a prompt reads, which words answer it.

A task is a `GlueTaskSpec`, written as a YAML file of its fields (like lm-evaluation-harness's task files);
scoring code only reads its fields, so a new task or a changed prompt is a new file (`GlueTaskSpec.from_yaml`,
`--task_config`) or a new spec (`dataclasses.replace` of one) passed directly to the evaluator. The built-in
tasks are the files in `task_configs/`: lm-evaluation-harness's `glue` prompts (STS-B, which it lacks, has
its own).
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import string
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import get_args, get_origin, get_type_hints

from ...data.glue import GLUE_TASKS
from ...utils.errors import RlptError
from ...utils.yaml import read_yaml
from ..arguments import split_task_names


TASK_CONFIG_DIR = Path(__file__).with_name("task_configs")


@dataclass(frozen=True)
class GlueTaskSpec:
    """One evaluation task.

    Args:
        name: Key in reports (`metrics.json`, prediction file names).
        source: GLUE task read with `rlpt_trl.load_glue` (its columns fill the templates); also selects the
            metric configuration of the shipped `glue_metric` module.
        template: Zero-shot prompt; `{column}` fields are the source's text columns. The answer follows
            it after one space.
        label_words: Per label index (regression: per score value), the answer words that mean it. The first
            word is the canonical answer written in few-shot examples; loglik scoring scores every word.
        metrics: Keys of the metric module's result to report, in order.
        fewshot_template: One solved example: `{prompt}` (the example's zero-shot prompt) and `{answer}`.
        fewshot_separator: Between few-shot examples and before the evaluated prompt.
        score_values: Regression tasks only: the value of each `label_words` entry (STS-B: 0..5).
        version: Bump when a template or word list changes meaning; `prompt_version` adds a content hash.
    """

    name: str
    source: str
    template: str
    label_words: tuple[tuple[str, ...], ...]
    metrics: tuple[str, ...]
    fewshot_template: str = "{prompt} {answer}"
    fewshot_separator: str = "\n\n"
    score_values: tuple[float, ...] | None = None
    version: str = "1"

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[\w.-]+", self.name):
            raise RlptError(f"task name {self.name!r}: use letters, digits, '_', '-' and '.' only (it names files)")
        if self.source not in GLUE_TASKS:
            known = ", ".join(GLUE_TASKS)
            raise RlptError(f"task {self.name!r}: unknown GLUE source {self.source!r}; choose from {known}")
        columns = set(GLUE_TASKS[self.source].text_columns)
        fields = {name for _, name, _, _ in string.Formatter().parse(self.template) if name is not None}
        if not fields or not fields <= columns:
            raise RlptError(
                f"task {self.name!r}: template fields {sorted(fields)} must be text columns of {self.source} "
                f"({', '.join(sorted(columns))})"
            )
        label_names = GLUE_TASKS[self.source].label_names
        if self.score_values is None and len(self.label_words) != len(label_names or ()):
            raise RlptError(f"task {self.name!r}: label_words needs one tuple per {self.source} label {label_names}")
        if self.score_values is not None and len(self.score_values) != len(self.label_words):
            raise RlptError(f"task {self.name!r}: score_values needs one value per label_words entry")
        if not all(self.label_words):
            raise RlptError(f"task {self.name!r}: every label_words entry needs at least one word")
        words = self.choices
        if not all(word and word.strip() == word for word in words) or len(set(words)) != len(words):
            raise RlptError(f"task {self.name!r}: label words must be non-empty, without outer spaces and distinct")
        pairs = {(word.lower(), label) for label, group in enumerate(self.label_words) for word in group}
        if len(pairs) != len({word.lower() for word in words}):
            raise RlptError(f"task {self.name!r}: a label word belongs to two labels (ignoring case)")

    @classmethod
    def from_yaml(cls, path: str | Path) -> GlueTaskSpec:
        """The spec of a YAML task file: a mapping of this class's fields (lists for its tuples).

        Any problem (an unreadable file, malformed YAML, a missing, unknown or mistyped key, a spec that fails
        validation) raises `RlptError` with one line naming the file.
        """
        content = read_yaml(path, "task file")
        if not isinstance(content, dict):
            raise RlptError(f"task file {path}: expected a mapping of task fields, got {type(content).__name__}")
        fields = {field.name: field for field in dataclasses.fields(cls)}
        for key in content:
            if key not in fields:
                raise RlptError(f"task file {path}: unknown key {key!r}; the keys are {', '.join(fields)}")
        for name, field in fields.items():
            if name not in content and field.default is dataclasses.MISSING:
                raise RlptError(f"task file {path}: missing key {name!r}")
        hints = get_type_hints(cls)
        values = {key: _field_value(value, hints[key], f"{path}: {key}") for key, value in content.items()}
        try:
            return cls(**values)
        except RlptError as err:
            raise RlptError(f"task file {path}: {err}") from None

    @property
    def is_regression(self) -> bool:
        return self.score_values is not None

    @property
    def choices(self) -> list[str]:
        """Every scored continuation (all label words, flattened in label order)."""
        return [word for words in self.label_words for word in words]

    @cached_property
    def _word_labels(self) -> dict[str, int]:
        """Lower-cased label word -> label index."""
        return {word.lower(): label for label, words in enumerate(self.label_words) for word in words}

    @cached_property
    def _answer_pattern(self) -> re.Pattern:
        alternatives = "|".join(re.escape(word) for word in sorted(self._word_labels, key=len, reverse=True))
        return re.compile(rf"(?<!\w)({alternatives})(?!\w)", re.IGNORECASE)

    @property
    def invalid_prediction(self) -> float:
        """What an unparseable generation is recorded and scored as: -1 for a class, the scale's middle for a score."""
        if self.score_values is None:
            return -1
        return (min(self.score_values) + max(self.score_values)) / 2

    @property
    def prompt_version(self) -> str:
        """`version` plus a hash of everything that shapes a prompt or its answers."""
        content = repr((self.template, self.label_words, self.fewshot_template, self.fewshot_separator))
        return f"{self.name}-v{self.version}-{hashlib.sha1(content.encode()).hexdigest()[:8]}"

    def render(self, row: dict) -> str:
        return self.template.format(**row)

    def answer(self, label: float) -> str:
        """The canonical answer word of a label (regression: of the nearest score value)."""
        if self.score_values is None:
            return self.label_words[int(label)][0]
        nearest = min(range(len(self.score_values)), key=lambda i: abs(self.score_values[i] - label))
        return self.label_words[nearest][0]

    def parse(self, text: str) -> float | None:
        """Map generated text to a prediction: the label of the earliest whole-word label word (regression: the
        first number, clipped to the scale); None when there is none."""
        if self.score_values is not None:
            match = re.search(r"\d+(?:\.\d+)?", text)
            if match is None:
                return None
            return min(max(float(match.group()), min(self.score_values)), max(self.score_values))
        match = self._answer_pattern.search(text)
        if match is None:
            return None
        return self._word_labels[match.group().lower()]


def _field_value(value: object, hint: object, where: str) -> object:
    """A YAML value as the field type `hint` (lists become tuples, integers floats); RlptError naming `where`."""
    if type(None) in get_args(hint):  # `X | None`
        if value is None:
            return None
        hint = next(arg for arg in get_args(hint) if arg is not type(None))
    if get_origin(hint) is tuple:
        if isinstance(value, list):
            return tuple(_field_value(item, get_args(hint)[0], f"{where}[{i}]") for i, item in enumerate(value))
        expected = "a list"
    elif hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        expected = "a number"
    else:  # str, the schema's other leaf type
        if isinstance(value, str):
            return value
        # YAML reads an unquoted no, yes, true, off or 3 as a boolean or a number
        expected = "a string (quote it)"
    raise RlptError(f"task file {where} must be {expected}, got {value!r}")


def _builtin_tasks() -> dict[str, GlueTaskSpec]:
    """The specs of the shipped task files, in GLUE's order (`GLUE_TASKS`: cola, sst2, mrpc, ...)."""
    specs = [GlueTaskSpec.from_yaml(path) for path in TASK_CONFIG_DIR.glob("*.yaml")]
    specs.sort(key=lambda spec: (list(GLUE_TASKS).index(spec.source), spec.name))
    return {spec.name: spec for spec in specs}


GLUE_EVAL_TASKS: dict[str, GlueTaskSpec] = _builtin_tasks()
DEFAULT_TASKS = ("cola", "stsb", "mrpc", "rte", "wnli")


def get_task(name: str) -> GlueTaskSpec:
    """The built-in spec called `name`."""
    if name not in GLUE_EVAL_TASKS:
        raise RlptError(f"unknown evaluation task {name!r}; choose from {', '.join(GLUE_EVAL_TASKS)}")
    return GLUE_EVAL_TASKS[name]


def select_tasks(
    names: Sequence[str] | None, task_files: Sequence[str | Path] = (), default: Sequence[str] = DEFAULT_TASKS
) -> list[GlueTaskSpec]:
    """The built-in tasks `names` (see `split_task_names`), then the tasks of the YAML `task_files`, in order.

    Without `names`, the built-in tasks are `default` when no task file is given and none otherwise. A task
    file's task may not take the name of a built-in task or of another file's task: a name stands for one
    prompt in every report (`metrics.json`, the prediction files).
    """
    specs = [get_task(name) for name in (split_task_names(names) if names else ([] if task_files else default))]
    for path in dict.fromkeys(map(str, task_files)):
        spec = GlueTaskSpec.from_yaml(path)
        if spec.name in GLUE_EVAL_TASKS or spec.name in {other.name for other in specs}:
            owner = "a built-in task" if spec.name in GLUE_EVAL_TASKS else "an earlier task file"
            raise RlptError(f"task file {path}: the task name {spec.name!r} is taken by {owner}; rename the task")
        specs.append(spec)
    return specs
