"""`lucida index --ray`: the first tier's reading, decoding, describing and embedding spread over
a Ray cluster (lucida.ray_runs).

The driver (this process) does what needs the catalog: it scans the folders, chooses the files
that need work, reads their metadata with ExifTool, and commits what comes back one batch at a
time with the same store as `lucida index` (lucida.indexer.store_prepared), so a run killed at
any point resumes without redoing committed work. Each actor loads the describer and the
embedder once and, for a batch of files, does what `lucida index` does for it: read and hash
each file (a content already described is not decoded again), decode, describe, embed. A file
that cannot be read or decoded comes back with its reason and is recorded as skipped, as in
`lucida index`.
"""

from __future__ import annotations

import json
import os
import socket
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from lucida.catalog import CatalogStore
from lucida.errors import LucidaError
from lucida.indexer import IndexSummary, Made, MetadataRun, Prepared, describe_prepared, prepare_file, store_prepared
from lucida.models.base import Description
from lucida.progress import Progress
from lucida.ray_runs import RayRun, WorkerRates, actor_pool, connect, import_ray, through_actors, unwrapped
from lucida.scan import FoundFile

_FILE_FIELDS = ("path", "size", "mtime_ns", "change_stamp")


def describe_on_ray(
    catalog: CatalogStore,
    todo: list[FoundFile],
    run: RayRun,
    models: tuple[str, str, str],
    progress: Progress,
    summary: IndexSummary,
    metadata: MetadataRun | None,
) -> None:
    """Read, describe and embed `todo` on the cluster at run.address and store each batch as it
    comes back. `models`: the describer's name and prompt and the embedder's name, as this
    process chose them; the workers must load the same."""
    if not todo:
        return
    ray = import_ray("indexing")
    connect(ray, run.address)
    actors, per_actor = actor_pool(ray, run)
    # A model the workers lack, or one that is not the model chosen here, fails once, in one
    # line, before any actor starts.
    names = unwrapped(ray, lambda: ray.get(
        ray.remote(**per_actor)(_model_names).remote(run.describer, run.prompt, run.api_base, run.embedder, run.embedder_api_base)
    ))  # fmt: skip
    if names != models:
        raise LucidaError(f"the Ray workers load {names[0]} (prompt {names[1] or '-'}) and {names[2]}, not {models[0]} and {models[2]}: install the same lucida there")
    known = catalog.described_hashes(models[0], models[1])
    rows = [{field: getattr(f, field) for field in _FILE_FIELDS} for f in todo]
    arguments = (run.describer, run.prompt, run.api_base, run.embedder, run.embedder_api_base, frozenset(known))
    rates = WorkerRates()
    read_anything = False
    progress.start(f"indexing on {actors} Ray actor{'s' if actors != 1 else ''}", len(todo))
    try:
        for batch in through_actors(ray, rows, _IndexActor, arguments, run, actors, per_actor):
            prepared = _prepared(batch)
            read_anything = read_anything or any(p.content_hash for p in prepared)
            if not read_anything:
                # Files this process found and no worker could read: the share is not mounted
                # where the workers look. Said once, before the whole library is marked unreadable.
                first = prepared[0]
                raise LucidaError(
                    f"{first.reason} ({first.file.path}) on the Ray worker {batch['worker'][0]}: every worker "
                    "must reach the photos at the paths given here"
                )
            reading = metadata.read_later([p.file.path for p in prepared if p.reason is None]) if metadata else None
            store_prepared(catalog, prepared, models, progress, summary, reading, metadata)
            rates.add(str(batch["worker"][0]), len(prepared), float(batch["seconds"][0]))
            rates.show_now_and_then(progress)
    finally:
        progress.finish()
    rates.show(progress)


def _model_names(describer: str, prompt: str | None, api_base: str | None, embedder: str, embedder_api_base: str | None) -> tuple[str, str, str]:
    from lucida.models.registry import load_describer, load_embedder

    described_by = load_describer(describer, prompt, api_base)
    return described_by.name, described_by.prompt, load_embedder(embedder, embedder_api_base).name


def _prepared(batch: dict) -> list[Prepared]:
    """The files of one batch from the actors, as the store takes them."""
    prepared = []
    for row, file in enumerate(_files_of(batch)):
        made = None
        if batch["made"][row]:
            details = str(batch["details"][row])
            made = Made(
                Description(str(batch["text"][row]), json.loads(details) if details else None),
                np.asarray(batch["vector"][row], dtype=np.float32),
                int(batch["width"][row]), int(batch["height"][row]), str(batch["taken_at"][row]) or None,
            )  # fmt: skip
        content_hash = str(batch["content_hash"][row]) or None
        # A file this process found that a worker could not read (no hash) is the worker's
        # problem, not the file's: tried again next run rather than skipped until it changes.
        reason = str(batch["reason"][row]) or None
        prepared.append(Prepared(
            file, content_hash, reason=reason, retry=bool(batch["retry"][row]) or (reason is not None and content_hash is None),
            made=made,
        ))  # fmt: skip
    return prepared


def _files_of(batch: dict) -> list[FoundFile]:
    """The files of a batch, from its columns (_FILE_FIELDS)."""
    return [
        FoundFile(str(path), int(batch["size"][row]), int(batch["mtime_ns"][row]), int(batch["change_stamp"][row]))
        for row, path in enumerate(batch["path"])
    ]  # fmt: skip


class _IndexActor:
    """One actor of the pool: its describer and embedder, loaded once."""

    def __init__(self, describer: str, prompt: str | None, api_base: str | None, embedder: str, embedder_api_base: str | None, known: frozenset[str]):
        from lucida.models.registry import load_describer, load_embedder, load_now

        self.describer = load_describer(describer, prompt, api_base)
        self.embedder = load_embedder(embedder, embedder_api_base)
        for model in (self.describer, self.embedder):
            load_now(model)
        self.known = known
        self.vectors_by_text: dict[str, np.ndarray] = {}
        # Files decode in threads (Pillow and LibRaw let go of the GIL), as in `lucida index`.
        self.decoders = ThreadPoolExecutor(2, thread_name_prefix="decode")
        self.worker = f"{socket.gethostname()}:{os.getpid()}"

    def __call__(self, batch: dict) -> dict:
        started = time.monotonic()
        side = self.describer.input_side
        prepared = list(self.decoders.map(lambda f: prepare_file(f, self.known, side), _files_of(batch)))
        describe_prepared(prepared, self.describer, self.embedder, self.vectors_by_text)
        dimensions = next((len(p.made.vector) for p in prepared if p.made is not None), 1)
        vectors = np.zeros((len(prepared), dimensions), dtype=np.float32)
        for row, p in enumerate(prepared):
            if p.made is not None:
                vectors[row] = p.made.vector

        def column(values) -> np.ndarray:
            return np.array(list(values), dtype=object)

        made = [p.made for p in prepared]
        return {
            # The file as read (its size and times may have moved since the scan).
            "path": column(p.file.path for p in prepared),
            "size": np.array([p.file.size for p in prepared], dtype=np.int64),
            "mtime_ns": np.array([p.file.mtime_ns for p in prepared], dtype=np.int64),
            "change_stamp": np.array([p.file.change_stamp for p in prepared], dtype=np.int64),
            "content_hash": column(p.content_hash or "" for p in prepared),
            "reason": column(p.reason or "" for p in prepared),
            "retry": np.array([p.retry for p in prepared]),
            "made": np.array([m is not None for m in made]),
            "text": column(m.description.text if m else "" for m in made),
            "details": column(json.dumps(m.description.details) if m and m.description.details else "" for m in made),
            "width": np.array([m.width if m else 0 for m in made], dtype=np.int64),
            "height": np.array([m.height if m else 0 for m in made], dtype=np.int64),
            "taken_at": column(m.taken_at or "" if m else "" for m in made),
            "vector": vectors,
            "worker": column(self.worker for _ in prepared),
            "seconds": np.full(len(prepared), time.monotonic() - started),
        }
