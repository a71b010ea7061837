"""Query -> ranked photos, by cosine similarity between the query's and the descriptions' vectors."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lucida.catalog import Catalog
from lucida.catalog.store import ACTIVE_DESCRIBER, ACTIVE_EMBEDDER, StoredEmbedding
from lucida.errors import LucidaError
from lucida.models.base import Embedder
from lucida.models.registry import DEFAULT_DESCRIBER, load_embedder


@dataclass(frozen=True)
class SearchResult:
    path: str
    score: float
    caption: str
    image_id: int
    describer: str


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k highest scores, highest first (ties by lower index)."""
    k = min(k, len(scores))
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    candidates = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
    return candidates[np.lexsort((candidates, -scores[candidates]))]


class Searcher:
    """Holds the models and the catalog's vectors in memory; reloads vectors when the catalog
    changes (e.g. while an index run commits beside it)."""

    def __init__(self, catalog: Catalog, embedder: Embedder | None = None):
        self.catalog = catalog
        embedder_name = catalog.get_setting(ACTIVE_EMBEDDER)
        if embedder is None:
            if embedder_name is None:
                raise LucidaError(f"catalog {catalog.path} has no photos yet; run `lucida index PATH` first")
            embedder = load_embedder(embedder_name)
        self.embedder = embedder
        self.describer_name = catalog.get_setting(ACTIVE_DESCRIBER) or DEFAULT_DESCRIBER
        self._vectors: StoredEmbedding | None = None
        self._version: int | None = None

    @property
    def size(self) -> int:
        return len(self._current().image_ids)

    def _current(self) -> StoredEmbedding:
        version = self.catalog.data_version()
        if self._vectors is None or version != self._version:
            self._vectors = self.catalog.search_vectors(self.embedder.name, self.describer_name)
            self._version = version
        return self._vectors

    def search(self, query: str, k: int = 20) -> list[SearchResult]:
        return self.search_many([query], k)[0]

    def search_many(self, queries: list[str], k: int = 20) -> list[list[SearchResult]]:
        if any(not q.strip() for q in queries):
            raise LucidaError("a query is empty; say what the photo shows, e.g. \"a horse in a field\"")
        if k < 1:
            raise LucidaError(f"-k must be at least 1, not {k}")
        stored = self._current()
        if len(stored.image_ids) == 0:
            return [[] for _ in queries]
        query_vectors = self.embedder.embed_queries(queries)
        if query_vectors.shape[1] != stored.vectors.shape[1]:
            raise LucidaError(
                f"embedder {self.embedder.name} makes {query_vectors.shape[1]}-dimensional vectors but the "
                f"catalog's are {stored.vectors.shape[1]}-dimensional; reindex with this embedder"
            )
        if len(queries) <= 2:
            # numpy's own loop, not BLAS (the same speed here: reading the vectors is the cost).
            # A BLAS call leaves OpenBLAS's threads spinning, and on a small machine they starve
            # the embedder's threads in the next query: p95 90 ms instead of 15 ms on 2 cores.
            all_scores = np.einsum("qd,nd->qn", query_vectors, stored.vectors)
        else:
            all_scores = query_vectors @ stored.vectors.T
        results = []
        for scores in all_scores:
            best = top_k(scores, k)
            ids = [int(stored.image_ids[i]) for i in best]
            rows = self.catalog.result_rows(ids, self.describer_name)
            results.append(
                [
                    SearchResult(rows[i].path, float(scores[j]), rows[i].caption, i, rows[i].describer)
                    for i, j in zip(ids, best)
                    if i in rows
                ]
            )
        return results
