"""The data build on any corpus: cleaning, sentences, ASR / MSR rows, the held-out split of whole documents."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
from datasets import load_dataset

from rlpt_trl import RlptError
from rlpt_trl.cli import main as cli_main
from rlpt_trl.data.build import DataBuildArguments, build_dataset
from rlpt_trl.data.cleaning import clean_document, detect_format
from rlpt_trl.data.segmentation import sentence_starts
from rlpt_trl.data.split import validation_documents
from rlpt_trl.data.tasks import document_rows
from rlpt_trl.evaluation.next_segment.prompts import build_next_segment_prompts
from rlpt_trl.models.loading import load_tokenizer
from rlpt_trl.testing.assets import cola_sample_path


RST = """:mod:`copy` --- Shallow copies
==============================

.. module:: copy
   :synopsis: Copies.

Assignment does not copy objects. Use :func:`copy.copy` for a
shallow copy, see :ref:`the notes <notes>`.

.. function:: copy(x)

   Return a shallow copy of *x*.

   .. versionadded:: 3.2

Example::

    >>> import copy
    >>> copy.copy([1])

.. code-block:: python

   y = copy.deepcopy(x)

+-------+-------+
| table | cells |
+-------+-------+
"""

MARKDOWN = """# A title

Some *emphasis* and `code` in a
wrapped line.

```python
print("code")
```

| a | b |
|---|---|
| 1 | 2 |
"""


def test_cleaning_keeps_prose_and_drops_code() -> None:
    assert detect_format("library/copy.rst.txt") == "rst" and detect_format("x.md") == "markdown"
    assert detect_format("notes.txt") == "text"
    assert clean_document(RST, "rst") == [
        "copy --- Shallow copies",
        "Assignment does not copy objects. Use copy.copy for a shallow copy, see the notes.",
        "Return a shallow copy of x.",
        "Example:",
    ]
    kept = clean_document(RST, "rst", keep_code=True)
    assert ">>> import copy\n>>> copy.copy([1])" in kept and "y = copy.deepcopy(x)" in kept
    assert clean_document(MARKDOWN, "markdown") == ["A title", "Some emphasis and code in a wrapped line."]
    assert 'print("code")' in clean_document(MARKDOWN, "markdown", keep_code=True)
    assert clean_document("One line\nwrapped.\n\n  \n\nTwo.  ", "text") == ["One line wrapped.", "Two."]


def test_sentences_start_after_whitespace_only() -> None:
    text = "Use os.DirEntry objects. Mr. Smith left! Then he came back."
    starts = sentence_starts(text)
    assert [text[start:].split()[0] for start in starts] == ["Use", "Mr.", "Then"]


def test_asr_and_msr_rows(tiny_model_dir: Path) -> None:
    tokenizer = load_tokenizer(str(tiny_model_dir))
    paragraphs = ["The cat sat. It was warm outside.", "Then it left. Nobody saw it go."]
    text = "\n\n".join(paragraphs)
    drops: Counter = Counter()
    settings = {
        "max_completion_tokens": None,
        "max_sentence_tokens": 512,
        "count": lambda name, value=1: drops.update({name: value}),
    }
    asr = list(document_rows(paragraphs, tokenizer, task="asr", max_prompt_tokens=1000, **settings))
    assert [(row.completion, index) for row, index in asr] == [
        (" It was warm outside.", 1),
        ("\n\nThen it left.", 2),
        (" Nobody saw it go.", 3),
    ]
    assert all(text.startswith(row.prompt + row.completion) for row, _ in asr)
    # a short prompt budget starts the prompt at a later sentence, never inside one
    short = list(document_rows(paragraphs, tokenizer, task="asr", max_prompt_tokens=20, **settings))
    assert [row.prompt for row, _ in short][-1] == "Then it left."
    msr = list(document_rows(paragraphs, tokenizer, task="msr", max_prompt_tokens=1000, **settings))
    assert [row.prompt for row, _ in msr][0] == "The cat sat. [MISSING] Then it left.\n\nThe sentence at [MISSING]:"
    assert [row.completion for row, _ in msr] == [" It was warm outside.", " Then it left."]
    one = list(document_rows(["Only one sentence."], tokenizer, task="asr", max_prompt_tokens=99, **settings))
    assert one == [] and drops["document_too_short"] == 1 and drops["sentences"] == 3 * 4 + 1
    settings["max_completion_tokens"] = 2
    cut = list(document_rows(paragraphs, tokenizer, task="asr", max_prompt_tokens=1000, **settings))
    assert all(
        full.completion.startswith(row.completion)
        and len(full.completion) > len(row.completion)
        and row.completion.strip()
        for (full, _), (row, _) in zip(asr, cut, strict=True)
    )


def test_validation_documents_are_seeded_and_order_free() -> None:
    ids = [f"doc{i}" for i in range(40)]
    held = validation_documents(ids, 0.1, seed=3)
    assert len(held) == 4 and held == validation_documents(ids[::-1], 0.1, seed=3)
    assert held != validation_documents(ids, 0.1, seed=4)
    assert len(validation_documents(ids, 7, seed=3)) == 7 and validation_documents(ids, 0, seed=3) == set()


def _corpus(folder: Path) -> Path:
    folder.mkdir()
    for i in range(6):
        sentences = " ".join(f"Document {i} says thing number {j} about topic {i * 7 + j}." for j in range(4))
        (folder / f"doc{i}.txt").write_text(f"{sentences}\n\nA closing line for document {i}.\n")
    (folder / "notes.md").write_text("# Notes\n\nFirst note here. Second note here.\n")
    return folder


def _build(tmp_path: Path, model: Path, **overrides) -> dict:
    values = {
        "output_dir": str(tmp_path / "out"),
        "dataset_path": str(tmp_path / "corpus"),
        "task": "asr",
        "tokenizer_name_or_path": str(model),
        "embedding_model_name_or_path": "none",
        "validation_size": 2,
    }
    return build_dataset(DataBuildArguments(**{**values, **overrides}))


def test_asr_build_from_a_folder(tmp_path: Path, tiny_model_dir: Path, tiny_embedding_model_dir: Path) -> None:
    _corpus(tmp_path / "corpus")
    stats = _build(tmp_path, tiny_model_dir, embedding_model_name_or_path=str(tiny_embedding_model_dir))
    dataset = load_dataset(str(tmp_path / "out"))
    train, validation = dataset["train"], dataset["validation"]
    assert stats["documents_in"] == 7 and stats["documents"] == {"train": 5, "validation": 2}
    assert stats["rows_out"] == {"train": len(train), "validation": len(validation)}
    assert not set(train["doc_id"]) & set(validation["doc_id"])
    assert set(train["task"]) == {"asr"} and set(train["scores"]) == {1.0} and set(train["label"]) == {-1}
    texts = {path.name: path.read_text() for path in (tmp_path / "corpus").iterdir()}
    for row in train:
        assert row["text"] == row["prompt"] + row["completion"] and row["completion"][0].isspace()
        cleaned = "\n\n".join(clean_document(texts[row["doc_id"]], detect_format(row["doc_id"])))
        assert row["text"] in cleaned
        assert len(row["target_embedding"]) == len(row["completion_embedding"]) == stats["embedding_dim"]
    card = (tmp_path / "out" / "README.md").read_text()
    assert "| `doc_id` |" in card and "| `target_embedding` |" in card and "sentencex" in card
    # the next-segment evaluation reads the held-out documents
    prompts = build_next_segment_prompts(load_tokenizer(str(tiny_model_dir)), data=str(tmp_path / "out"))
    assert prompts.prompt == validation["prompt"]


def test_msr_build_counts_short_documents_and_refuses_when_nothing_is_made(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    _corpus(tmp_path / "corpus")
    stats = _build(tmp_path, tiny_model_dir, task="msr")
    assert stats["dropped"]["document_too_short"] == 0 and stats["rows_out"]["train"] > 0
    (tmp_path / "short").mkdir()
    for i in range(3):
        (tmp_path / "short" / f"{i}.txt").write_text(f"Just sentence {i}.\n")
    with pytest.raises(RlptError, match="no MSR row could be made .*document_too_short: 3"):
        _build(
            tmp_path, tiny_model_dir, task="msr", dataset_path=str(tmp_path / "short"), output_dir=str(tmp_path / "o2")
        )
    assert not (tmp_path / "o2").exists()


def test_duplicates_are_dropped_and_counted(tmp_path: Path, tiny_model_dir: Path) -> None:
    corpus = _corpus(tmp_path / "corpus")
    (corpus / "copy.txt").write_text((corpus / "doc0.txt").read_text())
    stats = _build(tmp_path, tiny_model_dir)
    assert stats["dropped"]["duplicate_segment"] == 4
    kept = _build(tmp_path, tiny_model_dir, drop_duplicates=False, output_dir=str(tmp_path / "all"))
    assert sum(kept["rows_out"].values()) == sum(stats["rows_out"].values()) + 4


def test_cut_on_documents_cuts_each_sentence(tmp_path: Path, tiny_model_dir: Path) -> None:
    _corpus(tmp_path / "corpus")
    stats = _build(tmp_path, tiny_model_dir, task="cut")
    train = load_dataset(str(tmp_path / "out"), split="train")
    assert stats["segmenter"] and stats["dropped"]["too_short"] == 0
    assert all(row["text"].endswith(".") and row["text"] == row["prompt"] + row["completion"] for row in train)
    assert "Document 0 says thing number 1 about topic 1." in set(train["text"])


def test_tables_globs_and_lines_are_corpora(tmp_path: Path, tiny_model_dir: Path) -> None:
    _corpus(tmp_path / "corpus")
    table = tmp_path / "docs.jsonl"
    rows = [{"body": f"Row {i} starts here. It goes on {i}. It ends {i}.", "key": f"k{i}"} for i in range(5)]
    table.write_text("\n".join(json.dumps(row) for row in rows) + "\n")
    stats = _build(tmp_path, tiny_model_dir, dataset_path=str(table), text_column="body", id_column="key")
    assert stats["documents"] == {"train": 3, "validation": 2}
    assert set(load_dataset(str(tmp_path / "out"), split="train")["doc_id"]) <= {f"k{i}" for i in range(5)}
    stats = _build(tmp_path, tiny_model_dir, dataset_path=f"{tmp_path}/corpus/*.txt", output_dir=str(tmp_path / "g"))
    assert stats["documents_in"] == 6  # the glob leaves notes.md out
    lines = tmp_path / "lines.txt"
    lines.write_text("".join(f"Line {i} one. Line {i} two.\n" for i in range(4)))
    stats = _build(tmp_path, tiny_model_dir, dataset_path=str(lines), unit="line", output_dir=str(tmp_path / "l"))
    assert stats["documents_in"] == 4 and stats["rows_out"] == {"train": 2, "validation": 2}


def test_tables_are_read_a_chunk_at_a_time(tmp_path: Path, tiny_model_dir: Path, monkeypatch) -> None:
    """Rows read two at a time make the rows read at once; a bad row is named by its row in the whole file."""
    from rlpt_trl.data import tables

    rows = [{"text": f"Row {i} starts here. It goes on {i}. It ends {i}.", "label": i % 2} for i in range(5)]
    for suffix, write in ((".jsonl", "to_json"), (".csv", "to_csv"), (".parquet", "to_parquet")):
        table = tmp_path / f"docs{suffix}"
        frame = pd.DataFrame(rows)
        getattr(frame, write)(
            table, **({"orient": "records", "lines": True} if suffix == ".jsonl" else {"index": False})
        )
        _build(tmp_path, tiny_model_dir, dataset_path=str(table), output_dir=str(tmp_path / f"whole{suffix}"))
        monkeypatch.setattr(tables, "CHUNK_ROWS", 2)
        _build(tmp_path, tiny_model_dir, dataset_path=str(table), output_dir=str(tmp_path / f"chunks{suffix}"))
        monkeypatch.undo()
        assert _rows(tmp_path / f"whole{suffix}") == _rows(tmp_path / f"chunks{suffix}")
    monkeypatch.setattr(tables, "CHUNK_ROWS", 2)
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        "".join(json.dumps({**row, "label": 7 if i == 3 else row["label"]}) + "\n" for i, row in enumerate(rows))
    )
    with pytest.raises(RlptError, match=r"bad.jsonl: column 'label': row 4: invalid label 7"):
        _build(tmp_path, tiny_model_dir, dataset_path=str(bad), output_dir=str(tmp_path / "bad"))


@pytest.mark.parametrize(
    ("setup", "overrides", "message"),
    [
        (None, {"dataset_path": "CORPUS/*.nothing"}, "the pattern matches no file"),
        ("empty", {}, "no .txt, .md, .markdown, .rst file in the folder"),
        ("latin1", {}, "bad.txt: not UTF-8 text .*--on_decode_error skip"),
        ("binary", {}, "bin.txt: a binary file"),
        ("blank", {}, "no ASR row could be made .*empty_after_cleaning: 1"),
        (None, {"validation_size": 7}, "--validation_size 7 leaves no training document"),
        (None, {"dataset_path": "nobody-here/no-corpus"}, "--dataset_path nobody-here/no-corpus: cannot read the Hub"),
        (None, {"validation_size": 1.5}, "--validation_size must be a fraction"),
        (None, {"task": "msr", "msr_template": "{before} only"}, r"--msr_template must contain \{after\}"),
        ("table", {"text_column": "body"}, r"no text column 'body' \(--text_column\); columns: text"),
    ],
)
def test_bad_corpora_are_one_line(
    tmp_path: Path, tiny_model_dir: Path, setup: str | None, overrides: dict, message: str
) -> None:
    corpus = _corpus(tmp_path / "corpus")
    if setup == "empty":
        for file in corpus.iterdir():
            file.unlink()
    elif setup == "latin1":
        (corpus / "bad.txt").write_bytes("Caf\xe9 ol\xe9.".encode("latin-1"))
    elif setup == "binary":
        (corpus / "bin.txt").write_bytes(b"abc\x00def")
    elif setup == "blank":
        overrides = {"dataset_path": str(tmp_path / "blank.txt")}
        (tmp_path / "blank.txt").write_text("  \n\n")
    elif setup == "table":
        overrides = {**overrides, "dataset_path": str(tmp_path / "t.csv")}
        (tmp_path / "t.csv").write_text("text\nA row. Another.\n")
    if "dataset_path" in overrides:
        overrides["dataset_path"] = overrides["dataset_path"].replace("CORPUS", str(corpus))
    with pytest.raises(RlptError, match=message):
        _build(tmp_path, tiny_model_dir, **overrides)
    assert not (tmp_path / "out").exists()


def test_undecodable_files_can_be_skipped(tmp_path: Path, tiny_model_dir: Path, capsys) -> None:
    corpus = _corpus(tmp_path / "corpus")
    (corpus / "bad.txt").write_bytes("Caf\xe9.".encode("latin-1"))
    stats = _build(tmp_path, tiny_model_dir, on_decode_error="skip")
    assert stats["dropped"]["not_utf8"] == 1 and stats["documents_in"] == 7
    code = cli_main(
        ["data", "--output_dir", str(tmp_path / "cli"), "--dataset_path", str(corpus), "--task", "asr"]
        + ["--tokenizer_name_or_path", str(tiny_model_dir), "--embedding_model_name_or_path", "none"]
    )
    assert code != 0 and f"error: {corpus / 'bad.txt'}: not UTF-8" in capsys.readouterr().err.strip().splitlines()[-1]


@pytest.mark.slow
def test_pydocs_asr_build(tmp_path: Path, pydocs_dir: Path, smollm2_gguf: Path) -> None:
    """The first 40 documents of the Python documentation (Sphinx reST): every row a contiguous span of its cleaned
    document, prompts within budget, no document in both splits."""
    stats = build_dataset(
        DataBuildArguments(
            output_dir=str(tmp_path / "out"),
            dataset_path=f"{pydocs_dir}/**/*.rst.txt",
            task="asr",
            tokenizer_name_or_path=str(smollm2_gguf),
            embedding_model_name_or_path="none",
            max_prompt_tokens=128,
            validation_size=4,
            max_samples=40,
        )
    )
    dataset = load_dataset(str(tmp_path / "out"))
    assert stats["documents_in"] == 40 and stats["documents"]["validation"] == 4
    assert not set(dataset["train"]["doc_id"]) & set(dataset["validation"]["doc_id"])
    tokenizer = load_tokenizer(str(smollm2_gguf))
    cleaned = {}
    for row in dataset["train"].select(range(0, len(dataset["train"]), 25)):
        if row["doc_id"] not in cleaned:
            source = (pydocs_dir / row["doc_id"]).read_text(encoding="utf-8")
            cleaned[row["doc_id"]] = "\n\n".join(clean_document(source, "rst"))
        assert row["text"] in cleaned[row["doc_id"]] and not row["prompt"][-1].isspace()
        assert len(tokenizer(row["prompt"], add_special_tokens=False)["input_ids"]) <= 128 + 2
    assert stats["tokens"]["prompt"]["p50"] > 64


def _rows(folder: Path) -> set[tuple]:
    dataset = load_dataset(str(folder))
    return {(split, *row.values()) for split, rows in dataset.items() for row in rows.to_list()}


@pytest.mark.parametrize("task", ["asr", "cut"])
def test_two_workers_make_the_same_rows(tmp_path: Path, tiny_model_dir: Path, task: str) -> None:
    corpus = _corpus(tmp_path / "corpus")
    (corpus / "copy.txt").write_text((corpus / "doc3.txt").read_text())  # a repeat the workers must agree on
    one = _build(tmp_path, tiny_model_dir, task=task, output_dir=str(tmp_path / "one"))
    two = _build(tmp_path, tiny_model_dir, task=task, output_dir=str(tmp_path / "two"), num_workers=2)
    assert one["dropped"]["duplicate_segment"] > 0 and {**one, "arguments": None} == {**two, "arguments": None}
    assert _rows(tmp_path / "one") == _rows(tmp_path / "two")


def test_two_workers_cut_cola_rows_as_one(tmp_path: Path, tiny_model_dir: Path) -> None:
    settings = {"dataset_path": str(cola_sample_path()), "task": "cut", "validation_size": None}
    _build(tmp_path, tiny_model_dir, output_dir=str(tmp_path / "one"), **settings)
    _build(tmp_path, tiny_model_dir, output_dir=str(tmp_path / "two"), num_workers=2, **settings)
    one, two = (load_dataset(str(tmp_path / name), split="train") for name in ("one", "two"))
    assert one.to_list() == sorted(two.to_list(), key=lambda row: int(row["doc_id"].rsplit(":", 1)[1]))


def test_work_dir_keeps_the_stages_and_is_reused(tmp_path: Path, tiny_model_dir: Path) -> None:
    _corpus(tmp_path / "corpus")
    work = tmp_path / "work"
    first = _build(tmp_path, tiny_model_dir, work_dir=str(work), num_workers=2)
    assert sorted(path.name for path in (work / "rows").iterdir()) == ["000_00000.parquet", "000_00001.parquet"]
    assert (work / "logs-rows" / "logs" / "task_00001.log").is_file()
    again = _build(tmp_path, tiny_model_dir, work_dir=str(work), output_dir=str(tmp_path / "again"))
    assert sorted(path.name for path in (work / "rows").iterdir()) == ["000_00000.parquet"]  # the earlier stages went
    assert _rows(tmp_path / "out") == _rows(tmp_path / "again") and first["rows_out"] == again["rows_out"]
    (tmp_path / "file").write_text("")
    with pytest.raises(RlptError, match="--work_dir .*file is a file, not a folder"):
        _build(tmp_path, tiny_model_dir, work_dir=str(tmp_path / "file"), output_dir=str(tmp_path / "x"))


def test_ray_recipe_makes_the_local_rows(tmp_path: Path, tiny_model_dir: Path) -> None:
    """`recipes/data_ray.py` on a local Ray instance: the same rows as the local build, and a task's error read back
    from its log as one line."""
    corpus = _corpus(tmp_path / "corpus")
    _build(tmp_path, tiny_model_dir, output_dir=str(tmp_path / "local"))
    flags = ["--dataset_path", str(corpus), "--task", "asr", "--num_workers", "2", "--validation_size", "2"]
    flags += ["--tokenizer_name_or_path", str(tiny_model_dir), "--embedding_model_name_or_path", "none"]
    (corpus / "bad.txt").write_bytes("Caf\xe9 ol\xe9.".encode("latin-1"))  # read (and refused) in a Ray task
    run = _recipe("data_ray.py", *flags, "--work_dir", str(tmp_path / "work"), "--output_dir", str(tmp_path / "bad"))
    assert run.returncode == 1 and not (tmp_path / "bad").exists()
    last = run.stderr.strip().splitlines()[-1]
    assert re.match(
        rf"data_ray.py: error: 1 of 2 tasks failed; task \d: {re.escape(str(corpus))}/bad.txt: not UTF-8", last
    )
    run = _recipe("data_ray.py", *flags, "--on_decode_error", "skip", "--output_dir", str(tmp_path / "ray"))
    assert run.returncode == 0, run.stderr
    assert _rows(tmp_path / "local") == _rows(tmp_path / "ray")


def _recipe(name: str, *flags: str) -> subprocess.CompletedProcess:
    recipe = Path(__file__).parent.parent / "recipes" / name
    return subprocess.run([sys.executable, str(recipe), *flags], capture_output=True, text=True, timeout=900)
