"""The build's two global decisions over all rows, whatever the number of workers that made them: which documents are
held out, and which rows repeat an earlier one; then `KeepRows` applies them, row by row.

Both are computed from the rows' `doc_id`, `segment_index` and text columns alone (read from the first stage's
Parquet files, never the whole rows), and are orders-free: the held-out documents are those whose seeded hash is
smallest; of rows whose target segment is the same text, the one of the smallest (document, segment) is kept.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

import pyarrow.parquet as pq

from .dataset_folder import TRAIN_SPLIT, VALIDATION_SPLIT
from .engine import DocumentsPipeline, PipelineStep


DROP_DUPLICATE = "duplicate_segment"


def validation_documents(doc_ids: Iterable[str], size: float, seed: int) -> set[str]:
    """The documents held out: `size` of them (a count when >= 1, else a fraction, rounded, at least one when
    positive), those whose seeded hash is smallest, so that the choice does not depend on the documents' order."""
    doc_ids = list(doc_ids)
    count = int(size) if size >= 1 else round(size * len(doc_ids))
    count = max(count, 1) if size > 0 else 0
    ranked = sorted(doc_ids, key=lambda doc_id: hashlib.sha256(f"{seed}:{doc_id}".encode()).digest())
    return set(ranked[:count])


def segment_key(task: str, text: str, completion: str) -> bytes:
    """What makes two rows the same: the target segment (`cut`: the cut segment; `asr` / `msr`: the completion)."""
    target = text if task == "cut" else completion.strip()
    return hashlib.blake2b(target.encode(), digest_size=16).digest()


def read_row_keys(files: list[Path], drop_duplicates: bool) -> tuple[list[str], set[str]]:
    """From the first stage's row files: the documents that have rows (sorted), and the ids of the rows to drop as
    repeats (none unless `drop_duplicates`)."""
    documents: set[str] = set()
    first: dict[bytes, tuple[str, int, str]] = {}
    repeats: set[str] = set()
    columns = ["id", "doc_id", "segment_index", "task", "text", "completion"]
    for file in files:
        for batch in pq.ParquetFile(file).iter_batches(columns=columns if drop_duplicates else ["doc_id"]):
            rows = batch.to_pydict()
            documents.update(rows["doc_id"])
            if not drop_duplicates:
                continue
            for row_id, doc_id, index, task, text, completion in zip(*(rows[name] for name in columns), strict=True):
                key, order = segment_key(task, text, completion), (doc_id, index, row_id)
                kept = first.setdefault(key, order)
                if kept != order:
                    repeats.add(max(kept, order)[2])
                    first[key] = min(kept, order)
    return sorted(documents), repeats


class KeepRows(PipelineStep):
    """Drop the `repeats` (counted as `duplicate_segment`) and name each row's split in `metadata["split"]`."""

    name = "keep rows"
    type = "split"

    def __init__(self, repeats: set[str], held_out: set[str]):
        super().__init__()
        self.repeats, self.held_out = repeats, held_out

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        for doc in data:
            if doc.id in self.repeats:
                self.stat_update(DROP_DUPLICATE)
                continue
            doc.metadata["split"] = VALIDATION_SPLIT if doc.metadata["doc_id"] in self.held_out else TRAIN_SPLIT
            yield doc
