"""The second indexing tier: a vision-language captioner fills in detailed captions for photos the
fast describer already covers, and search uses them from then on.

Resumable: every batch commits its captions (and their vectors) in one transaction, and the next
run captions only images without a caption by this captioner and prompt. One bad photo never
stops the run: a photo that cannot be read or captioned is recorded as failed, with why, and is
tried again on the next run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from lucida.catalog import Catalog, CatalogStore
from lucida.concepts import embedded_text
from lucida.describe import Unreadable, describe_each, read_photo
from lucida.indexer import embed_missing
from lucida.models.base import Describer, Description, Embedder
from lucida.models.registry import provenance
from lucida.progress import Progress, SilentProgress


@dataclass
class CaptionSummary:
    captioned: int = 0
    failed: int = 0  # recorded as failed this run; retried on the next
    remaining: int = 0  # left for a later run by --limit
    seconds: float = 0.0


def caption_photos(
    catalog: Catalog,
    captioner: Describer,
    embedder: Embedder,
    progress: Progress | None = None,
    batch_size: int = 4,
    limit: int | None = None,
    decode_workers: int = 2,
) -> CaptionSummary:
    """Caption every indexed image that has no caption by this captioner and prompt yet, and
    embed the captions with `embedder` (the catalog's search embedder)."""
    progress = progress or SilentProgress()
    started = time.monotonic()
    summary = CaptionSummary()
    todo = catalog.images_to_caption(captioner.name, captioner.prompt)
    if limit is not None:
        summary.remaining = max(len(todo) - limit, 0)
        todo = todo[:limit]
    if todo:
        _caption_all(catalog, captioner, embedder, todo, progress, summary, batch_size, decode_workers)
    embed_missing(catalog, embedder, progress)  # vectors an earlier run's embedder failed to make
    summary.seconds = time.monotonic() - started
    return summary


def _caption_all(
    catalog: Catalog,
    captioner: Describer,
    embedder: Embedder,
    todo: list[tuple[int, str]],
    progress: Progress,
    summary: CaptionSummary,
    batch_size: int,
    decode_workers: int,
) -> None:
    kind, revision = provenance(captioner.name)
    progress.start(f"captioning with {captioner.name}", len(todo))
    try:
        with ThreadPoolExecutor(decode_workers, thread_name_prefix="decode") as pool:
            for start in range(0, len(todo), batch_size):
                batch = todo[start : start + batch_size]
                done, failures = caption_batch(batch, captioner, pool.map)
                # Captions commit before they are embedded: a caption from a paid API must survive
                # an embedder failure. Any vectors left missing are made by the next `lucida
                # index` or `lucida caption` run (indexer.embed_missing).
                ids = store_captions(catalog, captioner.name, captioner.prompt, kind, revision, done, failures)
                if ids:
                    texts = [embedded_text(d.text, d.details) for _, d in done]
                    store_vectors(catalog, embedder.name, ids, embedder.embed_documents(texts))
                for image_id, why in failures.items():
                    progress.note(f"caption failed for {dict(batch)[image_id]}: {why}")
                summary.captioned += len(done)
                summary.failed += len(failures)
                progress.advance(len(batch))
    finally:
        progress.finish()


def caption_batch(
    batch: list[tuple[int, str]], captioner: Describer, decode_map: Callable = map
) -> tuple[list[tuple[int, Description]], dict[int, str]]:
    """Read, decode and caption a batch of (image id, path): the captions, by image id, and why
    each photo that has none failed. `decode_map` maps the decode over the batch (a thread
    pool's map decodes photos in parallel). Every pipeline that captions (lucida.caption_ray's
    actors too) goes through here, so a photo fails the same way everywhere."""
    decoded = list(decode_map(lambda row: read_photo(row[1], captioner.input_side), batch))
    readable = [i for i, photo in enumerate(decoded) if not isinstance(photo, Unreadable)]
    texts, errors = describe_each([decoded[i].image for i in readable], captioner)  # type: ignore[union-attr]
    failures = {batch[i][0]: str(decoded[i]) for i in range(len(batch)) if i not in readable}
    failures.update({batch[readable[j]][0]: why for j, why in errors.items()})
    done = [(batch[readable[j]][0], d) for j, d in enumerate(texts) if d is not None]
    return done, failures


def store_captions(
    catalog: CatalogStore,
    captioner: str,
    prompt: str,
    kind: str,
    revision: str | None,
    done: list[tuple[int, Description]],
    failures: dict[int, str],
) -> list[int]:
    """Commit one batch's captions and the photos that failed, with why; the captions'
    description ids. Every pipeline that captions writes through here (lucida.caption_ray too)."""
    with catalog.transaction():
        ids = [catalog.put_description(image_id, captioner, prompt, d.text, d.details, kind, revision) for image_id, d in done]
        for image_id, why in failures.items():
            catalog.record_caption_failure(image_id, captioner, prompt, why)
    return ids


def store_vectors(catalog: CatalogStore, embedder: str, description_ids: list[int], vectors) -> None:
    with catalog.transaction():
        for description_id, vector in zip(description_ids, vectors):
            catalog.put_embedding(description_id, embedder, vector)
