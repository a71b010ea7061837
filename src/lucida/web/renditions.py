"""Thumbnails, previews and faces: upright renditions of a photo, rendered once and cached on disk."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from PIL import Image
from starlette.exceptions import HTTPException

from lucida.catalog import ImageRecord
from lucida.catalog.faces import StoredFace
from lucida.media import UnreadablePhoto, decode_for_screen

THUMBNAIL_SIDES = (64, 1024)  # requested sizes are clamped into this range
DEFAULT_THUMBNAIL_SIDE = 256
PREVIEW_SIDE = 1600
RENDITION_TYPES = {"jpeg": "image/jpeg", "webp": "image/webp"}
FACE_SIDE = 160  # face thumbnails: square JPEGs this many pixels a side
_FACE_MARGIN = 0.3  # the photo shown around a face, on each side, as a share of the face's size


def rendition_path(thumbs_dir: Path, record: ImageRecord, side: int, format: str) -> Path:
    # Keyed by content: a photo indexed anew after it changed has a new hash, so new renditions.
    return thumbs_dir / record.content_hash[:2] / f"{record.content_hash}-{side}.{format}"


def render(record: ImageRecord, side: int, format: str, target: Path) -> None:
    """Write a rendition of the photo from the first of its files that can be read."""
    _write(_decoded(record, side), format, target)


def face_rendition_path(thumbs_dir: Path, record: ImageRecord, box: tuple[float, ...]) -> Path:
    # Keyed by content and box, not by face id: ids are reused once faces are deleted, and a
    # face found again in a changed photo has another box or another hash.
    key = hashlib.sha256(",".join(f"{v:.6f}" for v in box).encode()).hexdigest()[:16]
    return thumbs_dir / record.content_hash[:2] / f"{record.content_hash}-face-{key}-{FACE_SIDE}.jpeg"


def default_thumbs_dir(catalog_path: Path | str) -> Path:
    """Where renditions are cached unless the server is given a folder: beside the catalog."""
    return Path(f"{catalog_path}.cache") / "thumbs"


def forget_face_renditions(thumbs_dir: Path, faces: list[tuple[StoredFace, ImageRecord | None]]) -> int:
    """Delete the cached crops of faces that were forgotten (Library.forget_person): a face's
    picture is the person's data as much as its descriptor. The number of files deleted."""
    deleted = 0
    for face, record in faces:
        if record is None:
            continue
        try:
            face_rendition_path(thumbs_dir, record, face.box).unlink()
            deleted += 1
        except FileNotFoundError:
            pass
    return deleted


def render_face(record: ImageRecord, box: tuple[float, float, float, float], target: Path) -> None:
    """Write a square JPEG of a face with some margin around it, FACE_SIDE pixels a side. `box`:
    left, top, width, height as fractions of the photo as displayed (lucida.catalog.faces)."""
    left, top, width, height = box
    photo_w, photo_h = record.width or 1, record.height or 1
    # Decoded just large enough for the crop to cover FACE_SIDE, at most a preview's size.
    share = max(width * photo_w, height * photo_h) * (1 + 2 * _FACE_MARGIN) / max(photo_w, photo_h)
    image = _decoded(record, int(min(max(FACE_SIDE / max(share, 1e-3), FACE_SIDE), PREVIEW_SIDE)))
    w, h = image.size
    # A square around the face's centre, moved (not cut) to stay inside the photo; a few pixels
    # at least, should a photo's metadata name a region with hardly any size.
    side = min(max(max(width * w, height * h) * (1 + 2 * _FACE_MARGIN), 16), w, h)
    x = min(max((left + width / 2) * w - side / 2, 0), w - side)
    y = min(max((top + height / 2) * h - side / 2, 0), h - side)
    crop = image.crop((round(x), round(y), round(x + side), round(y + side)))
    _write(crop.resize((FACE_SIDE, FACE_SIDE), Image.Resampling.LANCZOS), "jpeg", target)


def _decoded(record: ImageRecord, side: int) -> Image.Image:
    """The photo upright, its longer side at most `side`, from the first of its files that can be read."""
    problems = []
    for stored in record.files:
        try:
            with open(stored.path, "rb") as handle:
                data = handle.read()
            return decode_for_screen(data, Path(stored.path).suffix.lower(), side)
        except OSError as error:
            problems.append(f"{stored.path}: {error.strerror or error}")
        except UnreadablePhoto as problem:
            problems.append(f"{stored.path}: {problem}")
    raise HTTPException(
        404, f"no file of photo {record.image_id} can be read now ({'; '.join(problems)}); run `lucida index` again"
    )


def _write(image: Image.Image, format: str, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    # Written aside and renamed into place, so a reader never sees half a file.
    handle, temporary = tempfile.mkstemp(dir=target.parent, suffix=".part")
    try:
        with os.fdopen(handle, "wb") as out:
            if format == "webp":
                image.save(out, "WEBP", quality=80, method=4)
            else:
                image.save(out, "JPEG", quality=85, optimize=True, progressive=True)
        os.replace(temporary, target)
    except BaseException:
        os.unlink(temporary)
        raise
