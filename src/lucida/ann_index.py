"""A nearest-neighbour index (an inverted file, faiss IVF) over one embedder's search vectors, in a
file beside the catalog: finds a query's most similar photos among a million in milliseconds
instead of scoring every vector (200 ms at 1M on 2 cores).

The photos' vectors are split into about sqrt(n) lists by k-means; a query scores the list
centres and reads only the nearest lists (20 of 1,000 at a million photos, 63 of 319 at
100,000: see `probes`), with the vectors stored as 8-bit codes. A search then scores what it
found again exactly, from the current float32 vectors (lucida.search).

The catalog stays the truth; the index is derived and can be deleted at any time.
- It is keyed by image id and records the search generation it reflects (lucida.catalog's
  `search_changes`). A search trusts it only for what has not changed since: the photos changed
  after that generation are scored exactly beside it, and every photo it returns is scored again
  from the current vectors, so a removed photo (no current vector) is never shown and a changed
  one is ranked by what it is now, whatever the file says.
- `update` (after an index, caption or watch pass) catches up: removes the changed photos' old
  codes, adds their new ones and writes a new file (a few seconds at 1M). When the catalog has
  grown or shrunk past twice or half what the lists were trained for, or photos of a new kind
  have arrived that no list's centre is near (see Placement), the lists are trained again and
  the index rebuilt (under a minute at 1M). A file is written beside and renamed into place, so
  a crash at any point leaves the previous file or the new one, never half of one.
- An inverted file rather than a graph (HNSW, usearch or faiss), measured on lucida's vectors
  (docs/benchmarks.md, "Issue 15"): photo libraries are clusters of near-duplicates (bursts, a
  describer's identical texts), where a graph's links stay inside each cluster: usearch's HNSW
  reached recall@10 0.52 at a million such photos, the inverted file 0.96. It is also built in
  seconds rather than minutes, and adds and removes entries directly. A one-search process maps
  the file and searches at once; a server reads it into memory, where a search is faster.
"""

from __future__ import annotations

import json
import logging
import math
import os
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from lucida.search_index import folder_beside

log = logging.getLogger(__name__)

# Lists read per query: recall@10 0.96 against exact at a million photos in 1,000 lists
# (bench/ann_engines.py)...
PROBES = 16
# ...and at least enough lists to read this many vectors. With fewer photos the lists are fewer
# and each mixes more kinds of photo, so a query's nearest centres say less about where its best
# photos are: at 100,000 photos (319 lists) 16 lists found 0.887 of the exact top 10, 32 lists
# 0.939 and 64 lists 0.980 (docs/benchmarks.md, "Issue 15"). Reading 20,000 codes takes about a
# millisecond.
MIN_SCANNED = 20_000
# Vectors the k-means of the lists is trained on, per list (faiss asks for at least 39).
TRAINING_PER_LIST = 50
# The lists are trained again when the photos have become more than this many times (or fewer
# than 1/this) the number they were trained for.
RETRAIN_AT = 2.0
# Photos of a new kind (a new subject, a trip somewhere new) can land far from every list's
# centre; a query near them reads other lists and misses them. After 10,000 such photos joined
# a million (bench/synthetic_catalog.py --add), recall@10 fell from 0.961 to 0.943, 40 of its
# 114 misses among the 1% new photos. So each update counts the vectors it adds that are less
# similar to their list's centre than PLACEMENT_QUANTILE of the vectors the lists were trained
# on, and the lists are trained again once those exceed what chance puts there by this share of
# the catalog (2,000 photos at a million).
PLACEMENT_QUANTILE = 0.05
MISPLACED_SHARE = 0.002
# Vectors the placement reference is measured on.
PLACEMENT_SAMPLE = 20_000
_SUFFIX = ".faiss"
_PLACEMENT = ".placement"
# A half-written file older than this was left by a writer that died (a write takes a minute at most).
STALE_WRITE_S = 3600


@dataclass(frozen=True)
class Placement:
    """How well the vectors added since the lists were trained sit in them."""

    reference: float  # PLACEMENT_QUANTILE of the training vectors' similarity to their list's centre
    added: int = 0  # vectors added since
    below: int = 0  # of them, those less similar to their list's centre than `reference`

    @property
    def misplaced(self) -> float:
        """The added vectors far from every centre beyond the share chance puts there."""
        return self.below - PLACEMENT_QUANTILE * self.added

    def after(self, similarity: np.ndarray) -> Placement:
        """This placement once vectors with these similarities to their centres are added."""
        return Placement(self.reference, self.added + len(similarity), self.below + int((similarity < self.reference).sum()))


@dataclass
class AnnIndex:
    """A saved index, memory-mapped, and the search generation its vectors reflect."""

    index: object  # faiss.IndexIVFScalarQuantizer
    generation: int
    path: Path
    placement: Placement | None = None  # None for an index written before placements were kept
    resident: bool = False  # read into memory, not mapped (see open)

    @property
    def size(self) -> int:
        return int(self.index.ntotal)

    @property
    def dimensions(self) -> int:
        return int(self.index.d)

    def nearest(self, vector: np.ndarray, k: int) -> np.ndarray:
        """The image ids of (about) the k nearest vectors to a unit query vector, nearest first.
        Only photos that have not changed since `generation` are found correctly."""
        k = min(k, self.size)
        if k <= 0:
            return np.zeros(0, dtype=np.int64)
        self.index.nprobe = probes(self.index.nlist, self.size)
        _, found = self.index.search(np.asarray(vector, dtype=np.float32).reshape(1, -1), k)
        return found[0][found[0] >= 0].astype(np.int64)

    @classmethod
    def open(cls, folder: Path, resident: bool = False, reuse: AnnIndex | None = None) -> AnnIndex | None:
        """The newest index in this folder, memory-mapped (`resident`: read into memory); None
        when there is none or it cannot be read (it is then rebuilt by the next update).
        A process that answers many searches reads it: at a million photos a search through the
        read index takes 7.5-7.7 ms (p50) against 9.0-9.6 through the mapped file, which its
        lists' 4 KB pages slow, for 0.1-0.2 s more to open (docs/benchmarks.md, issue 15). A
        one-search process (`lucida search`) maps it and reads only the lists it asks for.
        `reuse`: an index opened before, returned as it is when it is still the newest file
        (each write to the catalog opens the index again; a file is never changed in place)."""
        import faiss

        path = _newest(folder)
        if path is None:
            return None
        if reuse is not None and reuse.path == path:
            return reuse
        try:
            index = faiss.read_index(str(path), 0 if resident else faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY)
        except RuntimeError as error:
            log.info("nearest-neighbour index %s unreadable (%s); it will be rebuilt", path, error)
            return None
        return cls(index, int(path.stem), path, _read_placement(path), resident)


def probes(lists: int, size: int) -> int:
    """How many of an index's lists a query reads: PROBES, or more to read MIN_SCANNED vectors."""
    per_list = max(size / max(lists, 1), 1.0)
    return min(lists, max(PROBES, math.ceil(MIN_SCANNED / per_list)))


def update(
    folder: Path,
    image_ids: np.ndarray,
    vectors: np.ndarray,
    generation: int,
    changed: np.ndarray,
    resident: bool = False,
    reuse: AnnIndex | None = None,
) -> AnnIndex:
    """Bring the index in `folder` to `generation`: the current search vectors are (image_ids,
    vectors), rows aligned; `changed` the image ids changed since the index's own generation
    (all of them when there is no index). Writes the new file and returns it, memory-mapped
    (`resident`: the index as updated in memory, see AnnIndex.open). `reuse`: as for open; a
    resident index it returns is changed in place."""
    import faiss

    current = AnnIndex.open(folder, resident, reuse=reuse)
    if current is not None and current.generation >= generation:
        return current
    index = None
    if current is not None and current.dimensions == vectors.shape[1]:
        trained_for = current.index.nlist**2
        # An index written before codes stopped being residuals is rebuilt once (see _trained).
        if not current.index.by_residual and 1 / RETRAIN_AT <= max(len(image_ids), 1) / trained_for <= RETRAIN_AT:
            rows = np.flatnonzero(np.isin(image_ids, changed))  # the changed photos still in the catalog
            # An index from before placements were kept gets its reference from today's vectors.
            placement = current.placement or Placement(_reference(current.index, vectors))
            placement = placement.after(_centre_similarity(current.index, vectors[rows]))
            if placement.misplaced <= MISPLACED_SHARE * len(image_ids):
                # In memory: a mapped file cannot change.
                index = current.index if current.resident else faiss.read_index(str(current.path))
                index.remove_ids(np.ascontiguousarray(changed, dtype=np.int64))
            else:
                log.info("%d new photos lie far from the index's lists: training them again", placement.below)
    if index is None:
        index = _trained(vectors)
        rows = np.arange(len(image_ids))
        placement = Placement(_reference(index, vectors))
    if len(rows):
        index.add_with_ids(np.ascontiguousarray(vectors[rows], dtype=np.float32), np.ascontiguousarray(image_ids[rows]))
    path = _save(index, folder, generation, placement)
    for old in [*folder.glob(f"*{_SUFFIX}"), *folder.glob(f"*{_PLACEMENT}")]:
        if old.name.split(".")[0] != path.stem:
            old.unlink(missing_ok=True)
    # Read back mapped, which costs no reading of the lists, to know the file is sound; a
    # resident index is the one in memory, not read again (400 MB at a million photos).
    opened = AnnIndex.open(folder)
    if opened is None:
        raise OSError(f"the nearest-neighbour index just written to {path} cannot be read")
    return AnnIndex(index, opened.generation, opened.path, opened.placement, resident=True) if resident else opened


def _trained(vectors: np.ndarray):
    """An empty index whose lists (about sqrt(n)) and 8-bit codes are trained on these vectors."""
    import faiss

    lists = max(1, round(math.sqrt(len(vectors))))
    # Inner product of unit vectors is their cosine; the vectors are stored L2-normalised.
    index = faiss.IndexIVFScalarQuantizer(
        faiss.IndexFlatIP(vectors.shape[1]), vectors.shape[1], lists, faiss.ScalarQuantizer.QT_8bit,
        faiss.METRIC_INNER_PRODUCT,
    )  # fmt: skip
    # The codes are of the vectors themselves, not of their offsets from their list's centre: a
    # query is compared with them as it is, not once more per list it reads. At 1M photos,
    # 0.62 ms a search instead of 1.35, at the same recall@10 (0.960), and a third of the build
    # time (docs/benchmarks.md, "Issue 15").
    index.by_residual = False
    sample = np.random.default_rng(0).permutation(len(vectors))[: lists * TRAINING_PER_LIST]
    index.train(np.ascontiguousarray(vectors[np.sort(sample)], dtype=np.float32))
    return index


def _centre_similarity(index, vectors: np.ndarray) -> np.ndarray:
    """Each vector's similarity to the nearest of the index's list centres."""
    import faiss

    if not len(vectors):
        return np.zeros(0, dtype=np.float32)
    quantizer = faiss.extract_index_ivf(index).quantizer
    similarity, _ = quantizer.search(np.ascontiguousarray(vectors, dtype=np.float32), 1)
    return similarity[:, 0]


def _reference(index, vectors: np.ndarray) -> float:
    """PLACEMENT_QUANTILE of the similarity to their nearest centre of (a sample of) these
    vectors, the ones the lists were trained on."""
    sample = np.random.default_rng(1).permutation(len(vectors))[:PLACEMENT_SAMPLE]
    similarity = _centre_similarity(index, vectors[np.sort(sample)])
    return float(np.quantile(similarity, PLACEMENT_QUANTILE)) if len(similarity) else -1.0


def _read_placement(path: Path) -> Placement | None:
    try:
        return Placement(**json.loads(path.with_suffix(_PLACEMENT).read_text()))
    except (OSError, ValueError, TypeError):  # none (an older index, or a writer killed between the two files)
        return None


def _save(index, folder: Path, generation: int, placement: Placement | None = None) -> Path:
    """Write the index as `folder/<generation>.faiss`, and its placement beside it first (an
    index found without one gets a new reference at its next update)."""
    import faiss

    folder.mkdir(parents=True, exist_ok=True)
    # What a killed writer left: old enough that no writer still running can own it.
    for stale in folder.glob(".ann-*"):
        try:
            if time.time() - stale.stat().st_mtime > STALE_WRITE_S:
                stale.unlink()
        except OSError:
            pass
    path = folder / f"{generation:020d}{_SUFFIX}"
    if placement is not None:
        _write_atomically(path.with_suffix(_PLACEMENT), lambda name: Path(name).write_text(json.dumps(asdict(placement))))
    _write_atomically(path, lambda name: faiss.write_index(index, name))
    return path


def _write_atomically(path: Path, write) -> None:
    """`write(temporary name)`, then fsync and rename into place: a crash leaves the old file or
    the new one."""
    handle, temporary = tempfile.mkstemp(prefix=".ann-", dir=path.parent)
    os.close(handle)
    try:
        write(temporary)
        with open(temporary, "rb") as written:
            os.fsync(written.fileno())
        os.chmod(temporary, 0o644)  # mkstemp makes it private; the catalog beside it may be shared
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _newest(folder: Path) -> Path | None:
    try:
        found = sorted(p for p in folder.glob(f"*{_SUFFIX}") if p.stem.isdigit())
    except OSError:
        return None
    return found[-1] if found else None


def folder_for(catalog_path: Path | str, embedder: str, conse: float) -> Path | None:
    """Where the index of this catalog's vectors for an embedder and ConSE weight (what the
    searched vectors are made of) lives: `<catalog>-search/<embedder>-<key>.ann/`. None for a
    catalog that is not a file."""
    return folder_beside(catalog_path, embedder, [embedder, conse], ".ann")
