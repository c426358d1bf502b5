"""The tiny sentence-transformer of the fast tests, loaded the ways rlpt_trl loads embedding models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rlpt_trl import RlptError, get_embedding_cosine_reward
from rlpt_trl.models.embeddings import encode_normalized, load_embedding_model
from rlpt_trl.testing.tiny_models import TINY_EMBEDDING_DIM, build_tiny_sentence_transformer


TEXTS = ["The cat sat on the mat.", "John runs home.", "", "Ünïcödé ☃ " * 100]  # empty and truncated texts too


def test_tiny_sentence_transformer_gives_unit_norm_embeddings(tiny_embedding_model_dir: Path, tmp_path: Path):
    model = load_embedding_model(str(tiny_embedding_model_dir), device="cpu")
    embeddings = encode_normalized(model, TEXTS)
    assert embeddings.shape == (len(TEXTS), TINY_EMBEDDING_DIM) and embeddings.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1.0, atol=1e-6)
    # The model itself does not normalise, so the unit norms above are encode_normalized's work.
    raw = model.encode(TEXTS)
    assert not np.allclose(np.linalg.norm(raw, axis=1), 1.0, atol=1e-2)
    np.testing.assert_allclose(embeddings, raw / np.linalg.norm(raw, axis=1, keepdims=True), atol=1e-6)
    assert len(np.unique(embeddings, axis=0)) == len(TEXTS)  # each text has its own embedding

    # Seeded: a second build writes the same weights.
    rebuilt = load_embedding_model(str(build_tiny_sentence_transformer(tmp_path / "rebuilt")), device="cpu")
    np.testing.assert_array_equal(encode_normalized(rebuilt, TEXTS), embeddings)


def test_tiny_sentence_transformer_drives_the_reward(tiny_embedding_model_dir: Path):
    reward = get_embedding_cosine_reward(model_name_or_path=str(tiny_embedding_model_dir), device="cpu")
    columns = {"text": [TEXTS[0]] * 2, "scores": [1.0, 0.5]}
    rewards = reward(prompts=["The cat", "John"], completions=[" sat on the mat.", " runs home."], **columns)
    unit = encode_normalized(load_embedding_model(str(tiny_embedding_model_dir), device="cpu"), TEXTS[:2])
    np.testing.assert_allclose(rewards, [1.0, 0.5 * float(unit[0] @ unit[1])], atol=1e-5)


def test_missing_embedding_model_path(tmp_path: Path):
    with pytest.raises(RlptError, match="embedding model path does not exist"):
        load_embedding_model(str(tmp_path / "missing"), device="cpu")


def test_a_causal_lm_is_not_an_embedding_model(tiny_model_dir: Path):
    """sentence-transformers would mean-pool its hidden states without a word."""
    with pytest.raises(RlptError, match=r"is a causal language model \(LlamaForCausalLM\), not a sentence encoder"):
        load_embedding_model(str(tiny_model_dir), device="cpu")
