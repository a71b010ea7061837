"""Text embedders run through sentence-transformers."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lucida.errors import LucidaError
from lucida.models.device import pick_device


class SentenceTransformerEmbedder:
    """A sentence-transformers model from a local folder, or from the Hugging Face cache.

    Never downloads: with no local copy it fails at once and says how to get one.
    """

    def __init__(self, name: str, source: str | Path, revision: str | None = None, batch_size: int = 16):
        self.name = name
        # Small batches: sentence-transformers pads each batch to its longest text, and short
        # captions padded to a long one cost ~10% of indexing speed (docs/benchmarks.md).
        self.batch_size = batch_size
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        # transformers draws a "Loading weights" bar on every load; it is noise in a CLI.
        transformers_logging.disable_progress_bar()

        is_folder = Path(source).is_dir()
        self.local_path = Path(source) if is_folder else None  # its files on disk, when known
        try:
            self._model = SentenceTransformer(
                str(source),
                device=pick_device(),
                revision=None if is_folder else revision,
                local_files_only=True,
            )
        except (OSError, ValueError) as error:
            hint = f"download it first: huggingface-cli download {source}" + (
                f" --revision {revision}" if revision else ""
            )
            if is_folder:
                hint = "the folder does not hold a sentence-transformers model"
            raise LucidaError(f"embedder {name} is not available locally ({source}); {hint}") from error

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts)

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts)

    def _encode(self, texts: list[str]) -> np.ndarray:
        vectors = self._model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), -1)
