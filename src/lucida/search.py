"""Query -> ranked photos, by cosine similarity between the query's and the descriptions' vectors."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Collection
from dataclasses import dataclass

import numpy as np

from lucida.catalog import Catalog
from lucida.catalog.store import ACTIVE_DESCRIBER, ACTIVE_EMBEDDER, StoredEmbedding
from lucida.errors import LucidaError
from lucida.models.base import Embedder
from lucida.models.registry import DEFAULT_DESCRIBER, load_embedder
from lucida.pairs import PhotoGroups, export_pattern, first_per_photo, group_photos

QUERY_CACHE_SIZE = 1024  # query vectors kept (1.5 KB each at 384 dimensions)


class RecentQueryVectors:
    """The vectors of the most recent queries. Paging through results (infinite scroll) and
    repeated searches ask for the same words again, and embedding them is most of a search's cost."""

    def __init__(self, size: int = QUERY_CACHE_SIZE):
        self.size = size
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()

    def get(self, query: str) -> np.ndarray | None:
        vector = self._vectors.get(query)
        if vector is not None:
            self._vectors.move_to_end(query)
        return vector

    def put(self, query: str, vector: np.ndarray) -> None:
        self._vectors[query] = vector
        self._vectors.move_to_end(query)
        while len(self._vectors) > self.size:
            self._vectors.popitem(last=False)


def check_query(query: str) -> None:
    if not query.strip():
        raise LucidaError("a query is empty; say what the photo shows, e.g. \"a horse in a field\"")


@dataclass(frozen=True)
class SearchResult:
    path: str
    score: float
    caption: str
    image_id: int
    describer: str
    width: int | None  # as displayed
    height: int | None
    taken_at: str | None  # ISO 8601
    files: tuple[str, ...] = ()  # every file of this photo: a RAW+JPEG pair has two, RAW first


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k highest scores, highest first (ties by lower index)."""
    k = min(k, len(scores))
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    candidates = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
    return candidates[np.lexsort((candidates, -scores[candidates]))]


class Searcher:
    """Holds the models and the catalog's vectors in memory; reloads vectors when the catalog
    changes (e.g. while an index run commits beside it).

    A RAW+JPEG pair is one hit: the better-scoring of the two, with both files. With an export
    pattern ("{stem}_DxO"), exported JPEGs join their RAW's photo too (see lucida.pairs)."""

    def __init__(self, catalog: Catalog, embedder: Embedder | None = None, exports: str | None = None):
        self.catalog = catalog
        embedder_name = catalog.get_setting(ACTIVE_EMBEDDER)
        if embedder is None:
            if embedder_name is None:
                raise LucidaError(f"catalog {catalog.path} has no photos yet; run `lucida index PATH` first")
            embedder = load_embedder(embedder_name)
        self.embedder = embedder
        self.describer_name = catalog.get_setting(ACTIVE_DESCRIBER) or DEFAULT_DESCRIBER
        self._exports = export_pattern(exports)
        self._vectors: StoredEmbedding | None = None
        self._groups = PhotoGroups({}, {})
        self._group_rows = np.zeros(0, dtype=np.int64)  # per stored row: its photo group, or -1
        self._second_files = 0  # stored rows that are not their photo's first (a pair's other file)
        self._version: int | None = None
        self.recent_queries = RecentQueryVectors()

    @property
    def size(self) -> int:
        return len(self._current().image_ids)

    def _current(self) -> StoredEmbedding:
        version = self.catalog.data_version()
        if self._vectors is None or version != self._version:
            self._vectors = self.catalog.search_vectors(self.embedder.name, self.describer_name)
            self._groups = group_photos(self.catalog.image_files(), self._exports)
            group_of = self._groups.group_of
            self._group_rows = np.fromiter(
                (group_of.get(int(i), -1) for i in self._vectors.image_ids), dtype=np.int64, count=len(self._vectors.image_ids)
            )
            self._second_files = _second_files(self._group_rows)
            self._version = version
        return self._vectors

    def search(self, query: str, k: int = 20, offset: int = 0, only: Collection[int] | None = None) -> list[SearchResult]:
        return self.search_many([query], k, offset, only)[0]

    def search_many(
        self, queries: list[str], k: int = 20, offset: int = 0, only: Collection[int] | None = None
    ) -> list[list[SearchResult]]:
        """The best k photos for each query, after skipping the `offset` best (for paging).
        With `only`, just among those image ids (e.g. the ones a metadata filter lets through)."""
        for query in queries:
            check_query(query)
        _check_window(k, offset)
        stored = self._current()
        if len(stored.image_ids) == 0:
            return [[] for _ in queries]
        query_vectors = self._embed(queries, stored)
        return [self._ranked(scores, stored, k, offset, only=only) for scores in self._scores(query_vectors, stored)]

    def search_vector(
        self, vector: np.ndarray, k: int = 20, offset: int = 0, only: Collection[int] | None = None
    ) -> list[SearchResult]:
        """The photos nearest an embedding made elsewhere (e.g. of an uploaded photo's description)."""
        _check_window(k, offset)
        stored = self._current()
        if len(stored.image_ids) == 0:
            return []
        query = np.asarray(vector, dtype=np.float32).reshape(1, -1)
        self._check_dimensions(query, stored)
        return self._ranked(self._scores(query, stored)[0], stored, k, offset, only=only)

    def candidates(self, only: Collection[int] | None = None) -> int:
        """How many photos a search ranks: all with a vector, or those of them in `only`."""
        stored = self._current()
        # One per photo: a pair's second image is never ranked.
        if only is None:
            return len(stored.image_ids) - self._second_files
        shown = _allowed(stored, only)
        return int(shown.sum()) - _second_files(self._group_rows[shown])

    def similar(self, image_id: int, k: int = 20, offset: int = 0) -> list[SearchResult] | None:
        """"More like this": the photos nearest this one's stored vector, itself excluded.
        None when the image has no vector in the catalog."""
        _check_window(k, offset)
        stored = self._current()
        row = _row_of(stored, image_id)
        if row is None:
            return None
        scores = self._scores(stored.vectors[row : row + 1], stored)[0]
        scores[row] = -np.inf  # itself is always its own nearest neighbour
        if self._group_rows[row] >= 0:  # and so is the other file of its pair
            scores[self._group_rows == self._group_rows[row]] = -np.inf
        return self._ranked(scores, stored, k, offset)

    def score_vector(self, vector: np.ndarray, image_id: int) -> float | None:
        """How well one photo matches a query vector: the score a search would give it.
        None when the photo has no vector."""
        stored = self._current()
        row = _row_of(stored, image_id)
        if row is None:
            return None
        query = np.asarray(vector, dtype=np.float32).reshape(1, -1)
        self._check_dimensions(query, stored)
        return float(query[0] @ stored.vectors[row])

    def _embed(self, queries: list[str], stored: StoredEmbedding) -> np.ndarray:
        known = {q: self.recent_queries.get(q) for q in dict.fromkeys(queries)}
        missing = [q for q, vector in known.items() if vector is None]
        if missing:
            for query, vector in zip(missing, self.embedder.embed_queries(missing)):
                known[query] = vector
                self.recent_queries.put(query, vector)
        vectors = np.stack([known[q] for q in queries])
        self._check_dimensions(vectors, stored)
        return vectors

    def _check_dimensions(self, query_vectors: np.ndarray, stored: StoredEmbedding) -> None:
        if len(stored.image_ids) and query_vectors.shape[1] != stored.vectors.shape[1]:
            raise LucidaError(
                f"embedder {self.embedder.name} makes {query_vectors.shape[1]}-dimensional vectors but the "
                f"catalog's are {stored.vectors.shape[1]}-dimensional; reindex with this embedder"
            )

    @staticmethod
    def _scores(query_vectors: np.ndarray, stored: StoredEmbedding) -> np.ndarray:
        if len(query_vectors) <= 2:
            # numpy's own loop, not BLAS (the same speed here: reading the vectors is the cost).
            # A BLAS call leaves OpenBLAS's threads spinning, and on a small machine they starve
            # the embedder's threads in the next query: p95 90 ms instead of 15 ms on 2 cores.
            return np.einsum("qd,nd->qn", query_vectors, stored.vectors)
        return query_vectors @ stored.vectors.T

    def _ranked(
        self,
        scores: np.ndarray,
        stored: StoredEmbedding,
        k: int,
        offset: int,
        count: int | None = None,
        only: Collection[int] | None = None,
    ) -> list[SearchResult]:
        """Results ranked offset+1 .. offset+k among the first `count` scores' order (all by
        default), counting only the images in `only` when it is given."""
        if only is not None:
            scores = np.where(_allowed(stored, only), scores, -np.inf)
        # -inf marks what may not be shown: filtered out, or the photo itself in `similar`.
        shown = int(np.isfinite(scores).sum())
        count = shown if count is None else min(count, shown)
        # A pair's files rank next to each other, so the best 2x rows hold the best photos;
        # look further only when bigger groups (copies beside several pairs) leave too few.
        wanted = offset + k
        look = min(count, 2 * wanted)
        while True:
            best = first_per_photo(top_k(scores, look), self._group_rows)
            if len(best) >= wanted or look >= count:
                break
            look = min(count, 2 * look)
        best = best[offset:wanted]
        ids = [int(stored.image_ids[i]) for i in best]
        rows = self.catalog.result_rows(ids, self.describer_name)
        return [
            SearchResult(
                rows[i].path, float(scores[j]), rows[i].caption, i, rows[i].describer,
                rows[i].width, rows[i].height, rows[i].taken_at, self._files_of(i, rows[i].path),
            )
            for i, j in zip(ids, best)
            if i in rows
        ]

    def _files_of(self, image_id: int, path: str) -> tuple[str, ...]:
        group = self._groups.group_of.get(image_id)
        return self._groups.files[group] if group is not None else (path,)


def _check_window(k: int, offset: int) -> None:
    if k < 1:
        raise LucidaError(f"-k must be at least 1, not {k}")
    if offset < 0:
        raise LucidaError(f"offset must be 0 or more, not {offset}")


def _second_files(group_rows: np.ndarray) -> int:
    """How many of these rows are not the first of their photo group."""
    grouped = group_rows[group_rows >= 0]
    return len(grouped) - len(np.unique(grouped))


def _allowed(stored: StoredEmbedding, only: Collection[int]) -> np.ndarray:
    """A boolean mask over the stored rows: True where the image id is in `only`."""
    return np.isin(stored.image_ids, np.fromiter(only, dtype=np.int64, count=len(only)))


def _row_of(stored: StoredEmbedding, image_id: int) -> int | None:
    rows = np.flatnonzero(stored.image_ids == image_id)
    return int(rows[0]) if len(rows) else None
