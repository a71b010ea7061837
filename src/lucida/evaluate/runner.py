"""Runs the study: every captioner x prompt x embedder on a captioned data set, with its costs.

Captions and vectors are cached in a real lucida catalog (`cache.db` in the output folder):
images are keyed by content hash and descriptions by (describer, prompt), so adding an embedder
later embeds the stored captions without captioning again, and an interrupted run resumes from
its last committed batch. The seconds spent captioning are stored beside the captions (in the
catalog's settings, in the same transaction), so a cached combination reports the figure
measured when it was captioned.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lucida.catalog import CatalogStore as Catalog
from lucida.catalog import open_catalog
from lucida.errors import LucidaError
from lucida.evaluate.datasets import EvalItem, retrieval_queries
from lucida.evaluate.metrics import caption_metrics, retrieval_metrics
from lucida.indexer import embed_missing
from lucida.describe import Unreadable, describe_each, read_photo
from lucida.display import display_caption
from lucida.media import content_hash
from lucida.models.base import Describer, Embedder
from lucida.models.registry import (
    DEFAULT_DESCRIBER,
    DEFAULT_EMBEDDER,
    load_describer,
    load_embedder,
    provenance,
    with_prompt,
)
from lucida.progress import Progress, SilentProgress
from lucida.search import top_k

CACHE_NAME = "cache.db"
RANK_DEPTH = 10  # the retrieval metrics look at the first 10 results
# Catalog settings key prefix: total captioning seconds and photos per (captioner, prompt).
_TIMING_KEY = "eval.captioning:"


@dataclass(frozen=True)
class EvalRow:
    captioner: str
    prompt: str
    embedder: str
    metrics: dict[str, float]  # BLEU-1..4, ROUGE-L, CIDEr, R@1, R@5, R@10, MRR@10, nDCG@10
    cost: dict[str, float | int | None]


@dataclass(frozen=True)
class CaptionLine:
    image: str
    captioner: str
    prompt: str
    caption: str


@dataclass(frozen=True)
class Evaluation:
    rows: list[EvalRow]  # one per captioner x prompt x embedder, in the order run
    captions: list[CaptionLine]  # one per image and (captioner, prompt)
    images: int
    queries: int
    dataset: str  # what was evaluated, for the report
    machine: str


def evaluate(
    items: list[EvalItem],
    images_dir: str | Path,
    out_dir: str | Path,
    captioners: list[str] | None = None,
    prompts: list[str] | None = None,
    embedders: list[str] | None = None,
    dataset: str = "",
    progress: Progress | None = None,
    batch_size: int = 16,
    api_base: str | None = None,
    cache: str | Path | None = None,
) -> Evaluation:
    """Caption, embed and rank `items` (their images under `images_dir`) with every combination.

    `prompts` None runs each captioner with its own prompt; a prompt a captioner cannot take
    is a LucidaError. Model sizes come from a model's `local_path` attribute when it has one.
    `api_base` is the OpenAI-compatible server of `openai:` models. `cache`: the catalog that
    keeps captions and vectors between runs (default: out_dir/cache.db; a postgresql:// URL lets
    a team share one).
    """
    progress = progress or SilentProgress()
    captioners = list(dict.fromkeys(captioners or [DEFAULT_DESCRIBER]))
    embedders = list(dict.fromkeys(embedders or [DEFAULT_EMBEDDER]))
    if not items:
        raise LucidaError("the data set has no items to evaluate")
    paths = _image_paths(items, Path(images_dir))
    queries = retrieval_queries(items)
    references = {item.image: list(item.captions) for item in items}

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows: list[EvalRow] = []
    lines: list[CaptionLine] = []
    with open_catalog(cache or out / CACHE_NAME) as catalog:
        # Models are loaded (and prompts checked) before any work, so a bad spec fails at once.
        describers: list[Describer] = []
        for spec in captioners:
            describer = load_describer(spec, api_base=api_base)
            describers.extend(dict.fromkeys(with_prompt(describer, p) for p in (prompts or [None])))
        loaded_embedders = [load_embedder(e, api_base) for e in embedders]
        # Per (captioner, prompt): image name -> (description id, caption), caption scores, cost.
        captioned: list[tuple[Describer, dict[str, tuple[int, str]], dict, dict]] = []
        hashes = {name: _file_hash(path) for name, path in paths.items()}
        for describer in describers:
            by_image = _caption_missing(catalog, paths, hashes, describer, progress, batch_size)
            scores = caption_metrics({name: text for name, (_, text) in by_image.items()}, references)
            scores.pop("length", None)
            captioned.append((describer, by_image, scores, _caption_cost(catalog, describer)))
            lines.extend(CaptionLine(image, describer.name, describer.prompt, text) for image, (_, text) in by_image.items())
        relevant = {str(i): images for i, (_, images) in enumerate(queries)}
        for embedder in loaded_embedders:
            embed_missing(catalog, embedder, progress)
            query_vectors, embed_seconds = _embed_queries(embedder, [q for q, _ in queries], progress)
            for describer, by_image, scores, caption_cost in captioned:
                names = list(by_image)
                ranked, search_seconds = _rank(catalog, embedder, by_image, names, query_vectors)
                rankings = {str(i): [names[j] for j in order] for i, order in enumerate(ranked)}
                metrics = {**scores, **retrieval_metrics(rankings, relevant)}
                cost = {
                    **caption_cost,
                    "ms_per_query": round(1000 * (embed_seconds + search_seconds) / max(len(queries), 1), 3),
                    "peak_rss_mb": round(_peak_rss_bytes() / 2**20, 1),
                    "captioner_bytes": _size_on_disk(describer),
                    "embedder_bytes": _size_on_disk(embedder),
                }
                rows.append(EvalRow(describer.name, describer.prompt, embedder.name, metrics, cost))
    return Evaluation(rows, lines, len(items), len(queries), dataset, machine_summary())


def _image_paths(items: list[EvalItem], images_dir: Path) -> dict[str, Path]:
    """image name -> file. Every listed image must exist: a missing one would silently change
    what the metrics mean, so it is an error that names it."""
    if not images_dir.is_dir():
        raise LucidaError(f"images folder {images_dir} does not exist or is not a folder")
    paths = {item.image: images_dir / item.image for item in items}
    missing = [name for name, path in paths.items() if not path.is_file()]
    if missing:
        raise LucidaError(
            f"{len(missing)} of {len(paths)} images listed in the captions are not in {images_dir} "
            f"(first: {missing[0]}); point --images at the folder that holds them, or use --limit"
        )
    return paths


def _caption_missing(
    catalog: Catalog,
    paths: dict[str, Path],
    hashes: dict[str, str],
    describer: Describer,
    progress: Progress,
    batch_size: int,
) -> dict[str, tuple[int, str]]:
    """Caption every image that has no description by this describer and prompt yet (timing
    decoding and describing), and return image name -> (description id, caption) for all of them.

    The caption is the one a person reads (lucida.display): what captions.jsonl holds and the
    caption metrics score against the references. Retrieval ranks by the description's vector,
    made, as in a library, from its text as stored."""
    key = _timing_key(describer)
    done = catalog.descriptions_by(describer.name, describer.prompt)
    first_of_hash: dict[str, str] = {}  # identical files are captioned once
    for name in paths:
        if hashes[name] not in done:
            first_of_hash.setdefault(hashes[name], name)
    todo = list(first_of_hash.values())
    if todo:
        progress.start(f"captioning with {describer.name}" + (f" ({describer.prompt})" if describer.prompt else ""), len(todo))
        try:
            with ThreadPoolExecutor(2, thread_name_prefix="decode") as pool:
                for start in range(0, len(todo), batch_size):
                    batch = todo[start : start + batch_size]
                    # A photo's captioning cost includes decoding it, as it does when indexing.
                    began = time.perf_counter()
                    photos = list(pool.map(lambda n: read_photo(str(paths[n]), describer.input_side), batch))
                    unreadable = [(n, p) for n, p in zip(batch, photos) if isinstance(p, Unreadable)]
                    if unreadable:
                        raise LucidaError(f"cannot decode {paths[unreadable[0][0]]}: {unreadable[0][1]}")
                    descriptions, errors = describe_each([p.image for p in photos], describer)
                    seconds = time.perf_counter() - began
                    timing = _timing(catalog, describer)
                    with catalog.transaction():
                        for name, photo, description in zip(batch, photos, descriptions):
                            if description is None:
                                continue
                            image_id = catalog.add_image(hashes[name], photo.width, photo.height, photo.taken_at)
                            catalog.put_description(
                                image_id, describer.name, describer.prompt, description.text, description.details
                            )
                            _put_file(catalog, paths[name], image_id)
                        timing = {"seconds": timing["seconds"] + seconds, "photos": timing["photos"] + len(batch)}
                        catalog.set_setting(key, json.dumps(timing))
                    if errors:
                        # Every metric needs a caption of every image: the captions made so far
                        # are kept (a rerun resumes), and the first failure is named.
                        first = min(errors)
                        raise LucidaError(
                            f"{describer.name} could not caption {len(errors)} of {len(batch)} images of a batch "
                            f"(first: {paths[batch[first]]}: {errors[first]}); run the evaluation again to retry them"
                        )
                    progress.advance(len(batch))
        finally:
            progress.finish()
    # Every dataset file is a file of the catalog (identical files, and images captioned by another
    # captioner, included), so embed_missing embeds their descriptions.
    with catalog.transaction():
        for name, path in paths.items():
            image_id = catalog.image_id_for_hash(hashes[name])
            if image_id is not None:
                _put_file(catalog, path, image_id)
    done = catalog.descriptions_by(describer.name, describer.prompt)
    kind, _ = provenance(describer.name)
    captions = {}
    for name in paths:
        description_id, text, details = done[hashes[name]]
        captions[name] = (description_id, display_caption(text, details, kind))
    return captions


def _put_file(catalog: Catalog, path: Path, image_id: int) -> None:
    info = path.stat()
    catalog.put_file(str(path.absolute()), info.st_size, info.st_mtime_ns, image_id)


def _file_hash(path: Path) -> str:
    try:
        return content_hash(path.read_bytes())
    except OSError as error:
        raise LucidaError(f"cannot read {path}: {error.strerror or error}") from None


def _timing_key(describer: Describer) -> str:
    return _TIMING_KEY + json.dumps([describer.name, describer.prompt])


def _timing(catalog: Catalog, describer: Describer) -> dict:
    """The captioning seconds and photos stored for this captioner and prompt (zero when none)."""
    return json.loads(catalog.get_setting(_timing_key(describer)) or '{"seconds": 0, "photos": 0}')


def _caption_cost(catalog: Catalog, describer: Describer) -> dict:
    timing = _timing(catalog, describer)
    per_photo = timing["seconds"] / timing["photos"] if timing["photos"] else None
    return {"seconds_per_photo": None if per_photo is None else round(per_photo, 5), "photos_timed": timing["photos"]}


def _embed_queries(
    embedder: Embedder, texts: list[str], progress: Progress, chunk: int = 256
) -> tuple[np.ndarray, float]:
    """All query vectors (in batches, as a benchmark would) and the seconds it took."""
    progress.start(f"embedding queries with {embedder.name}", len(texts))
    parts, seconds = [], 0.0
    try:
        for start in range(0, len(texts), chunk):
            began = time.perf_counter()
            parts.append(embedder.embed_queries(texts[start : start + chunk]))
            seconds += time.perf_counter() - began
            progress.advance(len(parts[-1]))
    finally:
        progress.finish()
    return np.concatenate(parts), seconds


def _rank(
    catalog: Catalog,
    embedder: Embedder,
    by_image: dict[str, tuple[int, str]],
    names: list[str],
    query_vectors: np.ndarray,
) -> tuple[list[np.ndarray], float]:
    """For each query, the indices into `names` of the best RANK_DEPTH images by cosine
    similarity between the query and each image's caption; and the seconds it took."""
    vectors = catalog.vectors_of([by_image[n][0] for n in names], embedder.name)
    began = time.perf_counter()
    ranked = [top_k(vectors @ q, RANK_DEPTH) for q in query_vectors]
    return ranked, time.perf_counter() - began


def _size_on_disk(model) -> int | None:
    path = getattr(model, "local_path", None)
    if path is None:
        return None
    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _peak_rss_bytes() -> int:
    """This process's peak resident memory so far (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def machine_summary() -> str:
    import torch

    from lucida.models.device import pick_device

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            cpu = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), cpu)
    except OSError:
        pass
    return (
        f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, Python {platform.python_version()}, "
        f"torch {torch.__version__} on {pick_device()}"
    )
