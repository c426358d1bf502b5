"""The seed project's data pair: `cola_with_scores.csv` (`text`, `scores`, ...) and `text_embeddings.npy`.

Row i of the `.npy` array is the L2-normalised sentence embedding of row i of the CSV.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from datasets import Dataset

from ..utils.errors import RlptError
from .scores import check_scores
from .tables import check_texts, read_table


SEED_CSV = "cola_with_scores.csv"
SEED_EMBEDDINGS = "text_embeddings.npy"
SEED_COLUMNS = ("text", "scores")
# vectors, which the seed's CSV does not hold: the sentence's goes to the `.npy` file
EMBEDDING_COLUMNS = ("target_embedding", "completion_embedding")


def write_seed_pair(directory: str | Path, dataset: Dataset, embeddings: np.ndarray) -> tuple[Path, Path]:
    """Write `dataset` (less its embedding columns) as the CSV and `embeddings` as a float32 `.npy` into `directory`."""
    directory = Path(directory)
    others = [name for name in dataset.column_names if name not in (*SEED_COLUMNS, *EMBEDDING_COLUMNS)]
    columns = [*SEED_COLUMNS, *others]
    csv_path, npy_path = directory / SEED_CSV, directory / SEED_EMBEDDINGS
    dataset.select_columns(columns).to_pandas().to_csv(csv_path, index=False)
    np.save(npy_path, np.asarray(embeddings, dtype=np.float32), allow_pickle=False)
    return csv_path, npy_path


def check_unit_rows(embeddings: np.ndarray, where: str, tolerance: float = 1e-3) -> None:
    """Require a finite 2-D array whose rows have unit L2 norm (within `tolerance`)."""
    if embeddings.ndim != 2:
        raise RlptError(f"{where}: expected a 2-D (rows, dim) array, found shape {embeddings.shape}")
    if not np.isfinite(embeddings).all():
        raise RlptError(f"{where}: embeddings contain NaN or infinite values")
    norms = np.linalg.norm(embeddings.astype(np.float64), axis=1)
    off = np.flatnonzero(np.abs(norms - 1.0) > tolerance)
    if off.size:
        raise RlptError(f"{where}: {off.size} rows are not L2-normalised (row {off[0]} has norm {norms[off[0]]:.6f})")


def load_seed_pair(
    csv_path: str | Path, embeddings_path: str | Path | None = None, *, expected_dim: int | None = None
) -> Dataset:
    """Load the CSV and its `.npy` embeddings as one dataset with a `target_embedding` column, checked.

    Args:
        csv_path: `cola_with_scores.csv`; it must have `text` and `scores` columns.
        embeddings_path: Defaults to `text_embeddings.npy` next to the CSV.
        expected_dim: Embedding dimension the caller's model produces (e.g. 384 for all-MiniLM-L6-v2).
    """
    csv_path = Path(csv_path)
    npy_path = Path(embeddings_path) if embeddings_path is not None else csv_path.with_name(SEED_EMBEDDINGS)
    frame = read_table(csv_path)
    missing = [name for name in SEED_COLUMNS if name not in frame.columns]
    if missing:
        raise RlptError(f"{csv_path}: missing column {missing[0]!r} (columns: {', '.join(map(str, frame.columns))})")
    check_texts(frame["text"], f"{csv_path}: column 'text'")
    scores = check_scores(frame["scores"], f"{csv_path}: column 'scores'")
    if not npy_path.is_file():
        raise RlptError(f"file not found: {npy_path}")
    try:
        embeddings = np.load(npy_path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as err:
        raise RlptError(f"{npy_path}: not a numeric .npy array ({err})") from None
    if embeddings.ndim == 2 and embeddings.shape[0] != len(frame):
        raise RlptError(f"{npy_path}: {embeddings.shape[0]} embedding rows for {len(frame)} rows in {csv_path}")
    check_unit_rows(embeddings, str(npy_path))
    if expected_dim is not None and embeddings.shape[1] != expected_dim:
        raise RlptError(f"{npy_path}: embedding dimension {embeddings.shape[1]}, expected {expected_dim}")
    dataset = Dataset.from_pandas(frame.assign(scores=scores), preserve_index=False)
    return dataset.add_column("target_embedding", list(embeddings.astype(np.float32)))
