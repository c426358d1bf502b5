"""The GRPO data build: scored CoLA sentences split into prompt / completion, with their target embeddings.

Each sentence is tokenised with the policy's tokenizer and cut at a token boundary, so that the
prompt holds at least `min_prompt_tokens` tokens, the completion at least `min_completion_tokens`, and
`prompt + completion == text` exactly. The cut is taken only where the prompt re-tokenises to the same
leading tokens and does not end in whitespace (the space opens the completion, as it opens the next
word's token), so the policy sees the prompt as it appears inside the sentence. Sentences with no such
cut are dropped and counted by reason. The cut is drawn at random (`--cut_strategy random`, the default), or
(`--cut_strategy entropy`) taken where a proxy LM (by default the policy's starting model) is most unsure of the next
token: the highest top-16 next-token entropy among the sentence's valid cuts (RPT, arXiv 2506.08007, trains on
high-entropy positions; one cut a sentence keeps every sentence, where RPT drops positions under a threshold). Every row carries a score (see `rlpt_trl.data.scores`) and the
L2-normalised embeddings of the original sentence and of its completion.

The output directory is written whole or not at all (built in a temporary sibling, then renamed):
- the dataset as a Parquet shard with a dataset card (`README.md`, `rlpt_trl.data.dataset_folder`;
  `datasets.load_dataset(output_dir)` reads it) with columns `prompt`, `completion`, `text`, `label` (1, 0, or -1
  for unlabeled text), `scores`, `target_embedding`, and `completion_embedding` (the completion's, for
  `embedding_cosine_reward(compare="completion")`), and with entropy cuts `cut_entropy` (the proxy's entropy at
  the cut, nats);
- `cola_with_scores.csv` + `text_embeddings.npy`, the seed's format (`rlpt_trl.data.seed_format`);
- `stats.json`: rows in / out, drops by reason, label balance, token-length percentiles (and the cut entropy's),
  settings.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from datasets import ClassLabel, Dataset, Features, List, Value
from transformers import PreTrainedTokenizerBase

from ..models.devices import resolve_device
from ..models.embeddings import DEFAULT_EMBEDDING_MODEL, encode_normalized, load_embedding_model
from ..models.likelihood import position_entropies
from ..models.loading import load_model_and_tokenizer, load_tokenizer, tokenizer_fingerprint
from ..utils.errors import RlptError
from ..utils.files import atomic_directory, check_output_dir, write_json
from ..utils.summaries import percentiles
from .cleaning import FORMATS
from .corpus_build import DEFAULT_VALIDATION_FRACTION, NO_EMBEDDINGS, build_segment_dataset, embedding_rows
from .dataset_folder import TRAIN_SPLIT, write_dataset_folder
from .documents import DECODE_ERRORS, UNITS, is_text_corpus
from .glue import GLUE_HUB_ID, load_glue
from .scores import (
    ACCEPTABLE,
    LABEL_NAMES,
    SCORE_RANGE,
    UNACCEPTABLE,
    UNLABELED,
    check_score,
    check_scores,
    label_scores,
    parse_label,
)
from .seed_format import SEED_CSV, SEED_EMBEDDINGS, write_seed_pair
from .segment_tasks import DEFAULT_MSR_TEMPLATE, TASKS, check_msr_template
from .tables import check_texts, read_table, read_text_lines


STATS_FILE = "stats.json"
DEFAULT_TOKENIZER = "HuggingFaceTB/SmolLM-135M"
TEXT_COLUMNS = ("text", "sentence")
DROP_TOO_SHORT = "too_short"
DROP_NO_CUT = "no_prompt_token_boundary"
DROP_TOO_LONG = "too_long"
CUT_STRATEGIES = ("random", "entropy")


@dataclass
class ColaBuildArguments:
    """Arguments of `recipes/create_data.py` / `rlpt-trl data`."""

    output_dir: str = field(metadata={"help": "Directory to write (must not exist unless --overwrite_output_dir)."})
    data_dir: str | None = field(
        default=None,
        metadata={"help": "GLUE root folder with cola/ (official raw or GLUE TSVs). Default: nyu-mll/glue (Hub)."},
    )
    dataset_path: str | None = field(
        default=None,
        metadata={
            "help": "Instead of CoLA: a .csv/.tsv/.jsonl/.parquet file with a text column (or CoLA raw .tsv); with "
            "--task asr|msr also a folder of .txt/.md/.rst files, a glob of files, or one text file."
        },
    )
    task: str = field(
        default="cut",
        metadata={
            "help": "cut: each sentence cut once into prompt / completion; asr: predict each sentence from the text "
            "before it; msr: predict a middle sentence from the text around it (RLPT, arXiv 2509.19249)."
        },
    )
    format: str = field(
        default="auto",
        metadata={"help": "Markup of text files (auto: from the suffix): auto, text, markdown or rst."},
    )
    unit: str = field(default="file", metadata={"help": "Text files: one document per file, or per line (line)."})
    keep_code: bool = field(
        default=False, metadata={"help": "Keep code blocks, literal blocks and doctests as paragraphs of text."}
    )
    on_decode_error: str = field(
        default="error", metadata={"help": "A text file that is not UTF-8: error, or skip it (counted)."}
    )
    id_column: str | None = field(
        default=None, metadata={"help": "Document id column of a --dataset_path table (default: FILE:ROW)."}
    )
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
            "help": "asr/msr: documents held out as the validation split, a fraction < 1 or a count "
            f"(default {DEFAULT_VALIDATION_FRACTION})."
        },
    )
    drop_duplicates: bool = field(
        default=True, metadata={"help": "asr/msr: drop rows whose completion repeats an earlier row's (counted)."}
    )
    extra_text_files: list[str] = field(
        default_factory=list, metadata={"help": "Unlabeled raw-text files, one sentence a line, added to the input."}
    )
    text_column: str | None = field(
        default=None, metadata={"help": "Text column of --dataset_path (default: 'text', else 'sentence')."}
    )
    label_column: str = field(default="label", metadata={"help": "Label column of --dataset_path (1, 0, -1/empty)."})
    score_column: str = field(
        default="scores", metadata={"help": "Score column of --dataset_path; used instead of the label when present."}
    )
    acceptable_score: float = field(default=1.0, metadata={"help": "Score of an acceptable (label 1) sentence."})
    unacceptable_score: float = field(default=-1.0, metadata={"help": "Score of an unacceptable (label 0) sentence."})
    unlabeled_score: float = field(default=0.5, metadata={"help": "Score of unlabeled text (extra files, label -1)."})
    tokenizer_name_or_path: str = field(
        default=DEFAULT_TOKENIZER, metadata={"help": "Policy tokenizer: Hub id, local directory or .gguf file."}
    )
    min_prompt_tokens: int = field(default=2, metadata={"help": "Fewest tokens a prompt may have."})
    min_completion_tokens: int = field(default=2, metadata={"help": "Fewest tokens a completion may have."})
    max_text_tokens: int = field(
        default=512, metadata={"help": "Most tokens a sentence may have; longer ones are dropped and counted."}
    )
    cut_strategy: str = field(
        default="random",
        metadata={
            "help": "random: a seeded random valid cut; entropy: the valid cut where --proxy_model_name_or_path's "
            "next-token entropy (top 16, nats) is highest."
        },
    )
    proxy_model_name_or_path: str | None = field(
        default=None,
        metadata={"help": "LM whose entropy picks entropy cuts (same tokenizer). Default: --tokenizer_name_or_path."},
    )
    proxy_batch_size: int = field(default=32, metadata={"help": "Sentences per proxy-model batch."})
    embedding_model_name_or_path: str = field(
        default=DEFAULT_EMBEDDING_MODEL,
        metadata={"help": "sentence-transformers model for target_embedding; none: build without embeddings."},
    )
    embedding_batch_size: int = field(default=64, metadata={"help": "Sentences per embedding batch."})
    embedding_device: str = field(default="auto", metadata={"help": "Device of the embedding model."})
    seed: int = field(default=42, metadata={"help": "Seed of the prompt / completion cuts."})
    max_samples: int | None = field(
        default=None, metadata={"help": "Use only the first N input rows (main input, then extra files)."}
    )
    overwrite_output_dir: bool = field(default=False, metadata={"help": "Replace an existing output directory."})
    push_to_hub: bool = field(default=False, metadata={"help": "Push the dataset to the Hub as --hub_dataset_id."})
    hub_dataset_id: str | None = field(default=None, metadata={"help": "Hub dataset repository, e.g. user/cola-rlpt."})
    hub_private: bool = field(default=False, metadata={"help": "Create the Hub repository as private."})


@dataclass(frozen=True)
class PromptSplit:
    """One sentence cut into prompt and completion, with their token counts."""

    prompt: str
    completion: str
    prompt_tokens: int
    completion_tokens: int
    cut_entropy: float | None = None


def check_build_arguments(args: ColaBuildArguments) -> None:
    """Reject inconsistent arguments before any file or model is read."""
    if args.data_dir is not None and args.dataset_path is not None:
        raise RlptError("pass either --data_dir (CoLA) or --dataset_path (a data file), not both")
    for flag, value, choices in (
        ("task", args.task, TASKS),
        ("format", args.format, FORMATS),
        ("unit", args.unit, UNITS),
        ("on_decode_error", args.on_decode_error, DECODE_ERRORS),
    ):
        if value not in choices:
            raise RlptError(f"--{flag} must be one of {', '.join(choices)}, got {value!r}")
    if args.task == "cut" and args.dataset_path is not None and is_text_corpus(args.dataset_path):
        raise RlptError(
            f"--task cut reads CoLA or a table, not text files: {args.dataset_path} (use --task asr or msr)"
        )
    if args.task != "cut":
        check_segment_arguments(args)
    if args.cut_strategy not in CUT_STRATEGIES:
        raise RlptError(f"--cut_strategy must be one of {', '.join(CUT_STRATEGIES)}, got {args.cut_strategy!r}")
    for name in ("min_prompt_tokens", "min_completion_tokens", "embedding_batch_size", "proxy_batch_size"):
        if getattr(args, name) < 1:
            raise RlptError(f"--{name} must be at least 1, got {getattr(args, name)}")
    if args.max_text_tokens < args.min_prompt_tokens + args.min_completion_tokens:
        raise RlptError(
            f"--max_text_tokens {args.max_text_tokens} leaves no room for --min_prompt_tokens "
            f"{args.min_prompt_tokens} + --min_completion_tokens {args.min_completion_tokens}"
        )
    if args.max_samples is not None and args.max_samples < 1:
        raise RlptError(f"--max_samples must be at least 1, got {args.max_samples}")
    for name in ("acceptable_score", "unacceptable_score", "unlabeled_score"):
        check_score(getattr(args, name), f"--{name}")
    if Path(args.output_dir).exists() and not args.overwrite_output_dir:
        raise RlptError(f"output directory exists: {args.output_dir} (pass --overwrite_output_dir to replace it)")
    check_output_dir(args.output_dir)
    resolve_device(args.embedding_device, flag="--embedding_device")
    if args.push_to_hub and not args.hub_dataset_id:
        raise RlptError("--push_to_hub needs --hub_dataset_id (e.g. user/cola-rlpt)")


def check_segment_arguments(args: ColaBuildArguments) -> None:
    """The --task asr|msr settings: token limits, the MSR template, the validation size."""
    for name in ("max_prompt_tokens", "max_completion_tokens"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise RlptError(f"--{name} must be at least 1, got {value}")
    if args.task == "msr":
        check_msr_template(args.msr_template)
    size = args.validation_size
    if size is not None and not (size >= 0 and (size < 1 or float(size).is_integer())):
        raise RlptError(f"--validation_size must be a fraction in [0, 1) or a whole count of documents, got {size}")
    if args.extra_text_files:
        raise RlptError(
            "--extra_text_files mixes unlabeled sentences into --task cut builds; pass text as --dataset_path"
        )


def _read_dataset_file(args: ColaBuildArguments) -> tuple[list[str], list[int], list[float]]:
    path = args.dataset_path
    frame = read_table(path)
    columns = ", ".join(map(str, frame.columns))
    candidates = (args.text_column,) if args.text_column else TEXT_COLUMNS
    text_column = next((name for name in candidates if name in frame.columns), None)
    if text_column is None:
        raise RlptError(f"{path}: no text column {' or '.join(map(repr, candidates))} (columns: {columns})")
    texts = check_texts(frame[text_column], f"{path}: column {text_column!r}")
    has_labels = args.label_column in frame.columns
    where = f"{path}: column {args.label_column!r}"
    values = frame[args.label_column] if has_labels else [None] * len(texts)
    labels = [parse_label(value, f"{where}: row {row}") for row, value in enumerate(values, start=1)]
    if args.score_column in frame.columns:
        scores = check_scores(frame[args.score_column], f"{path}: column {args.score_column!r}")
    elif has_labels:
        scores = label_scores(labels, args.acceptable_score, args.unacceptable_score, args.unlabeled_score)
    else:
        raise RlptError(
            f"{path}: no score column {args.score_column!r} or label column {args.label_column!r} (columns: {columns})"
        )
    return texts, labels, scores


def load_input_rows(args: ColaBuildArguments) -> tuple[list[str], list[int], list[float], dict[str, int]]:
    """Texts, labels and scores of the main input and the extra text files, and the rows read from each source."""
    if args.dataset_path is not None:
        source = args.dataset_path
        texts, labels, scores = _read_dataset_file(args)
    else:
        source = f"cola train ({args.data_dir or GLUE_HUB_ID})"
        cola = load_glue("cola", "train", args.data_dir)
        texts = check_texts(cola["sentence"], source)
        labels = list(cola["label"])
        scores = label_scores(labels, args.acceptable_score, args.unacceptable_score, args.unlabeled_score)
    sources = {source: len(texts)}
    for path in args.extra_text_files:
        lines = read_text_lines(path)
        if not lines:
            raise RlptError(f"{path}: no sentences (one sentence a line expected)")
        sources[path] = len(lines)
        texts += lines
        labels += [UNLABELED] * len(lines)
        scores += [args.unlabeled_score] * len(lines)
    if args.max_samples is not None:
        texts, labels, scores = texts[: args.max_samples], labels[: args.max_samples], scores[: args.max_samples]
    return texts, labels, scores, sources


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
    cut_entropies: list[np.ndarray] | None = None,
    max_tokens: int | None = None,
) -> tuple[list[PromptSplit | None], Counter]:
    """Cut each text at a valid token boundary; `None` marks a dropped text, counted by reason.

    Without `cut_entropies` the cut is random: row i draws from a generator seeded with `(seed, i)`, so a row's cut
    does not depend on the other rows (a `max_samples` prefix of a build splits like the full build). With them
    (`position_entropies` of the texts) it is the valid cut whose entropy is highest (the earliest of equals). Texts
    of more than `max_tokens` tokens are dropped.
    """
    if not tokenizer.is_fast:
        raise RlptError(f"tokenizer {tokenizer.name_or_path} has no fast version: token offsets are needed")
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
            order = np.random.default_rng((seed, row)).permutation(cuts)
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


def proxy_cut_entropies(args: ColaBuildArguments, texts: list[str], tokenizer: PreTrainedTokenizerBase):
    """`position_entropies` of `texts` under the build's proxy LM, which must tokenize them as the policy does."""
    proxy = args.proxy_model_name_or_path or args.tokenizer_name_or_path
    device = resolve_device(args.embedding_device, flag="--embedding_device")
    model, proxy_tokenizer = load_model_and_tokenizer(proxy, dtype=torch.float32, device=device)
    own = tokenizer(texts, add_special_tokens=False)["input_ids"]
    theirs = proxy_tokenizer(texts, add_special_tokens=False)["input_ids"]
    for text, ours, its in zip(texts, own, theirs, strict=True):
        if ours != its:
            raise RlptError(
                f"proxy model {proxy} tokenizes {text!r} unlike --tokenizer_name_or_path "
                f"{args.tokenizer_name_or_path}: entropy cuts need the policy's tokenizer"
            )
    return position_entropies(model.eval(), proxy_tokenizer, texts, args.proxy_batch_size)


def _label_counts(labels: list[int]) -> dict[str, int]:
    counts = Counter(labels)
    return {"acceptable": counts[ACCEPTABLE], "unacceptable": counts[UNACCEPTABLE], "unlabeled": counts[UNLABELED]}


# the card's metadata for the Hub; CoLA's text is excerpted from published works (see `card_body`)
CARD_YAML = """license: other
language:
- en
task_categories:
- text-generation
tags:
- rlpt_trl
- grpo
- cola
pretty_name: Sentences cut into prompt / completion for GRPO (rlpt_trl data build)
"""
COLA_PROVENANCE = (
    "CoLA, the Corpus of Linguistic Acceptability (Warstadt, Singh and Bowman 2019, TACL 7:625-641; in GLUE, "
    "Wang et al. 2018). Its text is excerpted from published linguistics works; copyright, where applicable, remains "
    "with their authors or publishers, and the corpus is released for research use."
)


_ENTROPY_ROW = "\n| `cut_entropy` | float64 | the proxy LM's top-16 next-token entropy at the cut (nats) |"


def _cut_rule(stats: dict) -> str:
    """How the build chose its cuts, for the card."""
    args = stats["arguments"]
    if args["cut_strategy"] == "random":
        return f"a random token boundary (seed {args['seed']}; row i draws from the generator `(seed, i)`)"
    proxy = args["proxy_model_name_or_path"] or args["tokenizer_name_or_path"]
    return (
        f"the token boundary where `{proxy}` is least sure of the next token (highest entropy over its 16 most "
        f"likely tokens, in the `cut_entropy` column: median {stats['cut_entropy']['p50']:g} nats)"
    )


def card_body(stats: dict) -> str:
    """The dataset card's Markdown: how to load the folder, its columns, the cut rule, the scores and the provenance,
    from the build's `stats`."""
    args, tokens = stats["arguments"], stats["tokens"]
    dropped, labels = stats["dropped"], stats["labels_out"]
    sources = "; ".join(f"{source} ({rows} rows)" for source, rows in stats["sources"].items())
    provenance = COLA_PROVENANCE if args["dataset_path"] is None else f"The input file {args['dataset_path']}."
    return f"""# Sentences cut into prompt / completion for GRPO

{stats["rows_out"]} of {stats["rows_in"]} sentences, each cut into a prompt and its true completion, written by
`rlpt-trl data` (rlpt_trl). Input: {sources}.

```python
from datasets import load_dataset

dataset = load_dataset("PATH/TO/THIS/FOLDER", split="train")
```

`rlpt-trl grpo --dataset_name FOLDER` and TRL's own `trl grpo --dataset_name FOLDER` train on it.

## Columns

| column | type | content |
|---|---|---|
| `prompt` | string | the sentence's first tokens (never ending in whitespace) |
| `completion` | string | the rest of the sentence: `prompt + completion == text` |
| `text` | string | the original sentence |
| `label` | class: 0 unacceptable, 1 acceptable | the human acceptability judgment; -1 for unlabeled text |
| `scores` | float64 in [-1, 1] | the weight of the embedding reward |{embedding_rows(stats)}{_ENTROPY_ROW if "cut_entropy" in stats else ""}

## The cut

Each sentence is tokenised with `{args["tokenizer_name_or_path"]}` and cut at {_cut_rule(stats)}, with at least
{args["min_prompt_tokens"]} prompt and {args["min_completion_tokens"]} completion tokens, where the prompt re-tokenises to the sentence's leading tokens
and does not end in whitespace (the completion starts with the space). Dropped: {dropped[DROP_TOO_SHORT]} too short,
{dropped[DROP_NO_CUT]} without such a boundary, {dropped[DROP_TOO_LONG]} longer than {args["max_text_tokens"]} tokens.
Median tokens: sentence {tokens["text"]["p50"]:g}, prompt
{tokens["prompt"]["p50"]:g}, completion {tokens["completion"]["p50"]:g}.

## Scores

Acceptable (label 1) {args["acceptable_score"]:g}, unacceptable (0) {args["unacceptable_score"]:g}, unlabeled
{args["unlabeled_score"]:g}, unless the input had a `{args["score_column"]}` column. Rows: {labels["acceptable"]}
acceptable, {labels["unacceptable"]} unacceptable, {labels["unlabeled"]} unlabeled.

## Provenance

{provenance}

Also in the folder: `{SEED_CSV}` + `{SEED_EMBEDDINGS}` (the seed project's format) and `{STATS_FILE}` (the
statistics and every argument of the build).
"""


def _write_output(output_dir: Path, dataset: Dataset, embeddings: np.ndarray | None, stats: dict) -> None:
    with atomic_directory(output_dir) as staging:
        write_dataset_folder(staging, {TRAIN_SPLIT: dataset}, CARD_YAML, card_body(stats))
        if embeddings is not None:  # the seed's format is sentences with their embeddings
            write_seed_pair(staging, dataset, embeddings)
        write_json(staging / STATS_FILE, stats, indent=2)


def build_cola_dataset(args: ColaBuildArguments) -> dict:
    """Build the GRPO dataset described in the module docstring into `args.output_dir`; return its statistics."""
    check_build_arguments(args)
    if args.task != "cut":
        return build_segment_dataset(args)
    texts, labels, scores, sources = load_input_rows(args)
    tokenizer = load_tokenizer(args.tokenizer_name_or_path)
    entropies = proxy_cut_entropies(args, texts, tokenizer) if args.cut_strategy == "entropy" else None
    splits, drops = split_prompt_completion(
        texts,
        tokenizer,
        min_prompt_tokens=args.min_prompt_tokens,
        min_completion_tokens=args.min_completion_tokens,
        seed=args.seed,
        cut_entropies=entropies,
        max_tokens=args.max_text_tokens,
    )
    keep = [row for row, split in enumerate(splits) if split is not None]
    if not keep:
        raise RlptError(
            f"no sentence of {len(texts)} is long enough to split; lower --min_prompt_tokens/--min_completion_tokens"
        )
    kept = [splits[row] for row in keep]
    kept_texts, kept_labels = [texts[row] for row in keep], [labels[row] for row in keep]
    features = {
        "prompt": Value("string"),
        "completion": Value("string"),
        "text": Value("string"),
        "label": ClassLabel(names=list(LABEL_NAMES)),
        "scores": Value("float64"),
    }
    columns = {
        "prompt": [split.prompt for split in kept],
        "completion": [split.completion for split in kept],
        "text": kept_texts,
        "label": kept_labels,
        "scores": [scores[row] for row in keep],
    }
    embeddings = None
    if args.embedding_model_name_or_path != NO_EMBEDDINGS:
        embedding_model = load_embedding_model(args.embedding_model_name_or_path, device=args.embedding_device)
        embeddings, completion_embeddings = (
            encode_normalized(embedding_model, texts, batch_size=args.embedding_batch_size, show_progress_bar=True)
            for texts in (kept_texts, [split.completion for split in kept])
        )
        for name, values in (("target_embedding", embeddings), ("completion_embedding", completion_embeddings)):
            features[name] = List(Value("float32"), length=embeddings.shape[1])
            columns[name] = values
    cut_entropy = [split.cut_entropy for split in kept] if entropies is not None else None
    if cut_entropy is not None:
        features["cut_entropy"] = Value("float64")
        columns["cut_entropy"] = cut_entropy
    dataset = Dataset.from_dict(columns, features=Features(features))
    stats = {
        "sources": sources,
        "rows_in": len(texts),
        "rows_out": len(keep),
        "dropped": {reason: drops[reason] for reason in (DROP_TOO_SHORT, DROP_NO_CUT, DROP_TOO_LONG)},
        "labels_in": _label_counts(labels),
        "labels_out": _label_counts(kept_labels),
        "score_range": list(SCORE_RANGE),
        "tokens": {
            "text": percentiles([split.prompt_tokens + split.completion_tokens for split in kept]),
            "prompt": percentiles([split.prompt_tokens for split in kept]),
            "completion": percentiles([split.completion_tokens for split in kept]),
        },
        **({"cut_entropy": percentiles(cut_entropy)} if cut_entropy is not None else {}),
        "embedding_dim": None if embeddings is None else int(embeddings.shape[1]),
        # training refuses a policy whose tokenizer differs (`rlpt_trl.trainer.policy_fit`)
        "tokenizer": {"name": args.tokenizer_name_or_path, "fingerprint": tokenizer_fingerprint(tokenizer)},
        "arguments": asdict(args),
    }
    output_dir = Path(args.output_dir)
    _write_output(output_dir, dataset, embeddings, stats)
    if args.push_to_hub:
        try:
            dataset.push_to_hub(args.hub_dataset_id, private=args.hub_private)
        except Exception as err:  # noqa: BLE001 - network / auth failures become one actionable line
            raise RlptError(
                f"cannot push the dataset to the Hub as {args.hub_dataset_id}: {type(err).__name__}: {err}"
            ) from None
    print(
        f"wrote {len(keep)} of {len(texts)} rows to {output_dir} "
        f"(dropped: {drops[DROP_TOO_SHORT]} too short, {drops[DROP_NO_CUT]} without a prompt token boundary, "
        f"{drops[DROP_TOO_LONG]} over --max_text_tokens {args.max_text_tokens})"
    )
    return stats
