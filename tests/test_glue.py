from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from datasets import ClassLabel, Value

from rlpt_trl import RlptError, load_glue
from rlpt_trl.data import glue


# (task, split): rows, label counts by class index (STS-B: mean score), from each folder's PROVENANCE.md
GLUE_COUNTS = {
    ("cola", "train"): (8551, {1: 6023, 0: 2528}),
    ("cola", "validation"): (1043, {1: 721, 0: 322}),
    ("stsb", "train"): (5749, 2.701),
    ("stsb", "validation"): (1500, 2.364),
    ("mrpc", "train"): (3668, {1: 2474, 0: 1194}),
    ("mrpc", "validation"): (408, {1: 279, 0: 129}),
    ("rte", "train"): (2490, {0: 1249, 1: 1241}),
    ("rte", "validation"): (277, {0: 146, 1: 131}),
    ("wnli", "train"): (635, {1: 312, 0: 323}),
    ("wnli", "validation"): (71, {1: 31, 0: 40}),
}


@pytest.mark.slow
@pytest.mark.parametrize(("task", "split"), list(GLUE_COUNTS))
def test_real_glue_counts_and_balance(glue_dir: str | None, task: str, split: str) -> None:
    rows, balance = GLUE_COUNTS[(task, split)]
    dataset = load_glue(task, split, glue_dir)
    assert len(dataset) == rows
    assert dataset["idx"] == list(range(rows))
    if isinstance(balance, float):
        assert isinstance(dataset.features["label"], Value)
        assert sum(dataset["label"]) / rows == pytest.approx(balance, abs=1e-3)
    else:
        assert isinstance(dataset.features["label"], ClassLabel)
        assert dict(Counter(dataset["label"])) == balance
    text_columns = [c for c in dataset.column_names if c not in ("label", "idx")]
    assert text_columns == list(glue.GLUE_TASKS[task].text_columns)
    assert all(dataset[c][i].strip() for c in text_columns for i in range(rows))


@pytest.mark.slow
def test_real_glue_conventions(glue_dir: str | None) -> None:
    """Labels follow the Hub's ClassLabel names; quotes, the MRPC BOM and CoLA v1.0 dev are handled."""
    assert load_glue("rte", "validation", glue_dir).features["label"].names == ["entailment", "not_entailment"]
    assert load_glue("wnli", "validation", glue_dir).features["label"].names == ["not_entailment", "entailment"]
    mrpc = load_glue("mrpc", "validation", glue_dir)
    assert mrpc.features["label"].names == ["not_equivalent", "equivalent"]
    assert mrpc[0]["sentence2"].startswith('" The foodservice pie business')  # bare quote kept
    assert not any(s.startswith("\ufeff") for s in mrpc["sentence1"])
    cola = load_glue("cola", "validation", glue_dir)
    assert cola.features["label"].names == ["unacceptable", "acceptable"]
    # GLUE's dev is v1.0: rows 523 and 527 of in_domain_dev are acceptable there (relabelled 0 in v1.1)
    assert cola[522]["label"] == 1 and cola[526]["label"] == 1


def test_glue_layout_for_cola(tmp_path: Path) -> None:
    """GLUE's own `CoLA/train.tsv` + `dev.tsv` layout reads like the raw release."""
    folder = tmp_path / "CoLA"
    folder.mkdir()
    (folder / "train.tsv").write_text('gj04\t1\t\tShe said "hi" to me.\ngj04\t0\t*\tMe said hi she.\n')
    (folder / "dev.tsv").write_text("gj04\t1\t\tIt rained.")  # no final newline, as released
    train = load_glue("cola", "train", tmp_path)
    assert train["sentence"] == ['She said "hi" to me.', "Me said hi she."]
    assert train["label"] == [1, 0]
    assert load_glue("cola", "validation", tmp_path)["sentence"] == ["It rained."]


def test_raw_cola_validation_concatenates_dev_files(tmp_path: Path) -> None:
    folder = tmp_path / "cola"
    folder.mkdir()
    (folder / "in_domain_train.tsv").write_text("a\t1\t\tOne.\n")
    (folder / "in_domain_dev.tsv").write_text("a\t1\t\tIn domain.\n")
    (folder / "out_of_domain_dev.tsv").write_text("b\t0\t*\tOut domain.")
    validation = load_glue("cola", "validation", tmp_path)
    assert validation["sentence"] == ["In domain.", "Out domain."]
    assert validation["idx"] == [0, 1]


def test_wrong_column_count_names_file_and_line(tmp_path: Path) -> None:
    folder = tmp_path / "rte"
    folder.mkdir()
    (folder / "dev.tsv").write_text("index\tsentence1\tsentence2\tlabel\n0\ta\tb\tentailment\n1\ta b\tentailment\n")
    with pytest.raises(RlptError, match=r"rte/dev\.tsv:3: expected 4 tab-separated columns, found 3"):
        load_glue("rte", "validation", tmp_path)


def test_bad_label_names_file(tmp_path: Path) -> None:
    folder = tmp_path / "wnli"
    folder.mkdir()
    (folder / "train.tsv").write_text("index\tsentence1\tsentence2\tlabel\n0\ta\tb\tmaybe\n")
    with pytest.raises(RlptError, match=r"wnli/train\.tsv:2: invalid label 'maybe'"):
        load_glue("wnli", "train", tmp_path)


def test_missing_file_and_folder(tmp_path: Path) -> None:
    (tmp_path / "mrpc").mkdir()
    with pytest.raises(RlptError, match=r"GLUE file not found: .*mrpc/train\.tsv"):
        load_glue("mrpc", "train", tmp_path)
    with pytest.raises(RlptError, match=r"no stsb folder in .* \(looked for stsb/, STS-B/\)"):
        load_glue("stsb", "train", tmp_path)


def test_unknown_task_and_split(tmp_path: Path) -> None:
    with pytest.raises(RlptError, match="unknown GLUE task 'squad'"):
        load_glue("squad", "train", tmp_path)
    with pytest.raises(RlptError, match="unknown GLUE split 'dev'"):
        load_glue("cola", "dev", tmp_path)


def test_non_utf8_file(tmp_path: Path) -> None:
    folder = tmp_path / "sst2"
    folder.mkdir()
    (folder / "train.tsv").write_bytes(b"sentence\tlabel\ncaf\xe9\t1\n")
    with pytest.raises(RlptError, match=r"sst2/train\.tsv: not UTF-8"):
        load_glue("sst2", "train", tmp_path)


def test_hub_path_is_nyu_mll_glue(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    monkeypatch.setattr(glue, "load_dataset", lambda *args, **kwargs: calls.append((args, kwargs)) or "hub")
    assert load_glue("cola", "train") == "hub"
    assert calls == [(("nyu-mll/glue", "cola"), {"split": "train"})]


def test_hub_unreachable_is_one_line_error() -> None:
    # HF_HUB_OFFLINE is set by conftest: the Hub path fails without touching the network
    with pytest.raises(RlptError, match="cannot load nyu-mll/glue/wnli .* pass a local GLUE folder") as info:
        load_glue("wnli", "validation")
    assert "\n" not in str(info.value)
