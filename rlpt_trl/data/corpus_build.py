"""The data build's next-segment tasks (`--task asr|msr`) on any corpus: documents in, ASR / MSR rows out, with a
held-out split of whole documents.

The steps, each counting what it drops (`stats.json`): read documents (`rlpt_trl.data.documents`; CoLA's sentences
when no `--dataset_path`), clean them into paragraphs (`rlpt_trl.data.cleaning`), cut sentences and make the task's
rows (`rlpt_trl.data.segment_tasks`), drop rows whose completion repeats an earlier one, assign whole documents to
`train` or `validation`, embed (optional), write. Rows stream into an Arrow file on disk
(`datasets.Dataset.from_generator`), so a corpus never sits in memory; the folder is written whole or not at all.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from datasets import ClassLabel, Dataset, Features, List, Value
from datasets.exceptions import DatasetGenerationError
from transformers import PreTrainedTokenizerBase

from ..models.embeddings import encode_normalized, load_embedding_model
from ..models.loading import load_tokenizer, tokenizer_fingerprint
from ..utils.errors import RlptError
from ..utils.files import atomic_directory, write_json
from ..utils.summaries import percentiles
from .cleaning import clean_document
from .dataset_folder import TRAIN_SPLIT, VALIDATION_SPLIT, write_dataset_folder
from .documents import DROP_UNDECODABLE, Document, is_table, read_table_documents, read_text_files, text_files
from .glue import GLUE_HUB_ID, load_glue
from .scores import ACCEPTABLE, LABEL_NAMES, UNACCEPTABLE, UNLABELED, label_scores
from .segment_tasks import (
    DROP_COMPLETION_TOO_LONG,
    DROP_FEW_SENTENCES,
    DROP_PROMPT_TOO_LONG,
    SegmentRow,
    document_rows,
)
from .segmentation import SEGMENTER


if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer


NO_EMBEDDINGS = "none"
DROP_EMPTY = "empty_after_cleaning"
DROP_DUPLICATE = "duplicate_completion"
DEFAULT_VALIDATION_FRACTION = 0.05
DROP_REASONS = (
    DROP_UNDECODABLE,
    DROP_EMPTY,
    DROP_FEW_SENTENCES,
    DROP_PROMPT_TOO_LONG,
    DROP_COMPLETION_TOO_LONG,
    DROP_DUPLICATE,
)
ROW_FEATURES = {
    "prompt": Value("string"),
    "completion": Value("string"),
    "text": Value("string"),
    "label": ClassLabel(names=list(LABEL_NAMES)),
    "scores": Value("float64"),
    "task": Value("string"),
    "doc_id": Value("string"),
    "segment_index": Value("int64"),
}


def _scores_by_label(args) -> dict[int, float]:
    return {ACCEPTABLE: args.acceptable_score, UNACCEPTABLE: args.unacceptable_score, UNLABELED: args.unlabeled_score}


def read_documents(args, drops: Counter) -> Iterator[Document]:
    """The build's documents: `--dataset_path` (text files or a table), else CoLA train's sentences."""
    path = args.dataset_path
    if path is None:
        cola = load_glue("cola", "train", args.data_dir)
        scores = label_scores(list(cola["label"]), *_scores_by_label(args).values())
        for row, (text, label) in enumerate(zip(cola["sentence"], cola["label"], strict=True)):
            yield Document(f"cola:train:{row}", text, "text", label, scores[row])
    elif is_table(path):
        yield from read_table_documents(
            path,
            text_column=args.text_column or "text",
            id_column=args.id_column,
            label_column=args.label_column,
            score_column=args.score_column,
            scores_by_label=_scores_by_label(args),
        )
    else:
        yield from read_text_files(
            path, unit=args.unit, markup=args.format, on_decode_error=args.on_decode_error, drops=drops
        )


def _task_rows(args, tokenizer: PreTrainedTokenizerBase, drops: Counter, documents: list[str]) -> Iterator[dict]:
    seen: set[bytes] = set()
    for count, document in enumerate(read_documents(args, drops)):
        if args.max_samples is not None and count >= args.max_samples:
            break
        drops["documents_in"] += 1
        markup = document.markup
        paragraphs = clean_document(document.text, markup, args.keep_code)
        if not paragraphs:
            drops[DROP_EMPTY] += 1
            continue
        made = 0
        for row in document_rows(
            paragraphs,
            tokenizer,
            task=args.task,
            max_prompt_tokens=args.max_prompt_tokens,
            max_completion_tokens=args.max_completion_tokens,
            max_sentence_tokens=args.max_text_tokens,
            msr_template=args.msr_template,
            drops=drops,
        ):
            if args.drop_duplicates:
                key = hashlib.blake2b(row.completion.strip().encode(), digest_size=16).digest()
                if key in seen:
                    drops[DROP_DUPLICATE] += 1
                    continue
                seen.add(key)
            made += 1
            yield _row_record(row, document, args.task)
        if made:
            documents.append(document.doc_id)


def _row_record(row: SegmentRow, document: Document, task: str) -> dict:
    return {
        "prompt": row.prompt,
        "completion": row.completion,
        "text": row.prompt + row.completion,
        "label": document.label,
        "scores": document.score,
        "task": task,
        "doc_id": document.doc_id,
        "segment_index": row.segment_index,
    }


def validation_documents(doc_ids: list[str], size: float, seed: int) -> set[str]:
    """The documents held out: `size` of them (a count when >= 1, else a fraction, rounded, at least one when
    positive), those whose seeded hash is smallest, so that the choice does not depend on the documents' order."""
    count = int(size) if size >= 1 else round(size * len(doc_ids))
    count = max(count, 1) if size > 0 else 0
    ranked = sorted(doc_ids, key=lambda doc_id: hashlib.sha256(f"{seed}:{doc_id}".encode()).digest())
    return set(ranked[:count])


def _check_split(args, doc_ids: list[str], held_out: set[str], drops: Counter) -> None:
    if not doc_ids:
        made = {reason: count for reason, count in sorted(drops.items()) if count}
        raise RlptError(
            f"no {args.task.upper()} row could be made from {args.dataset_path or 'CoLA'} "
            f"({', '.join(f'{reason}: {count}' for reason, count in made.items()) or 'no document'})"
            + ("; MSR needs documents of 3+ sentences" if drops[DROP_FEW_SENTENCES] else "")
        )
    if len(held_out) >= len(doc_ids):
        raise RlptError(
            f"--validation_size {args.validation_size:g} leaves no training document (of {len(doc_ids)} documents)"
        )


def _token_percentiles(tokenizer: PreTrainedTokenizerBase, dataset: Dataset) -> dict[str, dict[str, float]]:
    lengths: dict[str, list[int]] = {"prompt": [], "completion": []}
    for batch in dataset.select_columns(list(lengths)).iter(batch_size=1024):
        for name, values in lengths.items():
            values += map(len, tokenizer(batch[name], add_special_tokens=False)["input_ids"])
    return {name: percentiles(values) for name, values in lengths.items()}


def _add_embeddings(args, model: SentenceTransformer, dim: int, dataset: Dataset) -> Dataset:
    def embed(batch: dict) -> dict:
        texts = encode_normalized(model, batch["text"], batch_size=args.embedding_batch_size)
        completions = encode_normalized(model, batch["completion"], batch_size=args.embedding_batch_size)
        return {"target_embedding": texts, "completion_embedding": completions}

    features = Features(
        {
            **dataset.features,
            "target_embedding": List(Value("float32"), length=dim),
            "completion_embedding": List(Value("float32"), length=dim),
        }
    )
    batch = args.embedding_batch_size * 16
    return dataset.map(embed, batched=True, batch_size=batch, features=features, desc="embedding")


def build_segment_dataset(args) -> dict:
    """Build the `--task asr|msr` dataset of `args` (a `ColaBuildArguments`) into `args.output_dir`; return its
    statistics."""
    if args.dataset_path is not None and not is_table(args.dataset_path):
        text_files(args.dataset_path)  # a pattern or folder without files is named before any model loads
    tokenizer = load_tokenizer(args.tokenizer_name_or_path)
    drops: Counter = Counter()
    doc_ids: list[str] = []
    with tempfile.TemporaryDirectory(prefix="rlpt-data-") as cache:
        try:
            rows = Dataset.from_generator(
                _task_rows,
                gen_kwargs={"args": args, "tokenizer": tokenizer, "drops": drops, "documents": doc_ids},
                features=Features(ROW_FEATURES),
                cache_dir=cache,
            )
        except DatasetGenerationError as err:
            # datasets wraps what the generator raised; a bad document is the user's one-line error
            if isinstance(err.__cause__, RlptError):
                raise err.__cause__ from None
            raise
        except ValueError:
            if doc_ids:
                raise
            _check_split(args, doc_ids, set(), drops)  # datasets refuses a split of no rows: say why there are none
        size = args.validation_size if args.validation_size is not None else DEFAULT_VALIDATION_FRACTION
        held_out = validation_documents(doc_ids, size, args.seed)
        _check_split(args, doc_ids, held_out, drops)
        splits = {TRAIN_SPLIT: rows.filter(lambda doc_id: doc_id not in held_out, input_columns="doc_id")}
        if held_out:
            splits[VALIDATION_SPLIT] = rows.filter(lambda doc_id: doc_id in held_out, input_columns="doc_id")
        dim = None
        if args.embedding_model_name_or_path != NO_EMBEDDINGS:
            model = load_embedding_model(args.embedding_model_name_or_path, device=args.embedding_device)
            dim = encode_normalized(model, ["dimension"]).shape[1]
            splits = {name: _add_embeddings(args, model, dim, split) for name, split in splits.items()}
        stats = {
            "task": args.task,
            "source": args.dataset_path or f"cola train ({args.data_dir or GLUE_HUB_ID})",
            "documents_in": drops.pop("documents_in", 0),
            "documents_out": {TRAIN_SPLIT: len(doc_ids) - len(held_out), VALIDATION_SPLIT: len(held_out)},
            "rows_out": {name: len(split) for name, split in splits.items()},
            "dropped": {reason: drops[reason] for reason in DROP_REASONS},
            "segmenter": SEGMENTER,
            "tokens": {name: _token_percentiles(tokenizer, split) for name, split in splits.items()},
            "embedding_dim": dim,
            "tokenizer": {"name": args.tokenizer_name_or_path, "fingerprint": tokenizer_fingerprint(tokenizer)},
            "arguments": asdict(args),
        }
        with atomic_directory(Path(args.output_dir)) as staging:
            write_dataset_folder(staging, splits, CARD_YAML, segment_card(stats))
            write_json(staging / "stats.json", stats, indent=2)
    rows_out = ", ".join(f"{count} {name}" for name, count in stats["rows_out"].items())
    print(f"wrote {rows_out} {args.task} rows from {len(doc_ids)} documents to {args.output_dir}")
    return stats


CARD_YAML = """license: other
task_categories:
- text-generation
tags:
- rlpt_trl
- grpo
pretty_name: Next-segment rows for RL pre-training (rlpt_trl data build)
"""


def embedding_rows(stats: dict) -> str:
    """The card's table rows of the embedding columns, if the build has them."""
    dim, model = stats["embedding_dim"], stats["arguments"]["embedding_model_name_or_path"]
    if dim is None:
        return ""
    return f"""
| `target_embedding` | {dim} x float32 | L2-normalised embedding of `text` ({model}) |
| `completion_embedding` | {dim} x float32 | L2-normalised embedding of `completion` (same model) |"""


def segment_card(stats: dict) -> str:
    """The dataset card of a next-segment build: how to load it, its columns and how its rows were made."""
    args, task = stats["arguments"], stats["task"]
    shape = (
        "the document's text before the sentence (from the earliest sentence that keeps it within "
        f"{args['max_prompt_tokens']} tokens), and the sentence with the whitespace before it"
        if task == "asr"
        else f"the template `{args['msr_template']!r}` filled with the text before the sentence and the sentence "
        "after it, and the sentence after one space"
    )
    dropped = ", ".join(f"{count} {reason}" for reason, count in stats["dropped"].items()) or "nothing"
    tokens = stats["tokens"][TRAIN_SPLIT]
    return f"""# Next-segment rows ({task.upper()}) for RL pre-training

{stats["rows_out"]} rows from {stats["documents_in"]} documents of `{stats["source"]}`, written by `rlpt-trl data
--task {task}` (rlpt_trl). Documents: {stats["documents_out"]}; no document is in both splits.

```python
from datasets import load_dataset

dataset = load_dataset("PATH/TO/THIS/FOLDER")  # train and validation
```

## Columns

| column | type | content |
|---|---|---|
| `prompt` | string | {shape.split(", and ")[0]} |
| `completion` | string | {shape.split(", and ")[1]} |
| `text` | string | `prompt + completion` |
| `label` | class: 0 unacceptable, 1 acceptable | the input's label; -1 for unlabeled text |
| `scores` | float64 | the weight of the embedding reward: 1 (unscaled) for text without labels or scores |
| `task` | string | `{task}` |
| `doc_id` | string | the document the row comes from |
| `segment_index` | int64 | the completion's sentence, counted from 0 in the cleaned document |{embedding_rows(stats)}

## How the rows were made

Documents cleaned as `{args["format"]}` (code {"kept" if args["keep_code"] else "dropped"}), cut into sentences by
{stats["segmenter"]}, tokenised with `{args["tokenizer_name_or_path"]}`; completions of at most
{args["max_completion_tokens"] or "all the"} tokens of sentences of at most {args["max_text_tokens"]}. Validation:
`--validation_size {args["validation_size"]}`, seed {args["seed"]}. Dropped: {dropped}. Median tokens (train):
prompt {tokens["prompt"]["p50"]:g}, completion {tokens["completion"]["p50"]:g}.

`stats.json` holds the statistics and every argument of the build.
"""
