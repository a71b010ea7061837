"""Models behind two small interfaces (`base`), built by name through one registry (`registry`)."""

from lucida.models.base import Describer, Description, Embedder
from lucida.models.registry import DEFAULT_DESCRIBER, DEFAULT_EMBEDDER, load_describer, load_embedder

__all__ = [
    "DEFAULT_DESCRIBER",
    "DEFAULT_EMBEDDER",
    "Describer",
    "Description",
    "Embedder",
    "load_describer",
    "load_embedder",
]
