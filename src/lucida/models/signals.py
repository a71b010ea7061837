"""A describer plus signals: the classifier's classes, and what else the pixels say, as text.

A describer spec names a base describer and the signals added to it, joined by `+`:
`efficientnet-lite0-imagenet+hypernyms+pixels`. The spec is the describer's name in the
catalog, so a description always says what went into it, and changing the signals describes
photos anew. Each signal writes one field of the description; the fields are kept in its
details (`fields`), so search can say which field a query's words matched.

- `hypernyms`: the WordNet categories the class probabilities add up to ("dog", "mammal",
  "animal"), so category words find photos whose classes are all more specific.
- `pixels`: colours, light, black and white, orientation, focus (lucida.pixels).
- `people`: a face count (lucida.models.people). Slow: optional.
- `ocr`: text in the photo (lucida.models.ocr). Slow: optional.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from lucida.errors import LucidaError
from lucida.models.base import Describer, Description
from lucida.pixels import look_words

SIGNALS = ("hypernyms", "pixels", "people", "ocr")  # the order they take in a spec and a text
# A WordNet category is named when the photo's classes under it hold this much probability.
_CATEGORY_PROBABILITY = 0.3
_MOST_CATEGORIES = 12


def split_spec(spec: str) -> tuple[str, tuple[str, ...]]:
    """("base", signals in canonical order) of a describer spec; a LucidaError for an unknown
    or repeated signal."""
    base, *signals = spec.split("+")
    unknown = [s for s in signals if s not in SIGNALS]
    if unknown:
        raise LucidaError(f"unknown describer signal {unknown[0]!r} in {spec!r}; known: {', '.join(SIGNALS)}")
    if len(set(signals)) != len(signals):
        raise LucidaError(f"describer spec {spec!r} names a signal twice")
    return base, tuple(s for s in SIGNALS if s in signals)


def join_spec(base: str, signals: tuple[str, ...]) -> str:
    return "+".join((base, *signals))


class SignalDescriber:
    """The base describer's text followed by one sentence per signal."""

    prompt = ""

    def __init__(self, base: Describer, signals: tuple[str, ...]):
        self.base = base
        self.signals = signals
        self.name = join_spec(base.name, signals)
        self._categories = None
        if "hypernyms" in signals:
            if not hasattr(base, "classes"):
                raise LucidaError(f"the hypernyms signal needs an ImageNet classifier, not {base.name}")
            self._categories = CategoryTable([c.synset for c in base.classes])  # type: ignore[attr-defined]
        self._faces = self._text = None
        if "people" in signals:
            from lucida.models.people import FaceCounter

            self._faces = FaceCounter()
        if "ocr" in signals:
            from lucida.models.ocr import OCR_SIDE, TextReader

            self._text = TextReader()
        # OCR needs letters several pixels tall: a larger decode, and most of the cost.
        self.input_side = max(base.input_side, OCR_SIDE if "ocr" in signals else 0)

    @property
    def local_path(self):
        """The base model's files on disk (what `lucida eval` reports as its size)."""
        return getattr(self.base, "local_path", None)

    def describe(self, images: list[Image.Image]) -> list[Description]:
        if not images:
            return []
        described = []
        for image, base in zip(images, self.base.describe(images)):
            fields = {"classes": base.text}
            if self._categories is not None:
                fields["categories"] = self._categories.words((base.details or {}).get("classes", []))
            if "pixels" in self.signals:
                fields.update(look_words(image))
            if self._faces is not None:
                from lucida.models.people import people_words

                fields["people"] = people_words(self._faces.count(image))
            if self._text is not None:
                words = self._text.read(image)
                fields["text"] = f"text in the photo: {words}" if words else ""
            fields = {k: v for k, v in fields.items() if v}
            text = " ".join(_sentence(v) for v in fields.values())
            described.append(Description(text, {**(base.details or {}), "fields": fields}))
        return described


class CategoryTable:
    """Which WordNet categories (hypernyms) each ImageNet class falls under, as a 0/1 matrix, so a
    photo's category probabilities are one product with its class probabilities."""

    def __init__(self, synsets: list[str]):
        from lucida.models.imagenet_classes import load_imagenet_hypernyms

        per_class = load_imagenet_hypernyms()
        class_count = len(synsets)
        if len(per_class) != class_count:
            raise LucidaError(f"hypernym table has {len(per_class)} classes, the classifier {class_count}")
        self.synset_index = {s: i for i, s in enumerate(synsets)}
        self.names = list(dict.fromkeys(name for names in per_class for name in names))
        index = {name: i for i, name in enumerate(self.names)}
        self.matrix = np.zeros((len(self.names), class_count), dtype=np.float32)
        for c, names in enumerate(per_class):
            self.matrix[[index[n] for n in names], c] = 1.0

    def words(self, classes: list[dict]) -> str:
        """The categories holding at least 30% of the probability of a description's likeliest
        classes ({"synset", "p"}, as its details keep them), the likeliest first."""
        probabilities = np.zeros(self.matrix.shape[1], dtype=np.float32)
        for c in classes:
            if c["synset"] in self.synset_index:
                probabilities[self.synset_index[c["synset"]]] = c["p"]
        held = self.matrix @ probabilities
        order = [i for i in np.argsort(-held, kind="stable") if held[i] >= _CATEGORY_PROBABILITY]
        if not order:
            return ""
        return "a kind of " + "; ".join(self.names[i] for i in order[:_MOST_CATEGORIES])


def _sentence(text: str) -> str:
    return text if text.endswith(".") else f"{text}."
