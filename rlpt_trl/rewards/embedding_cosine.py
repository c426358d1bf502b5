"""Meaning reward: cosine similarity to the original sentence's embedding, scaled by the row's human score.

The seed's reward, `cos(embed(prompt + completion), embed(text)) * score`, is paid for the prompt's own meaning:
measured on CoLA dev with all-MiniLM-L6-v2, the prompt alone is closer to the sentence than a small model's
continuations, so stopping wins it (README, "Rewards"). Two variants remove that pull:

- `baseline="prompt"` subtracts the prompt's own cosine, paying only the meaning a completion adds;
- `compare="completion"` compares the completion with the true completion alone.

The prompt's cosine is the same for every completion of a prompt, so under GRPO's or RLOO's group baselines it cancels:
`baseline="prompt"` changes the logged reward, not those trainers' updates.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..models.embeddings import DEFAULT_EMBEDDING_MODEL, check_not_causal_lm, encode_normalized
from ..models.shared import shared_encoder
from ..utils.errors import RlptError
from ..utils.files import is_local_path
from .inputs import dataset_column, is_blank, message_text, reader_text, true_completions
from .options import BATCH_SIZE_HELP, DEVICE_HELP, TEXT_COLUMN_HELP, private_state, reward_option


BASELINES = (None, "prompt")
COMPARES = ("sentence", "completion")


def unit_cosines(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Row-wise cosines of unit vectors, in float64 and clipped to [-1, 1]."""
    return np.clip(np.sum(left * right, axis=1, dtype=np.float64), -1.0, 1.0)


@dataclass(eq=False)
class EmbeddingCosineReward:
    """TRL reward function: the cosine between the embedding of a generated text and a target, times the row's score.

    - `compare="sentence"` (default): `cos(embed(prompt + completion), embed(text))`. The target is the row's
      precomputed, L2-normalised `embedding_column` when the dataset has one, else the embedding of its text column.
      With `baseline="prompt"`, `cos(embed(prompt), embed(text))` is subtracted: the meaning the completion adds.
    - `compare="completion"`: `cos(embed(completion), embed(true completion))`, the true completion being the row's
      text with its prompt removed, or its precomputed `completion_embedding_column` when the dataset has one.

    A blank completion (no visible character) gets exactly 0 from both variants. With `scale_by_score=False` the
    scores column is neither read nor applied. Embeddings of dataset texts (targets, prompts, true completions) are
    computed once per distinct text and cached. No group statistics: each process scores its own slice.
    """

    model_name_or_path: str = reward_option(
        DEFAULT_EMBEDDING_MODEL,
        help="sentence-transformers model of the embedding reward (Hub id or local folder); loaded on first call.",
        setting="embedding_model_name_or_path",
        kw_only=False,
    )
    batch_size: int = reward_option(64, help=BATCH_SIZE_HELP, setting="reward_batch_size")
    device: str | None = reward_option("auto", help=DEVICE_HELP, flag=False)
    text_column: str = reward_option("text", help=TEXT_COLUMN_HELP)
    scores_column: str = reward_option(
        "scores", help="Column with the finite score the embedding reward multiplies its cosine by."
    )
    embedding_column: str = reward_option(
        "target_embedding", help="Column with the original sentence's precomputed L2-normalised embedding."
    )
    baseline: str | None = reward_option(
        None,
        help="'prompt': the embedding reward pays only the meaning a completion adds to its prompt "
        "(cos(prompt + completion) - cos(prompt)); unset: no baseline.",
        setting="embedding_baseline",
    )
    compare: str = reward_option(
        "sentence",
        help="Embedding reward target: 'sentence' (prompt + completion against the sentence) or 'completion' "
        "(the completion against the true completion).",
        setting="embedding_compare",
    )
    scale_by_score: bool = reward_option(True, help="Multiply the embedding reward by the scores column.")
    completion_embedding_column: str = reward_option(
        "completion_embedding",
        help="Column with the true completion's L2-normalised embedding (compare='completion'), used when present.",
    )
    _embeddings: dict[str, np.ndarray] = private_state(dict)
    _shared_embed: Callable[[list[str]], np.ndarray] | None = private_state()

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise RlptError(f"embedding_cosine_reward batch_size must be >= 1, got {self.batch_size}")
        if self.baseline not in BASELINES:
            raise RlptError(f"embedding_cosine_reward baseline must be None or 'prompt', got {self.baseline!r}")
        if self.compare not in COMPARES:
            raise RlptError(
                f"embedding_cosine_reward compare must be one of {', '.join(COMPARES)}, got {self.compare!r}"
            )
        if self.baseline is not None and self.compare != "sentence":
            raise RlptError("embedding_cosine_reward baseline='prompt' applies to compare='sentence' only")
        self.model_name_or_path = str(self.model_name_or_path)
        # a causal LM given as the encoder is named now, not at the first training step
        if is_local_path(self.model_name_or_path):
            check_not_causal_lm(Path(self.model_name_or_path).expanduser())
        # TRL logs each reward under its `__name__`: the variants get their own, so they can be trained side by side
        variant = ["prompt_baseline"] * (self.baseline == "prompt") + ["completion"] * (self.compare == "completion")
        self.__name__ = "_".join(["embedding_cosine_reward", *variant, *["unscaled"] * (not self.scale_by_score)])

    def __getstate__(self) -> dict[str, Any]:
        # the caches of embeddings are cheap to rebuild wherever the object is unpickled
        return {**self.__dict__, "_embeddings": {}, "_shared_embed": None}

    def encode_with(self, embed: Callable[[list[str]], np.ndarray]) -> None:
        """Take every embedding (dataset and generated texts) from `embed`: a caller's cache of the same encoder's
        L2-normalised embeddings, so that a text it has encoded already is not encoded again (the next-segment
        evaluation's)."""
        self._shared_embed = embed

    def embedding_columns(self) -> list[str]:
        """The precomputed embedding column this reward compares with: a data build must carry it (one built with
        `--embedding_model_name_or_path none` is refused); any other dataset may give the text instead."""
        return [self.embedding_column if self.compare == "sentence" else self.completion_embedding_column]

    def required_columns(self, column_names: Collection[str]) -> list[str]:
        """The dataset columns this reward reads from a dataset with `column_names` (a precomputed embedding column
        stands in for the text it embeds)."""
        (target,) = self.embedding_columns()
        return [*[self.scores_column] * self.scale_by_score, target if target in column_names else self.text_column]

    def _encode(self, texts: list[str]) -> np.ndarray:
        if self._shared_embed is not None:
            return self._shared_embed(texts)
        return encode_normalized(shared_encoder(self.model_name_or_path, self.device), texts, self.batch_size)

    def _cached(self, texts: list[str]) -> np.ndarray:
        """Embeddings of dataset texts, each encoded once per process."""
        if self._shared_embed is not None:
            return self._shared_embed(texts)
        missing = list(dict.fromkeys(text for text in texts if text not in self._embeddings))
        if missing:
            self._embeddings.update(zip(missing, self._encode(missing), strict=True))
        return np.stack([self._embeddings[text] for text in texts])

    def _stored(self, kwargs: dict[str, Any], column: str, size: int, dim: int) -> np.ndarray:
        """The unit vectors of a precomputed embedding column."""
        rows = dataset_column(kwargs, column, size, self.__name__)
        try:
            vectors = np.asarray(rows, dtype=np.float32)
        except (TypeError, ValueError):
            raise RlptError(f"column {column!r} does not hold equal-length vectors") from None
        if vectors.ndim != 2 or vectors.shape[1] != dim:
            raise RlptError(
                f"column {column!r} holds {vectors.shape[-1]}-dimensional vectors but "
                f"{self.model_name_or_path} embeds into {dim} dimensions"
            )
        norms = np.linalg.norm(vectors, axis=1)
        if not (np.isfinite(norms).all() and (norms > 0).all()):
            raise RlptError(f"column {column!r} holds a zero or non-finite vector")
        # Renormalised so that slightly off-unit stored vectors still give a true cosine.
        return vectors / norms[:, None]

    def _targets(self, kwargs: dict[str, Any], prompts: list[Any], dim: int) -> np.ndarray:
        """The unit vector each row is compared with: the sentence's or the true completion's."""
        (column,) = self.embedding_columns()
        if column in kwargs:
            return self._stored(kwargs, column, len(prompts), dim)
        texts = [str(text) for text in dataset_column(kwargs, self.text_column, len(prompts), self.__name__)]
        if self.compare == "completion":
            texts = true_completions(prompts, texts, self.text_column, self.__name__)
        return self._cached(texts)

    def _scores(self, kwargs: dict[str, Any], size: int) -> np.ndarray:
        if not self.scale_by_score:
            return np.ones(size)
        scores = dataset_column(kwargs, self.scores_column, size, self.__name__)
        for row, score in enumerate(scores):
            if not isinstance(score, numbers.Real) or not math.isfinite(score):
                raise RlptError(f"column {self.scores_column!r} holds a non-finite value {score!r} (row {row})")
        return np.asarray(scores, dtype=np.float64)

    def __call__(self, prompts: list[Any], completions: list[Any], **kwargs: Any) -> list[float]:
        scores = self._scores(kwargs, len(prompts))
        if self.compare == "sentence":
            texts = [reader_text(prompt, completion) for prompt, completion in zip(prompts, completions, strict=True)]
        else:
            texts = [message_text(completion) for completion in completions]
        # The seed's reward pays a blank completion for its prompt's meaning; the variants pay it exactly 0, so it is
        # not encoded (whatever the encoder makes of an empty text).
        zero = np.zeros(len(prompts), dtype=bool)
        if self.baseline is not None or self.compare == "completion":
            zero = np.array([is_blank(message_text(completion)) for completion in completions], dtype=bool)
        cosines = np.zeros(len(prompts))
        if zero.all():
            return cosines.tolist()
        embedded = self._encode([text for text, skip in zip(texts, zero, strict=True) if not skip])
        targets = self._targets(kwargs, prompts, embedded.shape[1])[~zero]
        cosines[~zero] = unit_cosines(embedded, targets)
        if self.baseline == "prompt":
            kept = [message_text(prompt) for prompt, skip in zip(prompts, zero, strict=True) if not skip]
            cosines[~zero] -= unit_cosines(self._cached(kept), targets)
        return (cosines * scores).tolist()


# The Python factory is the class: its fields are the settings.
get_embedding_cosine_reward = EmbeddingCosineReward
# The ready reward (the seed's, with all-MiniLM-L6-v2 loaded on first call), at a dotted path for TRL's own script.
embedding_cosine_reward = EmbeddingCosineReward()
