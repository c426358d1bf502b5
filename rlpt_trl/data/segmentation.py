"""Paragraphs to sentences with `sentencex` (rule-based, offline, ~300 languages).

Chosen over pysbd, blingfire and syntok on the Python documentation's prose (`benchmarks/segmenters.py`, figures in
`docs/corpus.md`): pysbd is as accurate but about 400 times slower and unmaintained since 2021, blingfire misses
about one boundary in eighteen, syntok is slower and misses more. A boundary is kept only where whitespace
precedes it: every segmenter splits dotted names such as `os.DirEntry`, and a next sentence always opens with the
whitespace that separates it from the text before it.
"""

from __future__ import annotations

from importlib.metadata import version

import sentencex


SEGMENTER = f"sentencex {version('sentencex')}"


def sentence_starts(paragraph: str, language: str = "en") -> list[int]:
    """Character offsets where the paragraph's sentences start (the first is 0); each later one follows whitespace."""
    starts = [0]
    for boundary in sentencex.get_sentence_boundaries(language, paragraph)[1:]:
        start = boundary["start_index"]
        if paragraph[start - 1].isspace() and not paragraph[start].isspace() and start > starts[-1]:
            starts.append(start)
    return starts


PARAGRAPH_SEPARATOR = "\n\n"  # a cleaned document is its paragraphs joined by blank lines


def sentence_spans(paragraphs: list[str]) -> list[tuple[int, int]]:
    """The (start, end) character spans of the sentences of the document `PARAGRAPH_SEPARATOR.join(paragraphs)`,
    surrounding whitespace excluded."""
    spans, offset = [], 0
    for paragraph in paragraphs:
        starts = sentence_starts(paragraph)
        for start, end in zip(starts, [*starts[1:], len(paragraph)], strict=True):
            spans.append((offset + start, offset + start + len(paragraph[start:end].rstrip())))
        offset += len(paragraph) + len(PARAGRAPH_SEPARATOR)
    return spans
