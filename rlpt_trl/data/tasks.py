"""The data build's tasks: each cleaned document becomes prompt / completion rows.

- `cut`: every segment (a row of a table or of CoLA as it stands, else each sentence of a document) is cut once at a
  token boundary, so that the prompt holds at least `min_prompt_tokens` tokens, the completion at least
  `min_completion_tokens`, and `prompt + completion` is the segment. The cut is taken only where the prompt
  re-tokenises to the same leading tokens and does not end in whitespace (the space opens the completion, as it
  opens the next word's token). It is drawn at random (`random`: the generator seeded with `(seed, key)`, the key
  being a row's ordinal or a sentence's document and index, so a cut depends on nothing else), or (`entropy`) taken
  where a proxy LM is least sure of the next token: the highest top-16 next-token entropy among the valid cuts
  (RPT, arXiv 2506.08007).
- `asr` / `msr`: RLPT's next-segment tasks (arXiv 2509.19249). A document is its paragraphs joined by blank lines,
  its sentences spans of that text. ASR: prompt = the text before sentence i, from the earliest sentence that keeps
  it within `max_prompt_tokens`, as it stands; completion = sentence i with the whitespace before it, so that
  `prompt + completion` is a contiguous span of the document. MSR: prompt = `msr_template` filled with that text
  and sentence i + 1; completion = sentence i after one space. `max_completion_tokens` keeps a completion's first
  N tokens, cut at a token boundary of the document's own tokenisation.

What cannot be made is counted by reason, never an error.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from transformers import PreTrainedTokenizerBase

from ..utils.errors import RlptError
from .engine import Document, DocumentsPipeline, PipelineStep
from .segmentation import PARAGRAPH_SEPARATOR, sentence_spans


TASKS = ("cut", "asr", "msr")
CUT_STRATEGIES = ("random", "entropy")
DEFAULT_MSR_TEMPLATE = "{before} [MISSING] {after}\n\nThe sentence at [MISSING]:"
MIN_SENTENCES = {"asr": 2, "msr": 3}
DROP_TOO_SHORT = "too_short"
DROP_NO_CUT = "no_prompt_token_boundary"
DROP_TOO_LONG = "too_long"
DROP_FEW_SENTENCES = "document_too_short"
DROP_PROMPT_TOO_LONG = "prompt_too_long"
SENTENCES = "sentences"
CUT_BATCH = 256  # segments a cut batch tokenises (and the proxy LM reads) at once


@dataclass(frozen=True)
class PromptSplit:
    """One segment cut into prompt and completion, with their token counts (and the proxy's entropy at the cut)."""

    prompt: str
    completion: str
    prompt_tokens: int
    completion_tokens: int
    cut_entropy: float | None = None


def check_msr_template(template: str) -> None:
    """An MSR template holds `{before}` and `{after}` once each and ends in visible text."""
    for slot in ("{before}", "{after}"):
        if template.count(slot) != 1:
            raise RlptError(f"--msr_template must contain {slot} exactly once, got {template!r}")
    if template.rstrip() != template:
        raise RlptError(f"--msr_template must not end in whitespace (the completion opens with a space): {template!r}")


def _prompt_end(text: str, ids: list[int], offsets: list[tuple[int, int]], cut: int, tokenizer) -> int | None:
    """The character where a cut before token `cut` ends the prompt, or None where the prompt may not end there."""
    end = offsets[cut - 1][1]
    # not inside one character (byte-level tokens split multi-byte characters), and whitespace
    # opens the completion as it opens the next word's token, so the prompt never ends in it
    if end > offsets[cut][0] or text[end - 1].isspace():
        return None
    if tokenizer(text[:end], add_special_tokens=False)["input_ids"] != ids[:cut]:
        return None
    return end


def split_prompt_completion(
    texts: list[str],
    tokenizer: PreTrainedTokenizerBase,
    *,
    min_prompt_tokens: int,
    min_completion_tokens: int,
    seed: int,
    keys: Sequence[int | tuple[int, ...]] | None = None,
    cut_entropies: list[np.ndarray] | None = None,
    max_tokens: int | None = None,
) -> tuple[list[PromptSplit | None], Counter]:
    """Cut each text at a valid token boundary; `None` marks a dropped text, counted by reason.

    Without `cut_entropies` the cut is random: text i draws from a generator seeded with `(seed, keys[i])` (default
    key: i), so a text's cut does not depend on the other texts. With them (`position_entropies` of the texts) it is
    the valid cut whose entropy is highest (the earliest of equals). Texts of more than `max_tokens` tokens are dropped.
    """
    if not tokenizer.is_fast:
        raise RlptError(f"tokenizer {tokenizer.name_or_path} has no fast version: token offsets are needed")
    keys = range(len(texts)) if keys is None else keys
    encoded = tokenizer(texts, add_special_tokens=False, return_offsets_mapping=True)
    splits: list[PromptSplit | None] = []
    drops: Counter = Counter()
    for row, (text, ids, offsets) in enumerate(
        zip(texts, encoded["input_ids"], encoded["offset_mapping"], strict=True)
    ):
        if max_tokens is not None and len(ids) > max_tokens:
            splits.append(None)
            drops[DROP_TOO_LONG] += 1
            continue
        cuts = np.arange(min_prompt_tokens, len(ids) - min_completion_tokens + 1)
        if cuts.size == 0:
            splits.append(None)
            drops[DROP_TOO_SHORT] += 1
            continue
        if cut_entropies is None:
            key = keys[row] if isinstance(keys[row], tuple) else (keys[row],)
            order = np.random.default_rng((seed, *key)).permutation(cuts)
        else:
            # highest entropy first; a stable sort keeps the earliest of equal entropies first
            order = cuts[np.argsort(-cut_entropies[row][cuts], kind="stable")]
        split = None
        for cut in order:
            end = _prompt_end(text, ids, offsets, int(cut), tokenizer)
            if end is not None:
                entropy = None if cut_entropies is None else float(cut_entropies[row][cut])
                split = PromptSplit(text[:end], text[end:], int(cut), len(ids) - int(cut), entropy)
                break
        splits.append(split)
        if split is None:
            drops[DROP_NO_CUT] += 1
    return splits, drops


def document_rows(
    paragraphs: list[str],
    tokenizer: PreTrainedTokenizerBase,
    *,
    task: str,
    max_prompt_tokens: int,
    max_completion_tokens: int | None,
    max_sentence_tokens: int,
    msr_template: str = DEFAULT_MSR_TEMPLATE,
    count=lambda name, value=1: None,
) -> Iterator[tuple[PromptSplit, int]]:
    """The `task` rows (`asr` or `msr`) of one document, each with the index of its completion's sentence; `count`
    receives the document's sentences (`sentences`) and what cannot be made, by reason."""
    spans = sentence_spans(paragraphs)
    count(SENTENCES, value=len(spans))
    if len(spans) < MIN_SENTENCES[task]:
        count(DROP_FEW_SENTENCES)
        return
    text = PARAGRAPH_SEPARATOR.join(paragraphs)
    starts = [
        start for start, _ in tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
    ]

    def tokens(begin: int, end: int) -> int:
        # the tokens that start inside the span
        return bisect_left(starts, end) - bisect_left(starts, begin)

    first = 0
    for i in range(1, len(spans) - (1 if task == "asr" else 2) + 1):
        before_end = spans[i - 1][1]
        while first < i and tokens(spans[first][0], before_end) > max_prompt_tokens:
            first += 1
        if first == i:
            count(DROP_PROMPT_TOO_LONG)
            continue
        begin, end = spans[i]
        if tokens(begin, end) > max_sentence_tokens:
            count(DROP_TOO_LONG)
            continue
        if max_completion_tokens is not None:
            # count from the token holding the sentence's first character (the one before may be only whitespace)
            index = bisect_left(starts, begin + 1) - 1 + max_completion_tokens
            if index < len(starts) and starts[index] < end:
                end = starts[index]
        before = text[spans[first][0] : before_end]
        if task == "asr":
            prompt, completion = before, text[before_end:end]
        else:
            after = text[spans[i + 1][0] : spans[i + 1][1]]
            prompt, completion = msr_template.format(before=before, after=after), " " + text[begin:end].rstrip()
        yield PromptSplit(prompt, completion, tokens(spans[first][0], before_end), tokens(before_end, end)), i


def _row(doc: Document, split: PromptSplit, task: str, segment_index: int) -> Document:
    metadata = {
        "prompt": split.prompt,
        "completion": split.completion,
        "label": doc.metadata["label"],
        "scores": doc.metadata["score"],
        "task": task,
        "doc_id": doc.id,
        "segment_index": segment_index,
        "prompt_tokens": split.prompt_tokens,
        "completion_tokens": split.completion_tokens,
    }
    if split.cut_entropy is not None:
        metadata["cut_entropy"] = split.cut_entropy
    return Document(text=split.prompt + split.completion, id=f"{doc.id}#{segment_index}", metadata=metadata)


def _doc_key(doc_id: str) -> int:
    """A 64-bit integer of a document id, for the seed of its sentences' random cuts."""
    return int.from_bytes(hashlib.sha256(doc_id.encode()).digest()[:8], "little")


@dataclass(frozen=True)
class TaskSettings:
    """What `TaskRows` needs of the build's arguments."""

    task: str
    tokenizer: str
    seed: int
    min_prompt_tokens: int
    min_completion_tokens: int
    max_text_tokens: int
    cut_strategy: str
    proxy_model: str | None
    proxy_batch_size: int
    device: str
    max_prompt_tokens: int
    max_completion_tokens: int | None
    msr_template: str


class TaskRows(PipelineStep):
    """Documents with `metadata["paragraphs"]` to the task's rows, one `Document` each (its metadata: the row's
    columns), the tokenizer (and the proxy LM) loaded once per rank."""

    name = "task rows"
    type = "tasks"

    def __init__(self, settings: TaskSettings):
        super().__init__()
        self.settings = settings

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        from ..models.loading import load_tokenizer

        tokenizer = load_tokenizer(self.settings.tokenizer)
        if self.settings.task == "cut":
            yield from self._cut_rows(data, tokenizer)
            return
        s = self.settings
        for doc in data:
            for split, index in document_rows(
                doc.metadata["paragraphs"],
                tokenizer,
                task=s.task,
                max_prompt_tokens=s.max_prompt_tokens,
                max_completion_tokens=s.max_completion_tokens,
                max_sentence_tokens=s.max_text_tokens,
                msr_template=s.msr_template,
                count=self.stat_update,
            ):
                self.stat_update("rows")
                yield _row(doc, split, s.task, index)

    def _segments(self, data: DocumentsPipeline) -> Iterator[tuple[Document, int, str, int | tuple[int, ...]]]:
        for doc in data:
            if doc.metadata.get("as_is"):
                yield doc, 0, doc.text, doc.metadata["ordinal"]
                continue
            paragraphs = doc.metadata["paragraphs"]
            text = PARAGRAPH_SEPARATOR.join(paragraphs)
            for index, (begin, end) in enumerate(sentence_spans(paragraphs)):
                yield doc, index, text[begin:end], (_doc_key(doc.id), index)

    def _cut_rows(self, data: DocumentsPipeline, tokenizer: PreTrainedTokenizerBase) -> DocumentsPipeline:
        s = self.settings
        proxy = self._proxy(tokenizer) if s.cut_strategy == "entropy" else None
        batch: list = []
        for segment in self._segments(data):
            batch.append(segment)
            if len(batch) == CUT_BATCH:
                yield from self._cut_batch(batch, tokenizer, proxy)
                batch = []
        if batch:
            yield from self._cut_batch(batch, tokenizer, proxy)

    def _cut_batch(self, batch: list, tokenizer: PreTrainedTokenizerBase, proxy) -> DocumentsPipeline:
        s = self.settings
        texts = [text for _, _, text, _ in batch]
        self.stat_update(SENTENCES, value=len(texts))
        entropies = None if proxy is None else proxy(texts)
        splits, drops = split_prompt_completion(
            texts,
            tokenizer,
            min_prompt_tokens=s.min_prompt_tokens,
            min_completion_tokens=s.min_completion_tokens,
            seed=s.seed,
            keys=[key for *_, key in batch],
            cut_entropies=entropies,
            max_tokens=s.max_text_tokens,
        )
        for reason, value in drops.items():
            self.stat_update(reason, value=value)
        for (doc, index, _, _), split in zip(batch, splits, strict=True):
            if split is not None:
                self.stat_update("rows")
                yield _row(doc, split, "cut", index)

    def _proxy(self, tokenizer: PreTrainedTokenizerBase):
        """A function from texts to `position_entropies` under the proxy LM, which must tokenize them as the policy."""
        import torch

        from ..models.devices import resolve_device
        from ..models.likelihood import position_entropies
        from ..models.loading import load_model_and_tokenizer

        s = self.settings
        name = s.proxy_model or s.tokenizer
        model, proxy_tokenizer = load_model_and_tokenizer(name, dtype=torch.float32, device=resolve_device(s.device))

        def entropies(texts: list[str]) -> list[np.ndarray]:
            own = tokenizer(texts, add_special_tokens=False)["input_ids"]
            theirs = proxy_tokenizer(texts, add_special_tokens=False)["input_ids"]
            for text, ours, its in zip(texts, own, theirs, strict=True):
                if ours != its:
                    raise RlptError(
                        f"proxy model {name} tokenizes {text!r} unlike --tokenizer_name_or_path {s.tokenizer}: "
                        "entropy cuts need the policy's tokenizer"
                    )
            return position_entropies(model.eval(), proxy_tokenizer, texts, s.proxy_batch_size)

        return entropies
