"""Query -> ranked photos: cosine similarity between the query's and the photos' vectors, fused
with BM25 over the descriptions' words (hybrid ranking, lucida.ranking).

A photo's vector is its description's embedding, mixed with the convex combination of its class
embeddings (ConSE, lucida.concepts) where it has one.
"""

from __future__ import annotations

import unicodedata
from collections import OrderedDict
from collections.abc import Collection
from dataclasses import dataclass, field

import numpy as np

from lucida.catalog import CatalogStore
from lucida.catalog.store import StoredEmbedding
from lucida.concepts import class_scores, class_vectors, query_class_weights
from lucida.errors import LucidaError
from lucida.models.base import Embedder
from lucida.query import parse_query
from lucida.pairs import PhotoGroups, export_pattern, group_photos, one_per_photo
from lucida.ranking import matched_fields, query_words, reciprocal_rank_fusion
from lucida.relevance import EXCLUDED_FROM, Calibration, calibration_for, evidence

QUERY_CACHE_SIZE = 1024  # query vectors kept (1.5 KB each at 384 dimensions)
RANKINGS = ("hybrid", "vector")
# Weight of a photo's ConSE vector against its description's in the vector it is searched by.
CONSE_WEIGHT = 0.5
# Weight, in rank fusion, of the ranking by the ImageNet classes a query names (0: left out).
CLASS_WEIGHT = 1.0
# How deep each ranking goes before fusion: deeper than any page asked for, so a photo that is
# high in one ranking and far down the other still gets both contributions.
FUSION_DEPTH = 1000


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
    """A LucidaError for a query with nothing to search for: empty, blanks, or only control,
    format and undecodable characters (a URL's `%00` or `%FF%FE`), which would otherwise rank
    every photo in an arbitrary order."""
    if not any(_searchable(c) for c in query):
        raise LucidaError("a query is empty; say what the photo shows, e.g. \"a horse in a field\"")


def _searchable(char: str) -> bool:
    # C*: control, format, surrogate, private-use and unassigned; Z*: separators. U+FFFD stands
    # for bytes that were not valid UTF-8.
    return char != "\ufffd" and unicodedata.category(char)[0] not in "CZ" and not char.isspace()


@dataclass(frozen=True)
class SearchResult:
    path: str
    # A query's result: its calibrated relevance, 0..1 (lucida.relevance). "More like this" and a
    # search by vector: the cosine similarity.
    score: float
    caption: str
    image_id: int
    describer: str
    width: int | None  # as displayed
    height: int | None
    taken_at: str | None  # ISO 8601
    files: tuple[str, ...] = ()  # every file of this photo: a RAW+JPEG pair has two, RAW first
    # Why it matched: vector similarity, the ranks it had, the words of the query found in which
    # field of its description, the classifier's likeliest classes.
    why: dict = field(default_factory=dict, compare=False)
    # Whether a query's result is an answer (relevance at or above the cutoff); None when nothing
    # was calibrated (a search by vector, "more like this").
    answer: bool | None = None


@dataclass(frozen=True)
class RankedPage:
    """One page of a query's ranking, and how many photos it ranked as answers and in all."""

    results: list[SearchResult]
    answers: int  # photos at or above the relevance cutoff (among those the search could show)
    ranked: int  # photos the search ranked, answers or not


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

    def __init__(
        self,
        catalog: CatalogStore,
        embedder: Embedder,
        exports: str | None = None,
        ranking: str = "hybrid",
        conse: float = CONSE_WEIGHT,
        classes: float = CLASS_WEIGHT,
    ):
        """`ranking`: "hybrid" (vectors, words and classes, fused) or "vector" (cosine only);
        `conse`: the weight of class-embedding vectors mixed into photos' vectors (0: none);
        `classes`: the fusion weight of the ranking by the classes a query names (0: none)."""
        if ranking not in RANKINGS:
            raise LucidaError(f"unknown ranking {ranking!r}; known: {', '.join(RANKINGS)}")
        if conse < 0:
            raise LucidaError(f"the ConSE weight must be 0 or more, not {conse}")
        self.ranking = ranking
        self.conse = conse
        self.classes = classes
        self.calibration: Calibration = calibration_for(embedder.name)
        self._class_table: _ClassTable | None = None
        self.catalog = catalog
        self.embedder = embedder
        self._exports = export_pattern(exports)
        self._vectors: StoredEmbedding | None = None
        self._groups = PhotoGroups({}, {})
        self._group_rows = np.zeros(0, dtype=np.int64)  # per stored row: its photo group, or -1
        self._second_files = 0  # stored rows that are not their photo's first (a pair's other file)
        self._row_by_id = np.zeros(0, dtype=np.int64)  # image id -> its stored row (-1: none)
        self._version: int | None = None
        self.recent_queries = RecentQueryVectors()

    @property
    def size(self) -> int:
        return len(self._current().image_ids)

    def _current(self) -> StoredEmbedding:
        version = self.catalog.data_version()
        if self._vectors is None or version != self._version:
            self._vectors = self.catalog.search_vectors(self.embedder.name)
            if self.conse > 0:
                classes = self.catalog.search_vectors(self.embedder.name, table="class_mixtures")
                self._vectors = mix_vectors(self._vectors, classes, self.conse)
            self._class_table = None
            if len(self._vectors.image_ids):  # relevance weighs the classes in every ranking
                self._class_table = _ClassTable.load(self.catalog, self.embedder, self._vectors)
            self._groups = group_photos(self.catalog.image_files(), self._exports)
            group_of = self._groups.group_of
            self._group_rows = np.fromiter(
                (group_of.get(int(i), -1) for i in self._vectors.image_ids), dtype=np.int64, count=len(self._vectors.image_ids)
            )
            self._second_files = _second_files(self._group_rows)
            ids = self._vectors.image_ids
            self._row_by_id = np.full(int(ids.max()) + 1 if len(ids) else 0, -1, dtype=np.int64)
            self._row_by_id[ids] = np.arange(len(ids))
            self._version = version
        return self._vectors

    def search(
        self, query: str, k: int = 20, offset: int = 0, only: Collection[int] | None = None, weak: bool = True
    ) -> list[SearchResult]:
        """The best k photos for the query (see search_many)."""
        return self.search_many([query], k, offset, only, weak)[0].results

    def search_many(
        self,
        queries: list[str],
        k: int = 20,
        offset: int = 0,
        only: Collection[int] | None = None,
        weak: bool = True,
        vectors: np.ndarray | None = None,
    ) -> list[RankedPage]:
        """The best k photos for each query, after skipping the `offset` best (for paging).
        With `only`, just among those image ids (e.g. the ones a metadata filter lets through).
        `weak`: the whole ranking, answers first; otherwise only the answers (relevance at or
        above the calibration's cutoff). `vectors`: the queries' embeddings when they were made
        elsewhere (the web app batches them)."""
        for query in queries:
            check_query(query)
        _check_window(k, offset)
        parsed = [parse_query(query) for query in queries]
        stored = self._current()
        if len(stored.image_ids) == 0:
            return [RankedPage([], 0, 0) for _ in queries]
        if vectors is None or any(p.excluded for p in parsed):
            # A vector made elsewhere embedded the whole text, exclusions included.
            query_vectors = self._embed([p.text for p in parsed], stored)
        else:
            query_vectors = np.stack([self._query_vector(v, stored)[0] for v in vectors])
        return [
            self._ranked_for_query(p.text, vector, scores, stored, k, offset, only, weak, p.excluded)
            for p, vector, scores in zip(parsed, query_vectors, self._scores(query_vectors, stored))
        ]

    def search_vector(
        self, vector: np.ndarray, k: int = 20, offset: int = 0, only: Collection[int] | None = None
    ) -> list[SearchResult]:
        """The photos nearest an embedding made elsewhere (e.g. of an uploaded photo's description)."""
        _check_window(k, offset)
        stored = self._current()
        if len(stored.image_ids) == 0:
            return []
        query = self._query_vector(vector, stored)
        return self._ranked(self._scores(query, stored)[0], stored, k, offset, only=only)

    def candidates(self, only: Collection[int] | None = None) -> int:
        """How many photos a search ranks: all with a vector, or those of them in `only`."""
        stored = self._current()
        # One per photo: a pair's second image is never ranked. Counted once per catalog change
        # for the whole catalog, since the web app asks this on every search.
        if only is None:
            return len(stored.image_ids) - self._second_files
        shown = _allowed(stored, only)
        return int(shown.sum()) - _second_files(self._group_rows[shown])

    def similar(self, image_id: int, k: int = 20, offset: int = 0) -> list[SearchResult] | None:
        """"More like this": the photos nearest this one's stored vector, itself excluded.
        None when the image has no vector in the catalog."""
        _check_window(k, offset)
        stored = self._current()
        row = self._row(image_id)
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
        row = self._row(image_id)
        if row is None:
            return None
        return float(self._query_vector(vector, stored)[0] @ stored.vectors[row])

    def _row(self, image_id: int) -> int | None:
        """The stored row of an image's vector (after _current()); None when it has none."""
        if not 0 <= image_id < len(self._row_by_id) or self._row_by_id[image_id] < 0:
            return None
        return int(self._row_by_id[image_id])

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

    def _query_vector(self, vector: np.ndarray, stored: StoredEmbedding) -> np.ndarray:
        """A vector made elsewhere as a (1, dim) float32 query, checked against the catalog's."""
        query = np.asarray(vector, dtype=np.float32).reshape(1, -1)
        self._check_dimensions(query, stored)
        return query

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

    def _ranked_for_query(
        self,
        query: str,
        vector: np.ndarray,
        scores: np.ndarray,
        stored: StoredEmbedding,
        k: int,
        offset: int,
        only: Collection[int] | None = None,
        weak: bool = True,
        excluded: tuple[str, ...] = (),
    ) -> RankedPage:
        """Results offset+1 .. offset+k for a query (among `only` when given, never a photo that
        has an `excluded` term), each with its calibrated relevance and saying why it matched:
        the answers in ranking order, then (with `weak`) the photos below the cutoff in ranking
        order."""
        words = query_words(query)
        depth = max(offset + k, FUSION_DEPTH)
        # -inf marks what may not be shown: filtered out, excluded, or the other file of a pair.
        shown = scores if only is None else np.where(_allowed(stored, only), scores, -np.inf)
        if excluded:
            shown = np.where(self._having(excluded, stored), -np.inf, shown)
        shown = one_per_photo(shown, self._group_rows)
        showable = np.isfinite(shown)
        by_vector = [int(stored.image_ids[i]) for i in top_k(shown, min(depth, int(showable.sum())))]
        allowed = set(stored.image_ids[showable].tolist())
        # Rankings: by vector; by BM25 among photos whose text holds every word of the query; by
        # BM25 among those holding any; by the probability of the classes the query names. Holding
        # every word counts twice, so "black and white" puts black-and-white photos above black
        # coffee, and an exact name wins. The vector ranking alone with ranking="vector"; the
        # words count towards relevance either way.
        every, some = [], []
        if words:
            every = [i for i, _ in self.catalog.word_matches(words, True, depth) if i in allowed]
            some = [i for i, _ in self.catalog.word_matches(words, False, depth) if i in allowed]
        class_score = self._class_table.scores(vector) if self._class_table is not None else None
        relevance = self._relevance(vector, scores, every, some, class_score)
        if self.ranking == "vector":
            fused = [(i, 0.0) for i in by_vector]
            by_words: list[int] = []
            by_classes: list[int] = []
        else:
            by_words = list(dict.fromkeys(every + some))
            by_classes = []
            if class_score is not None and self.classes > 0:
                by_classes = [i for i in self._class_table.ranking(class_score, depth) if i in allowed]  # type: ignore[union-attr]
            fused = reciprocal_rank_fusion(
                [by_vector, every, some, by_classes], weights=[1.0, 1.0, 1.0, self.classes]
            )
        ranked = np.fromiter((i for i, _ in fused), dtype=np.int64, count=len(fused))
        ranked_relevance = relevance[self._row_by_id[ranked]]
        if self.ranking == "hybrid":
            # In order of calibrated relevance, which weighs the same evidence as the fusion and
            # ranks as well or better on lucida-offline (MRR, docs/benchmarks.md, "Issue 12"),
            # so scores fall down the page; ties keep the fused order.
            order = np.lexsort((np.arange(len(ranked)), -ranked_relevance))
            ranked, ranked_relevance = ranked[order], ranked_relevance[order]
        threshold = self.calibration.threshold
        is_answer = ranked_relevance >= threshold
        # Answers first (the vector ranking's order can interleave them), then the weaker ones.
        listing = np.concatenate([np.flatnonzero(is_answer), np.flatnonzero(~is_answer)]) if weak else np.flatnonzero(is_answer)
        page = listing[offset : offset + k]
        ids = [int(i) for i in ranked[page]]
        rows = self.catalog.result_rows(ids)
        results = [
            SearchResult(
                rows[i].path, float(ranked_relevance[n]), rows[i].caption, i, rows[i].describer,
                rows[i].width, rows[i].height, rows[i].taken_at, self._files_of(i, rows[i].path),
                answer=bool(is_answer[n]),
            )
            for i, n in zip(ids, page)
            if i in rows
        ]
        ranks = {
            name: {i: r for r, i in enumerate(ranking, 1)}
            for name, ranking in (("vector_rank", by_vector), ("word_rank", by_words), ("class_rank", by_classes))
        }
        fused_scores = {i: f for i, f in fused if i in rows} if self.ranking == "hybrid" else {}
        total = int((relevance[showable] >= threshold).sum())
        searched = {i: row.search_text for i, row in rows.items()}
        return RankedPage(
            self._explained(results, words, scores, stored, ranks, fused_scores, searched), total, len(fused)
        )

    def _having(self, terms: tuple[str, ...], stored: StoredEmbedding) -> np.ndarray:
        """A mask over the stored rows: the photos that have any of these terms, either in their
        words (description, metadata: BM25 over every word of the term) or clearly by meaning
        (calibrated relevance to the term on its own of at least EXCLUDED_FROM)."""
        having = np.zeros(len(stored.image_ids), dtype=bool)
        vectors = self._embed(list(terms), stored)
        for term, vector, scores in zip(terms, vectors, self._scores(vectors, stored)):
            words = query_words(term)
            found = [i for i, _ in self.catalog.word_matches(words, True, len(stored.image_ids))] if words else []
            holding = [i for i in found if i < len(self._row_by_id) and self._row_by_id[i] >= 0]
            having[self._row_by_id[np.asarray(holding, dtype=np.int64)]] = True
            class_score = self._class_table.scores(vector) if self._class_table is not None else None
            cutoff = max(self.calibration.threshold, EXCLUDED_FROM)
            having |= self._relevance(vector, scores, holding, holding, class_score) >= cutoff
        return having

    def _relevance(
        self,
        vector: np.ndarray,
        scores: np.ndarray,
        every: list[int],
        some: list[int],
        class_score: np.ndarray | None,
    ) -> np.ndarray:
        """Every stored row's calibrated relevance to a query (lucida.relevance)."""
        every_word = np.zeros(len(scores), dtype=np.float32)
        some_word = np.zeros(len(scores), dtype=np.float32)
        every_word[self._row_by_id[np.asarray(every, dtype=np.int64)]] = 1.0
        some_word[self._row_by_id[np.asarray(some, dtype=np.int64)]] = 1.0
        table = self._class_table
        class_similarity = table.class_matrix @ vector if table is not None else None
        if class_score is None:
            class_score = np.zeros(len(scores), dtype=np.float32)
        return self.calibration.relevance(evidence(scores, class_similarity, every_word, some_word, class_score))

    def _explained(
        self,
        results: list[SearchResult],
        words: list[str],
        scores: np.ndarray,
        stored: StoredEmbedding,
        ranks: dict[str, dict[int, int]],
        fused: dict[int, float] | None = None,
        searched: dict[int, str] | None = None,
    ) -> list[SearchResult]:
        """The results with `why`: similarity, their rank in each ranking fused (None where a
        ranking did not hold them or was not used) and the fused value, matched words by field,
        likeliest classes, and the text that was searched."""
        rows = {r.image_id: self._row(r.image_id) for r in results}
        classes_of = self.catalog.photo_classes([r.image_id for r in results])
        explained = []
        for result in results:
            found_words: dict[str, list[str]] = {}
            if words:
                matched, details = self.catalog.matched_words(result.image_id, words)
                fields = (details or {}).get("fields") or {"description": (searched or {}).get(result.image_id) or result.caption}
                found_words = matched_fields(fields, matched)
            classes = classes_of.get(result.image_id, [])
            why = {
                "similarity": round(float(scores[rows[result.image_id]]), 6),
                **{name: ranks.get(name, {}).get(result.image_id) for name in _RANK_NAMES},
                "fused": round(fused[result.image_id], 6) if fused and result.image_id in fused else None,
                "words": found_words,
                "classes": [{"label": c["label"], "p": c["p"]} for c in classes[:3]],
                "search_text": (searched or {}).get(result.image_id),
            }
            explained.append(SearchResult(**{**result.__dict__, "why": why}))
        return explained

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
        scores = one_per_photo(scores, self._group_rows)
        # -inf marks what may not be shown: filtered out, the other file of a pair, itself.
        shown = int(np.isfinite(scores).sum())
        count = shown if count is None else min(count, shown)
        best = top_k(scores, min(offset + k, count))[offset:]
        ids = [int(stored.image_ids[i]) for i in best]
        rows = self.catalog.result_rows(ids)
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


@dataclass(frozen=True)
class _ClassTable:
    """The classes each photo likely shows, aligned with the search vectors' rows, and the
    embedder's vectors of the class texts: ranks photos by the classes a query names."""

    image_ids: np.ndarray  # (n,), as StoredEmbedding.image_ids
    class_ids: np.ndarray  # (n, kept) int, into class_matrix
    probabilities: np.ndarray  # (n, kept) float32; 0 where a photo keeps fewer
    class_matrix: np.ndarray  # (1000, dim)

    @classmethod
    def load(cls, catalog: CatalogStore, embedder: Embedder, stored: StoredEmbedding) -> _ClassTable | None:
        found = catalog.photo_classes()
        if not found:
            return None
        vectors = class_vectors(catalog, embedder)
        synsets = list(vectors)
        index = {s: i for i, s in enumerate(synsets)}
        class_matrix = np.stack([vectors[s] for s in synsets]).astype(np.float32)
        if class_matrix.shape[1] != stored.vectors.shape[1]:
            return None
        kept = max(len(c) for c in found.values())
        class_ids = np.zeros((len(stored.image_ids), kept), dtype=np.int32)
        probabilities = np.zeros((len(stored.image_ids), kept), dtype=np.float32)
        for row, image_id in enumerate(stored.image_ids):
            for j, c in enumerate(found.get(int(image_id), [])):
                if c["synset"] in index:
                    class_ids[row, j], probabilities[row, j] = index[c["synset"]], c["p"]
        return cls(stored.image_ids, class_ids, probabilities, class_matrix)

    def scores(self, query_vector: np.ndarray) -> np.ndarray:
        """Each photo's probability of the classes the query names, aligned with image_ids."""
        return class_scores(query_class_weights(query_vector, self.class_matrix), self.class_ids, self.probabilities)

    def ranking(self, scores: np.ndarray, depth: int) -> list[int]:
        """Image ids of the photos likeliest to show the classes the query names, best first."""
        best = top_k(scores, min(depth, int((scores > 0.01).sum())))
        return [int(self.image_ids[i]) for i in best]


def mix_vectors(texts: StoredEmbedding, classes: StoredEmbedding, weight: float) -> StoredEmbedding:
    """Each photo's text vector plus `weight` times its class vector (where it has one),
    L2-normalised again."""
    if len(classes.image_ids) == 0 or len(texts.image_ids) == 0:
        return texts
    if classes.vectors.shape[1] != texts.vectors.shape[1]:
        return texts
    row_of = {int(i): r for r, i in enumerate(classes.image_ids)}
    rows = np.array([row_of.get(int(i), -1) for i in texts.image_ids])
    has = rows >= 0
    mixed = texts.vectors.copy()
    mixed[has] += weight * classes.vectors[rows[has]]
    mixed /= np.linalg.norm(mixed, axis=1, keepdims=True)
    return StoredEmbedding(texts.image_ids, mixed.astype(np.float32))


_RANK_NAMES = ("vector_rank", "word_rank", "class_rank")


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
