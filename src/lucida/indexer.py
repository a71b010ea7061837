"""The indexing pipeline: find files -> read and hash -> decode -> describe -> embed -> store.

Decoding runs in worker threads (Pillow and LibRaw release the GIL) while the main thread runs
the models, so decode overlaps inference. Every batch commits in one transaction, and a file is
recorded only together with its description and vector: an interrupted run loses nothing it
committed and the next run resumes with no duplicates.
"""

from __future__ import annotations

import itertools
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np

from lucida.catalog import Catalog
from lucida.catalog.store import ACTIVE_DESCRIBER, ACTIVE_EMBEDDER
from lucida.concepts import EMBEDDED_TEXT_FORM, EMBEDDED_TEXT_SETTING, add_conse_vectors, embedded_text
from lucida.metadata_text import update_metadata_descriptions
from lucida.errors import LucidaError
from lucida.describe import Unreadable, decode_photo, describe_each
from lucida.media import DecodedPhoto, content_hash
from lucida.metadata import MetadataReader, PhotoMetadata, SidecarFile, exiftool_executable, find_sidecars, sidecar_signature
from lucida.models.base import Describer, Description, Embedder
from lucida.models.registry import load_now, provenance
from lucida.progress import Progress, SilentProgress
from lucida.scan import FoundFile, ScanProblem, disk_path, scan, under_any

if TYPE_CHECKING:
    from lucida.faces import FaceSummary
    from lucida.ray_runs import RayRun


# Texts whose vectors one run keeps for reuse (1.5 KB each at 384 dimensions).
_KNOWN_TEXTS_LIMIT = 20_000
# Catalog setting: "1" from the commit that files, drops or re-reads a photo until its metadata
# words are rewritten, so a run killed in between leaves the next run the work it did not do.
_METADATA_WORDS_STALE = "metadata_words_stale"


@dataclass
class IndexSummary:
    found: int = 0  # photo files found under the given paths
    unchanged: int = 0  # same size and mtime as when indexed: no work
    described: int = 0  # new or changed content run through the describer
    reused: int = 0  # moved, renamed or copied files that kept their stored description
    skipped: list[ScanProblem] = field(default_factory=list)  # could not be indexed this run
    skipped_before: int = 0  # skipped earlier and unchanged since: not tried again
    removed: int = 0  # files gone from disk, dropped from the catalog
    embedded: int = 0  # stored descriptions embedded afresh (e.g. after switching embedder)
    metadata_read: int = 0  # unchanged files whose metadata was read again (e.g. a sidecar was edited)
    seconds: float = 0.0
    embedder: str = ""  # the embedder the run used
    faces: FaceSummary | None = None  # what the faces tier did, when the config turns it on (lucida.faces)


@dataclass(frozen=True)
class Made:
    """What the models made of a new photo's content, with the facts its record keeps."""

    description: Description
    vector: np.ndarray
    width: int
    height: int
    taken_at: str | None


@dataclass
class Prepared:
    """One file of an index run on its way to the catalog."""

    file: FoundFile
    content_hash: str | None = None
    photo: DecodedPhoto | None = None  # decoded, to describe; None when the content is already described
    reason: str | None = None  # why it is skipped
    retry: bool = False  # skipped for a passing reason (a captioner API failed): try again next run
    made: Made | None = None  # once described and embedded


def index_paths(
    catalog: Catalog,
    paths: Iterable[str],
    describer: Describer,
    embedder: Embedder,
    progress: Progress | None = None,
    batch_size: int = 32,
    decode_workers: int = 2,
    ray: RayRun | None = None,
) -> IndexSummary:
    """Bring the catalog up to date with the photos under `paths` (folders or files). With
    `ray`, the files are read, described and embedded on a Ray cluster (lucida.index_ray); the
    scan, the metadata and every write stay here."""
    progress = progress or SilentProgress()
    roots = existing_roots(paths)
    started = time.monotonic()
    summary = IndexSummary(embedder=embedder.name)
    # Before this run adds vectors: a catalog's older ones are made again (or, with none yet,
    # every vector is recorded as made as now).
    summary.embedded = embed_again(catalog, embedder, progress)

    with catalog.transaction():
        catalog.set_setting(ACTIVE_DESCRIBER, describer.name)
        catalog.set_setting(ACTIVE_EMBEDDER, embedder.name)
        for root in roots:
            if os.path.isdir(root):  # folders become library roots, which `lucida serve` may reindex
                catalog.add_root(root)

    found = scan(roots)
    summary.found = len(found.files) + len(found.problems)
    todo = _files_needing_work(catalog, found.files, summary)
    # Problems the walk finds (link loops, unreadable folders, bad names) have no file state to
    # compare; one already recorded with the same reason is old news, not a new skip.
    known_reasons = catalog.skipped_reasons()
    new_problems = [p for p in found.problems if known_reasons.get(p.path) != p.reason]
    summary.skipped_before += len(found.problems) - len(new_problems)
    with catalog.transaction():
        for problem in new_problems:
            catalog.put_skipped(problem.path, problem.size, problem.change_stamp, problem.reason)
        catalog.replace_pending(f.path for f in todo)
    for problem in new_problems:
        progress.note(f"skipped {problem.path}: {problem.reason}")
    summary.skipped.extend(new_problems)

    metadata = MetadataRun.start(catalog, found.files, todo, progress)
    try:
        if ray is not None:
            from lucida.index_ray import describe_on_ray

            describe_on_ray(catalog, todo, ray, (describer.name, describer.prompt, embedder.name), progress, summary, metadata)
        else:
            _describe_files(catalog, todo, describer, embedder, progress, summary, batch_size, decode_workers, metadata)
        if metadata is not None:
            summary.metadata_read = metadata.refresh_stale(catalog, progress)
    finally:
        if metadata is not None:
            metadata.close()

    seen = {f.path for f in found.files} | {p.path for p in found.problems}
    with catalog.transaction():
        gone = _gone_paths(catalog, roots, seen, found.unreadable_dirs)
        summary.removed = catalog.remove_paths(gone)
        catalog.prune_orphan_images()
        if summary.removed:
            catalog.set_setting(_METADATA_WORDS_STALE, "1")

    summary.embedded += embed_missing(catalog, embedder, progress)
    add_conse_vectors(catalog, embedder, progress)
    # Only a commit that filed, dropped or re-read something can change a photo's metadata words,
    # and it marks them stale; a no-change rerun (and every idle `lucida watch` pass) skips
    # comparing all of them, and the run after a crash before this point does not.
    if catalog.get_setting(_METADATA_WORDS_STALE):
        update_metadata_descriptions(catalog)
        with catalog.transaction():
            catalog.delete_setting(_METADATA_WORDS_STALE)
    summary.seconds = time.monotonic() - started
    return summary


def existing_roots(paths: Iterable[str]) -> list[str]:
    """The paths as absolute paths; a LucidaError names the first that does not exist."""
    roots = [os.path.abspath(p) for p in paths]
    for root in roots:
        if not os.path.exists(root):
            raise LucidaError(f"{root} does not exist")
    return roots


def _files_needing_work(catalog: Catalog, files: list[FoundFile], summary: IndexSummary) -> list[FoundFile]:
    indexed = catalog.indexed_file_states()
    skipped = catalog.skipped_file_states()
    todo = []
    for f in files:
        if indexed.get(f.path) == (f.size, f.mtime_ns):
            summary.unchanged += 1
        elif skipped.get(f.path) == (f.size, f.change_stamp):
            summary.skipped_before += 1
        else:
            todo.append(f)
    return todo


def _describe_files(
    catalog: Catalog,
    todo: list[FoundFile],
    describer: Describer,
    embedder: Embedder,
    progress: Progress,
    summary: IndexSummary,
    batch_size: int,
    decode_workers: int,
    metadata: MetadataRun | None,
) -> None:
    if not todo:
        return
    # Lazily loaded models load here, as a phase of their own, rather than silently inside the
    # first batch (seconds on a small machine).
    progress.start("loading models", 2)
    try:
        for model in (describer, embedder):
            load_now(model)
            progress.advance()
    finally:
        progress.finish()
    known = catalog.described_hashes(describer.name, describer.prompt)
    prepare = lambda f: prepare_file(f, known, describer.input_side)  # noqa: E731
    vectors_by_text: dict[str, np.ndarray] = {}
    progress.start("indexing", len(todo))
    batch: list[Prepared] = []
    try:
        with ThreadPoolExecutor(decode_workers, thread_name_prefix="decode") as pool:
            for prepared in _in_order(pool, prepare, todo, window=batch_size * 2):
                batch.append(prepared)
                if len(batch) >= batch_size:
                    _store_batch(catalog, batch, describer, embedder, progress, summary, vectors_by_text, metadata)
                    batch = []
            _store_batch(catalog, batch, describer, embedder, progress, summary, vectors_by_text, metadata)
    finally:
        progress.finish()


def prepare_file(file: FoundFile, known_hashes: set[str], min_side: int) -> Prepared:
    """Read, hash and (unless the content is already described) decode one file. Never raises."""
    try:
        with open(file.path, "rb") as handle:
            info = os.fstat(handle.fileno())
            data = handle.read()
        # Record the state of the bytes we actually read, in case the file changed since the scan.
        file = replace(
            file,
            size=info.st_size,
            mtime_ns=info.st_mtime_ns,
            change_stamp=max(info.st_mtime_ns, info.st_ctime_ns),
        )
    except PermissionError:
        return Prepared(file, reason="cannot read file: permission denied")
    except OSError as error:
        return Prepared(file, reason=f"cannot read file: {error.strerror or error}")
    digest = content_hash(data)
    if digest in known_hashes:
        return Prepared(file, digest)
    photo = decode_photo(data, file.extension, min_side)
    if isinstance(photo, Unreadable):
        return Prepared(file, digest, reason=str(photo))
    return Prepared(file, digest, photo)


def _store_batch(
    catalog: Catalog,
    batch: list[Prepared],
    describer: Describer,
    embedder: Embedder,
    progress: Progress,
    summary: IndexSummary,
    vectors_by_text: dict[str, np.ndarray],
    metadata: MetadataRun | None,
) -> None:
    if not batch:
        return
    # ExifTool reads the batch in its own process while the models describe it.
    reading = metadata.read_later([p.file.path for p in batch if p.reason is None]) if metadata else None
    describe_prepared(batch, describer, embedder, vectors_by_text)
    store_prepared(catalog, batch, (describer.name, describer.prompt, embedder.name), progress, summary, reading, metadata)


def describe_prepared(batch: list[Prepared], describer: Describer, embedder: Embedder, vectors_by_text: dict[str, np.ndarray]) -> None:
    """Describe and embed the decoded photos of a batch (each one's `made`); a photo the
    describer fails on gets the reason, to be tried again next run."""
    fresh = [p for p in batch if p.photo is not None and p.reason is None]
    described, errors = describe_each([p.photo.image for p in fresh], describer)  # type: ignore[union-attr]
    for i, why in errors.items():
        fresh[i].reason, fresh[i].retry = f"describing failed, tried again next run: {why}", True
    descriptions = [d for i, d in enumerate(described) if i not in errors]
    fresh = [p for p in fresh if p.reason is None]
    texts = [embedded_text(d.text, d.details) for d in descriptions]  # type: ignore[union-attr]
    vectors = _embed_texts(embedder, texts, vectors_by_text)
    for prepared, description, vector in zip(fresh, descriptions, vectors):
        photo = prepared.photo
        prepared.made = Made(description, vector, photo.width, photo.height, photo.taken_at)  # type: ignore[arg-type,union-attr]
        prepared.photo = None  # the pixels are not needed any more


def store_prepared(
    catalog: Catalog,
    batch: list[Prepared],
    models: tuple[str, str, str],
    progress: Progress,
    summary: IndexSummary,
    reading: Future[dict[str, PhotoMetadata]] | None,
    metadata: MetadataRun | None,
) -> None:
    """Commit a batch in one transaction: each file with its description and vector, or its
    reason to be skipped. `models`: the describer's name and prompt, the embedder's name."""
    describer, prompt, embedder = models
    kind, revision = provenance(describer)
    read = reading.result() if reading else {}
    with catalog.transaction():
        catalog.set_setting(_METADATA_WORDS_STALE, "1")  # files come and go: see index_paths
        for prepared in batch:
            f = prepared.file
            if prepared.reason is not None:
                # No stamp for a retry: a file only matches its skip record when the stamps agree.
                stamp = (None, None) if prepared.retry else (f.size, f.change_stamp)
                catalog.put_skipped(f.path, *stamp, prepared.reason)
                continue
            made = prepared.made
            if made is not None:
                image_id = catalog.add_image(prepared.content_hash, made.width, made.height, made.taken_at)
                description_id = catalog.put_description(
                    image_id, describer, prompt, made.description.text, made.description.details, kind, revision
                )
                catalog.put_embedding(description_id, embedder, made.vector)
            else:
                image_id = catalog.image_id_for_hash(prepared.content_hash)
                if image_id is None:  # cannot happen within a run; left pending for the next
                    continue
            catalog.put_file(f.path, f.size, f.mtime_ns, image_id)
            if f.path in read:
                catalog.put_metadata(f.path, read[f.path], metadata.signature(f.path))  # type: ignore[union-attr]
    for prepared in batch:
        if prepared.reason is not None:
            summary.skipped.append(ScanProblem(prepared.file.path, prepared.reason))
            progress.note(f"skipped {prepared.file.path}: {prepared.reason}")
        elif prepared.made is not None:
            summary.described += 1
        else:
            summary.reused += 1
    progress.advance(len(batch))


class MetadataRun:
    """ExifTool for one index run: reads the metadata of the files being indexed, in a thread of
    its own so it overlaps the models, and then of unchanged files whose sidecars changed."""

    def __init__(self, reader: MetadataReader, sidecars: dict[str, tuple[SidecarFile, ...]], stale: list[str]):
        self.reader = reader
        self.sidecars = sidecars
        self.stale = stale
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="exiftool")

    @classmethod
    def start(
        cls, catalog: Catalog, files: list[FoundFile], todo: list[FoundFile], progress: Progress
    ) -> MetadataRun | None:
        """None when there is no metadata to read, or no ExifTool to read it (said in one line)."""
        try:
            exiftool_executable()
        except LucidaError as missing:
            progress.note(str(missing))
            return None
        sidecars = find_sidecars(f.path for f in files)
        stored = catalog.metadata_states()
        indexed = catalog.indexed_file_states()
        in_todo = {f.path for f in todo}
        stale = [
            f.path
            for f in files
            if f.path not in in_todo and f.path in indexed
            and stored.get(f.path) != sidecar_signature(sidecars.get(f.path, ()))
        ]
        if not todo and not stale:
            return None
        try:
            reader = MetadataReader()
        except Exception as error:  # a broken ExifTool install must not stop indexing
            progress.note(f"cannot start exiftool, so no metadata is read this run: {error}")
            return None
        return cls(reader, sidecars, stale)

    def signature(self, path: str) -> str:
        return sidecar_signature(self.sidecars.get(path, ()))

    def read_later(self, paths: list[str]) -> Future[dict[str, PhotoMetadata]]:
        return self._thread.submit(self.reader.read, paths, self.sidecars)

    def refresh_stale(self, catalog: Catalog, progress: Progress, chunk: int = 256) -> int:
        """Read again the metadata of unchanged files whose sidecars changed (or that have none
        stored yet, e.g. in a catalog made before lucida read metadata). Returns files read."""
        if not self.stale:
            return 0
        progress.start("reading metadata", len(self.stale))
        try:
            for start in range(0, len(self.stale), chunk):
                part = self.stale[start : start + chunk]
                read = self.reader.read(part, self.sidecars)
                with catalog.transaction():
                    catalog.set_setting(_METADATA_WORDS_STALE, "1")
                    for path in part:
                        catalog.put_metadata(path, read[path], self.signature(path))
                progress.advance(len(part))
        finally:
            progress.finish()
        return len(self.stale)

    def close(self) -> None:
        self._thread.shutdown()
        self.reader.close()


def _embed_texts(embedder: Embedder, texts: list[str], known: dict[str, np.ndarray]) -> list[np.ndarray]:
    """A vector per text, embedding each distinct text once per run: a classifier describer
    gives many photos (bursts, one subject) exactly the same text."""
    new = [t for t in dict.fromkeys(texts) if t not in known]
    if len(known) + len(new) > _KNOWN_TEXTS_LIMIT:
        known.clear()
        new = list(dict.fromkeys(texts))
    if new:
        known.update(zip(new, embedder.embed_documents(new)))
    return [known[t] for t in texts]


def _gone_paths(catalog: Catalog, roots: list[str], seen: set[str], unreadable_dirs: list[str]) -> list[str]:
    """Catalogued paths that are gone: under a root walked now and not found, or elsewhere and
    no longer on disk. Paths under folders that could not be listed are kept, and so are paths
    under a library folder that is not there at all: an unmounted drive or network share is
    offline, not deleted, and its photos come back with it."""
    gone = []
    known = itertools.chain(catalog.indexed_file_states(), catalog.skipped_file_states())
    offline = [root for root in catalog.roots() if not os.path.isdir(root)]
    # Set lookups, not a scan of every folder per path: `lucida index *.jpg` passes 10,000 roots.
    in_unreadable, in_roots, in_offline = under_any(unreadable_dirs), under_any(roots), under_any(offline)
    for path in dict.fromkeys(known):
        if path in seen or in_unreadable(path):
            continue
        # A skipped file whose name is not UTF-8 is recorded by its printable name: look for it
        # by its bytes, so a run over another folder keeps its record.
        on_disk = os.path.lexists(path) or os.path.lexists(disk_path(path))
        if in_roots(path) or not (on_disk or in_offline(path)):
            gone.append(path)
    return gone


def embed_missing(catalog: Catalog, embedder: Embedder, progress: Progress, chunk: int = 256) -> int:
    """Embed every stored description that lacks a vector from `embedder`, and make again the
    vectors a catalog made of the whole text before (concepts.embedded_text). No image is
    decoded."""
    made_again = embed_again(catalog, embedder, progress, chunk)
    rows = catalog.descriptions_without_embedding(embedder.name)
    if not rows:
        return made_again
    progress.start(f"embedding with {embedder.name}", len(rows))
    try:
        for start in range(0, len(rows), chunk):
            part = rows[start : start + chunk]
            _store_embedded(catalog, embedder, part)
            progress.advance(len(part))
    finally:
        progress.finish()
    return made_again + len(rows)


def embed_again(catalog: Catalog, embedder: Embedder, progress: Progress, chunk: int = 256) -> int:
    """Make again, once, the vectors a catalog made of its descriptions' whole text before
    concepts.embedded_text: page by page in id order, each page's vectors committed with how
    far the work has come (the setting "2:<last id>"), so an interrupted run resumes there."""
    setting = f"{EMBEDDED_TEXT_SETTING}:{embedder.name}"
    state = catalog.get_setting(setting) or ""
    if state == EMBEDDED_TEXT_FORM:
        return 0
    after = int(state.split(":")[1]) if state.startswith(EMBEDDED_TEXT_FORM + ":") else 0
    made = 0
    count = catalog.embedding_count(embedder.name)
    if not count:  # nothing was made before: every vector to come is made as now
        catalog.set_setting(setting, EMBEDDED_TEXT_FORM)
        return 0
    progress.start(f"embedding again with {embedder.name}", count)
    try:
        while page := catalog.embedded_descriptions(embedder.name, after, chunk):
            after = page[-1][0]
            whole = [row for row in page if embedded_text(row[1], row[2]) != row[1]]  # captions stay as they are
            _store_embedded(catalog, embedder, whole, (setting, f"{EMBEDDED_TEXT_FORM}:{after}"))
            made += len(whole)
            progress.advance(len(page))
        catalog.set_setting(setting, EMBEDDED_TEXT_FORM)
    finally:
        progress.finish()
    return made


def _store_embedded(
    catalog: Catalog, embedder: Embedder, rows: list[tuple[int, str, dict | None]], setting: tuple[str, str] | None = None
) -> None:
    """Embed these stored descriptions (id, text, details) and store their vectors in one
    transaction, with `setting` (key, value) when given."""
    vectors = embedder.embed_documents([embedded_text(text, details) for _, text, details in rows]) if rows else []
    with catalog.transaction():
        for (description_id, _, _), vector in zip(rows, vectors):
            catalog.put_embedding(description_id, embedder.name, vector)
        if setting is not None:
            catalog.set_setting(*setting)


def _in_order(pool: ThreadPoolExecutor, work: Callable, items: list, window: int) -> Iterator:
    """Like pool.map, but with at most `window` items in flight, so memory stays bounded."""
    pending: deque = deque()
    source = iter(items)
    try:
        for item in itertools.islice(source, window):
            pending.append(pool.submit(work, item))
        while pending:
            result = pending.popleft().result()
            for item in itertools.islice(source, 1):
                pending.append(pool.submit(work, item))
            yield result
    finally:
        for future in pending:
            future.cancel()
