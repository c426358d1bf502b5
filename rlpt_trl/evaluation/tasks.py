"""GLUE evaluation tasks as data: where the rows come from, how a prompt reads, which words answer it.

A task is a `GlueTaskSpec`; scoring code only reads its fields, so a new task or a changed prompt is a new
spec (or `dataclasses.replace` of one) added to `GLUE_EVAL_TASKS` or passed directly to the evaluator.
The built-in prompts are lm-evaluation-harness's `glue` prompts (STS-B, which it lacks, has its own).
"""

from __future__ import annotations

import hashlib
import re
import string
from dataclasses import dataclass
from functools import cached_property

from ..data.glue import GLUE_TASKS
from ..errors import RlptError


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
        words = self.choices
        if not all(word and word.strip() == word for word in words) or len(set(words)) != len(words):
            raise RlptError(f"task {self.name!r}: label words must be non-empty, without outer spaces and distinct")
        pairs = {(word.lower(), label) for label, group in enumerate(self.label_words) for word in group}
        if len(pairs) != len({word.lower() for word in words}):
            raise RlptError(f"task {self.name!r}: a label word belongs to two labels (ignoring case)")

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


GLUE_EVAL_TASKS: dict[str, GlueTaskSpec] = {
    spec.name: spec
    for spec in (
        GlueTaskSpec(
            name="cola",
            source="cola",
            template="{sentence}\nQuestion: Does this sentence make sense?\nAnswer:",
            label_words=(
                ("no", "No", "unacceptable", "incorrect", "wrong"),
                ("yes", "Yes", "acceptable", "grammatical", "correct"),
            ),
            metrics=("matthews_correlation",),
        ),
        GlueTaskSpec(
            name="sst2",
            source="sst2",
            template="{sentence}\nQuestion: Is this sentence positive or negative?\nAnswer:",
            label_words=(("negative", "Negative", "bad"), ("positive", "Positive", "good")),
            metrics=("accuracy",),
        ),
        GlueTaskSpec(
            name="mrpc",
            source="mrpc",
            template="Sentence 1: {sentence1}\nSentence 2: {sentence2}\n"
            "Question: Do both sentences mean the same thing?\nAnswer:",
            label_words=(("no", "No", "different"), ("yes", "Yes", "same", "equivalent")),
            metrics=("accuracy", "f1"),
        ),
        GlueTaskSpec(
            name="stsb",
            source="stsb",
            template="Sentence 1: {sentence1}\nSentence 2: {sentence2}\n"
            "Question: On a scale from 0 to 5, how similar in meaning are the two sentences?\nAnswer:",
            label_words=(("0",), ("1",), ("2",), ("3",), ("4",), ("5",)),
            metrics=("pearson", "spearmanr"),
            score_values=(0.0, 1.0, 2.0, 3.0, 4.0, 5.0),
        ),
        GlueTaskSpec(
            name="rte",
            source="rte",
            template="{sentence1}\nQuestion: {sentence2} True or False?\nAnswer:",
            label_words=(("True", "yes"), ("False", "no")),
            metrics=("accuracy",),
        ),
        GlueTaskSpec(
            name="wnli",
            source="wnli",
            template="{sentence1}\nQuestion: {sentence2} True or False?\nAnswer:",
            label_words=(("False", "no"), ("True", "yes")),
            metrics=("accuracy",),
        ),
        GlueTaskSpec(
            name="qnli",
            source="qnli",
            template="{question}\n{sentence}\nQuestion: Does this response answer the question?\nAnswer:",
            label_words=(("yes", "Yes"), ("no", "No")),
            metrics=("accuracy",),
        ),
    )
}
DEFAULT_TASKS = ("cola", "stsb", "mrpc", "rte", "wnli")


def get_task(name: str) -> GlueTaskSpec:
    """The built-in spec called `name`."""
    if name not in GLUE_EVAL_TASKS:
        raise RlptError(f"unknown evaluation task {name!r}; choose from {', '.join(GLUE_EVAL_TASKS)}")
    return GLUE_EVAL_TASKS[name]


def task_names(values: list[str]) -> list[str]:
    """Task names from space- and comma-separated values, in order, without repeats."""
    names = [name.strip() for value in values for name in value.split(",") if name.strip()]
    if not names:
        raise RlptError(f"no task named in {values!r}")
    return list(dict.fromkeys(names))
