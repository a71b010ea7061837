"""SQLite access for the catalog. Every query lucida runs lives in this module."""

from __future__ import annotations

import json
import re
import sqlite3
import time
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Generic, TypeVar

import numpy as np

from lucida.catalog.faces import FaceStore
from lucida.catalog.migrations import LATEST_VERSION, MIGRATIONS
from lucida.display import display_caption
from lucida.errors import LucidaError
from lucida.metadata import FaceRegion, PhotoMetadata
from lucida.named_roots import NamedRoots

if TYPE_CHECKING:
    from lucida.catalog.filter import PhotoFilter

# Settings keys recording which models the catalog's search vectors come from.
ACTIVE_DESCRIBER = "describer"
ACTIVE_EMBEDDER = "embedder"
# The OpenAI-compatible server the active embedder runs at, when it runs at one (never a key).
ACTIVE_API_BASE = "api_base"

# Descriptions only searched by their words (lucida.metadata_text), never embedded: a photo's
# metadata as text. Search ranks photos by one vector each, from what the pixels show.
METADATA_DESCRIBER = "metadata"

# Which description stands for a photo: the one shown as its caption (in the words of
# lucida.display), the one its search vector is made from, the one `why` reads and the one
# export-xmp writes. A captioner's caption wins over a describer's text, then the catalog's active
# describer over others, then the newest. Metadata text is never a photo's description (it is only
# searched by its words). This is the one place the rule is written: every query below asks
# _preferred_id() or orders by _PREFERENCE_ORDER.
_ACTIVE_DESCRIBER_SQL = f"(SELECT value FROM settings WHERE key = '{ACTIVE_DESCRIBER}')"
_PREFERENCE_ORDER = (
    f"(d.kind = 'captioner') DESC, (d.describer = {_ACTIVE_DESCRIBER_SQL}) DESC, d.created_at DESC, d.id DESC"
)


def _preferred_id(image_id: str = "o.image_id", among: str = "TRUE") -> str:
    """SQL for the id of the description that stands for the image `image_id` (an SQL expression),
    among its descriptions (aliased d) that satisfy `among`: its preferred description, or where
    that lacks something a query needs (a vector, classes), the next in the same order."""
    return (
        f"(SELECT d.id FROM descriptions d WHERE d.image_id = {image_id} "
        f"AND d.describer != '{METADATA_DESCRIBER}' AND ({among}) ORDER BY {_PREFERENCE_ORDER} LIMIT 1)"
    )


# The descriptions (aliased d) that get a vector: not metadata text, of a photo with a file.
_EMBEDDABLE = f"d.describer != '{METADATA_DESCRIBER}' AND EXISTS (SELECT 1 FROM files f WHERE f.image_id = d.image_id)"
# Those of them with no vector from the embedder bound to `?`.
_UNEMBEDDED_DESCRIPTIONS = (
    f"FROM descriptions d WHERE {_EMBEDDABLE} "
    "AND NOT EXISTS (SELECT 1 FROM embeddings e WHERE e.description_id = d.id AND e.embedder = ?)"
)


@dataclass(frozen=True)
class SkippedFile:
    path: str
    reason: str


@dataclass(frozen=True)
class StoredEmbedding:
    """The search vectors of one embedder, one row per image that has a file."""

    image_ids: np.ndarray  # int64, shape (n,)
    vectors: np.ndarray  # float32, shape (n, dim), rows L2-normalised


@dataclass(frozen=True)
class CatalogStatus:
    files: int
    images: int
    pending: int
    unembedded: int
    skipped: list[SkippedFile]
    describers: dict[str, int]  # describer name -> images it described
    embedders: dict[str, int]  # embedder name -> descriptions it embedded
    settings: dict[str, str]
    caption_failures: int = 0  # images a captioner failed on, to be retried


@dataclass(frozen=True)
class ResultRow:
    image_id: int
    path: str
    caption: str  # what a person reads: the preferred description's display caption (lucida.display)
    describer: str
    width: int | None
    height: int | None
    taken_at: str | None
    search_text: str  # the preferred description's text as stored: what ranking and the vectors read
    # The preferred description's likeliest classes when it has them (shared: not to be
    # changed); None where photo_classes must look further (a caption without classes stands
    # for the photo).
    classes: tuple[dict, ...] | None = None


@dataclass(frozen=True)
class CaptionFailure:
    path: str  # one file showing the image
    captioner: str
    prompt: str
    error: str
    attempts: int


@dataclass(frozen=True)
class StoredFile:
    path: str
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class StoredDescription:
    describer: str
    prompt: str
    text: str
    details: dict | None
    created_at: float
    kind: str = "describer"  # or "captioner"
    revision: str | None = None  # of the model that wrote it, when known
    preferred: bool = False  # the description that stands for the photo (see _PREFERENCE_ORDER)

    @property
    def display(self) -> str:
        """The caption a person reads (lucida.display); `text` is what search reads."""
        return display_caption(self.text, self.details, self.kind)


@dataclass(frozen=True)
class ImageRecord:
    """Everything the catalog knows about one image."""

    image_id: int
    content_hash: str
    width: int | None
    height: int | None
    taken_at: str | None
    added_at: float
    files: list[StoredFile]  # by path
    descriptions: list[StoredDescription]  # oldest first

    @property
    def preferred(self) -> StoredDescription | None:
        """The description that stands for the photo: its caption everywhere lucida shows one."""
        return next((d for d in self.descriptions if d.preferred), None)


@dataclass(frozen=True)
class XmpWrite:
    """What `lucida export-xmp` wrote into one file, so that --undo removes exactly that."""

    target: str  # the sidecar, or with --embed the photo itself
    photo: str
    created: bool  # lucida created the sidecar
    description: str | None  # the dc:description lucida wrote; None when it wrote none
    replaced_description: str | None  # a description lucida replaced (--overwrite-description)
    keywords: tuple[str, ...]  # dc:subject entries lucida added (ones already there are not listed)
    hierarchical_keywords: tuple[str, ...]  # lr:hierarchicalSubject entries lucida added
    people: tuple[str, ...] = ()  # names of the MWG face regions lucida added
    people_in_image: tuple[str, ...] = ()  # Iptc4xmpExt:PersonInImage entries lucida added
    created_regions: bool = False  # lucida created the MWG RegionInfo (its AppliedToDimensions too)


class Catalog(FaceStore):
    """One catalog file. Not shared between threads: open one per thread or process."""

    def __init__(self, path: Path, connection: sqlite3.Connection, roots: NamedRoots | None = None):
        self.path = path
        self._db = connection
        # Paths go in as the catalog keeps them and come out as this machine's (lucida.named_roots).
        self._roots = roots or NamedRoots()
        self._in, self._out = self._roots.stored, self._roots.local
        # Answers read since the catalog's last write: the last few filters' passing images, and
        # result rows (filtered_image_ids, result_rows).
        self._filtered: _KeptUntilWrite[PhotoFilter, np.ndarray] = _KeptUntilWrite(FILTERS_KEPT)
        self._rows: _KeptUntilWrite[int, ResultRow] = _KeptUntilWrite(RESULT_ROWS_KEPT)
        # Where a page's matched words are found (_highlighted), made when first needed.
        self._scratch: sqlite3.Connection | None = None

    # -- the SQL dialect: SQLite's here; lucida.catalog.postgres overrides these -------------

    # A description's details hold the classifier's likeliest classes.
    _HAS_CLASSES = "d.details IS NOT NULL AND json_type(d.details, '$.classes') = 'array'"

    @staticmethod
    def _json_field(column: str, key: str) -> str:
        """SQL for the JSON text of `key` in the JSON object in `column` (NULL without)."""
        return f"json_extract({column}, '$.{key}')"

    @staticmethod
    def _id_table(image_ids: Iterable[int]) -> tuple[str, object]:
        """SQL for a table of these ids, distinct, in one column `id`, and its one parameter."""
        return "(SELECT DISTINCT value AS id FROM json_each(?))", json.dumps(np.asarray(image_ids).tolist())

    @staticmethod
    def _vector_value(vector: np.ndarray) -> object:
        """A search vector (embeddings, class mixtures) as the database stores it."""
        return np.ascontiguousarray(vector, dtype="<f4").tobytes()

    @staticmethod
    def _vector_array(values: list) -> np.ndarray:
        """Stored search vectors as one (n, dim) float32 array."""
        return np.frombuffer(b"".join(values), dtype="<f4").reshape(len(values), -1)

    # -- opening ---------------------------------------------------------------------------

    @classmethod
    def open(cls, path: str | Path, create: bool = True, roots: NamedRoots | None = None) -> Catalog:
        path = Path(path).expanduser().absolute()
        if not path.exists():
            if not create:
                raise LucidaError(f"no catalog at {path}; run `lucida index PATH` to create one")
            path.parent.mkdir(parents=True, exist_ok=True)
        try:
            # isolation_level=None: we issue BEGIN/COMMIT ourselves, one transaction per batch.
            db = sqlite3.connect(path, timeout=30, isolation_level=None)
            db.execute("PRAGMA busy_timeout = 30000")
            # WAL lets searches read while an index run writes. synchronous=FULL makes each
            # committed batch survive power loss, at the cost of one fsync per batch.
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = FULL")
            db.execute("PRAGMA foreign_keys = ON")
            catalog = cls(path, db, roots)
            catalog._migrate()
        except sqlite3.DatabaseError as error:
            raise LucidaError(f"cannot open catalog {path}: {error}") from error
        return catalog

    @property
    def location(self) -> str:
        """What a person calls this catalog: its file."""
        return str(self.path)

    def close(self) -> None:
        self._db.close()
        if self._scratch is not None:
            self._scratch.close()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _migrate(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > LATEST_VERSION:
            raise LucidaError(
                f"catalog {self.path} has schema version {version}, newer than this lucida "
                f"understands ({LATEST_VERSION}); upgrade lucida"
            )
        for migration in MIGRATIONS:
            if migration.version <= version:
                continue
            with self.transaction():
                for statement in _split_statements(migration.sql):
                    self._db.execute(statement)
                self._db.execute(f"PRAGMA user_version = {migration.version}")

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One atomic unit of work: everything inside commits together or not at all."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def data_version(self) -> int:
        """Changes whenever another connection commits; cheap to poll."""
        return self._db.execute("PRAGMA data_version").fetchone()[0]

    def search_generation(self) -> int:
        """Advances on every write to what a search is built from (files, descriptions, their
        vectors, class mixtures, class texts' vectors), by any process: the version of the
        search index's copy on disk (lucida.search_index)."""
        return self._db.execute("SELECT value FROM search_generation").fetchone()[0]

    def changed_since(self, generation: int) -> np.ndarray:
        """The ids of the images whose search data changed after this search generation (added,
        re-described, re-embedded, moved or removed), sorted: what an index built at that
        generation must catch up on (lucida.ann_index)."""
        rows = self._db.execute(
            "SELECT image_id FROM search_changes WHERE generation > ? ORDER BY image_id", (generation,)
        ).fetchall()
        return np.fromiter((i for (i,) in rows), dtype=np.int64, count=len(rows))

    def file_size_bytes(self) -> int:
        return sum(
            p.stat().st_size
            for p in (self.path, Path(f"{self.path}-wal"), Path(f"{self.path}-shm"))
            if p.exists()
        )

    # -- settings --------------------------------------------------------------------------

    def get_setting(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_setting(self, key: str, value: str) -> None:
        self._db.execute(
            "INSERT INTO settings (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def delete_setting(self, key: str) -> None:
        self._db.execute("DELETE FROM settings WHERE key = ?", (key,))

    def settings(self) -> dict[str, str]:
        return dict(self._db.execute("SELECT key, value FROM settings ORDER BY key"))

    # -- library roots --------------------------------------------------------------------

    def add_root(self, folder: str) -> None:
        """Remember a folder the user indexed (an absolute path)."""
        self._db.execute(
            "INSERT INTO roots (path, added_at) VALUES (?, ?) ON CONFLICT (path) DO NOTHING",
            (self._in(folder), time.time()),
        )

    def roots(self) -> list[str]:
        return sorted(self._out(p) for (p,) in self._db.execute("SELECT path FROM roots"))

    # -- files and what a scan needs -------------------------------------------------------

    def indexed_file_states(self) -> dict[str, tuple[int, int]]:
        """path -> (size, mtime_ns) of every indexed file."""
        return {self._out(p): (s, m) for p, s, m in self._db.execute("SELECT path, size, mtime_ns FROM files")}

    def skipped_file_states(self) -> dict[str, tuple[int | None, int | None]]:
        return {self._out(p): (s, m) for p, s, m in self._db.execute("SELECT path, size, mtime_ns FROM skipped")}

    def skipped_reasons(self) -> dict[str, str]:
        return {self._out(p): reason for p, reason in self._db.execute("SELECT path, reason FROM skipped")}

    def image_id_for_hash(self, content_hash: str) -> int | None:
        row = self._db.execute(
            "SELECT id FROM images WHERE content_hash = ?", (content_hash,)
        ).fetchone()
        return row[0] if row else None

    def described_hashes(self, describer: str, prompt: str = "") -> set[str]:
        """Content hashes of images that already have a description by this describer and prompt."""
        return {
            h
            for (h,) in self._db.execute(
                "SELECT i.content_hash FROM images i JOIN descriptions d ON d.image_id = i.id "
                "WHERE d.describer = ? AND d.prompt = ?",
                (describer, prompt),
            )
        }

    def add_image(
        self, content_hash: str, width: int | None, height: int | None, taken_at: str | None
    ) -> int:
        """Insert the image with this content, or refresh its facts; returns its id."""
        self._db.execute(
            "INSERT INTO images (content_hash, width, height, taken_at, added_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (content_hash) DO UPDATE SET "
            "width = excluded.width, height = excluded.height, taken_at = excluded.taken_at",
            (content_hash, width, height, taken_at, time.time()),
        )
        return self.image_id_for_hash(content_hash)  # type: ignore[return-value]

    def put_file(self, path: str, size: int, mtime_ns: int, image_id: int) -> None:
        """Record an indexed file; it is no longer pending or skipped."""
        path = self._in(path)
        self._db.execute(
            "INSERT INTO files (path, size, mtime_ns, image_id) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (path) DO UPDATE SET size = excluded.size, "
            "mtime_ns = excluded.mtime_ns, image_id = excluded.image_id",
            (path, size, mtime_ns, image_id),
        )
        self._db.execute("DELETE FROM skipped WHERE path = ?", (path,))
        self._db.execute("DELETE FROM pending WHERE path = ?", (path,))

    def put_skipped(self, path: str, size: int | None, mtime_ns: int | None, reason: str) -> None:
        """Record a file that could not be indexed. If it was indexed before, it leaves search."""
        path = self._in(path)
        self._db.execute(
            "INSERT INTO skipped (path, size, mtime_ns, reason, at) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (path) DO UPDATE SET size = excluded.size, mtime_ns = excluded.mtime_ns, "
            "reason = excluded.reason, at = excluded.at",
            (path, size, mtime_ns, reason, time.time()),
        )
        self._db.execute("DELETE FROM files WHERE path = ?", (path,))
        self._db.execute("DELETE FROM pending WHERE path = ?", (path,))

    def remove_paths(self, paths: Iterable[str]) -> int:
        """Forget files that no longer exist, and skip records for them. Returns files removed."""
        removed = 0
        for path in map(self._in, paths):
            removed += self._db.execute("DELETE FROM files WHERE path = ?", (path,)).rowcount
            self._db.execute("DELETE FROM skipped WHERE path = ?", (path,))
            self._db.execute("DELETE FROM pending WHERE path = ?", (path,))
        return removed

    def prune_orphan_images(self) -> int:
        """Drop images no file points to any more (their descriptions and embeddings go too)."""
        return self._db.execute(
            "DELETE FROM images WHERE NOT EXISTS (SELECT 1 FROM files WHERE files.image_id = images.id)"
        ).rowcount

    def replace_pending(self, paths: Iterable[str]) -> None:
        self._db.execute("DELETE FROM pending")
        self._db.executemany("INSERT INTO pending (path) VALUES (?) ON CONFLICT (path) DO NOTHING", ((self._in(p),) for p in paths))

    # -- descriptions and embeddings -------------------------------------------------------

    def put_description(
        self,
        image_id: int,
        describer: str,
        prompt: str,
        text: str,
        details: dict | None = None,
        kind: str = "describer",
        revision: str | None = None,
    ) -> int:
        """Store (or replace) an image's description by one describer and prompt.

        `kind` is "describer" or "captioner" (search prefers a caption); `revision` the model's.
        Replacing a description drops the embeddings made from its old text; a description
        supersedes a recorded failure of the same captioner and prompt.
        """
        self._db.execute(
            "INSERT INTO descriptions (image_id, describer, prompt, text, details, created_at, kind, revision) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (image_id, describer, prompt) DO UPDATE SET "
            "text = excluded.text, details = excluded.details, created_at = excluded.created_at, "
            "kind = excluded.kind, revision = excluded.revision",
            (image_id, describer, prompt, text, json.dumps(details) if details else None, time.time(), kind, revision),
        )
        description_id = self._db.execute(
            "SELECT id FROM descriptions WHERE image_id = ? AND describer = ? AND prompt = ?",
            (image_id, describer, prompt),
        ).fetchone()[0]
        self._db.execute("DELETE FROM embeddings WHERE description_id = ?", (description_id,))
        self._db.execute(
            "DELETE FROM caption_failures WHERE image_id = ? AND captioner = ? AND prompt = ?",
            (image_id, describer, prompt),
        )
        self._db.execute("DELETE FROM class_mixtures WHERE description_id = ?", (description_id,))
        return description_id

    # -- captions: the second tier ---------------------------------------------------------

    def images_to_caption(self, captioner: str, prompt: str) -> list[tuple[int, str]]:
        """(image id, one of its paths) of every filed image with no description by this
        captioner and prompt, failed ones included (they are retried)."""
        return [(i, self._out(p)) for i, p in self._db.execute(
            "SELECT f.image_id, min(f.path) FROM files f WHERE NOT EXISTS ("
            "SELECT 1 FROM descriptions d WHERE d.image_id = f.image_id AND d.describer = ? AND d.prompt = ?) "
            "GROUP BY f.image_id ORDER BY f.image_id",
            (captioner, prompt),
        )]

    def record_caption_failure(self, image_id: int, captioner: str, prompt: str, error: str) -> None:
        self._db.execute(
            "INSERT INTO caption_failures (image_id, captioner, prompt, error, attempts, at) "
            "VALUES (?, ?, ?, ?, 1, ?) ON CONFLICT (image_id, captioner, prompt) DO UPDATE SET "
            "error = excluded.error, attempts = caption_failures.attempts + 1, at = excluded.at",
            (image_id, captioner, prompt, error, time.time()),
        )

    def caption_failures(self) -> list[CaptionFailure]:
        """Images a captioner failed on (of those that still have a file), by path."""
        return [
            CaptionFailure(self._out(path), *rest)
            for path, *rest in self._db.execute(
                "SELECT min(f.path) AS p, c.captioner, c.prompt, c.error, c.attempts FROM caption_failures c "
                "JOIN files f ON f.image_id = c.image_id GROUP BY c.image_id, c.captioner, c.prompt ORDER BY p"
            )
        ]

    def put_embedding(self, description_id: int, embedder: str, vector: np.ndarray) -> None:
        self._db.execute(
            "INSERT INTO embeddings (description_id, embedder, vector) VALUES (?, ?, ?) "
            "ON CONFLICT (description_id, embedder) DO UPDATE SET vector = excluded.vector",
            (description_id, embedder, self._vector_value(vector)),
        )

    def descriptions_without_embedding(self, embedder: str) -> list[tuple[int, str, dict | None]]:
        """(description id, text, details) of every description of a filed image not yet embedded."""
        return _texts_and_details(
            self._db.execute(f"SELECT d.id, d.text, d.details {_UNEMBEDDED_DESCRIPTIONS} ORDER BY d.id", (embedder,))
        )

    def embedding_count(self, embedder: str) -> int:
        """How many descriptions have a vector from this embedder."""
        return self._db.execute("SELECT count(*) FROM embeddings WHERE embedder = ?", (embedder,)).fetchone()[0]

    def embedded_descriptions(self, embedder: str, after: int = 0, limit: int = 2048) -> list[tuple[int, str, dict | None]]:
        """(description id, text, details) of the descriptions of filed images that have a
        vector from this embedder, by id from `after` on, at most `limit` (a page: at a million
        photos the whole list would not fit in memory)."""
        rows = self._db.execute(
            f"SELECT d.id, d.text, d.details FROM descriptions d JOIN embeddings e ON e.description_id = d.id "
            f"WHERE e.embedder = ? AND d.id > ? AND {_EMBEDDABLE} ORDER BY d.id LIMIT ?",
            (embedder, after, limit),
        )
        return _texts_and_details(rows)

    def search_vectors(
        self, embedder: str, table: str = "embeddings", image_ids: np.ndarray | None = None
    ) -> StoredEmbedding:
        """One vector per image with a file: its preferred description's, or where that has none
        from `embedder` yet, the next description's in the same order. `table`: "embeddings", or
        "class_mixtures" for the descriptions' ConSE vectors. `image_ids`: only these images."""
        if table not in ("embeddings", "class_mixtures"):
            raise ValueError(table)
        has_vector = f"EXISTS (SELECT 1 FROM {table} x WHERE x.description_id = d.id AND x.embedder = ?)"
        if image_ids is None:
            rows = self._db.execute(
                f"SELECT o.image_id, e.vector FROM descriptions o JOIN {table} e ON e.description_id = o.id "
                f"AND e.embedder = ? WHERE o.id = {_preferred_id(among=has_vector)} "
                "AND EXISTS (SELECT 1 FROM files f WHERE f.image_id = o.image_id) ORDER BY o.image_id",
                (embedder, embedder),
            ).fetchall()
        else:
            # The wanted images drive the query: each one's preferred description, then its
            # vector (testing every description against the list took 2.7 s at 1M photos).
            wanted, ids = self._id_table(image_ids)
            rows = self._db.execute(
                f"SELECT w.id, e.vector FROM {wanted} w "
                f"JOIN {table} e ON e.description_id = {_preferred_id(image_id='w.id', among=has_vector)} "
                "AND e.embedder = ? WHERE EXISTS (SELECT 1 FROM files f WHERE f.image_id = w.id) ORDER BY w.id",
                (ids, embedder, embedder),
            ).fetchall()
        return self._stored_embedding(rows)

    def _stored_embedding(self, rows: list[tuple[int, object]]) -> StoredEmbedding:
        """(image id, stored vector) rows as a StoredEmbedding."""
        if not rows:
            return StoredEmbedding(np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32))
        image_ids = np.fromiter((i for i, _ in rows), dtype=np.int64, count=len(rows))
        return StoredEmbedding(image_ids, self._vector_array([v for _, v in rows]))

    def descriptions_by(self, describer: str, prompt: str = "") -> dict[str, tuple[int, str, dict | None]]:
        """content hash -> (description id, text, details) of each image's description by this
        describer and prompt."""
        return {
            h: (d, t, json.loads(details) if details else None)
            for h, d, t, details in self._db.execute(
                "SELECT i.content_hash, d.id, d.text, d.details FROM descriptions d JOIN images i ON i.id = d.image_id "
                "WHERE d.describer = ? AND d.prompt = ?",
                (describer, prompt),
            )
        }

    def vectors_of(self, description_ids: list[int], embedder: str) -> np.ndarray:
        """The embedder's vectors of these descriptions, in their order: (n, dim) float32.

        Raises KeyError for a description the embedder has not embedded.
        """
        found: dict[int, object] = {}
        for part in _chunks(description_ids):
            found.update(
                self._db.execute(
                    f"SELECT description_id, vector FROM embeddings WHERE embedder = ? "
                    f"AND description_id IN ({','.join('?' * len(part))})",
                    (embedder, *part),
                )
            )
        values = [found[i] for i in description_ids]
        if not values:
            return np.zeros((0, 0), dtype=np.float32)
        return self._vector_array(values)

    def result_rows(self, image_ids: list[int]) -> dict[int, ResultRow]:
        """Path, caption and search text for each image: its first path by name, its preferred
        description (its display caption, lucida.display, and its text as stored). One query
        for a page of results, not one per result. Rows read before are answered from memory
        until anything is written to the catalog: a busy server shows the same photos again and
        again (pages, repeated and similar searches), and the query was a fifth of a search's
        CPU at 10,000 photos."""
        state = self._write_state()
        wanted = list(dict.fromkeys(image_ids))
        found = {i: row for i in wanted if (row := self._rows.get(state, i)) is not None}
        missing = [i for i in wanted if i not in found]
        if missing:
            read = self._read_result_rows(missing)
            for image_id, row in read.items():
                self._rows.put(state, image_id, row)
            found = {i: row for i in wanted if (row := found.get(i) or read.get(i)) is not None}
        return found

    def _read_result_rows(self, image_ids: list[int]) -> dict[int, ResultRow]:
        found: dict[int, ResultRow] = {}
        for part in _chunks(list(dict.fromkeys(image_ids))):
            # Only the details' fields, which the caption is made from: parsing a describer's whole
            # details (its 25 classes) for each result cost more than the query.
            rows = self._db.execute(
                f"SELECT f.image_id, f.path, o.text, {self._json_field('o.details', 'fields')}, "
                f"{self._json_field('o.details', 'classes')}, o.kind, o.describer, i.width, i.height, {_TAKEN_AT} "
                "FROM files f JOIN images i ON i.id = f.image_id JOIN descriptions o ON o.id = "
                f"{_preferred_id('f.image_id')} LEFT JOIN file_metadata m ON m.path = f.path "
                f"WHERE f.image_id IN ({','.join('?' * len(part))}) "
                "AND f.path = (SELECT min(g.path) FROM files g WHERE g.image_id = f.image_id)",
                part,
            ).fetchall()
            for image_id, path, text, fields, classes, kind, *rest in rows:
                found[image_id] = ResultRow(
                    image_id, self._out(path), _caption_of(text, fields, kind), *rest, search_text=text,
                    classes=_listed_classes(classes) if classes else None,
                )  # fmt: skip
        return found

    def image_record(self, image_id: int) -> ImageRecord | None:
        """The image with this id and its files and descriptions; None when no file shows it."""
        row = self._db.execute(
            "SELECT content_hash, width, height, taken_at, added_at FROM images WHERE id = ?", (image_id,)
        ).fetchone()
        if row is None:
            return None
        files = [
            StoredFile(self._out(path), size, mtime_ns)
            for path, size, mtime_ns in self._db.execute(
                "SELECT path, size, mtime_ns FROM files WHERE image_id = ? ORDER BY path", (image_id,)
            )
        ]
        if not files:
            return None
        descriptions = [
            StoredDescription(
                describer, prompt, text, json.loads(details) if details else None, created_at, kind, revision,
                bool(preferred),
            )
            for describer, prompt, text, details, created_at, kind, revision, preferred in self._db.execute(
                "SELECT describer, prompt, text, details, created_at, kind, revision, "
                f"o.id = {_preferred_id()} FROM descriptions o WHERE image_id = ? ORDER BY created_at, id",
                (image_id,),
            )
        ]
        return ImageRecord(image_id, *row, files, descriptions)

    # -- words (FTS5) and fixed-text vectors ---------------------------------------------

    def descriptions_holding(self, words: list[str], every: bool) -> np.ndarray:
        """The ids of the descriptions that hold any of `words` (with `every`, all of them),
        unranked, ascending and distinct. Without BM25 scores FTS5 only merges its lists: about
        1.5 ms for the 2,500 descriptions a common word holds at 100,000 photos, against 12 ms
        ranked."""
        if not words:
            return np.zeros(0, dtype=np.int64)
        try:
            # One string, parsed by numpy, rather than a Python tuple a row: a third of the time
            # for the 450,000 descriptions a common word holds at 1M photos (130 ms, not 390).
            # FTS5 lists a MATCH's rows in ascending rowid order; asked to ORDER BY rowid,
            # SQLite sorted them again (37 ms for those 450,000 against 26).
            (joined,) = self._db.execute(
                "SELECT group_concat(rowid) FROM description_words WHERE description_words MATCH ?",
                (_fts5_match(words, every),),
            ).fetchone()
        except sqlite3.OperationalError as error:
            raise LucidaError(f"cannot search for {' '.join(words)!r}: {error}") from error
        if not joined:
            return np.zeros(0, dtype=np.int64)
        ids = np.fromstring(joined, dtype=np.int64, sep=",")
        if len(ids) > 1 and not bool(np.all(ids[1:] > ids[:-1])):  # never seen; the order is promised here
            ids = np.unique(ids)
        return ids

    def description_images(self, image_ids: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(description ids, their image ids) of every description of an image with a file (of
        these images only, when given)."""
        if image_ids is None:
            rows = self._db.execute(
                "SELECT d.id, d.image_id FROM descriptions d "
                "WHERE EXISTS (SELECT 1 FROM files f WHERE f.image_id = d.image_id)"
            ).fetchall()
        else:
            wanted, ids = self._id_table(image_ids)
            rows = self._db.execute(
                f"SELECT d.id, d.image_id FROM {wanted} w "
                "CROSS JOIN descriptions d WHERE d.image_id = w.id "
                "AND EXISTS (SELECT 1 FROM files f WHERE f.image_id = d.image_id)",
                (ids,),
            ).fetchall()
        ids = np.array(rows, dtype=np.int64).reshape(-1, 2)
        return ids[:, 0].copy(), ids[:, 1].copy()

    def matched_words(self, image_ids: list[int], words: list[str]) -> dict[int, tuple[list[str], dict | None]]:
        """image id -> the words of its description that match any of `words`, as they appear in
        the text, and that description's fields (its details' "fields", None without): the
        first description in the order that chooses its preferred one (metadata text last) that
        holds any of them. Images none of whose descriptions hold one are left out. Two queries
        for a page of results."""
        if not words or not image_ids:
            return {}
        descriptions: list[tuple[int, int, str | None, str]] = []
        for part in _chunks(list(dict.fromkeys(image_ids))):
            descriptions += self._db.execute(
                f"SELECT d.id, d.image_id, {self._json_field('d.details', 'fields')}, d.text FROM descriptions d "
                f"WHERE d.image_id IN ({','.join('?' * len(part))}) "
                f"ORDER BY d.image_id, (d.describer = '{METADATA_DESCRIBER}'), {_PREFERENCE_ORDER}",
                part,
            ).fetchall()
        highlighted = self._highlighted([(d, text) for d, _, _, text in descriptions], words)
        found: dict[int, tuple[list[str], dict | None]] = {}
        for description_id, image_id, fields, _ in descriptions:
            if image_id in found or description_id not in highlighted:
                continue
            matched = [piece.split("\x02", 1)[0] for piece in highlighted[description_id].split("\x01")[1:]]
            found[image_id] = (matched, json.loads(fields) if fields else None)
        return found

    def _highlighted(self, descriptions: list[tuple[int, str]], words: list[str]) -> dict[int, str]:
        """description id -> its text with each word that matches one of `words` between \\x01 and
        \\x02, for those of these (id, text) descriptions that hold one. FTS5 matches them in a
        table of their own in memory, made with the catalog's own tokenizer, so the matches are
        the catalog's: seeking each description in the catalog's index read a common word's list
        of half a million descriptions and cost 3-8 ms a page at a million photos, against under
        1 ms here."""
        scratch = self._scratch_words()
        with scratch:  # one transaction: emptied, filled, matched
            scratch.execute("DELETE FROM words")
            scratch.executemany("INSERT INTO words (rowid, text) VALUES (?, ?)", descriptions)
            return dict(
                scratch.execute(
                    "SELECT rowid, highlight(words, 0, char(1), char(2)) FROM words WHERE words MATCH ?",
                    (_fts5_match(words, every=False),),
                ).fetchall()
            )

    def _scratch_words(self) -> sqlite3.Connection:
        """An FTS5 table in memory, tokenized as the catalog's `description_words`."""
        if self._scratch is None:
            (definition,) = self._db.execute("SELECT sql FROM sqlite_master WHERE name = 'description_words'").fetchone()
            tokenizer = re.search(r"tokenize\s*=\s*'([^']*)'", definition)
            scratch = sqlite3.connect(":memory:")
            scratch.execute(
                "CREATE VIRTUAL TABLE words USING fts5(text"
                + (f", tokenize='{tokenizer.group(1)}'" if tokenizer else "")
                + ")"
            )
            self._scratch = scratch
        return self._scratch

    def description_details(self, describer: str, prompt: str = "") -> dict[int, dict | None]:
        """image id -> the details of its description by this describer and prompt, for every
        image with a file that has one."""
        return {
            image_id: json.loads(details) if details else None
            for image_id, details in self._db.execute(
                "SELECT d.image_id, d.details FROM descriptions d WHERE d.describer = ? AND d.prompt = ? "
                "AND EXISTS (SELECT 1 FROM files f WHERE f.image_id = d.image_id)",
                (describer, prompt),
            )
        }

    def filed_image_ids(self) -> list[int]:
        """Every image that has a file, by id."""
        return [i for (i,) in self._db.execute("SELECT DISTINCT image_id FROM files ORDER BY image_id")]

    def delete_description(self, image_id: int, describer: str, prompt: str = "") -> None:
        self._db.execute(
            "DELETE FROM descriptions WHERE image_id = ? AND describer = ? AND prompt = ?", (image_id, describer, prompt)
        )

    def photo_classes(self, image_ids: Iterable[int] | None = None) -> dict[int, list[dict]]:
        """image id -> the classifier's likeliest classes ({"synset", "label", "p"}) for the photo:
        from its preferred description, or where that has none, the next in the same order that
        has them. Every image with a file when `image_ids` is None."""
        query = (
            f"SELECT o.image_id, {self._json_field('o.details', 'classes')} FROM descriptions o "
            f"WHERE o.id = {_preferred_id(among=self._HAS_CLASSES)} "
            "AND EXISTS (SELECT 1 FROM files f WHERE f.image_id = o.image_id)"
        )
        if image_ids is None:
            rows = self._db.execute(query).fetchall()
        else:
            rows = [
                row for part in _chunks(list(dict.fromkeys(image_ids)))
                for row in self._db.execute(query + f" AND o.image_id IN ({','.join('?' * len(part))})", part)
            ]  # fmt: skip
        return {image_id: json.loads(classes) for image_id, classes in rows}

    def text_vectors(self, embedder: str, texts: list[str]) -> dict[str, np.ndarray]:
        """The stored vectors an embedder made of these texts (those it has made)."""
        found: dict[str, np.ndarray] = {}
        for part in _chunks(texts):
            for text, blob in self._db.execute(
                f"SELECT text, vector FROM text_vectors WHERE embedder = ? AND text IN ({','.join('?' * len(part))})",
                (embedder, *part),
            ):
                found[text] = np.frombuffer(blob, dtype="<f4")
        return found

    def put_text_vectors(self, embedder: str, vectors: dict[str, np.ndarray]) -> None:
        self._db.executemany(
            "INSERT INTO text_vectors (embedder, text, vector) VALUES (?, ?, ?) "
            "ON CONFLICT (embedder, text) DO UPDATE SET vector = excluded.vector",
            ((embedder, t, np.ascontiguousarray(v, dtype="<f4").tobytes()) for t, v in vectors.items()),
        )

    def details_without_class_mixture(self, embedder: str) -> list[tuple[int, dict]]:
        """(description id, details) of every description of a filed image that has details and
        no class mixture (lucida.concepts) for `embedder`."""
        return [
            (description_id, json.loads(details))
            for description_id, details in self._db.execute(
                "SELECT d.id, d.details FROM descriptions d WHERE d.details IS NOT NULL "
                "AND EXISTS (SELECT 1 FROM files f WHERE f.image_id = d.image_id) "
                "AND NOT EXISTS (SELECT 1 FROM class_mixtures m WHERE m.description_id = d.id AND m.embedder = ?) "
                "ORDER BY d.id",
                (embedder,),
            )
        ]

    def put_class_mixture(self, description_id: int, embedder: str, vector: np.ndarray) -> None:
        self._db.execute(
            "INSERT INTO class_mixtures (description_id, embedder, vector) VALUES (?, ?, ?) "
            "ON CONFLICT (description_id, embedder) DO UPDATE SET vector = excluded.vector",
            (description_id, embedder, self._vector_value(vector)),
        )

    # -- metadata -------------------------------------------------------------------------

    def put_metadata(self, path: str, metadata: PhotoMetadata, sidecars: str) -> None:
        """Store what an indexed file's metadata says; `sidecars` is the sidecar_signature read."""
        values = [getattr(metadata, name) for name in _METADATA_COLUMNS]
        values[-3:] = [
            json.dumps(list(metadata.keywords), ensure_ascii=False),
            json.dumps(list(metadata.hierarchical_keywords), ensure_ascii=False),
            json.dumps([{"name": r.name, "box": list(r.box)} for r in metadata.face_regions], ensure_ascii=False),
        ]
        self._db.execute(
            f"INSERT INTO file_metadata (path, sidecars, {', '.join(_METADATA_COLUMNS)}, read_at) "
            f"VALUES (?, ?, {', '.join('?' * len(_METADATA_COLUMNS))}, ?) "
            + _upsert("path", ("sidecars", *_METADATA_COLUMNS, "read_at")),
            (self._in(path), sidecars, *values, time.time()),
        )

    def metadata_states(self) -> dict[str, str]:
        """path -> the sidecar signature read, of every file whose metadata is stored."""
        return {self._out(p): sidecars for p, sidecars in self._db.execute("SELECT path, sidecars FROM file_metadata")}

    def file_metadata(self, path: str) -> PhotoMetadata | None:
        row = self._db.execute(
            f"SELECT {', '.join(_METADATA_COLUMNS)}, sidecars FROM file_metadata WHERE path = ?", (self._in(path),)
        ).fetchone()
        return _metadata_from_row(row) if row else None

    def image_metadata(self, image_ids: Iterable[int]) -> dict[int, PhotoMetadata]:
        """image id -> the metadata of its first file by path that has any stored."""
        found: dict[int, PhotoMetadata] = {}
        for image_id in image_ids:
            row = self._db.execute(
                f"SELECT {', '.join('m.' + c for c in _METADATA_COLUMNS)}, m.sidecars FROM files f "
                "JOIN file_metadata m ON m.path = f.path WHERE f.image_id = ? ORDER BY f.path LIMIT 1",
                (image_id,),
            ).fetchone()
            if row:
                found[image_id] = _metadata_from_row(row)
        return found

    def filtered_image_ids(self, photo_filter: PhotoFilter) -> list[int]:
        """Ids of the images with a file that passes every condition of the filter. The same
        filter again, with nothing written since, is answered from memory: the web page asks it
        for every page of results, and a filter that lets most photos through reads every file's
        metadata (0.4-0.5 s at a million photos)."""
        state = self._write_state()
        kept = self._filtered.get(state, photo_filter)
        if kept is not None:
            return kept.tolist()
        found = self._filtered_image_ids(photo_filter)
        self._filtered.put(state, photo_filter, np.asarray(found, dtype=np.int64))
        return found

    def _write_state(self) -> tuple | None:
        """What changes whenever anything may have been written to the catalog: another
        connection's commit (SQLite's data_version) or a row this connection changed. None where
        no such marker can be had cheaply, and inside a transaction: a rollback undoes rows this
        connection changed without moving either marker back."""
        if self._db.in_transaction:
            return None
        return (self.data_version(), self._db.total_changes)

    def _filtered_image_ids(self, photo_filter: PhotoFilter) -> list[int]:
        if photo_filter.folder:
            photo_filter = replace(photo_filter, folder=self._in(photo_filter.folder.rstrip("/")))
        conditions, values = _filter_sql(photo_filter)
        # Only the tables the conditions read: the image for its capture time only, and a file's
        # metadata with an inner join where a file without it fails a condition (which lets the
        # search start from file_metadata's indexes).
        tables = "files f"
        if _dated(photo_filter):
            tables += " JOIN images i ON i.id = f.image_id"
        if _needs_metadata(photo_filter):
            tables += " JOIN file_metadata m ON m.path = f.path"
        elif _dated(photo_filter):
            tables += " LEFT JOIN file_metadata m ON m.path = f.path"
        return [
            i
            for (i,) in self._db.execute(
                f"SELECT DISTINCT f.image_id FROM {tables}" + (f" WHERE {' AND '.join(conditions)}" if conditions else ""),
                values,
            )
        ]

    def capture_times(self) -> dict[int, str | None]:
        """image id -> its earliest capture time (ISO 8601 local) among its files, from metadata,
        else from decoding; None when neither knows. Every image with a file."""
        return dict(
            self._db.execute(
                f"SELECT f.image_id, min({_TAKEN_AT}) FROM files f JOIN images i ON i.id = f.image_id "
                "LEFT JOIN file_metadata m ON m.path = f.path GROUP BY f.image_id"
            )
        )

    def image_files(self) -> list[tuple[int, str]]:
        """(image id, path) of every indexed file."""
        return [(i, self._out(p)) for i, p in self._db.execute("SELECT image_id, path FROM files")]

    def files_under(self, roots: list[str] | None) -> list[tuple[str, int]]:
        """(path, image id) of every indexed file under one of `roots` (all when None), by path."""
        rows = sorted((self._out(p), i) for p, i in self._db.execute("SELECT path, image_id FROM files"))
        if roots is None:
            return rows
        from lucida.scan import under_any

        inside = under_any(roots)
        return [(p, i) for p, i in rows if inside(p)]

    # -- what export-xmp wrote -------------------------------------------------------------

    def xmp_write(self, target: str) -> XmpWrite | None:
        row = self._db.execute(f"SELECT {_XMP_WRITE_COLUMNS} FROM xmp_writes WHERE target = ?", (self._in(target),)).fetchone()
        return self._local_write(_xmp_write_from_row(row)) if row else None

    def xmp_writes(self) -> list[XmpWrite]:
        writes = [self._local_write(_xmp_write_from_row(r)) for r in self._db.execute(f"SELECT {_XMP_WRITE_COLUMNS} FROM xmp_writes")]
        return sorted(writes, key=lambda w: w.target)

    def _local_write(self, write: XmpWrite) -> XmpWrite:
        return replace(write, target=self._out(write.target), photo=self._out(write.photo))

    def put_xmp_write(self, write: XmpWrite) -> None:
        # The people column holds the three facts about people as one JSON object; '[]', its
        # default, is a write that added none.
        people = {
            "regions": list(write.people), "person_in_image": list(write.people_in_image),
            "created_regions": write.created_regions,
        }  # fmt: skip
        self._db.execute(
            f"INSERT INTO xmp_writes ({_XMP_WRITE_COLUMNS}, written_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
            + _upsert("target", (*_XMP_WRITE_COLUMNS.split(", ")[1:], "written_at")),
            (
                self._in(write.target), self._in(write.photo), int(write.created), write.description, write.replaced_description,
                json.dumps(list(write.keywords), ensure_ascii=False),
                json.dumps(list(write.hierarchical_keywords), ensure_ascii=False),
                json.dumps(people, ensure_ascii=False), time.time(),
            ),
        )

    def delete_xmp_write(self, target: str) -> None:
        self._db.execute("DELETE FROM xmp_writes WHERE target = ?", (self._in(target),))

    # -- the whole catalog, for a copy into PostgreSQL --------------------------------------

    def dump(self, table: str, chunk: int = 10_000) -> tuple[list[str], Iterator[list[tuple]]]:
        """One table as stored, for lucida.catalog.postgres's copy: its column names and its rows,
        `chunk` at a time, in rowid order (parents' ids before the rows that point at them)."""
        columns = [name for _, name, *_ in self._db.execute(f"PRAGMA table_info({table})")]

        def rows() -> Iterator[list[tuple]]:
            # A cursor of its own: the rows stream while the copy writes elsewhere.
            cursor = self._db.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY rowid")
            while part := cursor.fetchmany(chunk):
                yield part

        return columns, rows()

    # -- status ----------------------------------------------------------------------------

    def status(self) -> CatalogStatus:
        settings = self.settings()
        embedder = settings.get(ACTIVE_EMBEDDER, "")
        one = lambda sql, *args: self._db.execute(sql, args).fetchone()[0]  # noqa: E731
        return CatalogStatus(
            files=one("SELECT count(*) FROM files"),
            images=one("SELECT count(DISTINCT image_id) FROM files"),
            pending=one("SELECT count(*) FROM pending"),
            # Counted, not fetched: after an embedder switch that is every description's text.
            unembedded=one(f"SELECT count(*) {_UNEMBEDDED_DESCRIPTIONS}", embedder) if embedder else 0,
            skipped=sorted(
                (SkippedFile(self._out(p), r) for p, r in self._db.execute("SELECT path, reason FROM skipped")),
                key=lambda s: s.path,
            ),
            describers=dict(
                self._db.execute(
                    "SELECT describer, count(DISTINCT image_id) FROM descriptions "
                    "GROUP BY describer ORDER BY describer"
                )
            ),
            embedders=dict(
                self._db.execute(
                    "SELECT embedder, count(*) FROM embeddings GROUP BY embedder ORDER BY embedder"
                )
            ),
            settings=settings,
            caption_failures=one(
                "SELECT count(*) FROM caption_failures c WHERE EXISTS (SELECT 1 FROM files f WHERE f.image_id = c.image_id)"
            ),
        )


_K = TypeVar("_K")
_V = TypeVar("_V")


class _KeptUntilWrite(Generic[_K, _V]):
    """Answers a catalog read, kept until anything is written to it: each is kept for the write
    state it was read at (Catalog._write_state), all are let go when that state moves on, the
    least recently used past `most`. A state of None (no marker to be had) keeps nothing."""

    def __init__(self, most: int):
        self.most = most
        self._state: tuple | None = None
        self._kept: OrderedDict[_K, _V] = OrderedDict()

    def get(self, state: tuple | None, key: _K) -> _V | None:
        if state is None or state != self._state:
            return None
        value = self._kept.get(key)
        if value is not None:
            self._kept.move_to_end(key)
        return value

    def put(self, state: tuple | None, key: _K, value: _V) -> None:
        if state is None:
            return
        if state != self._state:
            self._kept.clear()
            self._state = state
        self._kept[key] = value
        self._kept.move_to_end(key)
        while len(self._kept) > self.most:
            self._kept.popitem(last=False)

    def clear(self) -> None:
        self._kept.clear()


# Filters whose passing images a catalog keeps (a few million ids at most, at 1M photos).
FILTERS_KEPT = 4
# Result rows kept between writes (Catalog.result_rows): every photo of a 10,000-photo library,
# the most recently shown of a larger one. A row shares its caption and classes with the caches
# below and adds about 1 KB (its path and search text).
RESULT_ROWS_KEPT = 10_000
# A file's capture time: what ExifTool read, else what decoding found (no ExifTool, or none read yet).
_TAKEN_AT = "coalesce(m.taken_at, i.taken_at)"
# What a camera's and a lens's words are looked for in, and a colour label compared with: the
# expressions migration 9 indexes, written the same way here so that the indexes apply.
_CAMERA_TEXT = "lower(coalesce({t}make, '') || ' ' || coalesce({t}model, ''))"
_LENS_TEXT = "lower({t}lens)"
_LABEL_TEXT = "lower({t}label)"


def _texts_and_details(rows: Iterable[tuple[int, str, str | None]]) -> list[tuple[int, str, dict | None]]:
    """(description id, text, details) rows with their details' JSON read."""
    return [(i, text, json.loads(details) if details else None) for i, text, details in rows]


def _dated(f: PhotoFilter) -> bool:
    """Whether the filter asks for a capture time range."""
    return bool(f.taken_from or f.taken_before)


def _needs_metadata(f: PhotoFilter) -> bool:
    """Whether every file that passes has a metadata row: a condition on its camera, lens, focal
    length, rating, label or position fails without one."""
    return bool(
        f.camera or f.lens or f.focal_min is not None or f.focal_max is not None or f.min_rating is not None
        or f.label or f.has_gps
    )  # fmt: skip


def _filter_sql(f: PhotoFilter) -> tuple[list[str], list]:
    """WHERE conditions over files f, images i (needed only for a date condition) and
    file_metadata m, and their parameters."""
    conditions: list[str] = []
    values: list = []

    def add(sql: str, *args) -> None:
        conditions.append(sql)
        values.extend(args)

    if _dated(f):
        bounds = [(op, bound) for op, bound in ((">=", f.taken_from), ("<", f.taken_before)) if bound]
        for op, bound in bounds:
            add(f"{_TAKEN_AT} {op} ?", bound)
        in_range = " AND ".join(f"taken_at {op} ?" for op, _ in bounds)
        limits = [bound for _, bound in bounds]
        # The capture time is the file's, else the image's: a file that passes has one of the two
        # in range, so the two indexed ranges hold every passing file (and few others).
        add(
            f"f.path IN (SELECT path FROM file_metadata WHERE {in_range} "
            f"UNION ALL SELECT path FROM files WHERE image_id IN (SELECT id FROM images WHERE {in_range}))",
            *limits, *limits,
        )  # fmt: skip
    for expression, typed in ((_CAMERA_TEXT, f.camera), (_LENS_TEXT, f.lens)):
        words = (typed or "").lower().split()
        if words:
            # The distinct texts that hold every word, found by stepping through the expression's
            # index (a few dozen cameras among a million files), then the files with those texts.
            text = expression.format(t="")
            holds = " AND ".join("x LIKE ? ESCAPE '\\'" for _ in words)
            add(
                f"{expression.format(t='m.')} IN (WITH RECURSIVE v(x) AS (SELECT min({text}) FROM file_metadata "
                f"UNION ALL SELECT (SELECT min({text}) FROM file_metadata WHERE {text} > v.x) FROM v WHERE v.x IS NOT NULL) "
                f"SELECT x FROM v WHERE {holds})",
                *(f"%{_like_escaped(word)}%" for word in words),
            )
    if f.focal_min is not None:
        add("m.focal_length >= ?", f.focal_min - 0.05)  # recorded focal lengths are rounded
    if f.focal_max is not None:
        add("m.focal_length <= ?", f.focal_max + 0.05)
    if f.min_rating is not None:
        add("m.rating >= ?", f.min_rating)
    if f.label:
        add(f"{_LABEL_TEXT.format(t='m.')} = ?", f.label.lower())
    if f.folder:
        prefix = f.folder.rstrip("/") + "/"
        # Paths compare byte by byte, so those under the folder lie between prefix and the same
        # with its "/" raised to "0": a range the path's index reads directly.
        add("f.path >= ? AND f.path < ?", prefix, prefix[:-1] + "0")
    if f.extensions:
        # A path's last characters, lower-cased, compared with the extensions of that length: one
        # comparison per file instead of a pattern per extension (1.3 s for the eight RAW ones at
        # a million files, 0.36 s this way). Extensions are lower-case, with their dot.
        by_length: dict[int, list[str]] = {}
        for end in sorted(f.extensions):
            by_length.setdefault(len(end), []).append(end)
        add(
            "(" + " OR ".join(
                f"lower(substr(f.path, length(f.path) - {size - 1})) IN ({', '.join('?' * len(ends))})"
                for size, ends in by_length.items()
            ) + ")",
            *(end for ends in by_length.values() for end in ends),
        )  # fmt: skip
    if f.has_gps:
        add("m.latitude IS NOT NULL AND m.longitude IS NOT NULL")
    # A photo of each person named (face_people says who a face shows). IN, not EXISTS: SQLite
    # then starts from the person's few faces rather than from every file.
    for name in f.people:
        add("f.image_id IN (SELECT fp.image_id FROM face_people fp JOIN people p ON p.id = fp.person_id WHERE p.name = ?)", name)
    if f.cluster is not None:
        add("f.image_id IN (SELECT fp.image_id FROM face_people fp WHERE fp.cluster = ?)", f.cluster)
    return conditions, values


_XMP_WRITE_COLUMNS = (
    "target, photo, created, description, replaced_description, keywords, hierarchical_keywords, people"
)


def _upsert(key: str, columns: Iterable[str]) -> str:
    """The clause that makes an INSERT replace the row with the same `key`'s `columns`."""
    return f"ON CONFLICT ({key}) DO UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in columns)


def _like_escaped(text: str) -> str:
    """`text` matched literally inside a LIKE pattern that declares ESCAPE '\\'."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _xmp_write_from_row(row: tuple) -> XmpWrite:
    target, photo, created, description, replaced, keywords, hierarchical, people = row
    added = json.loads(people)
    added = added if isinstance(added, dict) else {}  # '[]': no people
    return XmpWrite(
        target, photo, bool(created), description, replaced,
        tuple(json.loads(keywords)), tuple(json.loads(hierarchical)),
        people=tuple(added.get("regions", ())), people_in_image=tuple(added.get("person_in_image", ())),
        created_regions=bool(added.get("created_regions")),
    )  # fmt: skip


# file_metadata's columns named as PhotoMetadata's fields; the three JSON lists last.
_METADATA_COLUMNS = (
    "taken_at", "make", "model", "lens", "focal_length", "aperture", "exposure_time", "iso", "latitude",
    "longitude", "orientation", "rating", "label", "title", "description", "keywords", "hierarchical_keywords",
    "face_regions",
)  # fmt: skip


def _metadata_from_row(row: tuple) -> PhotoMetadata:
    """A PhotoMetadata from _METADATA_COLUMNS followed by the sidecar signature."""
    values = dict(zip(_METADATA_COLUMNS, row))
    for name in ("keywords", "hierarchical_keywords"):
        values[name] = tuple(json.loads(values[name]))
    values["face_regions"] = tuple(FaceRegion(r["name"], tuple(r["box"])) for r in json.loads(values["face_regions"]))
    sidecars = tuple(path for path, _size, _mtime in json.loads(row[-1]))
    return PhotoMetadata(**values, sidecars=sidecars)


# Result pages show the same photos again and again; their captions and classes are made once
# from the stored strings. A describer's 25 classes take about 8 KB as dicts: 80 MB when full.
RESULT_TEXTS_KEPT = 10_000


@lru_cache(maxsize=RESULT_TEXTS_KEPT)
def _caption_of(text: str, fields: str | None, kind: str) -> str:
    """The display caption of a stored description (lucida.display) from its text, the JSON text
    of its details' fields and its kind. Kept by those strings: making the caption and parsing
    the JSON cost a server more of its time than the query that read them (docs/benchmarks.md,
    "Issue 13")."""
    return display_caption(text, {"fields": json.loads(fields)} if fields else None, kind)


@lru_cache(maxsize=RESULT_TEXTS_KEPT)
def _listed_classes(classes: str) -> tuple[dict, ...] | None:
    """A description's classes from their stored JSON text (None unless a list)."""
    listed = json.loads(classes)
    return tuple(listed) if isinstance(listed, list) else None


def _chunks(values: list, size: int = 500) -> list[list]:
    """`values` in parts SQLite accepts as bound parameters (its limit is 999 in old builds)."""
    return [values[start : start + size] for start in range(0, len(values), size)]


def _split_statements(script: str) -> list[str]:
    """Split a migration into statements so they run inside our own transaction.

    (sqlite3's executescript would commit first.) Comments are dropped first; migrations
    contain no semicolons inside string literals. A trigger's body holds semicolons of its own,
    so pieces join until SQLite calls the statement complete.
    """
    code = "\n".join(line.split("--", 1)[0] for line in script.splitlines())
    statements, pending = [], ""
    for piece in code.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \n;"):
                statements.append(pending.strip())
            pending = ""
    return statements


def _fts5_match(words: list[str], every: bool) -> str:
    """An FTS5 MATCH expression that any of the words satisfies, or with `every` all of them.
    Each word is quoted, so FTS5 syntax in what a user typed (NEAR, AND, quotes) is only words."""
    quoted = ['"' + w.replace('"', '""') + '"' for w in words]
    return (" AND " if every else " OR ").join(quoted)
