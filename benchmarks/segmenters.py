"""Sentence segmenters compared on a real corpus: throughput, and precision / recall on hand-checked boundaries.

    pip install pysbd blingfire syntok   # the candidates rlpt_trl does not depend on
    python benchmarks/segmenters.py "$RLPT_PYDOCS_DIR"

The corpus is the Python documentation's reST sources, cleaned by `rlpt_trl.data.cleaning` into paragraphs. Each
segmenter splits every paragraph (sentences per second, one pass each, in one run). `segmenter_labels.json` holds 100
candidate boundaries (a boundary any of the four proposes), each judged by hand: 80 drawn where the segmenters
disagree, 20 where all four agree; precision and recall are weighted by the two strata's sizes. A boundary counts only
where whitespace precedes it (the rule `rlpt_trl.data.segmentation` applies to sentencex: a sentence opens after
whitespace, never inside a dotted name such as `os.DirEntry`); `--raw` also scores the segmenters' own boundaries.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from rlpt_trl.data.cleaning import clean_document, detect_format


LABELS = Path(__file__).with_name("segmenter_labels.json")


def _segmenters() -> dict:
    import blingfire
    import pysbd
    import sentencex
    from syntok import segmenter

    pysbd_en = pysbd.Segmenter(language="en", clean=False, char_span=False)

    def syntok(paragraph: str) -> list[str]:
        return ["".join(t.spacing + t.value for t in s) for p in segmenter.process(paragraph) for s in p]

    return {
        "pysbd": pysbd_en.segment,
        "blingfire": lambda paragraph: blingfire.text_to_sentences(paragraph).split("\n"),
        "syntok": syntok,
        "sentencex": lambda paragraph: list(sentencex.segment("en", paragraph)),
    }


def boundaries(paragraph: str, sentences: list[str]) -> set[int]:
    """Where each sentence after the first starts in `paragraph` (found in order by its opening characters)."""
    found, position = set(), 0
    for sentence in sentences:
        sentence = sentence.strip()
        if not sentence:
            continue
        start = paragraph.find(sentence[:20], position)
        if start < 0:
            continue
        if start > 0:
            found.add(start)
        position = start + 1
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("corpus", help="the pydocs folder (its *.rst.txt files)")
    parser.add_argument("--raw", action="store_true", help="also score boundaries not preceded by whitespace")
    args = parser.parse_args()
    root = Path(args.corpus)
    documents = {
        file.relative_to(root).as_posix(): clean_document(file.read_text(encoding="utf-8"), detect_format(file))
        for file in sorted(root.rglob("*.rst.txt"))
    }
    paragraphs = [paragraph for cleaned in documents.values() for paragraph in cleaned]
    print(f"{len(documents)} documents, {len(paragraphs)} paragraphs, {sum(len(p.split()) for p in paragraphs)} words")
    split = {}
    for name, segment in _segmenters().items():
        start = time.perf_counter()
        split[name] = [segment(paragraph) for paragraph in paragraphs]
        seconds = time.perf_counter() - start
        count = sum(map(len, split[name]))
        print(f"{name:10s} {seconds:7.2f} s  {count} sentences  {count / seconds:9.0f} sentences/s")
    labels = json.loads(LABELS.read_text())
    index = {(doc, i): k for k, (doc, i) in enumerate((d, i) for d, ps in documents.items() for i in range(len(ps)))}
    weights = {True: labels["strata"]["agree"] / 20, False: labels["strata"]["disagree"] / 80}
    rules = {"whitespace": True, **({"raw": False} if args.raw else {})}
    for rule, need_space in rules.items():
        for name in split:
            hits = {"tp": 0.0, "fp": 0.0, "fn": 0.0}
            for label in labels["labels"]:
                k = index[(label["document"], label["paragraph"])]
                offset, paragraph = label["offset"], paragraphs[k]
                proposed = offset in boundaries(paragraph, split[name][k])
                proposed &= paragraph[offset - 1].isspace() or not need_space
                weight = weights[label["proposed_by_all"]]
                if proposed:
                    hits["tp" if label["boundary"] else "fp"] += weight
                elif label["boundary"]:
                    hits["fn"] += weight
            precision = hits["tp"] / (hits["tp"] + hits["fp"])
            recall = hits["tp"] / (hits["tp"] + hits["fn"])
            print(f"{rule:10s} {name:10s} precision {precision:.3f}  recall {recall:.3f}")


if __name__ == "__main__":
    main()
