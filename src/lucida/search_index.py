"""What a search holds in memory for one catalog and embedder, and its copy on disk beside the
catalog.

A search ranks every photo by its vector (a description's embedding mixed with its ConSE class
vector), by the classes the classifier saw in it, and shows a RAW+JPEG pair as one photo. Built
from the catalog's SQL, that takes seconds: 1.6 s at 10,000 photos and 15 s at 100,000 on a
2-core machine, most of it parsing every description's classes from JSON and grouping paths.
A CLI search is a new process every time, so the index is also written beside the catalog
(`catalog.db-search/`) as numpy arrays a new process maps into memory in milliseconds. The copy
is valid while the catalog's search generation (advanced by triggers on every write to what the
index is built from, lucida.catalog.migrations) is the one it was built at; otherwise it is
built again and rewritten. A catalog folder that cannot be written to only costs the rebuild.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lucida.catalog import CatalogStore
from lucida.catalog.store import StoredEmbedding
from lucida.concepts import class_vectors, query_class_weights
from lucida.models.base import Embedder
from lucida.pairs import PhotoGroups, export_pattern, group_photos
from lucida.ranking import top_k

log = logging.getLogger(__name__)

# Bump when what the copy on disk holds changes: older copies are then rebuilt.
INDEX_FORMAT = 1
# A copy is brought up to date when at most this share of its photos changed since it was
# written; past that, a full build is about as quick.
CATCH_UP_SHARE = 0.3
_ARRAYS = (
    "image_ids", "vectors", "group_rows", "description_rows",
    "class_matrix", "class_offsets", "class_rows", "class_probabilities",
)  # fmt: skip


@dataclass(frozen=True)
class ClassTable:
    """The classes each photo likely shows, aligned with the search vectors' rows, and the
    embedder's vectors of the class texts: ranks photos by the classes a query names.

    Kept as postings, the photos of each class with its probability, because a query names five
    classes: scoring their postings (about 12,000 entries at 100,000 photos) instead of every
    photo's 25 classes takes a millisecond rather than 15."""

    image_ids: np.ndarray  # (n,), as StoredEmbedding.image_ids
    class_matrix: np.ndarray  # (1000, dim)
    offsets: np.ndarray  # (1001,) int64: class c's postings are rows[offsets[c]:offsets[c + 1]]
    rows: np.ndarray  # int64, the photos' rows, grouped by class
    probabilities: np.ndarray  # float32, p(class | photo) beside each row

    @classmethod
    def load(cls, catalog: CatalogStore, embedder: Embedder, stored: StoredEmbedding) -> ClassTable | None:
        found = catalog.photo_classes()
        if not found:
            return None
        class_matrix, synsets = _class_matrix(catalog, embedder)
        if class_matrix.shape[1] != stored.vectors.shape[1]:
            return None
        classes, rows, probabilities = _postings(found, stored.image_ids, np.arange(len(stored.image_ids)), synsets)
        return cls.from_postings(stored.image_ids, class_matrix, classes, rows, probabilities)

    @classmethod
    def from_postings(
        cls, image_ids: np.ndarray, class_matrix: np.ndarray, classes: np.ndarray, rows: np.ndarray, probabilities: np.ndarray
    ) -> ClassTable:
        order = np.argsort(classes * (len(image_ids) + 1) + rows, kind="stable")  # by class, then row
        offsets = np.searchsorted(classes[order], np.arange(len(class_matrix) + 1))
        return cls(image_ids, class_matrix, offsets.astype(np.int64), rows[order], probabilities[order].astype(np.float32))

    def classes_of_postings(self) -> np.ndarray:
        """The class of each posting, aligned with rows and probabilities."""
        return np.repeat(np.arange(len(self.class_matrix)), np.diff(self.offsets))

    def scores(self, query_vector: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """Each photo's probability of the classes the query names (Σ_c w_c · p(c | photo),
        lucida.concepts), aligned with image_ids, or with `rows` (sorted) when given: a search
        through the nearest-neighbour index needs a few hundred of a million."""
        weights = query_class_weights(query_vector, self.class_matrix)
        scores = np.zeros(len(self.image_ids) if rows is None else len(rows), dtype=np.float32)
        for c in np.flatnonzero(weights):
            start, end = self.offsets[c], self.offsets[c + 1]
            # A photo lists a class once, so the rows of one class's postings are distinct (and
            # sorted).
            posted, probabilities = self.rows[start:end], self.probabilities[start:end]
            if rows is None:
                scores[posted] += np.float32(weights[c]) * probabilities
            elif len(posted):
                at = np.minimum(np.searchsorted(posted, rows), len(posted) - 1)
                held = posted[at] == rows
                scores[held] += np.float32(weights[c]) * probabilities[at[held]]
        return scores

    def ranking(self, scores: np.ndarray, depth: int) -> np.ndarray:
        """The rows of the photos likeliest to show the classes the query names, best first."""
        return top_k(scores, min(depth, int((scores > 0.01).sum())))


@dataclass(frozen=True)
class SearchIndex:
    """Everything a search ranks with, one row per image with a vector."""

    vectors: StoredEmbedding
    class_table: ClassTable | None
    groups: PhotoGroups
    group_rows: np.ndarray  # per row: its photo group, or -1
    second_files: int  # rows that are not their photo's first (a pair's other file)
    row_by_id: np.ndarray  # image id -> its row (-1: none)
    # description id -> the row of its photo (-1: none), for every description of a photo with a
    # vector: the words a search finds are any of a photo's descriptions', metadata's included.
    description_rows: np.ndarray

    @classmethod
    def build(cls, catalog: CatalogStore, embedder: Embedder, conse: float, exports: str | None) -> SearchIndex:
        """From the catalog's SQL: `conse`, the weight of class-embedding vectors mixed into the
        photos' vectors (0: none); `exports`, the export pattern that joins exported JPEGs to
        their RAW (lucida.pairs)."""
        vectors = _search_vectors(catalog, embedder, conse)
        # Relevance weighs the classes in every ranking mode.
        class_table = ClassTable.load(catalog, embedder, vectors) if len(vectors.image_ids) else None
        row_by_id = _rows_by_id(vectors.image_ids)
        return cls._with_groups(catalog, vectors, class_table, exports, _description_rows(catalog, row_by_id))

    @classmethod
    def _with_groups(
        cls,
        catalog: CatalogStore,
        vectors: StoredEmbedding,
        class_table: ClassTable | None,
        exports: str | None,
        description_rows: np.ndarray,
    ) -> SearchIndex:
        """The index of these vectors, classes and description rows, with the photo groups read
        from the catalog (3 s at 1M photos)."""
        groups = group_photos(catalog.image_files(), export_pattern(exports))
        group_rows = np.fromiter(
            (groups.group_of.get(int(i), -1) for i in vectors.image_ids), dtype=np.int64, count=len(vectors.image_ids)
        )
        return cls.assemble(vectors, class_table, groups, group_rows, description_rows)

    def caught_up(
        self, catalog: CatalogStore, embedder: Embedder, conse: float, exports: str | None, changed: np.ndarray
    ) -> SearchIndex | None:
        """This index brought up to date with the photos changed since it was built (their ids,
        from catalog.changed_since): only their vectors and classes are read again. None where
        only a full build will do (the class texts' vectors, or the vectors' size, changed)."""
        old = self.vectors
        fresh = _search_vectors(catalog, embedder, conse, changed)
        if len(fresh.image_ids) and len(old.image_ids) and fresh.vectors.shape[1] != old.vectors.shape[1]:
            return None
        keep = np.flatnonzero(~np.isin(old.image_ids, changed))
        parts = [old.vectors[keep]] + ([fresh.vectors] if len(fresh.image_ids) else [])
        image_ids = np.concatenate([old.image_ids[keep], fresh.image_ids])
        order = np.argsort(image_ids, kind="stable")  # by image id, as a full build orders them
        position = np.empty(len(order), dtype=np.int64)
        position[order] = np.arange(len(order))
        vectors = StoredEmbedding(image_ids[order], np.concatenate(parts)[order].astype(np.float32, copy=False))
        moved = np.full(len(old.image_ids), -1, dtype=np.int64)  # old row -> new row (-1: changed)
        moved[keep] = position[: len(keep)]
        class_table = None
        if len(vectors.image_ids):
            found = catalog.photo_classes(fresh.image_ids.tolist())
            table = self.class_table
            if table is None:
                if found or catalog.photo_classes(vectors.image_ids[:1].tolist()):
                    return None  # the first classes: a full build makes the class table
            else:
                class_matrix, synsets = _class_matrix(catalog, embedder)
                if class_matrix.shape != table.class_matrix.shape or not np.array_equal(class_matrix, table.class_matrix):
                    return None
                # The kept photos' postings at their new rows, then the changed photos'.
                rows = moved[table.rows]
                kept = rows >= 0
                new_classes, new_rows, new_probabilities = _postings(
                    found, fresh.image_ids, position[len(keep) :], synsets
                )
                class_table = ClassTable.from_postings(
                    vectors.image_ids, table.class_matrix,
                    np.concatenate([table.classes_of_postings()[kept], new_classes]),
                    np.concatenate([rows[kept], new_rows]),
                    np.concatenate([np.asarray(table.probabilities)[kept], new_probabilities]),
                )  # fmt: skip
        # Descriptions: the kept photos' at their new rows (a photo's descriptions change only
        # with the photo), then the changed photos'.
        old_rows = np.asarray(self.description_rows)
        description_rows = np.where(old_rows >= 0, moved[np.maximum(old_rows, 0)], -1) if len(moved) else old_rows.copy()
        description_rows = _placed(description_rows, *catalog.description_images(changed), _rows_by_id(vectors.image_ids))
        return self._with_groups(catalog, vectors, class_table, exports, description_rows)

    @classmethod
    def assemble(
        cls,
        vectors: StoredEmbedding,
        class_table: ClassTable | None,
        groups: PhotoGroups,
        group_rows: np.ndarray,
        description_rows: np.ndarray,
    ) -> SearchIndex:
        return cls(
            vectors, class_table, groups, group_rows, second_files(group_rows), _rows_by_id(vectors.image_ids),
            description_rows,
        )  # fmt: skip

    def rows_of(self, description_ids: np.ndarray) -> np.ndarray:
        """The rows (sorted, distinct) of the photos that have one of these descriptions."""
        ids = description_ids[description_ids < len(self.description_rows)]
        rows = self.description_rows[ids]
        rows = rows[rows >= 0]
        # Descriptions are mostly made in the order of their photos, so these rows come nearly
        # sorted, and a stable sort (timsort) runs through them in one pass: 0.2 ms for the
        # 27,000 photos of "boat" at a million, against 2.5 ms for np.unique or 0.8 for a mask
        # over every row.
        rows.sort(kind="stable")
        distinct = np.ones(len(rows), dtype=bool)
        distinct[1:] = rows[1:] != rows[:-1]
        return rows[distinct]

    @classmethod
    def load(cls, catalog: CatalogStore, embedder: Embedder, conse: float, exports: str | None) -> SearchIndex:
        """The copy beside the catalog when it is current; otherwise brought up to date (only
        the photos changed since it was written are read again) or built, and written again."""
        folder = index_folder(catalog.path, embedder.name, conse, exports)
        generation = catalog.search_generation()
        copy = _read(folder) if folder is not None else None
        if copy is not None and copy[1] == generation:
            return copy[0]
        index = None
        if copy is not None and copy[1] < generation:
            changed = catalog.changed_since(copy[1])
            if len(changed) <= CATCH_UP_SHARE * max(len(copy[0].vectors.image_ids), 1):
                index = copy[0].caught_up(catalog, embedder, conse, exports, changed)
        if index is None:
            index = cls.build(catalog, embedder, conse, exports)
        if folder is not None:
            _write(index, folder, generation, {"embedder": embedder.name, "conse": conse, "exports": exports})
        return index


def _search_vectors(
    catalog: CatalogStore, embedder: Embedder, conse: float, image_ids: np.ndarray | None = None
) -> StoredEmbedding:
    """The photos' vectors as searched: their description's embedding mixed with `conse` times
    their class vector (lucida.concepts); all photos, or these."""
    vectors = catalog.search_vectors(embedder.name, image_ids=image_ids)
    if conse > 0:
        classes = catalog.search_vectors(embedder.name, table="class_mixtures", image_ids=image_ids)
        vectors = mix_vectors(vectors, classes, conse)
    return vectors


def _class_matrix(catalog: CatalogStore, embedder: Embedder) -> tuple[np.ndarray, dict[str, int]]:
    """The embedder's vectors of the 1,000 class texts, one row per class, and each synset's row."""
    vectors = class_vectors(catalog, embedder)
    synsets = list(vectors)
    return np.stack([vectors[s] for s in synsets]).astype(np.float32), {s: i for i, s in enumerate(synsets)}


def _postings(
    found: dict[int, list[dict]], image_ids: np.ndarray, rows: np.ndarray, synsets: dict[str, int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(class, row, probability) of every class these photos likely show (`found`: image id ->
    its classes); `rows`: each image's row in the index."""
    classes, at, probabilities = [], [], []
    for row, image_id in zip(rows.tolist(), image_ids.tolist()):
        for c in found.get(image_id, []):
            if c["synset"] in synsets and c["p"] > 0:
                classes.append(synsets[c["synset"]])
                at.append(row)
                probabilities.append(c["p"])
    return (
        np.asarray(classes, dtype=np.int64), np.asarray(at, dtype=np.int64), np.asarray(probabilities, dtype=np.float32)
    )  # fmt: skip


def _description_rows(catalog: CatalogStore, row_by_id: np.ndarray) -> np.ndarray:
    """description id -> the row of its photo (-1: none), for every description of a photo with a file."""
    return _placed(np.zeros(0, dtype=np.int64), *catalog.description_images(), row_by_id)


def _placed(
    description_rows: np.ndarray, description_ids: np.ndarray, image_ids: np.ndarray, row_by_id: np.ndarray
) -> np.ndarray:
    """`description_rows` (grown with -1 where these descriptions' ids pass its end) with each of
    these descriptions mapped to its image's row."""
    if len(description_ids) and description_ids.max() >= len(description_rows):
        grown = np.full(int(description_ids.max()) + 1, -1, dtype=np.int64)
        grown[: len(description_rows)] = description_rows
        description_rows = grown
    known = image_ids < len(row_by_id)
    description_rows[description_ids[known]] = row_by_id[image_ids[known]]
    return description_rows


def _rows_by_id(image_ids: np.ndarray) -> np.ndarray:
    row_by_id = np.full(int(image_ids.max()) + 1 if len(image_ids) else 0, -1, dtype=np.int64)
    row_by_id[image_ids] = np.arange(len(image_ids))
    return row_by_id


def index_folder(catalog_path: Path | str, embedder: str, conse: float, exports: str | None) -> Path | None:
    """Where the copy of this catalog's index for these settings lives: `<catalog>-search/`,
    one folder per embedder and settings. None for a catalog that is not a file."""
    return folder_beside(catalog_path, embedder, [INDEX_FORMAT, embedder, conse, exports])


def folder_beside(catalog_path: Path | str, embedder: str, settings: list, suffix: str = "") -> Path | None:
    """`<catalog>-search/<embedder>-<key><suffix>`: a folder of what is derived from the catalog
    for an embedder, one per `settings` (hashed into the key). None for a catalog that is not a file."""
    catalog_path = str(catalog_path)
    if not catalog_path or catalog_path == ":memory:":
        return None
    key = hashlib.sha256(json.dumps(settings).encode()).hexdigest()[:12]
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in embedder)
    return Path(f"{catalog_path}-search") / f"{safe}-{key}{suffix}"


def _read(folder: Path) -> tuple[SearchIndex, int] | None:
    """The copy in this folder, mapped into memory, and the generation it was built at; None when
    there is none or it cannot be read."""
    try:
        meta = json.loads((folder / "meta.json").read_text())
        if meta.get("format") != INDEX_FORMAT or not isinstance(meta.get("generation"), int):
            return None
        # Plain arrays over the mapped files: numpy's memmap class indexes through Python code,
        # 0.5 ms of a million-photo search's 10 (its 30 row lookups).
        arrays = {name: np.asarray(np.load(folder / f"{name}.npy", mmap_mode="r")) for name in meta["arrays"]}
        groups_json = json.loads((folder / "groups.json").read_text())
        groups = PhotoGroups(
            {int(i): int(g) for i, g in groups_json["group_of"]},
            {n: tuple(files) for n, files in enumerate(groups_json["files"])},
        )
        vectors = StoredEmbedding(np.asarray(arrays["image_ids"]), arrays["vectors"])
        class_table = None
        if "class_matrix" in arrays:
            class_table = ClassTable(
                vectors.image_ids, arrays["class_matrix"], arrays["class_offsets"], arrays["class_rows"],
                arrays["class_probabilities"],
            )  # fmt: skip
        index = SearchIndex.assemble(
            vectors, class_table, groups, np.asarray(arrays["group_rows"]), np.asarray(arrays["description_rows"])
        )
        return index, meta["generation"]
    except (OSError, ValueError, KeyError, TypeError):  # missing, damaged or foreign: rebuilt
        return None


def _write(index: SearchIndex, folder: Path, generation: int, settings: dict) -> None:
    """Write the copy into a new folder beside, then swap it in, so a reader never sees half."""
    arrays = {
        "image_ids": index.vectors.image_ids,
        "vectors": index.vectors.vectors,
        "group_rows": index.group_rows,
        "description_rows": index.description_rows,
    }
    if index.class_table is not None:
        arrays |= {
            "class_matrix": index.class_table.class_matrix,
            "class_offsets": index.class_table.offsets,
            "class_rows": index.class_table.rows,
            "class_probabilities": index.class_table.probabilities,
        }
    work = None
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
        work.chmod(0o755)  # mkdtemp makes it private; the catalog beside it may be shared
        for name, array in arrays.items():
            np.save(work / f"{name}.npy", np.ascontiguousarray(array))
        groups = {
            "group_of": sorted(index.groups.group_of.items()),
            "files": [list(index.groups.files[n]) for n in range(len(index.groups.files))],
        }
        (work / "groups.json").write_text(json.dumps(groups))
        meta = {"format": INDEX_FORMAT, "generation": generation, "arrays": sorted(arrays), **settings}
        (work / "meta.json").write_text(json.dumps(meta))  # last: a folder without it is never read
        old = folder.with_name(folder.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        if folder.exists():
            os.rename(folder, old)  # open memory maps of the old copy stay valid (POSIX)
        os.rename(work, folder)
        work = None
        shutil.rmtree(old, ignore_errors=True)
    except OSError as error:  # a read-only folder, a full disk: the next search rebuilds
        log.info("search index not saved beside the catalog: %s", error)
    finally:
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)


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


def second_files(group_rows: np.ndarray) -> int:
    """How many of these rows are not the first of their photo group."""
    grouped = group_rows[group_rows >= 0]
    return len(grouped) - len(np.unique(grouped))
