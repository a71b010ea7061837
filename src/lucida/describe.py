"""Decode -> describe: how every pipeline (index, caption, search by photo, eval) turns photo
files into descriptions, with one failure policy.

- A file that cannot be read or decoded is an `Unreadable` reason, never an exception.
- A batch the model fails on is retried photo by photo, so one bad photo costs only itself.
- An empty text is a failure (retried on the next run), never a description.
- A LucidaError (a refused API key, a model that is not here) stops the run: no photo would get
  past it.
"""

from __future__ import annotations

import os

from PIL import Image

from lucida.errors import LucidaError
from lucida.media import DecodedPhoto, UnreadablePhoto, decode_for_models
from lucida.models.base import DescribeFailures, Describer, Description


class Unreadable(str):
    """Why a photo could not be read or decoded (kept apart from photos in one list)."""


def read_photo(path: str, min_side: int) -> DecodedPhoto | Unreadable:
    """The photo at `path` decoded for a model whose input side is `min_side`. Never raises."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as error:
        return Unreadable(f"cannot read file: {error.strerror or error}")
    return decode_photo(data, os.path.splitext(path)[1].lower(), min_side)


def decode_photo(data: bytes, extension: str, min_side: int) -> DecodedPhoto | Unreadable:
    """A photo's bytes decoded for a model (see read_photo). Never raises."""
    try:
        return decode_for_models(data, extension, min_side)
    except UnreadablePhoto as problem:
        return Unreadable(str(problem))
    except Exception as error:  # a decoder bug must not end a run over a whole library
        return Unreadable(f"decoder failed: {type(error).__name__}: {error}")


def describe_each(images: list[Image.Image], describer: Describer) -> tuple[list[Description | None], dict[int, str]]:
    """A description (or None) per image, and why each None failed."""
    if not images:
        return [], {}
    try:
        return _without_empty(list(describer.describe(images)), {})
    except DescribeFailures as failures:
        return _without_empty(list(failures.descriptions), dict(failures.errors))
    except LucidaError:
        raise
    except Exception as error:  # noqa: BLE001 - a model's failure on one photo
        if len(images) == 1:
            return [None], {0: f"{type(error).__name__}: {error}"}
    descriptions: list[Description | None] = []
    errors: dict[int, str] = {}
    for i, image in enumerate(images):
        [one], why = describe_each([image], describer)
        descriptions.append(one)
        if 0 in why:
            errors[i] = why[0]
    return descriptions, errors


def _without_empty(
    descriptions: list[Description | None], errors: dict[int, str]
) -> tuple[list[Description | None], dict[int, str]]:
    for i, d in enumerate(descriptions):
        if d is not None and not d.text.strip():
            descriptions[i], errors[i] = None, "the model wrote no text"
    return descriptions, errors
