"""RLPT's next-segment tasks (arXiv 2509.19249) from a cleaned document: ASR and MSR rows.

A document is its paragraphs joined by blank lines; its sentences are spans of that text
(`rlpt_trl.data.segmentation`). For sentence i:

- `asr` (autoregressive segment reasoning): prompt = the text before sentence i, starting at the earliest sentence
  that keeps it within `max_prompt_tokens`, exactly as it stands in the document; completion = sentence i with the
  whitespace before it. `prompt + completion` is a contiguous span of the document.
- `msr` (middle segment reasoning): prompt = `template` filled with the text before sentence i (as for ASR) and
  sentence i + 1; completion = sentence i after one space.

`max_completion_tokens` keeps the completion's first N tokens, cut at a token boundary of the document's own
tokenisation. Token counts are those of the document's tokenisation (a span's tokens are the tokens that start in
it). Rows that cannot be made are counted by reason, never errors.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

from transformers import PreTrainedTokenizerBase

from ..utils.errors import RlptError
from .segmentation import sentence_starts


TASKS = ("cut", "asr", "msr")
PARAGRAPH_SEPARATOR = "\n\n"
DEFAULT_MSR_TEMPLATE = "{before} [MISSING] {after}\n\nThe sentence at [MISSING]:"
DROP_FEW_SENTENCES = "document_too_short"
DROP_PROMPT_TOO_LONG = "prompt_too_long"
DROP_COMPLETION_TOO_LONG = "completion_too_long"
MIN_SENTENCES = {"asr": 2, "msr": 3}


@dataclass(frozen=True)
class SegmentRow:
    """One task row: the prompt, its true completion and the index of the completion's sentence in the document."""

    prompt: str
    completion: str
    segment_index: int


def check_msr_template(template: str) -> None:
    """An MSR template must hold `{before}` and `{after}` once each and end in visible text."""
    for slot in ("{before}", "{after}"):
        if template.count(slot) != 1:
            raise RlptError(f"--msr_template must contain {slot} exactly once, got {template!r}")
    if not template.rstrip() == template:
        raise RlptError(f"--msr_template must not end in whitespace (the completion opens with a space): {template!r}")


def sentence_spans(paragraphs: list[str]) -> tuple[str, list[tuple[int, int]]]:
    """The document's text and its sentences' (start, end) character spans, surrounding whitespace excluded."""
    spans, offset = [], 0
    for paragraph in paragraphs:
        starts = sentence_starts(paragraph)
        for start, end in zip(starts, [*starts[1:], len(paragraph)], strict=True):
            text = paragraph[start:end]
            spans.append((offset + start, offset + start + len(text.rstrip())))
        offset += len(paragraph) + len(PARAGRAPH_SEPARATOR)
    return PARAGRAPH_SEPARATOR.join(paragraphs), spans


def document_rows(
    paragraphs: list[str],
    tokenizer: PreTrainedTokenizerBase,
    *,
    task: str,
    max_prompt_tokens: int,
    max_completion_tokens: int | None,
    max_sentence_tokens: int,
    msr_template: str = DEFAULT_MSR_TEMPLATE,
    drops: Counter,
) -> Iterator[SegmentRow]:
    """The `task` rows (`asr` or `msr`) of one document; what cannot be made is counted in `drops`."""
    text, spans = sentence_spans(paragraphs)
    if len(spans) < MIN_SENTENCES[task]:
        drops[DROP_FEW_SENTENCES] += 1
        return
    offsets = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
    starts = [start for start, _ in offsets]

    def tokens(begin: int, end: int) -> int:
        return bisect_left(starts, end) - bisect_left(starts, begin)

    last = len(spans) - (1 if task == "asr" else 2)
    first = 0
    for i in range(1, last + 1):
        before_end = spans[i - 1][1]
        while first < i and tokens(spans[first][0], before_end) > max_prompt_tokens:
            first += 1
        if first == i:
            drops[DROP_PROMPT_TOO_LONG] += 1
            continue
        sentence_begin, sentence_end = spans[i]
        if tokens(sentence_begin, sentence_end) > max_sentence_tokens:
            drops[DROP_COMPLETION_TOO_LONG] += 1
            continue
        if max_completion_tokens is not None:
            # count from the token holding the sentence's first character (the one before it may be only whitespace)
            index = bisect_left(starts, sentence_begin + 1) - 1 + max_completion_tokens
            if index < len(starts) and starts[index] < sentence_end:
                sentence_end = starts[index]
        before = text[spans[first][0] : before_end]
        if task == "asr":
            yield SegmentRow(before, text[before_end:sentence_end], i)
        else:
            after = text[spans[i + 1][0] : spans[i + 1][1]]
            prompt = msr_template.format(before=before, after=after)
            yield SegmentRow(prompt, " " + text[sentence_begin:sentence_end].rstrip(), i)
