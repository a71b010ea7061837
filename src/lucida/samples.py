"""Real sample photos that installed packages ship, written out as a small photo folder.

Used by `make demo`, the tests and the benchmarks. Needs the `samples` extra
(scikit-image, scikit-learn, matplotlib), which carry the photos inside their wheels.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from lucida.errors import LucidaError


@dataclass(frozen=True)
class SamplePhoto:
    name: str  # file stem
    subject: str  # what it shows, in plain words
    load: Callable[[], np.ndarray]


def _skimage(name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        import skimage.data

        return getattr(skimage.data, name)()

    return load


def _sklearn(file_name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        from sklearn.datasets import load_sample_image

        return load_sample_image(file_name)

    return load


def _matplotlib(file_name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        import matplotlib.cbook

        with matplotlib.cbook.get_sample_data(file_name) as handle:
            return np.asarray(Image.open(handle).convert("RGB"))

    return load


def _skimage_motorcycle() -> np.ndarray:
    import skimage.data

    left, _right, _disparity = skimage.data.stereo_motorcycle()
    return left


SAMPLE_PHOTOS: list[SamplePhoto] = [
    SamplePhoto("chelsea", "a tabby cat", _skimage("chelsea")),
    SamplePhoto("coffee", "a cup of coffee on a saucer", _skimage("coffee")),
    SamplePhoto("rocket", "a rocket on its launch pad", _skimage("rocket")),
    SamplePhoto("astronaut", "an astronaut in a spacesuit in front of a flag", _skimage("astronaut")),
    SamplePhoto("camera", "a man with a camera on a tripod, black and white", _skimage("camera")),
    SamplePhoto("coins", "old coins on a table, black and white", _skimage("coins")),
    SamplePhoto("moon", "the surface of the moon, black and white", _skimage("moon")),
    SamplePhoto("brick", "a brick wall", _skimage("brick")),
    SamplePhoto("grass", "a close-up of grass", _skimage("grass")),
    SamplePhoto("gravel", "a close-up of gravel", _skimage("gravel")),
    SamplePhoto("clock", "a wall clock", _skimage("clock")),
    SamplePhoto("hubble", "galaxies in deep space seen by the Hubble telescope", _skimage("hubble_deep_field")),
    SamplePhoto("retina", "a photograph of the retina of a human eye", _skimage("retina")),
    SamplePhoto("motorcycle", "a motorcycle in a workshop", _skimage_motorcycle),
    SamplePhoto("china", "a Chinese temple among trees", _sklearn("china.jpg")),
    SamplePhoto("flower", "a pink flower close up", _sklearn("flower.jpg")),
    SamplePhoto("grace_hopper", "a portrait of Grace Hopper in naval uniform", _matplotlib("grace_hopper.jpg")),
]


def write_sample_photos(folder: str | Path, names: list[str] | None = None, quality: int = 92) -> list[Path]:
    """Write the sample photos (or those named) into `folder` as JPEG files; returns their paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    chosen = [p for p in SAMPLE_PHOTOS if names is None or p.name in names]
    written = []
    for photo in chosen:
        try:
            pixels = photo.load()
        except ImportError as error:
            raise LucidaError(
                f"sample photos need the samples extra: pip install 'lucida[samples]' ({error})"
            ) from error
        path = folder / f"{photo.name}.jpg"
        Image.fromarray(pixels).convert("RGB").save(path, quality=quality)
        written.append(path)
    return written
