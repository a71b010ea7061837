"""RAW+JPEG pairs: files with the same name but for the extension, in one folder, are one photo.

Cameras shooting RAW+JPEG write IMG_0001.NEF and IMG_0001.JPG; their contents differ, so the
catalog holds them as two images, but a search shows them as one hit with two files. The same
goes for a RAW and the JPEG an editor exported from it when the user says how exports are named:
an export pattern such as "{stem}_DxO" (DxO PhotoLab's default) makes IMG_0001_DxO.jpg part of
IMG_0001's photo.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from lucida.errors import LucidaError
from lucida.formats import RAW_EXTENSIONS


@dataclass(frozen=True)
class PhotoGroups:
    """Images that are one photo. Images alone in their photo are not listed."""

    group_of: dict[int, int]  # image id -> group number
    files: dict[int, tuple[str, ...]]  # group number -> its files, RAW files first, then by path


def export_pattern(pattern: str | None) -> re.Pattern | None:
    """A regular expression for exported file stems from a pattern like "{stem}_DxO"."""
    if not pattern:
        return None
    if pattern.count("{stem}") != 1:
        raise LucidaError(f"export pattern {pattern!r} must contain {{stem}} once, e.g. '{{stem}}_DxO' or '{{stem}}-edit'")
    before, after = pattern.split("{stem}")
    return re.compile(f"{re.escape(before)}(?P<stem>.+?){re.escape(after)}")


def group_photos(files: Iterable[tuple[int, str]], exports: re.Pattern | None = None) -> PhotoGroups:
    """Group (image id, path) rows into photos: same folder and stem (after the export pattern)."""
    files = list(files)
    # Most photos are alone: only a key's second image makes a list. String methods rather than
    # os.path, which took 15 of 22 s at a million files.
    first_of: dict[str, int] = {}
    images_by_key: dict[str, set[int]] = {}
    for image_id, path in files:
        key = _photo_key(path, exports)
        first = first_of.setdefault(key, image_id)
        if first != image_id:
            images_by_key.setdefault(key, {first}).add(image_id)
    grouped = {i for members in images_by_key.values() for i in members}
    paths_by_image: dict[int, list[str]] = {}
    for image_id, path in files:
        if image_id in grouped:
            paths_by_image.setdefault(image_id, []).append(path)

    # Union-find: an image with copies in two folders can join two pairs into one photo.
    parent: dict[int, int] = {}

    def root(i: int) -> int:
        while parent.get(i, i) != i:
            parent[i] = parent.get(parent[i], parent[i])
            i = parent[i]
        return i

    for members in images_by_key.values():
        first, *rest = members
        for other in rest:
            a, b = root(first), root(other)
            if a != b:
                parent[max(a, b)] = min(a, b)
    groups: dict[int, list[int]] = {}
    for image_id in parent:
        groups.setdefault(root(image_id), []).append(image_id)
    group_of: dict[int, int] = {}
    files_of: dict[int, tuple[str, ...]] = {}
    for number, (head, members) in enumerate(sorted(groups.items())):
        members = sorted({head, *members})
        for image_id in members:
            group_of[image_id] = number
        paths = {p for i in members for p in paths_by_image[i]}
        files_of[number] = tuple(sorted(paths, key=lambda p: (os.path.splitext(p)[1].lower() not in RAW_EXTENSIONS, p)))
    return PhotoGroups(group_of, files_of)


def _photo_key(path: str, exports: re.Pattern | None) -> str:
    """The folder and stem of a path (os.path.splitext's stem: leading dots are not an
    extension), with the export pattern's stem where it matches."""
    cut = path.rfind(os.sep) + 1
    name = path[cut:]
    dot = name.rfind(".")
    stem = name[:dot] if dot > len(name) - len(name.lstrip(".")) else name
    if exports is not None and (match := exports.fullmatch(stem)):
        stem = match.group("stem")
    return path[:cut] + stem


def one_per_photo(scores: np.ndarray, group_rows: np.ndarray) -> np.ndarray:
    """The scores with every image but the best-scoring one of each photo set to -inf.

    `group_rows` holds each row's group number, -1 for images alone in their photo."""
    rows = np.flatnonzero(group_rows >= 0)
    if len(rows) == 0:
        return scores
    order = rows[np.lexsort((rows, -scores[rows], group_rows[rows]))]
    grouped = group_rows[order]
    later = np.zeros(len(order), dtype=bool)
    later[1:] = grouped[1:] == grouped[:-1]
    kept = scores.copy()
    kept[order[later]] = -np.inf
    return kept
