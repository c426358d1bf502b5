"""Sentence embeddings through sentence-transformers: loading and L2-normalised encoding."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..utils.errors import RlptError
from ..utils.files import is_local_path
from ..utils.hub import loading
from .devices import resolve_device


if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer


DEFAULT_EMBEDDING_MODEL = "sentence-transformers/all-MiniLM-L6-v2"


def load_embedding_model(
    model_name_or_path: str = DEFAULT_EMBEDDING_MODEL, device: str | None = "auto"
) -> SentenceTransformer:
    """Load a sentence-transformers model (Hub id or local folder) in eval mode on `device` (`"auto"`: best available)."""
    from sentence_transformers import SentenceTransformer

    path = Path(model_name_or_path).expanduser()
    if is_local_path(model_name_or_path) and not path.exists():
        raise RlptError(f"embedding model path does not exist: {model_name_or_path}")
    check_not_causal_lm(path)
    with loading("sentence encoder", model_name_or_path):
        model = SentenceTransformer(model_name_or_path, device=str(resolve_device(device)))
    return model.eval()


def check_not_causal_lm(path: Path) -> None:
    """Reject a local causal LM folder as a sentence encoder, from its config alone: sentence-transformers wraps any
    transformers folder in mean pooling without a word, and a causal LM's hidden states would pass for embeddings."""
    config = path / "config.json"
    if (path / "modules.json").exists() or not config.is_file():
        return
    try:
        architectures = json.loads(config.read_text()).get("architectures") or []
    except (OSError, ValueError):
        return  # sentence-transformers says what is wrong with it
    causal = [name for name in architectures if name.endswith("ForCausalLM")]
    if causal:
        raise RlptError(
            f"embedding model {path} is a causal language model ({causal[0]}), not a sentence encoder; use a "
            f"sentence-transformers model such as {DEFAULT_EMBEDDING_MODEL}"
        )


def encode_normalized(
    model: SentenceTransformer, texts: list[str], batch_size: int = 64, show_progress_bar: bool = False
) -> np.ndarray:
    """Encode `texts` into an `(n, dim)` float32 array of unit-L2-norm rows."""
    embeddings = model.encode(
        list(texts),
        batch_size=batch_size,
        convert_to_numpy=True,
        normalize_embeddings=True,
        show_progress_bar=show_progress_bar,
    )
    return np.asarray(embeddings, dtype=np.float32).reshape(len(texts), -1)
