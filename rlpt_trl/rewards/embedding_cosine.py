"""Meaning reward: cosine similarity to the original sentence's embedding, scaled by the row's human score."""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np
from sentence_transformers import SentenceTransformer
from trl.data_utils import is_conversational

from ..embeddings import DEFAULT_EMBEDDING_MODEL, encode_normalized, load_embedding_model
from ..errors import RlptError
from .loading import reward_device, unpartitioned


# What TRL passes besides the dataset columns.
TRAINER_KWARGS = ("trainer_state", "log_extra", "log_metric", "environments", "completion_ids")


def reader_text(prompt: Any, completion: Any) -> str:
    """The generated sentence as a reader sees it: prompt then completion; for conversational inputs, the
    contents of the prompt's and the completion's messages, concatenated in order."""
    if is_conversational({"prompt": prompt}):
        return "".join(message["content"] for message in [*prompt, *completion])
    return prompt + completion


class EmbeddingCosineReward:
    """TRL reward function: `cos(embed(prompt + completion), target) * score` for each completion.

    The target is the row's precomputed, L2-normalised embedding column when the dataset has one, else the
    embedding of its text column, computed once per distinct text and cached. Each row's score comes from the
    scores column. The reward needs no group statistics, so each process scores its own slice.
    """

    __name__ = "embedding_cosine_reward"

    def __init__(
        self,
        model_name_or_path: str = DEFAULT_EMBEDDING_MODEL,
        *,
        batch_size: int = 64,
        device: str | None = "auto",
        text_column: str = "text",
        scores_column: str = "scores",
        embedding_column: str = "target_embedding",
    ):
        if batch_size < 1:
            raise RlptError(f"embedding_cosine_reward batch_size must be >= 1, got {batch_size}")
        self.model_name_or_path = str(model_name_or_path)
        self.batch_size = batch_size
        self.device = device
        self.text_column = text_column
        self.scores_column = scores_column
        self.embedding_column = embedding_column
        self._model: SentenceTransformer | None = None
        self._targets: dict[str, np.ndarray] = {}

    def __getstate__(self) -> dict[str, Any]:
        # The encoder reloads lazily wherever the object is unpickled; the cache is cheap to rebuild.
        return {**self.__dict__, "_model": None, "_targets": {}}

    def _load(self) -> SentenceTransformer:
        if self._model is None:
            with unpartitioned():
                self._model = load_embedding_model(self.model_name_or_path, device=str(reward_device(self.device)))
        return self._model

    def _column(self, kwargs: dict[str, Any], name: str, size: int) -> list[Any]:
        if name not in kwargs:
            columns = ", ".join(sorted(key for key in kwargs if key not in TRAINER_KWARGS))
            raise RlptError(f"embedding_cosine_reward needs dataset column {name!r} (columns: {columns or 'none'})")
        values = list(kwargs[name])
        if len(values) != size:
            raise RlptError(f"column {name!r} has {len(values)} values for {size} completions")
        return values

    def _target_embeddings(self, kwargs: dict[str, Any], size: int, dim: int) -> np.ndarray:
        if self.embedding_column in kwargs:
            rows = self._column(kwargs, self.embedding_column, size)
            try:
                targets = np.asarray(rows, dtype=np.float32)
            except (TypeError, ValueError):
                raise RlptError(f"column {self.embedding_column!r} does not hold equal-length vectors") from None
            if targets.ndim != 2 or targets.shape[1] != dim:
                raise RlptError(
                    f"column {self.embedding_column!r} holds {targets.shape[-1]}-dimensional vectors but "
                    f"{self.model_name_or_path} embeds into {dim} dimensions"
                )
            norms = np.linalg.norm(targets, axis=1)
            if not (np.isfinite(norms).all() and (norms > 0).all()):
                raise RlptError(f"column {self.embedding_column!r} holds a zero or non-finite vector")
            # Renormalised so that slightly off-unit stored vectors still give a true cosine.
            return targets / norms[:, None]
        texts = [str(text) for text in self._column(kwargs, self.text_column, size)]
        missing = sorted({text for text in texts if text not in self._targets})
        if missing:
            self._targets.update(zip(missing, encode_normalized(self._load(), missing, self.batch_size), strict=True))
        return np.stack([self._targets[text] for text in texts])

    def __call__(self, prompts: list[Any], completions: list[Any], **kwargs: Any) -> list[float]:
        scores = self._column(kwargs, self.scores_column, len(prompts))
        for row, score in enumerate(scores):
            if not isinstance(score, numbers.Real) or not math.isfinite(score):
                raise RlptError(f"column {self.scores_column!r} holds a non-finite value {score!r} (row {row})")
        texts = [reader_text(prompt, completion) for prompt, completion in zip(prompts, completions, strict=True)]
        generated = encode_normalized(self._load(), texts, self.batch_size)
        targets = self._target_embeddings(kwargs, len(prompts), generated.shape[1])
        cosines = np.clip(np.sum(generated * targets, axis=1, dtype=np.float64), -1.0, 1.0)
        return (cosines * np.asarray(scores, dtype=np.float64)).tolist()


def get_embedding_cosine_reward(
    model_name_or_path: str = DEFAULT_EMBEDDING_MODEL,
    *,
    batch_size: int = 64,
    device: str | None = "auto",
    text_column: str = "text",
    scores_column: str = "scores",
    embedding_column: str = "target_embedding",
) -> EmbeddingCosineReward:
    """The score-weighted embedding-cosine reward for `reward_funcs=` of a TRL trainer.

    Args:
        model_name_or_path: sentence-transformers model (Hub id or local folder). Loaded on first call.
        batch_size: Sentences per encoding batch.
        device: `"auto"` (this process's accelerate device) or an explicit device.
        text_column: Column with the original sentence (used when the embedding column is absent).
        scores_column: Column with the finite score each cosine is multiplied by.
        embedding_column: Column with the original sentence's precomputed L2-normalised embedding.
    """
    return EmbeddingCosineReward(
        model_name_or_path,
        batch_size=batch_size,
        device=device,
        text_column=text_column,
        scores_column=scores_column,
        embedding_column=embedding_column,
    )
