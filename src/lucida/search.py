"""Query -> ranked photos: cosine similarity between the query's and the photos' vectors, the
query's words in their descriptions (SQLite FTS5) and the classes it names, weighed together by
calibrated relevance (hybrid ranking; lucida.relevance, lucida.ranking).

A photo's vector is its description's embedding, mixed with the convex combination of its class
embeddings (ConSE, lucida.concepts) where it has one. What a search ranks with is held in memory
and beside the catalog (lucida.search_index).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import unicodedata
from collections import OrderedDict
from collections.abc import Callable, Collection
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cache, reduce

import numpy as np

from lucida import ann_index
from lucida.ann_index import AnnIndex
from lucida.catalog import CatalogStore
from lucida.catalog.store import StoredEmbedding
from lucida.errors import LucidaError
from lucida.models.base import Embedder
from lucida.query import ParsedQuery, parse_query
from lucida.pairs import PhotoGroups, export_pattern, one_per_photo
from lucida.ranking import fused_value, matched_fields, query_words, top_k
from lucida.relevance import EXCLUDED_FROM, Calibration, calibration_for
from lucida.search_index import SearchIndex, second_files
from lucida.translation import query_language, translate_query

QUERY_CACHE_SIZE = 1024  # query vectors kept (1.5 KB each at 384 dimensions)
# Description ids kept for the words searched most recently (8 bytes each: 32 MB).
WORD_CACHE_SIZE = 4_000_000
RANKINGS = ("hybrid", "vector")
# Weight of a photo's ConSE vector against its description's in the vector it is searched by.
CONSE_WEIGHT = 0.5
# Weight of the ranking by the ImageNet classes a query names in `why.fused`, the rank fusion a
# result is explained by (0: that ranking is left out, and its photos are no candidates).
CLASS_WEIGHT = 1.0
# From this many photos on, a query's vector is scored against them on every core.
PARALLEL_SCORING_FROM = 50_000
log = logging.getLogger(__name__)
_CORES = min(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1), 8)
# How deep the rankings by similarity and by classes go into the candidates a search orders by
# relevance (with every photo holding a query word and every answer): deeper than any page.
CANDIDATE_DEPTH = 1000
# From this many photos on, a search finds the most similar photos through the nearest-neighbour
# index beside the catalog (lucida.ann_index) once one has been built, instead of scoring every
# vector: exact scoring costs about 1 ms per 10,000 photos on 2 cores.
ANN_FROM = 50_000
# How many nearest neighbours a search asks of that index and scores again exactly (recall@10
# against exact search, docs/benchmarks.md "Issue 15"); deeper when a page needs more.
ANN_DEPTH = 200
# A filtered search whose filter lets through at most this many photos scores them all exactly,
# so it returns exactly what exact search would; a broader filter asks the index for more
# neighbours in proportion and keeps those that pass.
FILTER_EXACT_UP_TO = 100_000
# A query whose words are all held by at most this many photos weighs every one of them; past
# that, through the nearest-neighbour index, only those among the index's neighbours, as a broad
# filter is searched. "night" alone is in 467,000 descriptions of a million: weighing all of its
# photos took a hybrid search 250-790 ms.
WORDS_EXACT_UP_TO = 50_000
# Rows whose vectors are gathered at once to be scored: a gather is a copy, 1.5 KB a photo, and
# a query holding common words weighs a few hundred thousand photos at a million; scored all at
# once they lifted a server's peak RSS by about 0.15 GB.
SIMILARITY_CHUNK = 16_384
# The index is trusted while at most this many photos changed since it was written (they are
# scored exactly beside it); past that, search is exact until an index run updates it.
ANN_CHANGES_UP_TO = 100_000


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
    # The query in the English words search ranked by, when it was typed in another language
    # (lucida.translation); None when it was searched as typed.
    searched: str | None = None


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
        exact: bool | None = None,
        resident_index: bool = False,
    ):
        """`ranking`: "hybrid" (vectors, words and classes, fused) or "vector" (cosine only);
        `conse`: the weight of class-embedding vectors mixed into photos' vectors (0: none);
        `classes`: the fusion weight of the ranking by the classes a query names (0: none);
        `exact`: True scores every photo; False goes through the nearest-neighbour index,
        building it when there is none; None (default) uses the index from ANN_FROM photos on
        when one has been built (lucida.ann_index); `resident_index`: that index read into
        memory rather than mapped, for a process that answers many searches (AnnIndex.open)."""
        if ranking not in RANKINGS:
            raise LucidaError(f"unknown ranking {ranking!r}; known: {', '.join(RANKINGS)}")
        if conse < 0:
            raise LucidaError(f"the ConSE weight must be 0 or more, not {conse}")
        self.ranking = ranking
        self.conse = conse
        self.classes = classes
        self.calibration: Calibration = calibration_for(embedder.name)
        # What it ranks with (lucida.search_index), loaded at the first search and again after
        # every write to the catalog.
        self._index = SearchIndex.assemble(
            StoredEmbedding(np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32)), None,
            PhotoGroups({}, {}), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64),
        )  # fmt: skip
        self.catalog = catalog
        self.embedder = embedder
        export_pattern(exports)  # a LucidaError now for a malformed pattern, not at the first search
        self._exports_text = exports
        self._version: int | None = None
        self.recent_queries = RecentQueryVectors()
        self.exact = exact
        self.resident_index = resident_index
        # The nearest-neighbour index in use (None: exact search), and the rows of the photos
        # changed since it was written, which are scored exactly beside it.
        self._ann: AnnIndex | None = None
        self._changed_rows = np.zeros(0, dtype=np.int64)
        # word -> the ids (sorted) of the descriptions holding it, for the index's generation.
        self._holders: OrderedDict[str, np.ndarray] = OrderedDict()
        self._held = 0  # ids in _holders

    @property
    def size(self) -> int:
        return len(self._current().image_ids)

    def _current(self) -> StoredEmbedding:
        # Any write to what the index holds advances the generation, by this connection or another.
        version = self.catalog.search_generation()
        if version != self._version:
            self._index = SearchIndex.load(self.catalog, self.embedder, self.conse, self._exports_text)
            self._holders.clear()
            self._held = 0
            self._version = version
            self._open_ann(build=self.exact is False)
        return self._index.vectors

    def _open_ann(self, build: bool) -> None:
        """Use the nearest-neighbour index beside the catalog when it applies (see __init__'s
        `exact`); with `build`, build or update it first."""
        previous = self._ann
        self._ann, self._changed_rows = None, np.zeros(0, dtype=np.int64)
        stored = self._index.vectors
        folder = ann_index.folder_for(self.catalog.path, self.embedder.name, self.conse)
        if not self._through_index() or folder is None or len(stored.image_ids) == 0:
            return
        ann = ann_index.AnnIndex.open(folder, self.resident_index, reuse=previous)
        if build and (ann is None or ann.generation < self._version):
            changed = self.catalog.changed_since(ann.generation) if ann is not None else stored.image_ids
            try:
                ann = ann_index.update(
                    folder, stored.image_ids, stored.vectors, self._version, changed, self.resident_index, reuse=ann
                )
            except OSError as error:  # a read-only folder, a full disk: search stays exact
                log.info("nearest-neighbour index not saved beside the catalog: %s", error)
                return
        if ann is None or ann.dimensions != stored.vectors.shape[1]:
            return
        changed = self.catalog.changed_since(ann.generation)
        if len(changed) > ANN_CHANGES_UP_TO:
            return
        changed = changed[changed < len(self._index.row_by_id)]
        rows = self._index.row_by_id[changed]
        self._ann, self._changed_rows = ann, rows[rows >= 0]

    def update_nearest_index(self) -> bool:
        """Build or catch up the nearest-neighbour index beside the catalog when this catalog
        is searched through one (ANN_FROM photos or more, or `exact=False`); True when it did."""
        self._current()
        if not self._through_index():
            return False
        self._open_ann(build=True)
        return self._ann is not None

    def _through_index(self) -> bool:
        """Whether this catalog is searched through the nearest-neighbour index (see `exact`)."""
        return self.exact is False or (self.exact is None and len(self._index.vectors.image_ids) >= ANN_FROM)

    def search(
        self,
        query: str,
        k: int = 20,
        offset: int = 0,
        only: Collection[int] | None = None,
        weak: bool = True,
        explain: bool = True,
    ) -> list[SearchResult]:
        """The best k photos for the query (see search_many)."""
        return self.search_many([query], k, offset, only, weak, explain=explain)[0].results

    def search_many(
        self,
        queries: list[str],
        k: int = 20,
        offset: int = 0,
        only: Collection[int] | None = None,
        weak: bool = True,
        vectors: np.ndarray | None = None,
        explain: bool = True,
    ) -> list[RankedPage]:
        """The best k photos for each query, after skipping the `offset` best (for paging).
        With `only`, just among those image ids (e.g. the ones a metadata filter lets through).
        `weak`: the whole ranking, answers first; otherwise only the answers (relevance at or
        above the calibration's cutoff). `vectors`: the queries' embeddings when they were made
        elsewhere (the web app batches them). `explain=False`: the results without `why` (the web
        page shows why only in a photo's detail view, which asks for it there)."""
        for query in queries:
            check_query(query)
        _check_window(k, offset)
        parsed = [parse_query(query) for query in queries]
        stored = self._current()
        if len(stored.image_ids) == 0:
            return [RankedPage([], 0, 0) for _ in queries]
        typed = parsed
        parsed = [self._in_english(p, query) for p, query in zip(typed, queries)]
        if vectors is None or any(p.text != query for p, query in zip(parsed, queries)):
            # A vector made elsewhere embedded the query as typed: exclusions, other languages.
            query_vectors = self._embed([p.text for p in parsed], stored)
        else:
            query_vectors = np.stack([self._query_vector(v, stored)[0] for v in vectors])
        # Exact search scores every photo for all the queries at once; through the index, each
        # query finds its own candidates.
        all_scores = self._scores(query_vectors, stored) if self._ann is None else [None] * len(parsed)
        pages = [
            self._ranked_for_query(p.text, vector, scores, stored, k, offset, only, weak, p.excluded, explain)
            for p, vector, scores in zip(parsed, query_vectors, all_scores)
        ]
        return [
            page if p.text == t.text else dataclasses.replace(page, searched=p.text)
            for page, p, t in zip(pages, parsed, typed)
        ]

    def _in_english(self, parsed: ParsedQuery, typed: str) -> ParsedQuery:
        """The query as search ranks it: in English words when it was typed in another language
        (lucida.translation), unless the catalog's words have it as typed. What to find and
        what to exclude are read in the language of the whole query ("un animal sans chat")."""

        def holds(word: str) -> bool:
            return len(self._rows_holding(word)) > 0

        if not parsed.excluded:
            return ParsedQuery(translate_query(parsed.text, holds).text)
        language = query_language(typed)
        return ParsedQuery(
            translate_query(parsed.text, holds, language).text,
            tuple(translate_query(term, holds, language).text for term in parsed.excluded),
        )

    def search_vector(
        self, vector: np.ndarray, k: int = 20, offset: int = 0, only: Collection[int] | None = None
    ) -> list[SearchResult]:
        """The photos nearest an embedding made elsewhere (e.g. of an uploaded photo's description)."""
        _check_window(k, offset)
        stored = self._current()
        if len(stored.image_ids) == 0:
            return []
        return self._ranked(self._query_vector(vector, stored)[0], stored, k, offset, only=only)

    def candidates(self, only: Collection[int] | None = None) -> int:
        """How many photos a search ranks: all with a vector, or those of them in `only`."""
        stored = self._current()
        # One per photo: a pair's second image is never ranked. Counted once per catalog change
        # for the whole catalog, since the web app asks this on every search.
        if only is None:
            return len(stored.image_ids) - self._index.second_files
        shown = self._allowed(only)
        return int(shown.sum()) - second_files(self._index.group_rows[shown])

    def similar(self, image_id: int, k: int = 20, offset: int = 0) -> list[SearchResult] | None:
        """"More like this": the photos nearest this one's stored vector, itself excluded.
        None when the image has no vector in the catalog."""
        _check_window(k, offset)
        stored = self._current()
        row = self._row(image_id)
        if row is None:
            return None
        # Itself is always its own nearest neighbour, and so is the other file of its pair.
        group = self._index.group_rows[row]
        itself = np.flatnonzero(self._index.group_rows == group) if group >= 0 else np.array([row])
        return self._ranked(np.asarray(stored.vectors[row], dtype=np.float32), stored, k, offset, without=itself)

    def score_query(self, query: str, image_id: int, vector: np.ndarray | None = None) -> float | None:
        """How well one photo matches a query: the cosine similarity its search weighs, of the
        words it searches for (exclusions left out, another language in English words).
        `vector`: the query's embedding as typed, when it was made elsewhere (the web app's)."""
        check_query(query)
        stored = self._current()
        searched = self._in_english(parse_query(query), query).text if len(stored.image_ids) else query
        if vector is None or searched != query:
            vector = self._embed([searched], stored)[0]
        return self.score_vector(vector, image_id)

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
        if not 0 <= image_id < len(self._index.row_by_id) or self._index.row_by_id[image_id] < 0:
            return None
        return int(self._index.row_by_id[image_id])

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
        if len(query_vectors) > 2:
            return query_vectors @ stored.vectors.T
        # numpy's own loop, not BLAS (the same speed here: reading the vectors is the cost).
        # A BLAS call leaves OpenBLAS's threads spinning, and on a small machine they starve
        # the embedder's threads in the next query: p95 90 ms instead of 15 ms on 2 cores.
        vectors = stored.vectors
        if len(vectors) < PARALLEL_SCORING_FROM or _CORES < 2:
            return np.einsum("qd,nd->qn", query_vectors, vectors)
        # A large catalog in parts on the cores (numpy lets go of the GIL while it loops): memory
        # bandwidth is the limit, and one core does not reach it. 100,000 photos on 2 cores:
        # 12.5 ms instead of 22.
        scores = np.empty((len(query_vectors), len(vectors)), dtype=np.float32)
        bounds = np.linspace(0, len(vectors), _CORES + 1).astype(int)

        def part(start: int, end: int) -> None:
            np.einsum("qd,nd->qn", query_vectors, vectors[start:end], out=scores[:, start:end])

        list(_scoring_pool().map(part, bounds[:-1], bounds[1:]))
        return scores

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
        explain: bool = True,
    ) -> RankedPage:
        """Results offset+1 .. offset+k for a query (among `only` when given, never a photo that
        has an `excluded` term), each with its calibrated relevance and saying why it matched:
        the answers in ranking order, then (with `weak`) the photos below the cutoff in ranking
        order."""
        words = query_words(query)
        depth = max(offset + k, CANDIDATE_DEPTH)
        index = self._index
        allowed = self._allowed(only) if only is not None else None
        # Ranked by similarity alone through the nearest-neighbour index, the evidence is
        # weighed only for the photos considered (below).
        lazily = self.ranking == "vector" and self._ann is not None
        # The evidence: the photos whose descriptions (any of them: the describer's, a caption,
        # the metadata's words) hold every word of the query between them, or any (FTS5); the
        # probability of the classes the query names.
        table = index.class_table
        class_photo = table.scores(vector) if table is not None and not lazily else None
        by_class_photo = np.zeros(0, dtype=np.int64)
        if class_photo is not None and self.classes > 0 and self.ranking == "hybrid":
            passing = class_photo if allowed is None else np.where(allowed, class_photo, 0)
            by_class_photo = table.ranking(passing, depth)  # type: ignore[union-attr]
        # The rows this ranking considers: every photo in exact search; through the index, its
        # nearest photos and the other evidence's (of the photos holding every word, when they
        # are many, those near the query: _nearest_holding). Ranked by similarity alone, the photos that
        # hold every word join only when the nearest hold too few answers for the page: an
        # answer further away would come after them. "night" is in 457,000 descriptions of a
        # million, and scoring them all cost a query 40-70 ms.
        for also in ((by_class_photo, None) if lazily else (None,)):
            if also is None:
                holding = self._holding_rows(words)
                if allowed is not None:
                    holding = holding[allowed[holding]]
                also = np.union1d(self._nearest_holding(vector, holding, offset + k), by_class_photo)
            rows, similarity = self._universe(vector, scores, allowed, also, offset + k)
            everything = len(rows) == len(stored.image_ids)
            at = _at_rows(rows, everything)
            # From here on, positions in `rows`. -inf marks what may not be shown: filtered out,
            # excluded, or the other file of a pair.
            shown = similarity if allowed is None else np.where(at(allowed), similarity, -np.inf)
            if excluded:
                shown = np.where(self._having(excluded, rows, everything), -np.inf, shown)
            shown = one_per_photo(shown, at(index.group_rows))
            showable = np.isfinite(shown)
            held = self._word_masks(words, rows, everything)  # each word's once, for both
            every = _combined(held, len(rows), every=True) & showable
            some = _combined(held, len(rows), every=False) & showable
            if table is None:
                class_score = None
            else:
                class_score = at(class_photo) if class_photo is not None else table.scores(vector, rows)
            relevance = self._relevance(vector, similarity, every, some, class_score)
            threshold = self.calibration.threshold
            is_answer = (relevance >= threshold) & showable
            if int(is_answer.sum()) >= offset + k:
                break
        by_vector = top_k(shown, min(depth, int(showable.sum())))
        if self.ranking == "vector":
            # By similarity alone, answers first.
            candidates = by_vector
            order = np.lexsort((np.arange(len(candidates)), ~is_answer[candidates]))
            ranked = candidates[order]
            by_words, by_classes = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        else:
            # Ranked: the photos any evidence points at (the most similar, those holding a query
            # word, the likeliest to show its classes) and every answer, by calibrated relevance,
            # which ranks as well as rank fusion or better on lucida-offline (docs/benchmarks.md,
            # "Issue 12"), so scores fall down the page. Ties: the more similar first.
            by_classes = _positions_of(by_class_photo, rows, everything)
            by_classes = by_classes[showable[by_classes]]
            pointed = some | is_answer
            pointed[by_vector] = True
            pointed[by_classes] = True
            candidates = np.flatnonzero(pointed & showable)
            ranked = candidates[np.lexsort((-shown[candidates], -relevance[candidates]))]
            # Only `why` reads it.
            by_words = self._word_ranking(every, some, relevance, depth) if explain else np.zeros(0, dtype=np.int64)
        answers = int(is_answer.sum())
        # Answers come first in either order; without `weak` only they are listed.
        listing = ranked if weak else ranked[is_answer[ranked]]
        page = listing[offset : offset + k]
        image_of = stored.image_ids[rows]
        ids = [int(image_of[position]) for position in page]
        found = self.catalog.result_rows(ids)
        results = [
            SearchResult(
                found[i].path, float(relevance[position]), found[i].caption, i, found[i].describer,
                found[i].width, found[i].height, found[i].taken_at, self._files_of(i, found[i].path),
                answer=bool(is_answer[position]),
            )
            for i, position in zip(ids, page)
            if i in found
        ]
        if not explain:
            return RankedPage(results, answers, len(ranked))
        ranks = {
            name: _positions(ranking, page)
            for name, ranking in (("vector_rank", by_vector), ("word_rank", by_words), ("class_rank", by_classes))
        }
        fused = {}
        if self.ranking == "hybrid":
            every_rank = _positions(by_words[: min(int(every.sum()), len(by_words))], page)
            fused = {
                int(image_of[row]): fused_value(
                    [ranks["vector_rank"].get(row), every_rank.get(row), ranks["word_rank"].get(row), ranks["class_rank"].get(row)],
                    [1.0, 1.0, 1.0, self.classes],
                )
                for row in page
            }
        searched = {i: row.search_text for i, row in found.items()}
        classes = {i: row.classes for i, row in found.items() if row.classes is not None}
        by_id = {name: {int(image_of[row]): r for row, r in at_rank.items()} for name, at_rank in ranks.items()}
        similarities = {int(image_of[position]): float(similarity[position]) for position in page}
        return RankedPage(
            self._explained(results, words, similarities, by_id, fused, searched, classes), answers, len(ranked)
        )

    def _universe(
        self,
        vector: np.ndarray,
        scores: np.ndarray | None,
        allowed: np.ndarray | None,
        also: np.ndarray,
        needed: int,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The rows (sorted) a ranking for this query vector considers, and their similarity to
        it. Exact search: every row (`scores`, when already computed, are theirs). Through the
        nearest-neighbour index: its nearest neighbours, the photos changed since it was written,
        and the rows in `also` (other evidence); only those `allowed` when a filter is given,
        all of them scored exactly when the filter lets few through. `needed`: how many results
        the page reaches down to."""
        stored = self._index.vectors
        if self._ann is None:
            if scores is None:
                scores = self._scores(vector.reshape(1, -1), stored)[0]
            return np.arange(len(stored.image_ids)), scores
        n = len(stored.image_ids)
        depth = max(needed, ANN_DEPTH)
        passing = int(allowed.sum()) if allowed is not None else n
        if allowed is not None and passing <= FILTER_EXACT_UP_TO:
            rows = np.flatnonzero(allowed)
            return rows, self._similarity(vector, rows)
        # A filter lets through a share of the photos: ask for proportionally more neighbours.
        wanted = _in_proportion(depth, n, passing)
        if wanted >= n:  # as many as there are photos: score them all
            rows = np.flatnonzero(allowed) if allowed is not None else np.arange(n)
            return rows, self._similarity(vector, rows)
        rows = np.unique(np.concatenate([self._neighbour_rows(vector, wanted), self._changed_rows, also]))
        if allowed is not None:
            rows = rows[allowed[rows]]
            if len(rows) < needed:  # too few passed: every photo that passes, exactly
                rows = np.flatnonzero(allowed)
        return rows, self._similarity(vector, rows)

    def _nearest_holding(self, vector: np.ndarray, holding: np.ndarray, needed: int) -> np.ndarray:
        """Of the photos that hold a query's words (rows, sorted), those a ranking weighs: every
        one, up to WORDS_EXACT_UP_TO of them or in exact search; past that, as a broad filter is
        searched, those among the index's nearest neighbours, asked for in proportion to the
        share of the photos that hold them. `needed`: how many results the page reaches down to."""
        n = len(self._index.vectors.image_ids)
        if self._ann is None or len(holding) <= WORDS_EXACT_UP_TO:
            return holding
        wanted = _in_proportion(max(needed, ANN_DEPTH), n, len(holding))
        if wanted >= n:
            return holding
        found = self._neighbour_rows(vector, wanted)
        return found[_members(found, holding, n)]

    def _neighbour_rows(self, vector: np.ndarray, k: int) -> np.ndarray:
        """The rows (sorted) of the nearest-neighbour index's k nearest photos that the search
        index still holds."""
        ids = self._ann.nearest(vector, k)  # type: ignore[union-attr]
        found = self._index.row_by_id[ids[ids < len(self._index.row_by_id)]]
        return np.unique(found[found >= 0])

    def _similarity(self, vector: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """The cosine similarity of these rows' vectors to a unit query vector."""
        vectors, query = self._index.vectors.vectors, vector.astype(np.float32, copy=False)
        if len(rows) <= SIMILARITY_CHUNK:
            return np.einsum("nd,d->n", vectors[rows], query)
        similarity = np.empty(len(rows), dtype=np.float32)
        for start in range(0, len(rows), SIMILARITY_CHUNK):
            part = rows[start : start + SIMILARITY_CHUNK]
            similarity[start : start + len(part)] = np.einsum("nd,d->n", vectors[part], query)
        return similarity

    def _allowed(self, only: Collection[int]) -> np.ndarray:
        """A mask over the rows: True for the images in `only`."""
        ids = np.fromiter(only, dtype=np.int64, count=len(only))
        row_by_id = self._index.row_by_id
        rows = row_by_id[ids[(ids >= 0) & (ids < len(row_by_id))]]
        mask = np.zeros(len(self._index.vectors.image_ids), dtype=bool)
        mask[rows[rows >= 0]] = True
        return mask

    def _word_ranking(self, every: np.ndarray, some: np.ndarray, relevance: np.ndarray, depth: int) -> np.ndarray:
        """The rows of the photos holding the query's words, best first: those holding every word,
        then those holding some, each by relevance. This order only says why (`word_rank`):
        results are ordered by relevance, and BM25 over every photo holding a common word costs
        12-70 ms at 100,000 photos."""
        ranking = []
        for holding in (every, some & ~every):
            rows = np.flatnonzero(holding)
            ranking.append(rows[top_k(relevance[rows], min(depth, len(rows)))])
        return np.concatenate(ranking)[:depth]

    def _holding_rows(self, words: list[str]) -> np.ndarray:
        """The rows (sorted) of the photos whose descriptions hold every one of `words` between
        them: "fuji night" finds a photo whose metadata names the camera and whose describer
        saw the night."""
        if not words:
            return np.zeros(0, dtype=np.int64)
        lists = sorted((self._rows_holding(word) for word in words), key=len)
        found = lists[0]
        for other in lists[1:]:
            found = found[_members(found, other, len(self._index.vectors.image_ids))]
        return found

    def _holding_at(self, words: list[str], rows: np.ndarray, everything: bool, every: bool) -> np.ndarray:
        """A mask over these rows (sorted): the photos whose descriptions hold every one of `words`
        between them (or, not `every`, any)."""
        return _combined(self._word_masks(words, rows, everything), len(rows), every)

    def _word_masks(self, words: list[str], rows: np.ndarray, everything: bool) -> list[np.ndarray]:
        """For each of `words`, a mask over these rows (sorted; every row when `everything`): the
        photos with a description that holds it. Tested row by row against the word's photos, not
        built over every photo: a search through the index looks at a few hundred of a million."""
        size = len(self._index.vectors.image_ids)
        return [_members(None if everything else rows, self._rows_holding(word), size) for word in words]

    def _rows_holding(self, word: str) -> np.ndarray:
        """The rows (sorted) of the photos with a description that holds this word. People search
        with a vocabulary, not with new words each time, so each word's list comes from FTS5
        once per catalog generation: a common word's list takes 2-15 ms to fetch at 100,000
        photos, about 50 ms at a million for a word in 457,000 descriptions."""
        found = self._holders.get(word)
        if found is not None:
            self._holders.move_to_end(word)
            return found
        found = self._index.rows_of(self.catalog.descriptions_holding([word], every=False))
        self._holders[word] = found
        self._held += len(found)
        while self._held > WORD_CACHE_SIZE and len(self._holders) > 1:
            _, dropped = self._holders.popitem(last=False)
            self._held -= len(dropped)
        return found

    def _having(self, terms: tuple[str, ...], rows: np.ndarray, everything: bool) -> np.ndarray:
        """A mask over these rows: the photos that have any of these terms, either in their
        words (description, metadata: every word of the term) or clearly by meaning (calibrated
        relevance to the term on its own of at least EXCLUDED_FROM)."""
        stored = self._index.vectors
        having = np.zeros(len(rows), dtype=bool)
        vectors = self._embed(list(terms), stored)
        # Exact search scores every photo for all the terms at once.
        similarities = self._scores(vectors, stored) if everything else [self._similarity(v, rows) for v in vectors]
        for term, vector, similarity in zip(terms, vectors, similarities):
            holding = self._holding_at(query_words(term), rows, everything, every=True)
            having |= holding
            class_table = self._index.class_table
            class_score = class_table.scores(vector, None if everything else rows) if class_table is not None else None
            cutoff = max(self.calibration.threshold, EXCLUDED_FROM)
            having |= self._relevance(vector, similarity, holding, holding, class_score) >= cutoff
        return having

    def _relevance(
        self,
        vector: np.ndarray,
        scores: np.ndarray,
        every: np.ndarray,
        some: np.ndarray,
        class_score: np.ndarray | None,
    ) -> np.ndarray:
        """Every stored row's calibrated relevance to a query (lucida.relevance); `every` and
        `some` are masks over the rows."""
        table = self._index.class_table
        class_similarity = table.class_matrix @ vector if table is not None else None
        if class_score is None:
            class_score = np.zeros(len(scores), dtype=np.float32)
        return self.calibration.relevance_of(scores, class_similarity, every, some, class_score)

    def _explained(
        self,
        results: list[SearchResult],
        words: list[str],
        similarities: dict[int, float],
        ranks: dict[str, dict[int, int]],
        fused: dict[int, float] | None = None,
        searched: dict[int, str] | None = None,
        classes_known: dict[int, list[dict]] | None = None,
    ) -> list[SearchResult]:
        """The results with `why`: similarity, their rank in each ranking fused (None where a
        ranking did not hold them or was not used) and the fused value, matched words by field,
        likeliest classes, and the text that was searched."""
        # The classes of the results whose preferred description has none come from the next
        # description that has them (Catalog.photo_classes); the others' came with their rows.
        classes_of = dict(classes_known or {})
        missing = [r.image_id for r in results if r.image_id not in classes_of]
        if missing:
            classes_of.update(self.catalog.photo_classes(missing))
        matches = self.catalog.matched_words([r.image_id for r in results], words)
        explained = []
        for result in results:
            found_words: dict[str, list[str]] = {}
            if words:
                matched, fields = matches.get(result.image_id, ([], None))
                fields = fields or {"description": (searched or {}).get(result.image_id) or result.caption}
                found_words = matched_fields(fields, matched)
            classes = classes_of.get(result.image_id, [])
            why = {
                "similarity": round(similarities[result.image_id], 6),
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
        vector: np.ndarray,
        stored: StoredEmbedding,
        k: int,
        offset: int,
        only: Collection[int] | None = None,
        without: np.ndarray | None = None,
    ) -> list[SearchResult]:
        """The photos nearest a unit vector ranked offset+1 .. offset+k by cosine similarity,
        counting only the images in `only` when it is given and never the rows in `without`."""
        allowed = self._allowed(only) if only is not None else None
        extra = 0 if without is None else len(without)
        rows, similarity = self._universe(vector, None, allowed, np.zeros(0, dtype=np.int64), offset + k + extra)
        at = _at_rows(rows, len(rows) == len(stored.image_ids))
        scores = similarity if allowed is None else np.where(at(allowed), similarity, -np.inf)
        if without is not None:
            scores = np.where(np.isin(rows, without), -np.inf, scores)
        scores = one_per_photo(scores, at(self._index.group_rows))
        # -inf marks what may not be shown: filtered out, the other file of a pair, itself.
        shown = int(np.isfinite(scores).sum())
        best = top_k(scores, min(offset + k, shown))[offset:]
        ids = [int(stored.image_ids[rows[j]]) for j in best]
        return self.results_for(ids, [float(scores[j]) for j in best])

    def results_for(self, image_ids: list[int], scores: list[float]) -> list[SearchResult]:
        """Results for photos ranked elsewhere (by their faces, lucida.people), with their scores;
        a photo no file shows any more is left out."""
        found = self.catalog.result_rows(image_ids)
        return [
            SearchResult(
                found[i].path, float(score), found[i].caption, i, found[i].describer,
                found[i].width, found[i].height, found[i].taken_at, self._files_of(i, found[i].path),
            )
            for i, score in zip(image_ids, scores)
            if i in found
        ]

    def _files_of(self, image_id: int, path: str) -> tuple[str, ...]:
        group = self._index.groups.group_of.get(image_id)
        return self._index.groups.files[group] if group is not None else (path,)


_RANK_NAMES = ("vector_rank", "word_rank", "class_rank")


def _in_proportion(depth: int, size: int, passing: int) -> int:
    """Neighbours to ask the index for so that about `depth` of them are among the `passing`
    photos of `size` (a filter's, or those holding a query's words)."""
    return -(-depth * size // max(passing, 1))


def _check_window(k: int, offset: int) -> None:
    if k < 1:
        raise LucidaError(f"-k must be at least 1, not {k}")
    if offset < 0:
        raise LucidaError(f"offset must be 0 or more, not {offset}")


@cache
def _scoring_pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(_CORES, thread_name_prefix="lucida-scores")


def _positions(ranking: np.ndarray, rows: np.ndarray) -> dict[int, int]:
    """row -> its 1-based position in a ranking of rows, for those of `rows` it holds."""
    wanted = set(rows.tolist())
    return {int(row): position for position, row in enumerate(ranking.tolist(), 1) if row in wanted}


def _at_rows(rows: np.ndarray, everything: bool) -> Callable[[np.ndarray], np.ndarray]:
    """Selects these rows of an array over every row; the array itself when `rows` are all rows."""
    return (lambda values: values) if everything else (lambda values: values[rows])


def _combined(masks: list[np.ndarray], size: int, every: bool) -> np.ndarray:
    """True where every one of these masks is (not `every`: any); False everywhere for none."""
    if not masks:
        return np.zeros(size, dtype=bool)
    return reduce(np.logical_and if every else np.logical_or, masks)


def _members(values: np.ndarray | None, sorted_set: np.ndarray, size: int) -> np.ndarray:
    """A mask over `values` (rows below `size`; None: every row): which are in `sorted_set`
    (sorted rows). A binary search per value for a few values, a mask over every row for many."""
    if values is not None and len(values) * 8 < size:
        if len(sorted_set) == 0:
            return np.zeros(len(values), dtype=bool)
        at = np.minimum(np.searchsorted(sorted_set, values), len(sorted_set) - 1)
        return sorted_set[at] == values
    mask = np.zeros(size, dtype=bool)
    mask[sorted_set] = True
    return mask if values is None else mask[values]


def _positions_of(wanted: np.ndarray, rows: np.ndarray, everything: bool) -> np.ndarray:
    """The positions in `rows` (sorted) of the wanted rows it holds, in the wanted order."""
    if everything:
        return wanted
    positions = np.searchsorted(rows, wanted)
    positions = np.minimum(positions, max(len(rows) - 1, 0))
    held = (rows[positions] == wanted) if len(rows) else np.zeros(len(wanted), dtype=bool)
    return positions[held]
