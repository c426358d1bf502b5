"""The data build's dataset card: how to load the folder, its columns, how the rows were made, and where the text
comes from, written from the build's statistics (`stats.json`)."""

from __future__ import annotations

from .seed_format import SEED_CSV, SEED_EMBEDDINGS


# the card's metadata for the Hub; CoLA's text is excerpted from published works (see `COLA_PROVENANCE`)
CARD_YAML = """license: other
language:
- en
task_categories:
- text-generation
tags:
- rlpt_trl
- grpo
pretty_name: Prompt / completion rows for RL pre-training (rlpt_trl data build)
"""
COLA_PROVENANCE = (
    "CoLA, the Corpus of Linguistic Acceptability (Warstadt, Singh and Bowman 2019, TACL 7:625-641; in GLUE, "
    "Wang et al. 2018). Its text is excerpted from published linguistics works; copyright, where applicable, remains "
    "with their authors or publishers, and the corpus is released for research use."
)
SHAPES = {
    "cut": (
        "the segment's first tokens (never ending in whitespace)",
        "the rest of the segment: `prompt + completion` is the segment",
    ),
    "asr": (
        "the document's text before the target sentence, from a sentence start, as it stands",
        "the target sentence with the whitespace before it: `prompt + completion` is a span of the document",
    ),
    "msr": (
        "the text before the target sentence and the sentence after it, in the MSR template",
        "the target (middle) sentence after one space",
    ),
}


def _embedding_rows(stats: dict) -> str:
    dim, model = stats["embedding_dim"], stats["arguments"]["embedding_model_name_or_path"]
    if dim is None:
        return ""
    return f"""
| `target_embedding` | {dim} x float32 | L2-normalised embedding of `text` ({model}) |
| `completion_embedding` | {dim} x float32 | L2-normalised embedding of `completion` (same model) |"""


def _how(stats: dict) -> str:
    args, task = stats["arguments"], stats["task"]
    tokenizer = f"`{args['tokenizer_name_or_path']}`"
    if task == "cut":
        if args["cut_strategy"] == "random":
            rule = f"a random token boundary (seed {args['seed']}; a row's generator is seeded with its ordinal)"
        else:
            proxy = args["proxy_model_name_or_path"] or args["tokenizer_name_or_path"]
            median = stats["cut_entropy"]["p50"]
            rule = (
                f"the token boundary where `{proxy}` is least sure of the next token (highest entropy over its 16 "
                f"most likely tokens, in the `cut_entropy` column: median {median:g} nats)"
            )
        unit = "each row as it stands" if stats["segmenter"] is None else f"each sentence ({stats['segmenter']})"
        return (
            f"Segments: {unit}, tokenised with {tokenizer} and cut at {rule}, with at least "
            f"{args['min_prompt_tokens']} prompt and {args['min_completion_tokens']} completion tokens, where the "
            "prompt re-tokenises to the segment's leading tokens and does not end in whitespace."
        )
    template = f" Template: `{args['msr_template']!r}`." if task == "msr" else ""
    kept = f"the first {args['max_completion_tokens']} tokens of " if args["max_completion_tokens"] else ""
    return (
        f"Documents cleaned as `{args['format']}` (code {'kept' if args['keep_code'] else 'dropped'}), cut into "
        f"sentences by {stats['segmenter']}, tokenised with {tokenizer}. Prompts hold at most "
        f"{args['max_prompt_tokens']} tokens of text before the target; completions are {kept}target sentences of "
        f"at most {args['max_text_tokens']} tokens.{template}"
    )


def card_body(stats: dict) -> str:
    """The dataset card's Markdown, from the build's `stats`."""
    args, task = stats["arguments"], stats["task"]
    tokens, labels, rows = stats["tokens"], stats["labels_out"], stats["rows_out"]
    dropped = ", ".join(f"{value} {reason}" for reason, value in stats["dropped"].items() if value) or "nothing"
    provenance = COLA_PROVENANCE if args["dataset_path"] is None else f"The input `{args['dataset_path']}`."
    prompt, completion = SHAPES[task]
    held = stats["documents"]["validation"]
    held_out = (
        f"{held} documents (`--validation_size {stats['validation_size']:g}`, seed {args['seed']})" if held else "none"
    )
    splits = ", ".join(
        f"{name} {count} rows from {stats['documents'][name]} documents" for name, count in rows.items()
    )
    has_pair = task == "cut" and stats["embedding_dim"] is not None
    seed_pair = f"`{SEED_CSV}` + `{SEED_EMBEDDINGS}` (the seed project's format) and " if has_pair else ""
    entropy = "\n| `cut_entropy` | float64 | the proxy LM's top-16 next-token entropy at the cut (nats) |"
    entropy = entropy if "cut_entropy" in stats else ""
    return f"""# Prompt / completion rows for RL pre-training ({task})

Written by `rlpt-trl data --task {task}` (rlpt_trl) from {stats["source"]} ({stats["documents_in"]} documents):
{splits}. No document is in two splits.

```python
from datasets import load_dataset

dataset = load_dataset("PATH/TO/THIS/FOLDER")
```

`rlpt-trl grpo --dataset_name FOLDER` and TRL's own `trl grpo --dataset_name FOLDER` train on its train split;
`rlpt-trl eval --tasks next_segment --next_segment_data FOLDER` evaluates on its validation split (on its train rows
when it has none).

## Columns

| column | type | content |
|---|---|---|
| `prompt` | string | {prompt} |
| `completion` | string | {completion} |
| `text` | string | `prompt + completion` |
| `label` | class: 0 unacceptable, 1 acceptable | the input's label; -1 for unlabeled text |
| `scores` | float64 in [-1, 1] | the weight of the embedding reward |
| `task` | string | `{task}` |
| `doc_id` | string | the document the row comes from |
| `segment_index` | int64 | the segment (sentence) of the document the completion ends |{_embedding_rows(stats)}{entropy}

## How the rows were made

{_how(stats)} Dropped: {dropped}.
Median tokens: prompt {tokens["prompt"]["p50"]:g}, completion {tokens["completion"]["p50"]:g}. Held out: {held_out}.

## Scores

Acceptable (label 1) {args["acceptable_score"]:g}, unacceptable (0) {args["unacceptable_score"]:g}, unlabeled rows
of a labelled input {args["unlabeled_score"]:g}, unless the input had a `{args["score_column"]}` column; text without
labels or scores trains unscaled (1). Rows: {labels["acceptable"]} acceptable, {labels["unacceptable"]} unacceptable,
{labels["unlabeled"]} unlabeled.

## Provenance

{provenance}

Also in the folder: {seed_pair}`stats.json` (the statistics and every argument of the build).
"""
