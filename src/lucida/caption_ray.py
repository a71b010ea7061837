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
import logging
import os
import socket
import time
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from lucida.caption import CaptionSummary, caption_batch, store_captions, store_vectors
from lucida.catalog import CatalogStore
from lucida.errors import LucidaError
from lucida.models.base import Description
from lucida.progress import Progress, SilentProgress

LOCAL = "local"  # --ray without an address: a Ray cluster on this machine, for this run
# Per-worker rates are shown this often (seconds), and when the run ends.
RATE_EVERY_S = 30.0


@dataclass(frozen=True)
class RayRun:
    """Where and how wide: a Ray address (LOCAL, "auto", "ray://head:10001"), actors (None: one
    per GPU, else one per two CPUs), photos per batch and the captioner's and embedder's specs."""

    address: str
    captioner: str
    prompt: str | None
    api_base: str | None
    embedder: str
    embedder_api_base: str | None
    actors: int | None = None
    batch_size: int = 4


@dataclass
class _WorkerRate:
    photos: int = 0
    seconds: float = 0.0


@dataclass
class _Rates:
    workers: dict[str, _WorkerRate] = field(default_factory=lambda: defaultdict(_WorkerRate))

    def lines(self) -> list[str]:
        return [
            f"worker {name}: {rate.photos} photos, {rate.photos / rate.seconds:.2f} photos/s"
            for name, rate in sorted(self.workers.items()) if rate.seconds > 0
        ]  # fmt: skip


def caption_on_ray(catalog: CatalogStore, run: RayRun, progress: Progress | None = None, limit: int | None = None) -> tuple[str, str, CaptionSummary]:
    """Caption every indexed photo that has no caption by this captioner and prompt yet, on the
    cluster at run.address; (captioner name, prompt, what it did)."""
    ray = _ray()
    progress = progress or SilentProgress()
    started = time.monotonic()
    _connect(ray, run.address)
    gpus = int(ray.cluster_resources().get("GPU", 0))
    cpus = int(ray.cluster_resources().get("CPU", 1))
    actors = run.actors or gpus or max(1, cpus // 2)
    per_actor = {"num_gpus": 1} if gpus else {"num_cpus": max(1, cpus // actors)}
    # The model's facts, from a worker: the prompt it answers (which the catalog keys captions
    # by), and a missing model fails here, once, in one line, before any actor starts.
    name, prompt, kind, revision = _unwrapped(ray, lambda: ray.get(
        ray.remote(**per_actor)(_model_facts).remote(run.captioner, run.prompt, run.api_base)
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
    ray.data.DataContext.get_current().enable_progress_bars = False
    # Small blocks: each batch of photos streams back (and commits) as soon as it is captioned.
    photos = ray.data.from_items(
        [{"image_id": int(i), "path": p} for i, p in todo], override_num_blocks=max(1, -(-len(todo) // run.batch_size))
    )
    captioned = photos.map_batches(
        _CaptionActor,
        fn_constructor_args=(run.captioner, run.prompt, run.api_base, run.embedder, run.embedder_api_base),
        batch_size=run.batch_size,
        compute=ray.data.ActorPoolStrategy(size=actors),
        # Ray Data's own defaults for an actor pool (max_restarts and max_task_retries -1) start
        # a killed actor again and rerun its batch (tests/test_caption_ray.py kills one).
        **per_actor,
    )
    rates = _Rates()
    shown_at = time.monotonic()
    progress.start(f"captioning with {name} on {actors} Ray actor{'s' if actors != 1 else ''}", len(todo))
    try:
        for batch in _unwrapped(ray, lambda: captioned.iter_batches(batch_size=None, batch_format="numpy")):
            done, failures, vectors = _results(batch)
            ids = store_captions(catalog, name, prompt, kind, revision, done, failures)
            if ids and vectors is not None:
                store_vectors(catalog, run.embedder, ids, vectors)
            for image_id, why in failures.items():
                progress.note(f"caption failed for photo {image_id}: {why}")
            worker = str(batch["worker"][0])
            rates.workers[worker].photos += len(batch["image_id"])
            rates.workers[worker].seconds += float(batch["seconds"][0])
            summary.captioned += len(done)
            summary.failed += len(failures)
            progress.advance(len(batch["image_id"]))
            if time.monotonic() - shown_at > RATE_EVERY_S:
                shown_at = time.monotonic()
                for line in rates.lines():
                    progress.note(line)
    finally:
        progress.finish()
    for line in rates.lines():
        progress.note(line)


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
        vectors, embedded = self._embedded([texts[row] for row in captioned])
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


def _connect(ray, address: str) -> None:
    # Ray Data reports its plans and progress through logging; lucida's progress says what matters.
    for name in ("ray", "ray.data"):
        logging.getLogger(name).setLevel(logging.ERROR)
    if ray.is_initialized():
        return
    options = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
    try:
        if address == LOCAL:
            ray.init(**options)
        else:
            ray.init(address=address, **options)
    except (ConnectionError, ValueError, RuntimeError) as error:
        raise LucidaError(f"cannot reach the Ray cluster at {address}: {str(error).splitlines()[0]}") from error


def _unwrapped(ray, work):
    """`work()`, with a LucidaError raised on a worker (a model that is not there) re-raised here
    as itself, so the CLI prints its one line."""
    try:
        return work()
    except ray.exceptions.RayError as error:
        cause = getattr(error, "cause", None)
        while cause is not None and not isinstance(cause, LucidaError):
            cause = getattr(cause, "cause", None) or cause.__cause__
        if isinstance(cause, LucidaError):
            raise LucidaError(str(cause)) from error
        raise


def _ray():
    try:
        import ray
        import ray.data
    except ImportError as error:
        raise LucidaError("captioning on Ray needs Ray Data: pip install 'lucida[ray]'") from error
    return ray
