"""A nearest-neighbour index (HNSW, usearch) over one embedder's search vectors, in a file beside
the catalog: finds a query's most similar photos among a million in milliseconds instead of
scoring every vector (146 ms at 1M on 2 cores).

The catalog stays the truth; the index is derived and can be deleted at any time.
- It is keyed by image id and records the search generation it reflects (lucida.catalog's
  `search_changes`). A search trusts it only for what has not changed since: the photos changed
  after that generation are scored exactly beside it, and every photo it returns is scored again
  from the current vectors, so a removed photo (no current vector) is never shown and a changed
  one is ranked by what it is now, whatever the file says.
- `update` (after an index, caption or watch run) catches up: removes the changed photos' old
  vectors (HNSW tombstones), adds their new ones, and writes a new file. A file is written beside
  and renamed into place, so a crash at any point leaves the previous file or the new one, never
  half of one. When tombstones pass a quarter of the index it is rebuilt from scratch.
- usearch rather than faiss, measured on lucida's vectors (docs/benchmarks.md, "Issue 15"): it
  removes entries, and it memory-maps a saved index, so a new process starts searching in
  milliseconds instead of reading the whole graph (0.5 s at 200,000 with faiss). Vectors are kept
  as 8-bit integers in the graph (a quarter of float32); the exact rescoring makes up the recall
  the quantisation loses.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

# Graph degree and construction effort: recall@10 ≥ 0.95 against exact at 1M with exact rescoring
# of SEARCH_DEPTH neighbours (bench/ann_search.py).
CONNECTIVITY = 16
EXPANSION_ADD = 64
# Rebuilt from scratch instead of updated when removed entries reach this share of live ones.
REBUILD_AT_TOMBSTONES = 0.25
_SUFFIX = ".usearch"
# A half-written file older than this was left by a writer that died (a write takes minutes at most).
STALE_WRITE_S = 3600


@dataclass
class AnnIndex:
    """A saved index, memory-mapped, and the search generation its vectors reflect."""

    index: object  # usearch.index.Index
    generation: int
    path: Path

    @property
    def size(self) -> int:
        return len(self.index)

    def nearest(self, vector: np.ndarray, k: int) -> np.ndarray:
        """The image ids of (about) the k nearest vectors to a unit query vector, nearest first.
        Only photos that have not changed since `generation` are found correctly."""
        k = min(k, len(self.index))
        if k <= 0:
            return np.zeros(0, dtype=np.int64)
        # The search list at least as long as the answer, or HNSW returns fewer than k.
        self.index.expansion_search = max(k, 64)
        found = self.index.search(np.asarray(vector, dtype=np.float32), k, threads=1)
        return np.asarray(found.keys, dtype=np.int64)

    @classmethod
    def open(cls, folder: Path) -> AnnIndex | None:
        """The newest index in this folder, memory-mapped; None when there is none or it cannot
        be read (it is then rebuilt by the next update)."""
        from usearch.index import Index

        path = _newest(folder)
        if path is None:
            return None
        try:
            index = Index.restore(str(path), view=True)
        except (OSError, RuntimeError, ValueError) as error:
            log.info("nearest-neighbour index %s unreadable (%s); it will be rebuilt", path, error)
            return None
        if index is None:
            return None
        return cls(index, _generation_of(path), path)


def update(folder: Path, image_ids: np.ndarray, vectors: np.ndarray, generation: int, changed: np.ndarray) -> AnnIndex:
    """Bring the index in `folder` to `generation`: the current search vectors are (image_ids,
    vectors), rows aligned; `changed` the image ids changed since the index's own generation
    (all of them when there is no index). Writes the new file and returns it, memory-mapped."""
    from usearch.index import Index

    current = AnnIndex.open(folder)
    row_of = dict(zip(image_ids.tolist(), range(len(image_ids))))
    if current is not None and current.generation >= generation:
        return current
    index = None
    if current is not None:
        stats = Index.metadata(str(current.path)) or {}
        deleted = int(stats.get("count_deleted", 0))
        live = max(int(stats.get("count_present", 0)), 1)
        if deleted + len(changed) < REBUILD_AT_TOMBSTONES * live and vectors.shape[1] == current.index.ndim:
            index = Index.restore(str(current.path))  # in memory: a view cannot change
    if index is None:
        index = _new_index(vectors.shape[1])
        index.add(image_ids, vectors, threads=os.cpu_count() or 1)
    else:
        present = changed[index.contains(changed)] if len(changed) else changed
        if len(present):
            index.remove(present)
        rows = np.array([row_of[i] for i in changed.tolist() if i in row_of], dtype=np.int64)
        if len(rows):
            index.add(image_ids[rows], vectors[rows], threads=os.cpu_count() or 1)
    path = _save(index, folder, generation)
    for old in folder.glob(f"*{_SUFFIX}"):
        if old != path:
            old.unlink(missing_ok=True)
    opened = AnnIndex.open(folder)
    if opened is None:
        raise OSError(f"the nearest-neighbour index just written to {path} cannot be read")
    return opened


def _new_index(dimensions: int):
    from usearch.index import Index

    # Inner product of unit vectors is their cosine; the vectors are stored L2-normalised.
    return Index(ndim=dimensions, metric="ip", dtype="i8", connectivity=CONNECTIVITY, expansion_add=EXPANSION_ADD)


def _save(index, folder: Path, generation: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    # What a killed writer left: old enough that no writer still running can own it.
    for stale in folder.glob(".ann-*"):
        try:
            if time.time() - stale.stat().st_mtime > STALE_WRITE_S:
                stale.unlink()
        except OSError:
            pass
    path = folder / f"{generation:020d}{_SUFFIX}"
    handle, temporary = tempfile.mkstemp(prefix=".ann-", dir=folder)
    os.close(handle)
    try:
        index.save(temporary)
        with open(temporary, "rb") as written:
            os.fsync(written.fileno())
        os.chmod(temporary, 0o644)  # mkstemp makes it private; the catalog beside it may be shared
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def _newest(folder: Path) -> Path | None:
    try:
        found = sorted(p for p in folder.glob(f"*{_SUFFIX}") if p.stem.isdigit())
    except OSError:
        return None
    return found[-1] if found else None


def _generation_of(path: Path) -> int:
    return int(path.stem)


def folder_for(catalog_path: Path | str, embedder: str, conse: float) -> Path | None:
    """Where the index of this catalog's vectors for an embedder and ConSE weight (what the
    searched vectors are made of) lives: `<catalog>-search/<embedder>-<key>.ann/`. None for a
    catalog that is not a file."""
    catalog_path = str(catalog_path)
    if not catalog_path or catalog_path == ":memory:":
        return None
    key = hashlib.sha256(json.dumps([embedder, conse]).encode()).hexdigest()[:12]
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in embedder)
    return Path(f"{catalog_path}-search") / f"{safe}-{key}.ann"
