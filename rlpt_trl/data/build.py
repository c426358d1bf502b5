"""The data build: a corpus in, a dataset folder of prompt / completion rows out (`rlpt-trl data`).

Two datatrove stages (`rlpt_trl.data.engine`), each a list of small steps that count what they drop, run as
`--num_workers` tasks by an executor (local processes, or Ray's actors on a cluster):

1. rows: read the source (`sources`), clean each document (`cleaning.Clean`), make the task's rows (`tasks.TaskRows`),
   write them to Parquet in the work folder (`--work_dir`, else a temporary one);
2. keep: read the rows back, drop repeated segments and name each row's split (`split.KeepRows`, from the two global
   decisions `split` takes over all rows, in the launching process), embed (`embedding.Embed`, optional), write.

Then the folder is published whole or not at all: one Parquet shard per split, written from the second stage's files
a batch at a time, with the dataset card
(`dataset_folder`, `card`; `datasets.load_dataset(folder)` reads it), `stats.json` (counts, token percentiles, the
tokenizer and every argument), and for `--task cut` builds with embeddings the seed's CSV + .npy pair. A row's content
never depends on the number of workers; with one worker the rows keep the input's order.
"""

from __future__ import annotations

import shutil
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from datasets import ClassLabel, Dataset, Features, List, Value
from datatrove.pipeline.readers import ParquetReader
from datatrove.pipeline.writers import ParquetWriter

from ..models.devices import resolve_device
from ..models.embeddings import DEFAULT_EMBEDDING_MODEL
from ..models.loading import load_tokenizer, tokenizer_fingerprint
from ..utils.errors import RlptError
from ..utils.files import atomic_directory, check_output_dir, write_json
from ..utils.summaries import percentiles
from .card import CARD_YAML, card_body
from .cleaning import DROP_EMPTY, FORMATS, Clean
from .dataset_folder import STATS_FILE, TRAIN_SPLIT, VALIDATION_SPLIT, split_file, write_card
from .embedding import NO_EMBEDDINGS, Embed
from .engine import Document, ExecutorFactory, PipelineStep, local_executor, run_steps
from .scores import ACCEPTABLE, LABEL_NAMES, SCORE_RANGE, UNACCEPTABLE, UNLABELED, check_score
from .seed_format import write_seed_pair
from .segmentation import SEGMENTER
from .sources import (
    DECODE_ERRORS,
    DROP_UNDECODABLE,
    UNITS,
    HubReader,
    RowSource,
    RowsReader,
    TextFilesReader,
    count_input_rows,
    is_hub_id,
    is_table,
    load_hub_stream,
    write_paths_file,
)
from .split import DROP_DUPLICATE, KeepRows, read_row_keys, validation_documents
from .tasks import (
    CUT_STRATEGIES,
    DEFAULT_MSR_TEMPLATE,
    DROP_FEW_SENTENCES,
    DROP_NO_CUT,
    DROP_PROMPT_TOO_LONG,
    DROP_TOO_LONG,
    DROP_TOO_SHORT,
    SENTENCES,
    TASKS,
    TaskRows,
    TaskSettings,
    check_msr_template,
)


DEFAULT_TOKENIZER = "HuggingFaceTB/SmolLM-135M"
WORK_FOLDERS = ("rows", "kept", "logs-rows", "logs-kept", "cache")
PUBLISH_BATCH_ROWS = 10_000  # what a build writes in its work folder
DEFAULT_VALIDATION_FRACTION = 0.05
# what each task can drop, in the order of the steps
DROP_REASONS = {
    "cut": (DROP_UNDECODABLE, DROP_EMPTY, DROP_TOO_SHORT, DROP_NO_CUT, DROP_TOO_LONG, DROP_DUPLICATE),
    "asr": (DROP_UNDECODABLE, DROP_EMPTY, DROP_FEW_SENTENCES, DROP_PROMPT_TOO_LONG, DROP_TOO_LONG, DROP_DUPLICATE),
}
DROP_REASONS["msr"] = DROP_REASONS["asr"]
ROW_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("text", pa.string()),
        ("prompt", pa.string()),
        ("completion", pa.string()),
        ("label", pa.int64()),
        ("scores", pa.float64()),
        ("task", pa.string()),
        ("doc_id", pa.string()),
        ("segment_index", pa.int64()),
        ("prompt_tokens", pa.int64()),
        ("completion_tokens", pa.int64()),
        ("cut_entropy", pa.float64()),
    ]
)
EMBEDDING_FIELDS = [("target_embedding", pa.list_(pa.float32())), ("completion_embedding", pa.list_(pa.float32()))]
KEPT_SCHEMA = pa.schema([*ROW_SCHEMA, *EMBEDDING_FIELDS, ("split", pa.string())])
COLUMNS = ("prompt", "completion", "text", "label", "scores", "task", "doc_id", "segment_index")


@dataclass
class DataBuildArguments:
    """Arguments of `rlpt-trl data` / `recipes/create_data.py`."""

    output_dir: str = field(metadata={"help": "Directory to write (must not exist unless --overwrite_output_dir)."})
    task: str = field(
        default="cut",
        metadata={
            "help": "cut: each segment cut once into prompt / completion; asr: predict each sentence from the text "
            "before it; msr: predict a middle sentence from the text around it (RLPT, arXiv 2509.19249)."
        },
    )
    data_dir: str | None = field(
        default=None,
        metadata={"help": "GLUE root folder with cola/ (official raw or GLUE TSVs). Default: nyu-mll/glue (Hub)."},
    )
    dataset_path: str | None = field(
        default=None,
        metadata={
            "help": "Instead of CoLA: a folder of .txt/.md/.rst files, a glob, a text file, a .csv/.tsv/.jsonl/.parquet "
            "table with a text column (or CoLA raw .tsv), or a Hub dataset id."
        },
    )
    dataset_config: str | None = field(default=None, metadata={"help": "Configuration of a Hub --dataset_path."})
    dataset_split: str = field(default="train", metadata={"help": "Split of a Hub --dataset_path."})
    format: str = field(
        default="auto",
        metadata={"help": "Markup of text files: auto (from the suffix), text, markdown or rst."},
    )
    unit: str = field(default="file", metadata={"help": "Text files: one document per file, or per line (line)."})
    keep_code: bool = field(
        default=False, metadata={"help": "Keep code blocks, literal blocks and doctests as paragraphs."}
    )
    on_decode_error: str = field(
        default="error", metadata={"help": "A text file that is not UTF-8: error, or skip it (counted)."}
    )
    extra_text_files: list[str] = field(
        default_factory=list,
        metadata={"help": "Unlabeled sentences, one a line, added to CoLA or a table's rows (--unlabeled_score)."},
    )
    text_column: str | None = field(
        default=None, metadata={"help": "Text column of a table or Hub dataset (default: 'text', else 'sentence')."}
    )
    id_column: str | None = field(
        default=None, metadata={"help": "Document id column of a table or Hub dataset (default: FILE:ROW)."}
    )
    label_column: str = field(default="label", metadata={"help": "Label column of a table (1, 0, -1/empty)."})
    score_column: str = field(
        default="scores", metadata={"help": "Score column of a table; used instead of the label when present."}
    )
    acceptable_score: float = field(default=1.0, metadata={"help": "Score of an acceptable (label 1) row."})
    unacceptable_score: float = field(default=-1.0, metadata={"help": "Score of an unacceptable (label 0) row."})
    unlabeled_score: float = field(
        default=0.5, metadata={"help": "Score of unlabeled rows of CoLA or a labelled table (extra files, label -1)."}
    )
    tokenizer_name_or_path: str = field(
        default=DEFAULT_TOKENIZER, metadata={"help": "Policy tokenizer: Hub id, local directory or .gguf file."}
    )
    min_prompt_tokens: int = field(default=2, metadata={"help": "cut: fewest tokens a prompt may have."})
    min_completion_tokens: int = field(default=2, metadata={"help": "cut: fewest tokens a completion may have."})
    max_text_tokens: int = field(
        default=512,
        metadata={
            "help": "Most tokens a segment (cut) or target sentence (asr/msr) may have; longer ones are dropped."
        },
    )
    cut_strategy: str = field(
        default="random",
        metadata={
            "help": "cut: random (a seeded random valid cut) or entropy (the valid cut where "
            "--proxy_model_name_or_path's top-16 next-token entropy is highest)."
        },
    )
    proxy_model_name_or_path: str | None = field(
        default=None,
        metadata={"help": "LM whose entropy picks entropy cuts (same tokenizer). Default: --tokenizer_name_or_path."},
    )
    proxy_batch_size: int = field(default=32, metadata={"help": "Segments per proxy-model batch."})
    max_prompt_tokens: int = field(
        default=256, metadata={"help": "asr/msr: most tokens of text before the sentence (cut at a sentence start)."}
    )
    max_completion_tokens: int | None = field(
        default=None, metadata={"help": "asr/msr: keep the first N tokens of each target sentence (default: all)."}
    )
    msr_template: str = field(
        default=DEFAULT_MSR_TEMPLATE, metadata={"help": "msr: the prompt, with {before} and {after} once each."}
    )
    validation_size: float | None = field(
        default=None,
        metadata={
            "help": "Documents held out as the validation split: a fraction < 1 or a count (default: none for "
            f"--task cut on CoLA or a table, whose dev set is held out elsewhere; {DEFAULT_VALIDATION_FRACTION} "
            "otherwise)."
        },
    )
    drop_duplicates: bool | None = field(
        default=None,
        metadata={
            "help": "Drop rows whose target segment repeats an earlier row's (counted). Default: on, except for "
            "--task cut on CoLA or a table, whose rows are labelled examples."
        },
    )
    embedding_model_name_or_path: str = field(
        default=DEFAULT_EMBEDDING_MODEL,
        metadata={"help": "sentence-transformers model for target_embedding; none: no embedding columns."},
    )
    embedding_batch_size: int = field(default=64, metadata={"help": "Texts per embedding batch."})
    embedding_device: str = field(default="auto", metadata={"help": "Device of the embedding and proxy models."})
    num_workers: int = field(
        default=1, metadata={"help": "Tasks (processes) that build the rows; the same rows for any number."}
    )
    work_dir: str | None = field(
        default=None,
        metadata={
            "help": "Folder for the build's intermediate rows and task logs, kept after the build (on a cluster: "
            "storage every node shares). Default: a temporary folder, removed."
        },
    )
    seed: int = field(default=42, metadata={"help": "Seed of the random cuts and of the validation documents."})
    max_samples: int | None = field(
        default=None, metadata={"help": "Use only the first N input rows (CoLA or a table, then extra files)."}
    )
    overwrite_output_dir: bool = field(default=False, metadata={"help": "Replace an existing output directory."})
    push_to_hub: bool = field(default=False, metadata={"help": "Push the dataset to the Hub as --hub_dataset_id."})
    hub_dataset_id: str | None = field(default=None, metadata={"help": "Hub dataset repository, e.g. user/cola-rlpt."})
    hub_private: bool = field(default=False, metadata={"help": "Create the Hub repository as private."})


def source_kind(args: DataBuildArguments) -> str:
    """`cola`, `table`, `hub` or `text` (files)."""
    path = args.dataset_path
    if path is None:
        return "cola"
    if is_table(path):
        return "table"
    return "hub" if is_hub_id(path) else "text"


def check_build_arguments(args: DataBuildArguments) -> None:
    """Reject inconsistent arguments before any file or model is read."""
    if args.data_dir is not None and args.dataset_path is not None:
        raise RlptError("pass either --data_dir (CoLA) or --dataset_path, not both")
    for flag, value, choices in (
        ("task", args.task, TASKS),
        ("format", args.format, FORMATS),
        ("unit", args.unit, UNITS),
        ("on_decode_error", args.on_decode_error, DECODE_ERRORS),
        ("cut_strategy", args.cut_strategy, CUT_STRATEGIES),
    ):
        if value not in choices:
            raise RlptError(f"--{flag} must be one of {', '.join(choices)}, got {value!r}")
    for name in ("min_prompt_tokens", "min_completion_tokens", "embedding_batch_size", "proxy_batch_size"):
        if getattr(args, name) < 1:
            raise RlptError(f"--{name} must be at least 1, got {getattr(args, name)}")
    for name in ("max_prompt_tokens", "max_completion_tokens", "max_samples", "num_workers"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise RlptError(f"--{name} must be at least 1, got {value}")
    if args.max_text_tokens < args.min_prompt_tokens + args.min_completion_tokens:
        raise RlptError(
            f"--max_text_tokens {args.max_text_tokens} leaves no room for --min_prompt_tokens "
            f"{args.min_prompt_tokens} + --min_completion_tokens {args.min_completion_tokens}"
        )
    if args.task == "msr":
        check_msr_template(args.msr_template)
    size = args.validation_size
    if size is not None and not (size >= 0 and (size < 1 or float(size).is_integer())):
        raise RlptError(f"--validation_size must be a fraction in [0, 1) or a whole count of documents, got {size}")
    if args.extra_text_files and source_kind(args) not in ("cola", "table"):
        raise RlptError("--extra_text_files adds sentences to CoLA or a table; put text files in --dataset_path")
    for name in ("acceptable_score", "unacceptable_score", "unlabeled_score"):
        check_score(getattr(args, name), f"--{name}")
    if Path(args.output_dir).exists() and not args.overwrite_output_dir:
        raise RlptError(f"output directory exists: {args.output_dir} (pass --overwrite_output_dir to replace it)")
    check_output_dir(args.output_dir)
    resolve_device(args.embedding_device, flag="--embedding_device")
    if args.push_to_hub and not args.hub_dataset_id:
        raise RlptError("--push_to_hub needs --hub_dataset_id (e.g. user/cola-rlpt)")


def _reader(args: DataBuildArguments, work: Path) -> tuple[PipelineStep, dict[str, int] | None]:
    """The first step of the build, checked (files listed, rows read, the Hub reached), and the rows read from each
    input when they are known before the build runs."""
    kind = source_kind(args)
    if kind == "text":
        root = write_paths_file(args.dataset_path, work / "paths.txt", args.max_samples)
        paths = str(work / "paths.txt")
        return TextFilesReader(str(root), paths, args.unit, args.format, args.on_decode_error), None
    if kind == "hub":
        load_hub_stream(args.dataset_path, args.dataset_config, args.dataset_split)  # unreachable: one line, now
        reader = HubReader(
            args.dataset_path,
            args.dataset_config,
            args.dataset_split,
            args.text_column or "text",
            args.id_column,
            args.max_samples,
        )
        return reader, None
    source = RowSource(
        table=args.dataset_path,
        data_dir=args.data_dir,
        text_column=args.text_column,
        id_column=args.id_column,
        label_column=args.label_column,
        score_column=args.score_column,
        scores_by_label=(args.acceptable_score, args.unacceptable_score, args.unlabeled_score),
        extra_files=tuple(args.extra_text_files),
        max_rows=args.max_samples,
    )
    sources = count_input_rows(source)  # every row checked here, in one process, before the workers start
    return RowsReader(source, as_is=args.task == "cut"), sources


def _task_settings(args: DataBuildArguments) -> TaskSettings:
    return TaskSettings(
        task=args.task,
        tokenizer=args.tokenizer_name_or_path,
        seed=args.seed,
        min_prompt_tokens=args.min_prompt_tokens,
        min_completion_tokens=args.min_completion_tokens,
        max_text_tokens=args.max_text_tokens,
        cut_strategy=args.cut_strategy,
        proxy_model=args.proxy_model_name_or_path,
        proxy_batch_size=args.proxy_batch_size,
        device=args.embedding_device,
        max_prompt_tokens=args.max_prompt_tokens,
        max_completion_tokens=args.max_completion_tokens,
        msr_template=args.msr_template,
    )


def _write_rows(schema: pa.Schema, folder: Path, filename: str) -> PipelineStep:
    return ParquetWriter(str(folder), output_filename=filename, adapter=_columns, schema=schema)


def _columns(writer, document: Document) -> dict:
    """A row document as the Parquet columns of the writer's schema."""
    values = {"id": document.id, "text": document.text, **document.metadata}
    return {name: _plain(values.get(name)) for name in writer.schema.names}


def _plain(value):
    return value.tolist() if isinstance(value, np.ndarray) else value


def _features(has_entropy: bool, dim: int | None) -> Features:
    features = {name: Value("string") for name in COLUMNS}
    features |= {"label": ClassLabel(names=list(LABEL_NAMES)), "scores": Value("float64")}
    features["segment_index"] = Value("int64")
    if dim is not None:
        features |= {name: List(Value("float32"), length=dim) for name, _ in EMBEDDING_FIELDS}
    if has_entropy:
        features["cut_entropy"] = Value("float64")
    return Features(features)


def _label_counts(labels: list[int]) -> dict[str, int]:
    counts = Counter(labels)
    return {"acceptable": counts[ACCEPTABLE], "unacceptable": counts[UNACCEPTABLE], "unlabeled": counts[UNLABELED]}


def _merged(first: dict[str, dict[str, int]], second: dict[str, dict[str, int]] | None = None) -> Counter:
    """The counters of the first stage's steps, and the second stage's drops (its reader counts rows, not documents)."""
    merged = Counter()
    for counters in first.values():
        merged.update(counters)
    for counters in (second or {}).values():
        merged.update({reason: value for reason, value in counters.items() if reason == DROP_DUPLICATE})
    return merged


def _no_rows_error(args: DataBuildArguments, counts: Counter) -> RlptError:
    drops = {name: counts[name] for name in DROP_REASONS[args.task]}
    listed = ", ".join(f"{name}: {value}" for name, value in drops.items() if value) or "no document"
    hint = {
        "cut": "; lower --min_prompt_tokens/--min_completion_tokens",
        "msr": "; MSR needs documents of 3+ sentences",
    }
    return RlptError(
        f"no {args.task.upper()} row could be made from {args.dataset_path or 'CoLA'} ({listed}){hint.get(args.task, '')}"
    )


def build_dataset(args: DataBuildArguments, executor: ExecutorFactory = local_executor) -> dict:
    """Build the dataset described in the module docstring into `args.output_dir`, running each stage's tasks with
    `executor` (`engine.ray_executor`: on a Ray cluster); return its statistics."""
    check_build_arguments(args)
    with _work_folder(args.work_dir) as work:
        stats = _run_stages(args, executor, work)
        with atomic_directory(Path(args.output_dir)) as staging:
            stats |= _publish(args, work / "kept", staging)
            write_card(staging, CARD_YAML, card_body(stats))
            if args.embedding_model_name_or_path != NO_EMBEDDINGS and args.task == "cut":
                # the seed's format: sentences with their embeddings (CoLA-sized: read whole)
                train = Dataset.from_parquet(str(split_file(staging, TRAIN_SPLIT)), cache_dir=str(work / "cache"))
                write_seed_pair(staging, train, np.asarray(train["target_embedding"], dtype=np.float32))
            write_json(staging / STATS_FILE, stats, indent=2)
    if args.push_to_hub:
        _push(args)
    shown = ", ".join(f"{rows} {name}" for name, rows in stats["rows_out"].items())
    dropped = ", ".join(f"{value} {name}" for name, value in stats["dropped"].items() if value) or "nothing"
    print(f"wrote {shown} rows ({args.task}) to {args.output_dir}; dropped: {dropped}")
    return stats


@contextmanager
def _work_folder(work_dir: str | None) -> Iterator[Path]:
    """`--work_dir`, without an earlier build's stage folders, or a temporary folder removed afterwards."""
    if work_dir is None:
        with tempfile.TemporaryDirectory(prefix="rlpt-data-") as scratch:
            yield Path(scratch)
        return
    work = Path(work_dir)
    if work.exists() and not work.is_dir():
        raise RlptError(f"--work_dir {work_dir} is a file, not a folder")
    for name in WORK_FOLDERS:
        shutil.rmtree(work / name, ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)
    yield work


def _run_stages(args: DataBuildArguments, executor: ExecutorFactory, work: Path) -> dict:
    """Both stages, in `work`; the build's statistics but those of the rows it publishes."""
    kind = source_kind(args)
    reader, sources = _reader(args, work)  # a bad input is named before any model loads
    tokenizer = load_tokenizer(args.tokenizer_name_or_path)
    first = [reader, Clean(args.keep_code), TaskRows(_task_settings(args))]
    first.append(_write_rows(ROW_SCHEMA, work / "rows", "${rank}.parquet"))
    first_counts = run_steps(first, args.num_workers, work / "logs-rows", executor)
    # a CoLA or table row cut as it stands is a labelled example: repeats are kept and nothing is held out unless
    # asked (CoLA's dev set is its held-out set)
    as_is = args.task == "cut" and kind in ("cola", "table")
    drop_duplicates = args.drop_duplicates if args.drop_duplicates is not None else not as_is
    documents, repeats = read_row_keys(sorted((work / "rows").glob("*.parquet")), drop_duplicates)
    if not documents:
        raise _no_rows_error(args, _merged(first_counts))
    size = args.validation_size
    size = (0 if as_is else DEFAULT_VALIDATION_FRACTION) if size is None else size
    held_out = validation_documents(documents, size, args.seed)
    if len(held_out) >= len(documents):
        raise RlptError(f"--validation_size {size:g} leaves no training document (of {len(documents)} with rows)")
    second: list[PipelineStep] = [ParquetReader(str(work / "rows"), glob_pattern="*.parquet")]
    second.append(KeepRows(repeats, held_out))
    if args.embedding_model_name_or_path != NO_EMBEDDINGS:
        second.append(Embed(args.embedding_model_name_or_path, args.embedding_device, args.embedding_batch_size))
    second.append(_write_rows(KEPT_SCHEMA, work / "kept", "${split}/${rank}.parquet"))
    counts = _merged(first_counts, run_steps(second, args.num_workers, work / "logs-kept", executor))
    source = args.dataset_path or f"cola train ({args.data_dir or 'nyu-mll/glue'})"
    return {
        "task": args.task,
        "source": source,
        "documents_in": counts["documents"],
        "documents": {TRAIN_SPLIT: len(documents) - len(held_out), VALIDATION_SPLIT: len(held_out)},
        "segments": counts[SENTENCES],
        "dropped": {reason: counts[reason] for reason in DROP_REASONS[args.task]},
        "score_range": list(SCORE_RANGE),
        "segmenter": None if as_is else SEGMENTER,
        "validation_size": size,
        "sources": sources or {source: counts["documents"]},
        "tokenizer": {"name": args.tokenizer_name_or_path, "fingerprint": tokenizer_fingerprint(tokenizer)},
        "arguments": asdict(args),
    }


def _publish(args: DataBuildArguments, kept: Path, staging: Path) -> dict:
    """Write each split's Parquet shard into `staging` from the second stage's files in `kept`, a batch at a time with
    the dataset's column types; return the statistics of the rows written."""
    files = {split: sorted((kept / split).glob("*.parquet")) for split in (TRAIN_SPLIT, VALIDATION_SPLIT)}
    files = {split: paths for split, paths in files.items() if paths}
    dim = None
    if args.embedding_model_name_or_path != NO_EMBEDDINGS:
        first = pq.ParquetFile(next(iter(files.values()))[0]).read_row_group(0, columns=["target_embedding"])
        dim = len(first["target_embedding"][0])
    has_entropy = args.cut_strategy == "entropy" and args.task == "cut"
    schema = _features(has_entropy, dim).arrow_schema
    read = ["label", "prompt_tokens", "completion_tokens", *["cut_entropy"] * has_entropy]
    values: dict[str, list] = {name: [] for name in read}
    rows_out = {}
    for split, paths in files.items():
        rows_out[split] = 0
        split_file(staging, split).parent.mkdir(parents=True, exist_ok=True)
        with pq.ParquetWriter(split_file(staging, split), schema) as writer:
            for path in paths:
                for batch in pq.ParquetFile(path).iter_batches(batch_size=PUBLISH_BATCH_ROWS):
                    table = pa.Table.from_batches([batch])
                    writer.write_table(table.select(schema.names).cast(schema))
                    for name in read:
                        values[name].extend(table[name].to_pylist())
                    rows_out[split] += len(table)
    stats = {
        "rows_out": rows_out,
        "labels_out": _label_counts(values["label"]),
        "tokens": {name: percentiles(values[f"{name}_tokens"]) for name in ("prompt", "completion")},
        "embedding_dim": dim,
    }
    if has_entropy:
        stats["cut_entropy"] = percentiles(values["cut_entropy"])
    return stats


def _push(args: DataBuildArguments) -> None:
    from datasets import load_dataset

    try:
        load_dataset(args.output_dir).push_to_hub(args.hub_dataset_id, private=args.hub_private)
    except Exception as err:  # noqa: BLE001 - network / auth failures become one actionable line
        raise RlptError(
            f"cannot push the dataset to the Hub as {args.hub_dataset_id}: {type(err).__name__}: {err}"
        ) from None
