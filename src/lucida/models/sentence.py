"""Text embedders run through sentence-transformers, each with its model's documented way of
marking queries and passages."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lucida.errors import LucidaError
from lucida.models.device import pick_device

# The task E5-instruct models are told about on every query (their card: "Instruct: {task}\nQuery: ").
PHOTO_SEARCH_TASK = "Given a description of a photo someone is looking for, retrieve captions of matching photos"


@dataclass(frozen=True)
class Convention:
    """Text put before queries and before stored descriptions ("passages") when embedding them."""

    query: str = ""
    passage: str = ""


NO_PREFIXES = Convention()
# By hub id, from each model card. GTE, MiniLM, MPNet and BGE-M3 take no prefixes (BGE-M3's card:
# "no need to add instruction to queries"); the English BGE v1.5 models take a query instruction.
CONVENTIONS: dict[str, Convention] = {
    "intfloat/multilingual-e5-large-instruct": Convention(query=f"Instruct: {PHOTO_SEARCH_TASK}\nQuery: "),
    "BAAI/bge-large-en-v1.5": Convention(query="Represent this sentence for searching relevant passages: "),
    "BAAI/bge-base-en-v1.5": Convention(query="Represent this sentence for searching relevant passages: "),
    "BAAI/bge-small-en-v1.5": Convention(query="Represent this sentence for searching relevant passages: "),
}
# The E5 (not instruct) models: "query: " and "passage: " on every input.
E5_CONVENTION = Convention(query="query: ", passage="passage: ")


def convention_for(source: str) -> Convention:
    """The prefixes a model wants, from its hub id (a local folder gets none)."""
    if source in CONVENTIONS:
        return CONVENTIONS[source]
    owner, _, name = source.partition("/")
    if owner == "intfloat" and "e5" in name and "instruct" not in name:
        return E5_CONVENTION
    return NO_PREFIXES


class SentenceTransformerEmbedder:
    """A sentence-transformers model from a local folder (the registry finds it: a package, the
    Hugging Face cache, or a folder the user named). Never downloads."""

    def __init__(
        self,
        name: str,
        folder: str | Path,
        convention_of: str = "",
        batch_size: int = 16,
    ):
        self.name = name
        self.local_path = Path(folder)  # its files on disk (`lucida eval` reports their size)
        self.convention = convention_for(convention_of)
        # Small batches: sentence-transformers pads each batch to its longest text, and short
        # captions padded to a long one cost ~10% of indexing speed (docs/benchmarks.md).
        self.batch_size = batch_size
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        # transformers draws a "Loading weights" bar on every load; it is noise in a CLI.
        transformers_logging.disable_progress_bar()
        try:
            self._model = SentenceTransformer(str(folder), device=pick_device(), local_files_only=True)
        except (OSError, ValueError) as error:
            raise LucidaError(f"embedder {name}: {folder} does not hold a sentence-transformers model") from error

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        return self._encode([self.convention.passage + t for t in texts])

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self._encode([self.convention.query + t for t in texts])

    def _encode(self, texts: list[str]) -> np.ndarray:
        vectors = self._model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), -1)
