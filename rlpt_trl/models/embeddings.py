"""Sentence embeddings through sentence-transformers: loading and L2-normalised encoding."""

from __future__ import annotations

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
    with loading("sentence encoder", model_name_or_path):
        model = SentenceTransformer(model_name_or_path, device=str(resolve_device(device)))
    return model.eval()


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
