"""`lucida caption --ray`: the second tier spread over a Ray cluster.

The driver (this process) reads the photos that need a caption from the catalog and writes
what comes back, one committed batch at a time, so a run killed at any point resumes without
redoing committed work. Ray Data does the rest: an actor pool whose actors each load the
captioner and the embedder once (one GPU each where the cluster has GPUs), read the photos from
storage every worker can reach, at the paths the catalog has, and caption and embed them. A
photo that cannot be read or captioned comes back as a failure and is recorded as one, as in
`lucida caption`; an actor whose process dies is restarted by Ray and its batch run again.

The captions and vectors are the ones `lucida caption` makes: the same models, the same decode
(lucida.describe), the same store (lucida.caption.store_captions).
"""

from __future__ import annotations

import json
import os
import socket
import time

import numpy as np

from lucida.caption import CaptionSummary, caption_batch, store_captions, store_vectors
from lucida.catalog import CatalogStore
from lucida.concepts import embedded_text
from lucida.models.base import Description
from lucida.progress import Progress, SilentProgress
from lucida.ray_runs import LOCAL, RayRun, WorkerRates, actor_pool, connect, import_ray, through_actors, unwrapped

__all__ = ["LOCAL", "RayRun", "caption_on_ray"]


def caption_on_ray(catalog: CatalogStore, run: RayRun, progress: Progress | None = None, limit: int | None = None) -> tuple[str, str, CaptionSummary]:
    """Caption every indexed photo that has no caption by this captioner and prompt yet, on the
    cluster at run.address; (captioner name, prompt, what it did)."""
    ray = import_ray("captioning")
    progress = progress or SilentProgress()
    started = time.monotonic()
    connect(ray, run.address)
    actors, per_actor = actor_pool(ray, run)
    # The model's facts, from a worker: the prompt it answers (which the catalog keys captions
    # by), and a missing model fails here, once, in one line, before any actor starts.
    name, prompt, kind, revision = unwrapped(ray, lambda: ray.get(
        ray.remote(**per_actor)(_model_facts).remote(run.describer, run.prompt, run.api_base)
    ))  # fmt: skip
    summary = CaptionSummary()
    todo = catalog.images_to_caption(name, prompt)
    if limit is not None:
        summary.remaining = max(len(todo) - limit, 0)
        todo = todo[:limit]
    if todo:
        _caption_all(ray, catalog, run, todo, actors, per_actor, (name, prompt, kind, revision), progress, summary)
    summary.seconds = time.monotonic() - started
    return name, prompt, summary


def _caption_all(ray, catalog: CatalogStore, run: RayRun, todo, actors: int, per_actor: dict, model: tuple, progress: Progress, summary: CaptionSummary) -> None:
    name, prompt, kind, revision = model
    rows = [{"image_id": int(i), "path": p} for i, p in todo]
    arguments = (run.describer, run.prompt, run.api_base, run.embedder, run.embedder_api_base)
    rates = WorkerRates()
    progress.start(f"captioning with {name} on {actors} Ray actor{'s' if actors != 1 else ''}", len(todo))
    try:
        for batch in through_actors(ray, rows, _CaptionActor, arguments, run, actors, per_actor):
            done, failures, vectors = _results(batch)
            ids = store_captions(catalog, name, prompt, kind, revision, done, failures)
            if ids and vectors is not None:
                store_vectors(catalog, run.embedder, ids, vectors)
            for image_id, why in failures.items():
                progress.note(f"caption failed for photo {image_id}: {why}")
            rates.add(str(batch["worker"][0]), len(batch["image_id"]), float(batch["seconds"][0]))
            summary.captioned += len(done)
            summary.failed += len(failures)
            progress.advance(len(batch["image_id"]))
            rates.show_now_and_then(progress)
    finally:
        progress.finish()
    rates.show(progress)


def _results(batch: dict) -> tuple[list[tuple[int, Description]], dict[int, str], np.ndarray | None]:
    """What one batch from the actors holds: captions, failures, and the captions' vectors
    (None when the embedder failed on a worker: the next run embeds them)."""
    done, failures, rows = [], {}, []
    for row, image_id in enumerate(batch["image_id"]):
        error = str(batch["error"][row])
        if error:
            failures[int(image_id)] = error
            continue
        details = str(batch["details"][row])
        done.append((int(image_id), Description(str(batch["text"][row]), json.loads(details) if details else None)))
        rows.append(row)
    embedded = bool(batch["embedded"][0]) if len(batch["image_id"]) else False
    return done, failures, (np.asarray(batch["vector"])[rows] if embedded and rows else None)


def _model_facts(spec: str, prompt: str | None, api_base: str | None) -> tuple[str, str, str, str | None]:
    from lucida.models.registry import load_describer, provenance

    model = load_describer(spec, prompt, api_base)
    return (model.name, model.prompt, *provenance(model.name))


class _CaptionActor:
    """One actor of the pool: its captioner and embedder, loaded once."""

    def __init__(self, captioner: str, prompt: str | None, api_base: str | None, embedder: str, embedder_api_base: str | None):
        from lucida.models.registry import load_describer, load_embedder

        self.captioner = load_describer(captioner, prompt, api_base)
        self.embedder = load_embedder(embedder, embedder_api_base)
        self.worker = f"{socket.gethostname()}:{os.getpid()}"

    def __call__(self, batch: dict) -> dict:
        started = time.monotonic()
        ids = [int(i) for i in batch["image_id"]]
        done, failures = caption_batch(list(zip(ids, (str(p) for p in batch["path"]))), self.captioner)
        captions = dict(done)
        texts = [captions[i].text if i in captions else "" for i in ids]
        details = [json.dumps(captions[i].details) if i in captions and captions[i].details else "" for i in ids]
        # A photo with neither a caption nor a reason (a model that returned nothing for it) is
        # a failure too: the driver stores every row without an error as a caption.
        why = ["" if i in captions else failures.get(i, "no caption") for i in ids]
        captioned = [row for row, i in enumerate(ids) if i in captions]
        vectors, embedded = self._embedded([embedded_text(captions[i].text, captions[i].details) for i in ids if i in captions])
        full = np.zeros((len(ids), vectors.shape[1] if embedded else 1), dtype=np.float32)
        if embedded:
            full[captioned] = vectors
        seconds = time.monotonic() - started
        return {
            "image_id": batch["image_id"], "text": np.array(texts, dtype=object), "details": np.array(details, dtype=object),
            "error": np.array(why, dtype=object), "vector": full, "embedded": np.full(len(ids), embedded),
            "worker": np.array([self.worker] * len(ids), dtype=object), "seconds": np.full(len(ids), seconds),
        }  # fmt: skip

    def _embedded(self, texts: list[str]) -> tuple[np.ndarray, bool]:
        if not texts:
            return np.zeros((0, 1), dtype=np.float32), False
        try:
            return np.asarray(self.embedder.embed_documents(texts), dtype=np.float32), True
        except Exception:  # noqa: BLE001 - the captions are kept; the next run embeds them
            return np.zeros((0, 1), dtype=np.float32), False
