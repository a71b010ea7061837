"""The faces tier: find the faces in every indexed photo, describe them, and group them into people
(lucida.people), like `lucida caption` fills in captions.

Resumable: each batch of photos commits its faces, and the photos it read, in one transaction;
the next run reads only photos no face finder has read. One bad photo never stops the run: a
photo that cannot be read is recorded with why and tried again next time. Faces are stored by
image, and an image is its content hash, so a moved or renamed photo keeps its faces.

Names a photo's metadata already holds (MWG face regions, as Lightroom and PhotoLab write them)
are given to the face found in the region, or to a face described in the region itself when the
detector missed it, so they seed the people.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from lucida.catalog import Catalog
from lucida.describe import Unreadable, read_photo
from lucida.models.faces import DETECT_SIDE, FaceModel, FoundFace
from lucida.people import assign_new_faces
from lucida.progress import Progress, SilentProgress

# The decode the detector reads: its shorter side, for DETECT_SIDE on the longer side of a 4:3 photo.
_DECODE_SIDE = DETECT_SIDE * 3 // 4
# A named region and a detected face are one face when they overlap this much (intersection over union).
_SAME_FACE_IOU = 0.3
NAMED_REGION = "metadata"  # the finder of a face described where a named region says it is


@dataclass
class FaceSummary:
    photos: int = 0  # read this run
    faces: int = 0  # found this run
    named_from_metadata: int = 0
    failed: int = 0  # photos that could not be read; tried again next run
    remaining: int = 0  # left for a later run by --limit
    seconds: float = 0.0


@dataclass(frozen=True)
class _Read:
    image_id: int
    faces: list[tuple[FoundFace, str | None, str]]  # each face, the name its metadata gives it, its finder
    error: str | None = None


def find_faces(
    catalog: Catalog,
    model: FaceModel,
    progress: Progress | None = None,
    batch_size: int = 16,
    limit: int | None = None,
    workers: int = 2,
) -> FaceSummary:
    """Find and describe the faces of every photo not read yet, and place them in clusters."""
    progress = progress or SilentProgress()
    started = time.monotonic()
    summary = FaceSummary()
    summary.named_from_metadata += _name_from_regions(catalog)
    todo = catalog.images_to_scan_for_faces()
    if limit is not None:
        summary.remaining = max(len(todo) - limit, 0)
        todo = todo[:limit]
    progress.start(f"finding faces with {model.name}", len(todo))
    try:
        # Detection runs outside Python's lock, so two photos are read at once on two cores.
        with ThreadPoolExecutor(workers, thread_name_prefix="faces") as pool:
            for start in range(0, len(todo), batch_size):
                batch = todo[start : start + batch_size]
                regions = {image_id: catalog.named_regions(image_id) for image_id, _ in batch}
                reads = list(pool.map(lambda row: _read(model, row[0], row[1], regions[row[0]]), batch))
                _store(catalog, model, reads, summary)
                for read in reads:
                    if read.error is not None:
                        progress.note(f"faces not read from {dict(batch)[read.image_id]}: {read.error}")
                progress.advance(len(batch))
    finally:
        progress.finish()
    summary.seconds = time.monotonic() - started
    return summary


def _read(model: FaceModel, image_id: int, path: str, regions: list[dict]) -> _Read:
    photo = read_photo(path, _DECODE_SIDE)
    if isinstance(photo, Unreadable):
        return _Read(image_id, [], str(photo))
    try:
        found = model.find(photo.image)
        named: list[tuple[FoundFace, str | None, str]] = [(face, None, model.name) for face in found]
        missed = []
        for region in regions:
            box = tuple(region["box"])
            overlaps = [_iou(box, face.box) for face in found]
            best = max(range(len(found)), key=lambda i: overlaps[i], default=None)
            if best is not None and overlaps[best] >= _SAME_FACE_IOU and named[best][1] is None:
                named[best] = (found[best], region["name"], model.name)
            else:
                missed.append(region)
        if missed:
            descriptors = model.describe_regions(photo.image, [tuple(r["box"]) for r in missed])
            named += [
                (FoundFace(tuple(r["box"]), 0.0, d), r["name"], NAMED_REGION) for r, d in zip(missed, descriptors)
            ]
    except Exception as error:  # noqa: BLE001 - a model's failure on one photo must not end the run
        return _Read(image_id, [], f"{type(error).__name__}: {error}")
    return _Read(image_id, named)


def _store(catalog: Catalog, model: FaceModel, reads: list[_Read], summary: FaceSummary) -> None:
    with catalog.transaction():
        for read in reads:
            if read.error is not None:
                catalog.record_face_scan_failure(read.image_id, model.name, read.error)
                summary.failed += 1
                continue
            ids = catalog.put_faces(
                read.image_id, model.name, [(face.box, face.score, face.descriptor, finder) for face, _, finder in read.faces]
            )
            for face_id, (_, name, _) in zip(ids, read.faces):
                if name is not None:
                    catalog.name_faces([face_id], catalog.person_id(name, create=True), named_by=NAMED_REGION)
                    summary.named_from_metadata += 1
            summary.photos += 1
            summary.faces += len(ids)
        assign_new_faces(catalog)


def _name_from_regions(catalog: Catalog) -> int:
    """Names that photos already read for faces gained in their metadata since (a region named
    in Lightroom later, read by the next `lucida index`): each goes to the face in its region,
    unless that face has a name of its own. The number of faces named."""
    named = 0
    with catalog.transaction():
        for image_id in catalog.images_with_named_regions():
            faces = catalog.faces_in(image_id)
            if not faces:
                continue
            present = {f.person.casefold() for f in faces if f.person}
            for region in catalog.named_regions(image_id):
                if region["name"].casefold() in present:
                    continue
                free = [f for f in faces if f.named_by is None]
                best = max(free, key=lambda f: _iou(tuple(region["box"]), f.box), default=None)
                if best is not None and _iou(tuple(region["box"]), best.box) >= _SAME_FACE_IOU:
                    catalog.name_faces([best.id], catalog.person_id(region["name"], create=True), named_by=NAMED_REGION)
                    present.add(region["name"].casefold())
                    named += 1
        if named:
            catalog.settle_cluster_people()
    return named


def _iou(a: tuple, b: tuple) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    w = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    h = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    inter = w * h
    union = aw * ah + bw * bh - inter
    return inter / union if union > 0 else 0.0
