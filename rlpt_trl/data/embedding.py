"""The rows' target embeddings: each row's `text` and `completion` encoded by a sentence-transformers model, L2
normalised, for `embedding_cosine_reward` (`target_embedding`, `completion_embedding`)."""

from __future__ import annotations

from .engine import DocumentsPipeline, PipelineStep


NO_EMBEDDINGS = "none"  # --embedding_model_name_or_path none: a build without embedding columns


class Embed(PipelineStep):
    """Add `target_embedding` and `completion_embedding` to each row's metadata; the model loads once per rank and
    encodes `batch_size` texts at a time."""

    name = "embed"
    type = "embedding"

    def __init__(self, model_name_or_path: str, device: str, batch_size: int):
        super().__init__()
        self.model_name_or_path, self.device, self.batch_size = model_name_or_path, device, batch_size

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        from ..models.embeddings import encode_normalized, load_embedding_model

        model = load_embedding_model(self.model_name_or_path, device=self.device)
        batch = []
        for doc in data:
            batch.append(doc)
            if len(batch) == self.batch_size * 16:
                yield from self._encode(model, batch, encode_normalized)
                batch = []
        if batch:
            yield from self._encode(model, batch, encode_normalized)

    def _encode(self, model, batch: list, encode) -> DocumentsPipeline:
        texts = encode(model, [doc.text for doc in batch], batch_size=self.batch_size)
        completions = encode(model, [doc.metadata["completion"] for doc in batch], batch_size=self.batch_size)
        for doc, text, completion in zip(batch, texts, completions, strict=True):
            doc.metadata["target_embedding"], doc.metadata["completion_embedding"] = text, completion
            yield doc
