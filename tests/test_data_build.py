from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from datasets import Dataset, DatasetDict, load_dataset, load_from_disk
from transformers import AutoTokenizer

from rlpt_trl import RlptError, encode_normalized, load_embedding_model, load_glue
from rlpt_trl.cli import main as cli_main
from rlpt_trl.data.build import DataBuildArguments, build_dataset
from rlpt_trl.data.prompt_dataset import load_prompt_dataset
from rlpt_trl.data.seed_format import SEED_CSV, SEED_EMBEDDINGS, load_seed_pair
from rlpt_trl.data.tasks import split_prompt_completion
from rlpt_trl.models.likelihood import next_token_entropies
from rlpt_trl.models.loading import load_model_and_tokenizer
from rlpt_trl.testing.assets import cola_sample_path
from rlpt_trl.testing.tiny_models import build_tiny_tokenizer


ROOT = Path(__file__).resolve().parents[1]
COLUMNS = ["prompt", "completion", "text", "label", "scores", "task", "doc_id", "segment_index"]
COLUMNS += ["target_embedding", "completion_embedding"]
# MiniLM embeds ~50 CoLA sentences a second on 2 busy CPU cores: the real-data test builds the first
# REAL_ROWS rows (all 8551 take about 3 minutes; README "Data build").
REAL_ROWS = 1000


def _args(tmp_path: Path, **overrides) -> DataBuildArguments:
    values = {"output_dir": str(tmp_path / "out"), "embedding_model_name_or_path": "./no-model-needed"}
    return DataBuildArguments(**{**values, **overrides})


def _assert_nothing_written(tmp_path: Path) -> None:
    assert not (tmp_path / "out").exists()
    assert not [path.name for path in tmp_path.iterdir() if path.name.startswith(".out.")]


def _check_build(
    output: Path, tokenizer, min_prompt: int, min_completion: int, columns: list[str] = COLUMNS
) -> Dataset:
    """Check every invariant of a build on all of its rows."""
    dataset = load_dataset(str(output), split="train")
    assert dataset.column_names == columns
    card = (output / "README.md").read_text()
    assert card.startswith("---\nlicense: other\n") and all(f"| `{column}` |" in card for column in columns)
    stats = json.loads((output / "stats.json").read_text())
    assert len(dataset) == stats["rows_out"]["train"] == stats["documents_in"] - sum(stats["dropped"].values())
    labels = Counter(dataset["label"])
    assert stats["labels_out"] == {"acceptable": labels[1], "unacceptable": labels[0], "unlabeled": labels[-1]}
    prompt_lengths = []
    for row in dataset:
        assert row["prompt"] + row["completion"] == row["text"]
        assert not row["prompt"][-1].isspace()
        ids = tokenizer(row["text"], add_special_tokens=False)["input_ids"]
        prompt_ids = tokenizer(row["prompt"], add_special_tokens=False)["input_ids"]
        assert prompt_ids == ids[: len(prompt_ids)]
        assert len(prompt_ids) >= min_prompt and len(ids) - len(prompt_ids) >= min_completion
        prompt_lengths.append(len(prompt_ids))
    assert stats["tokens"]["prompt"]["min"] == min(prompt_lengths)
    assert stats["tokens"]["prompt"]["max"] == max(prompt_lengths)
    embeddings, completion_embeddings = (
        np.asarray(dataset.with_format("numpy")[column]) for column in ("target_embedding", "completion_embedding")
    )
    for vectors in (embeddings, completion_embeddings):
        assert vectors.dtype == np.float32 and vectors.shape == (len(dataset), stats["embedding_dim"])
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    scores = np.asarray(dataset["scores"])
    assert np.isfinite(scores).all() and scores.min() >= -1.0 and scores.max() <= 1.0
    # the seed pair: same rows in the same order, embeddings bit-identical
    frame = pd.read_csv(output / SEED_CSV, keep_default_na=False)
    assert not {"target_embedding", "completion_embedding"} & set(frame.columns)
    assert list(frame["text"]) == dataset["text"] and list(frame["scores"]) == dataset["scores"]
    npy = np.load(output / SEED_EMBEDDINGS, allow_pickle=False)
    assert npy.dtype == np.float32 and np.array_equal(npy, embeddings)
    assert len(load_seed_pair(output / SEED_CSV, expected_dim=embeddings.shape[1])) == len(dataset)
    return dataset


@pytest.mark.slow
def test_real_cola_build_invariants(
    glue_dir: str | None, embedding_model_dir: Path, smollm2_dir: Path, tmp_path: Path
) -> None:
    output = tmp_path / "cola"
    stats = build_dataset(
        DataBuildArguments(
            output_dir=str(output),
            data_dir=glue_dir,
            tokenizer_name_or_path=str(smollm2_dir),
            embedding_model_name_or_path=str(embedding_model_dir),
            max_samples=REAL_ROWS,
        )
    )
    tokenizer = AutoTokenizer.from_pretrained(smollm2_dir)
    dataset = _check_build(output, tokenizer, min_prompt=2, min_completion=2)
    cola = load_glue("cola", "train", glue_dir).select(range(REAL_ROWS))
    assert stats["documents_in"] == REAL_ROWS and stats["rows_out"] == {"train": len(dataset)}
    # the kept rows are the CoLA rows long enough to split, in order, with the documented score mapping
    lengths = [len(ids) for ids in tokenizer(list(cola["sentence"]), add_special_tokens=False)["input_ids"]]
    assert stats["dropped"]["too_short"] == sum(length < 4 for length in lengths)
    kept = iter(zip(cola["sentence"], cola["label"], strict=True))
    for text, label, score in zip(dataset["text"], dataset["label"], dataset["scores"], strict=True):
        assert (text, label) in kept  # advances the iterator: order preserved
        assert score == {1: 1.0, 0: -1.0}[label]
    # target_embedding / completion_embedding are the original sentence's / the completion's MiniLM embeddings
    model = load_embedding_model(str(embedding_model_dir), device="cpu")
    rows = dataset.select([0, len(dataset) // 2, len(dataset) - 1])
    for column, texts in (("target_embedding", rows["text"]), ("completion_embedding", rows["completion"])):
        assert np.allclose(np.asarray(rows[column], dtype=np.float32), encode_normalized(model, texts), atol=1e-5)


@pytest.mark.slow
def test_sample_build_extras_push_and_determinism(
    tiny_model_dir: Path, embedding_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The shipped CoLA-format sample plus an unlabeled text file; `push_to_hub` reaches `DatasetDict.push_to_hub`
    (the Hub is unreachable here, so the call itself is recorded instead of sent)."""
    extra = tmp_path / "more_sentences.txt"
    extra.write_text("The river ran quietly past the old mill.\n\n  Birds sang in the tall hedges.  \n")
    pushed = []
    monkeypatch.setattr(
        DatasetDict, "push_to_hub", lambda self, repo_id, **kwargs: pushed.append((self, repo_id, kwargs))
    )
    common = {
        "dataset_path": str(cola_sample_path()),
        "extra_text_files": [str(extra)],
        "tokenizer_name_or_path": str(tiny_model_dir),
        "embedding_model_name_or_path": str(embedding_model_dir),
        "unacceptable_score": -0.5,
        "unlabeled_score": 0.25,
    }
    stats = build_dataset(
        DataBuildArguments(output_dir=str(tmp_path / "a"), push_to_hub=True, hub_dataset_id="user/cola-rlpt", **common)
    )
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    first = _check_build(tmp_path / "a", tokenizer, min_prompt=2, min_completion=2)
    assert stats["sources"] == {str(cola_sample_path()): 64, str(extra): 2}
    assert first["text"][-2:] == ["The river ran quietly past the old mill.", "Birds sang in the tall hedges."]
    assert first["label"][-2:] == [-1, -1] and first["scores"][-2:] == [0.25, 0.25]
    assert {score for score, label in zip(first["scores"], first["label"], strict=True) if label == 0} == {-0.5}
    [(dataset, repo_id, kwargs)] = pushed
    assert repo_id == "user/cola-rlpt" and kwargs == {"private": False} and dataset["train"].column_names == COLUMNS

    second = load_dataset(str(tmp_path / "a"), split="train")  # same seed: same cuts
    build_dataset(DataBuildArguments(output_dir=str(tmp_path / "b"), **common))
    assert load_dataset(str(tmp_path / "b"), split="train")["prompt"] == second["prompt"]
    build_dataset(DataBuildArguments(output_dir=str(tmp_path / "c"), seed=7, **common))
    other = load_dataset(str(tmp_path / "c"), split="train")["prompt"]
    assert other != second["prompt"] and len(other) == len(second)

    # a failure while writing leaves neither the output nor a partial directory
    def fail(*args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("rlpt_trl.data.build.write_seed_pair", fail)
    with pytest.raises(OSError, match="disk full"):
        build_dataset(DataBuildArguments(output_dir=str(tmp_path / "out"), **common))
    assert sorted(path.name for path in tmp_path.iterdir()) == ["a", "b", "c", "more_sentences.txt"]


def test_split_is_per_row_deterministic(tiny_model_dir: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    texts = [line.split("\t")[3] for line in cola_sample_path().read_text(encoding="utf-8").splitlines()]
    full, drops = split_prompt_completion(texts, tokenizer, min_prompt_tokens=3, min_completion_tokens=4, seed=1)
    prefix, _ = split_prompt_completion(texts[:10], tokenizer, min_prompt_tokens=3, min_completion_tokens=4, seed=1)
    assert prefix == full[:10] and not drops
    assert all(split.prompt_tokens >= 3 and split.completion_tokens >= 4 for split in full)
    assert len({split.prompt_tokens for split in full}) > 3  # cuts vary
    splits, drops = split_prompt_completion(
        ["Go.", "Stop it now."], tokenizer, min_prompt_tokens=2, min_completion_tokens=2, seed=0
    )
    assert splits[0] is None and drops["too_short"] >= 1
    long = " ".join(["The cat sat on the mat."] * 400)
    splits, drops = split_prompt_completion(
        [long, texts[0]], tokenizer, min_prompt_tokens=2, min_completion_tokens=2, seed=0, max_tokens=512
    )
    assert splits[0] is None and splits[1] is not None and drops == {"too_long": 1}


def _check_entropy_cuts(output: Path, model_dir: Path, rows: int | None = None) -> Dataset:
    """An entropy-cut build: every row's `cut_entropy` is the proxy's entropy after its prompt, as the evaluation
    reads it, and no other valid cut of the sentence has a higher one; stats.json and the card describe it."""
    dataset = load_dataset(str(output), split="train")
    model, tokenizer = load_model_and_tokenizer(str(model_dir), dtype="float32", device="cpu")
    checked = dataset.select(range(rows or len(dataset)))
    after_prompt = next_token_entropies(model, tokenizer, checked["prompt"], batch_size=16)
    np.testing.assert_allclose(checked["cut_entropy"], after_prompt, atol=2e-4)
    for row in checked:
        ids = tokenizer(row["text"], add_special_tokens=False)["input_ids"]
        others = []
        for cut in range(2, len(ids) - 1):
            prompt = tokenizer.decode(ids[:cut])
            if (
                not prompt[-1].isspace()
                and row["text"].startswith(prompt)
                and tokenizer(prompt, add_special_tokens=False)["input_ids"] == ids[:cut]
            ):
                others.append(prompt)
        assert row["prompt"] in others
        best = next_token_entropies(model, tokenizer, others, batch_size=16).max()
        assert row["cut_entropy"] >= best - 2e-4
    stats = json.loads((output / "stats.json").read_text())
    assert stats["arguments"]["cut_strategy"] == "entropy"
    assert stats["cut_entropy"]["max"] == pytest.approx(max(dataset["cut_entropy"]), abs=1e-3)
    assert stats["cut_entropy"]["min"] == pytest.approx(min(dataset["cut_entropy"]), abs=1e-3)
    card = (output / "README.md").read_text()
    assert "| `cut_entropy` |" in card and "least sure of the next token" in card
    return dataset


def test_entropy_cuts(
    tiny_model_dir: Path, tiny_embedding_model_dir: Path, tiny_cola_data: Path, tmp_path: Path
) -> None:
    output = tmp_path / "entropy"
    stats = build_dataset(
        DataBuildArguments(
            output_dir=str(output),
            dataset_path=str(cola_sample_path()),
            tokenizer_name_or_path=str(tiny_model_dir),
            embedding_model_name_or_path=str(tiny_embedding_model_dir),
            cut_strategy="entropy",
        )
    )
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    dataset = _check_build(output, tokenizer, min_prompt=2, min_completion=2, columns=[*COLUMNS, "cut_entropy"])
    _check_entropy_cuts(output, tiny_model_dir)
    # the same sentences as the random build, cut elsewhere
    random = load_dataset(str(tiny_cola_data), split="train")
    assert dataset["text"] == random["text"] and stats["rows_out"] == {"train": len(random)}
    assert dataset["prompt"] != random["prompt"]
    assert "cut_entropy" not in json.loads((tiny_cola_data / "stats.json").read_text())


@pytest.mark.slow
def test_real_cola_entropy_cuts(
    glue_dir: str | None, embedding_model_dir: Path, smollm2_dir: Path, tmp_path: Path
) -> None:
    """SmolLM2 as its own proxy on real CoLA sentences: the cut is the hardest valid position, its entropy the one
    the next-segment evaluation reads after that prompt."""
    output = tmp_path / "cola-entropy"
    build_dataset(
        DataBuildArguments(
            output_dir=str(output),
            data_dir=glue_dir,
            tokenizer_name_or_path=str(smollm2_dir),
            embedding_model_name_or_path=str(embedding_model_dir),
            cut_strategy="entropy",
            max_samples=100,
        )
    )
    tokenizer = AutoTokenizer.from_pretrained(smollm2_dir)
    _check_build(output, tokenizer, min_prompt=2, min_completion=2, columns=[*COLUMNS, "cut_entropy"])
    dataset = _check_entropy_cuts(output, smollm2_dir, rows=32)
    # a top-16 entropy lies in [0, ln 16]
    assert 0.0 <= min(dataset["cut_entropy"]) and max(dataset["cut_entropy"]) <= np.log(16) + 1e-6


def test_entropy_cuts_need_the_policy_tokenizer(tiny_model_dir: Path, tmp_path: Path) -> None:
    proxy = tmp_path / "proxy"
    shutil.copytree(tiny_model_dir, proxy)
    # the same model with a smaller vocabulary: every id still has an embedding, the tokens differ
    other = build_tiny_tokenizer(["Other text makes other merges, and other tokens."] * 8, vocab_size=300)
    other.save_pretrained(proxy)
    with pytest.raises(RlptError, match=r"proxy model .* tokenizes .* unlike --tokenizer_name_or_path"):
        build_dataset(
            _args(
                tmp_path,
                dataset_path=str(cola_sample_path()),
                tokenizer_name_or_path=str(tiny_model_dir),
                cut_strategy="entropy",
                proxy_model_name_or_path=str(proxy),
            )
        )
    _assert_nothing_written(tmp_path)


def _write(path: Path, text: str | bytes) -> str:
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return str(path)


@pytest.mark.parametrize(
    ("name", "content", "overrides", "message"),
    [
        ("data.csv", "sentence_text,label\nA cat sat.,1\n", {}, r"data.csv: no text column 'text' or 'sentence'"),
        ("data.csv", "text,label\nA cat sat.,1\n", {"text_column": "body"}, r"no text column 'body'"),
        ("data.csv", "text,scores\nA cat.,0.5\nA dog.,nan\n", {}, r"'scores': row 2: score 'nan' is not finite"),
        ("data.csv", "text,scores\nA cat sat.,1.5\n", {}, r"row 1: score 1.5 is outside the range \[-1.0, 1.0\]"),
        ("data.csv", "text,scores\nA cat sat.,high\n", {}, r"score 'high' is not a number"),
        ("data.csv", 'text,label\nA cat sat.,1\n"",0\n', {}, r"column 'text': row 2: empty sentence"),
        ("data.jsonl", '{"text": "A cat.", "label": 1}\n{"text": " ", "label": 0}\n', {}, r"row 2: empty sentence"),
        ("data.csv", "text,label\nA cat sat.,2\n", {}, r"invalid label '2'"),
        ("data.csv", "text,label\nCaf\xe9 au lait.,1\n".encode("latin-1"), {}, r"data.csv: not UTF-8 text"),
        ("data.xlsx", "whatever", {}, r"data.xlsx: unknown file type '.xlsx'"),
        ("data.jsonl", '{"text": "A cat sat."\n', {}, r"data.jsonl: cannot read as jsonl"),
        ("data.csv", "", {}, r"data.csv: empty file"),
    ],
)
def test_bad_input_file(tmp_path: Path, name: str, content: str | bytes, overrides: dict, message: str) -> None:
    path = _write(tmp_path / name, content)
    with pytest.raises(RlptError, match=message):
        build_dataset(_args(tmp_path, dataset_path=path, **overrides))
    _assert_nothing_written(tmp_path)


def test_bad_extra_text_files(tmp_path: Path, tiny_model_dir: Path) -> None:
    sample = str(cola_sample_path())
    latin = _write(tmp_path / "more.txt", "Un caf\xe9.\n".encode("latin-1"))
    with pytest.raises(RlptError, match=r"more.txt: not UTF-8 text"):
        build_dataset(_args(tmp_path, dataset_path=sample, extra_text_files=[latin]))
    blank = _write(tmp_path / "blank.txt", "\n  \n")
    with pytest.raises(RlptError, match=r"blank.txt: no sentences"):
        build_dataset(_args(tmp_path, dataset_path=sample, extra_text_files=[blank]))
    with pytest.raises(RlptError, match=r"file not found: .*missing.txt"):
        build_dataset(_args(tmp_path, dataset_path=sample, extra_text_files=[str(tmp_path / "missing.txt")]))
    with pytest.raises(RlptError, match=r"no CUT row could be made from .*cola_sample.tsv \(too_short: 64\)"):
        build_dataset(
            _args(tmp_path, dataset_path=sample, tokenizer_name_or_path=str(tiny_model_dir), min_prompt_tokens=100)
        )
    _assert_nothing_written(tmp_path)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"data_dir": "glue", "dataset_path": "x.csv"}, "either --data_dir .* or --dataset_path"),
        ({"min_completion_tokens": 0}, "--min_completion_tokens must be at least 1"),
        ({"max_samples": 0}, "--max_samples must be at least 1"),
        ({"unlabeled_score": float("nan")}, "--unlabeled_score: score nan is not finite"),
        ({"acceptable_score": 2.0}, r"--acceptable_score: score 2.0 is outside the range"),
        ({"push_to_hub": True}, "--push_to_hub needs --hub_dataset_id"),
        ({"data_dir": "no/such/glue"}, "no cola folder in no/such/glue"),
        ({"cut_strategy": "hardest"}, "--cut_strategy must be one of random, entropy, got 'hardest'"),
        ({"proxy_batch_size": 0}, "--proxy_batch_size must be at least 1"),
    ],
)
def test_bad_arguments(tmp_path: Path, overrides: dict, message: str) -> None:
    with pytest.raises(RlptError, match=message):
        build_dataset(_args(tmp_path, **overrides))
    _assert_nothing_written(tmp_path)


def test_existing_output_dir_is_kept(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("mine")
    with pytest.raises(RlptError, match=r"output directory exists: .*out \(pass --overwrite_output_dir"):
        build_dataset(_args(tmp_path, dataset_path=str(cola_sample_path())))
    assert (tmp_path / "out" / "keep.txt").read_text() == "mine"


def test_script_and_cli_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = _write(tmp_path / "bad.csv", "text,scores\nA cat sat.,nan\n")
    result = subprocess.run(
        [sys.executable, str(ROOT / "recipes" / "create_data.py"), "--output_dir", str(tmp_path / "out")]
        + ["--dataset_path", bad],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 1
    assert result.stderr.strip() == f"create_data.py: error: {bad}: column 'scores': row 1: score 'nan' is not finite"
    xml = _write(tmp_path / "x.xml", "<a/>")
    assert cli_main(["data", "--output_dir", str(tmp_path / "out"), "--dataset_path", xml]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("rlpt-trl data: error: ") and "unknown file type '.xml'" in err and "\n" not in err
    _assert_nothing_written(tmp_path)


def _seed_pair(tmp_path: Path, embeddings: np.ndarray, rows: int = 3) -> Path:
    csv = tmp_path / SEED_CSV
    frame = pd.DataFrame({"text": [f"Sentence {i}." for i in range(rows)], "scores": [1.0, -1.0, 0.5][:rows]})
    frame.to_csv(csv, index=False)
    np.save(tmp_path / SEED_EMBEDDINGS, embeddings, allow_pickle=False)
    return csv


def _unit(rows: int, dim: int = 8) -> np.ndarray:
    vectors = np.random.default_rng(0).normal(size=(rows, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_seed_pair_loader(tmp_path: Path) -> None:
    dataset = load_seed_pair(_seed_pair(tmp_path, _unit(3)), expected_dim=8)
    assert dataset["scores"] == [1.0, -1.0, 0.5] and len(dataset["target_embedding"][0]) == 8


@pytest.mark.parametrize(
    ("embeddings", "kwargs", "message"),
    [
        (_unit(4), {}, r"text_embeddings.npy: 4 embedding rows for 3 rows in .*cola_with_scores.csv"),
        (_unit(3), {"expected_dim": 384}, r"embedding dimension 8, expected 384"),
        (_unit(3) * 2, {}, r"3 rows are not L2-normalised \(row 0 has norm 2.000000\)"),
        (_unit(3)[0], {}, r"expected a 2-D \(rows, dim\) array, found shape \(8,\)"),
        (np.full((3, 8), np.nan, dtype=np.float32), {}, r"NaN or infinite"),
    ],
)
def test_seed_pair_loader_errors(tmp_path: Path, embeddings: np.ndarray, kwargs: dict, message: str) -> None:
    csv = _seed_pair(tmp_path, embeddings)
    with pytest.raises(RlptError, match=message):
        load_seed_pair(csv, **kwargs)


def test_seed_pair_loader_file_errors(tmp_path: Path) -> None:
    csv = _seed_pair(tmp_path, _unit(3))
    np.save(tmp_path / SEED_EMBEDDINGS, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(RlptError, match=r"text_embeddings.npy: not a numeric .npy array"):
        load_seed_pair(csv)
    (tmp_path / SEED_EMBEDDINGS).unlink()
    with pytest.raises(RlptError, match=r"file not found: .*text_embeddings.npy"):
        load_seed_pair(csv)
    pd.DataFrame({"text": ["A."], "score": [1.0]}).to_csv(csv, index=False)
    with pytest.raises(RlptError, match=r"cola_with_scores.csv: missing column 'scores'"):
        load_seed_pair(csv)


def test_read_table_formats(tmp_path: Path) -> None:
    from rlpt_trl.data.tables import read_table

    rows = pd.DataFrame({"text": ['He said "hi" to NA.', "null"], "label": ["1", "0"]})
    # TSV: tabs only, no quote processing; "NA" and "null" stay text
    tsv = _write(tmp_path / "data.tsv", 'text\tlabel\nHe said "hi" to NA.\t1\nnull\t0\n')
    pd.testing.assert_frame_equal(read_table(tsv), rows)
    rows.to_csv(tmp_path / "data.csv", index=False)
    pd.testing.assert_frame_equal(read_table(tmp_path / "data.csv"), rows)
    rows.to_parquet(tmp_path / "data.parquet")
    pd.testing.assert_frame_equal(read_table(tmp_path / "data.parquet"), rows)
    rows.to_json(tmp_path / "data.jsonl", orient="records", lines=True)
    pd.testing.assert_frame_equal(read_table(tmp_path / "data.jsonl"), rows)
    cola = read_table(cola_sample_path())  # CoLA's raw layout: no header, 4 columns
    assert list(cola.columns) == ["sentence", "label"] and len(cola) == 64
    # a repeated header name is refused, not read as `text.1`
    for name, header in (("twice.csv", "text,label,text\n"), ("twice.tsv", "text\tlabel\ttext\n")):
        table = _write(tmp_path / name, header + "a\t1\tb\n".replace("\t", "," if name.endswith("csv") else "\t"))
        with pytest.raises(
            RlptError, match=re.escape(f"{table}: column(s) 'text' appear more than once in the header")
        ):
            read_table(table)


def test_folders_of_earlier_builds_still_load(tiny_cola_data: Path, tmp_path: Path) -> None:
    """A folder written with `save_to_disk` (earlier versions of the build) reads as the Parquet folder does."""
    built = load_dataset(str(tiny_cola_data), split="train")
    built.save_to_disk(str(tmp_path / "saved"))
    assert load_prompt_dataset(str(tmp_path / "saved")).to_dict() == built.to_dict()
    assert load_prompt_dataset(str(tiny_cola_data), max_samples=3).to_dict() == built.select(range(3)).to_dict()
    assert load_from_disk(str(tmp_path / "saved")).features == built.features
    DatasetDict({"validation": built}).save_to_disk(str(tmp_path / "splits"))
    with pytest.raises(RlptError, match="has no split 'train'"):
        load_prompt_dataset(str(tmp_path / "splits"))


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl", ".parquet"])
def test_a_table_without_rows_is_one_line(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"empty{suffix}"
    frame = pd.DataFrame({"text": pd.Series([], dtype=str), "label": pd.Series([], dtype=str)})
    if suffix == ".parquet":
        frame.to_parquet(path)
    elif suffix == ".jsonl":
        path.write_text("\n")
    else:
        path.write_text("text,label\n".replace(",", "\t" if suffix == ".tsv" else ","))
    with pytest.raises(RlptError, match=rf"{re.escape(str(path))}: (no rows \(columns: text, label\)|empty file)$"):
        build_dataset(_args(tmp_path, dataset_path=str(path)))
    _assert_nothing_written(tmp_path)


def test_builds_in_folders_of_the_same_name_read_back_as_built(
    tiny_model_dir: Path, tiny_embedding_model_dir: Path, tmp_path: Path
) -> None:
    """`load_dataset` caches local folders: each build must still read back its own rows."""
    for parent, rows in (("first", 20), ("second", 30)):
        build_dataset(
            DataBuildArguments(
                output_dir=str(tmp_path / parent / "data"),
                dataset_path=str(cola_sample_path()),
                tokenizer_name_or_path=str(tiny_model_dir),
                embedding_model_name_or_path=str(tiny_embedding_model_dir),
                max_samples=rows,
            )
        )
    for parent, rows in (("first", 20), ("second", 30)):
        assert len(load_dataset(str(tmp_path / parent / "data"), split="train")) == rows


def test_a_killed_builds_staging_folder_is_removed_by_the_next(
    tiny_model_dir: Path,
    tiny_embedding_model_dir: Path,
    cola_sample_glue_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """SIGKILL leaves the hidden staging folder; the next build of the same output removes it and says so, and keeps
    a live build's and another output's. A sentence over --max_text_tokens is dropped and counted, not an error."""
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    host = socket.gethostname()
    stale = tmp_path / f".out.{host}-{dead.pid}.0123456789ab.partial"
    live = tmp_path / f".out.{host}-{os.getpid()}.0123456789ab.partial"
    other = tmp_path / f".other.{host}-{dead.pid}.0123456789ab.partial"
    for folder in (stale, live, other):
        folder.mkdir()
        (folder / "data.parquet").write_bytes(b"half")
    long_text = _write(tmp_path / "long.txt", " ".join(["The cat sat on the mat."] * 2000) + "\n")
    stats = build_dataset(
        _args(
            tmp_path,
            data_dir=str(cola_sample_glue_dir),
            tokenizer_name_or_path=str(tiny_model_dir),
            embedding_model_name_or_path=str(tiny_embedding_model_dir),
            embedding_device="cpu",
            extra_text_files=[long_text],
        )
    )
    assert stats["dropped"]["too_long"] == 1 and stats["documents_in"] == 65
    assert f"removed {stale}: left by a build that was killed (pid {dead.pid})" in capsys.readouterr().err
    assert not stale.exists() and live.is_dir() and other.is_dir() and (tmp_path / "out" / "stats.json").is_file()
