"""The 1,000 ImageNet classes the default describer names, with WordNet's lemmas, definitions and
hypernyms (data/NOTICE.md says where they come from). Apart from the classifier, so that search,
which embeds and ranks by these classes, never imports torch."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources


@dataclass(frozen=True)
class ImageNetClass:
    synset: str
    lemmas: list[str]
    definition: str

    @property
    def label(self) -> str:
        return self.lemmas[0]


@cache
def load_imagenet_classes() -> list[ImageNetClass]:
    """The 1,000 classes in model output order (see data/NOTICE.md for their source)."""
    text = resources.files("lucida.models").joinpath("data/imagenet1k_classes.tsv").read_text("utf-8")
    classes = []
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        synset, lemmas, definition = line.split("\t")
        classes.append(ImageNetClass(synset, [w.strip() for w in lemmas.split(",")], definition))
    return classes


@cache
def load_imagenet_hypernyms() -> list[list[str]]:
    """Each class's WordNet hypernyms ("horse, Equus caballus", ..., "animal, animate being"),
    nearest first, in model output order (data/imagenet1k_hypernyms.tsv, see NOTICE.md)."""
    text = resources.files("lucida.models").joinpath("data/imagenet1k_hypernyms.tsv").read_text("utf-8")
    rows = [line.split("\t") for line in text.splitlines() if line and not line.startswith("#")]
    return [[name for name in names.split("|") if name] for _synset, names in rows]


