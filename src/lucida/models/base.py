"""The two small interfaces every model sits behind.

A describer turns pixels into text; an embedder turns text into unit vectors. Captioning VLMs
(Florence-2, LLaVA, GPT-4o class APIs) are describers with a prompt; GTE, E5 and OpenAI
embeddings are embedders. Adding one is a module plus a registry entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
from PIL import Image

from lucida.errors import LucidaError


@dataclass(frozen=True)
class Description:
    text: str
    details: dict | None = None  # structured output worth keeping (e.g. class probabilities)


class Describer(Protocol):
    name: str  # registry name; stored with every description it writes
    prompt: str  # "" for describers that take no prompt
    input_side: int  # the shorter side, in pixels, it wants decoded images to have

    def describe(self, images: list[Image.Image]) -> list[Description]:
        """One description per image, in order."""
        ...

    # A describer that takes other prompts also has `with_prompt(prompt) -> Describer`
    # (`lucida eval --prompt` uses it); one without it only takes its own `prompt`.


class DescribeFailures(LucidaError):
    """Raised by `describe` when some images of a batch failed after every retry (an API's 429s,
    a timeout): it carries the others' descriptions, so they are kept and only the failed ones
    are tried again on the next run. Never describe a failed image with an empty text."""

    def __init__(self, descriptions: list[Description | None], errors: dict[int, str]):
        self.descriptions = descriptions  # in input order; None where that image failed
        self.errors = errors  # input position -> why it failed
        first = errors[min(errors)]
        super().__init__(f"{len(errors)} of {len(descriptions)} photos could not be described; first: {first}")


class Embedder(Protocol):
    name: str  # registry name; stored with every vector it makes

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        """float32 array (len(texts), dim) of L2-normalised vectors for stored descriptions."""
        ...

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        """The same for search queries (some models embed queries differently)."""
        ...

    # An embedder whose vector for a text can never change may also have `vectors_cache`: a
    # folder where vectors of fixed texts are kept from one catalog to the next (lucida.concepts).
