"""Thumbnails and previews: upright renditions of a photo, rendered once and cached on disk."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from starlette.exceptions import HTTPException

from lucida.catalog import ImageRecord
from lucida.media import UnreadablePhoto, decode_for_screen

THUMBNAIL_SIDES = (64, 1024)  # requested sizes are clamped into this range
DEFAULT_THUMBNAIL_SIDE = 256
PREVIEW_SIDE = 1600
RENDITION_TYPES = {"jpeg": "image/jpeg", "webp": "image/webp"}


def rendition_path(thumbs_dir: Path, record: ImageRecord, side: int, format: str) -> Path:
    # Keyed by content: a photo indexed anew after it changed has a new hash, so new renditions.
    return thumbs_dir / record.content_hash[:2] / f"{record.content_hash}-{side}.{format}"


def render(record: ImageRecord, side: int, format: str, target: Path) -> None:
    """Write a rendition of the photo from the first of its files that can be read."""
    problems = []
    for stored in record.files:
        try:
            with open(stored.path, "rb") as handle:
                data = handle.read()
            image = decode_for_screen(data, Path(stored.path).suffix.lower(), side)
        except OSError as error:
            problems.append(f"{stored.path}: {error.strerror or error}")
            continue
        except UnreadablePhoto as problem:
            problems.append(f"{stored.path}: {problem}")
            continue
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
        return
    raise HTTPException(
        404, f"no file of photo {record.image_id} can be read now ({'; '.join(problems)}); run `lucida index` again"
    )
