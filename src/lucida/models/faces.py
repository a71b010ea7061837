"""Faces: dlib's HOG face detector, its 5-point landmarks and its ResNet face descriptor.

The weights ship in the `face-recognition-models` package and dlib in `dlib-bin`, so faces
work offline. The descriptor is a 128-d vector in which two photos of one person lie within
about 0.6 of each other (Euclidean; dlib reports 99.38% on LFW's pairs at that distance);
lucida.people measures its own threshold on data.

Detection runs on a downscaled decode, DETECT_SIDE pixels on the longer side, without upsampling:
HOG finds faces from about 55-60 pixels there, so a face narrower than ~6% of the photo's longer
side is often missed, and one under 5% always (docs/benchmarks.md, issue 16). The descriptor
reads the same decode. Costs on the 2-core benchmark machine: 67-120 ms per photo to detect,
90-167 ms per face to describe.
"""

from __future__ import annotations

import importlib.util
import pickle
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from lucida.errors import LucidaError

FACE_FINDER = "dlib-hog-resnet-v1"
DETECT_SIDE = 1024
# HOG's score for a detection it accepts; dlib's own default (0) keeps some arms and coins, and
# the benchmark's labelled photos hold no true face under 0.1.
MIN_SCORE = 0.1
DESCRIPTOR_SIZE = 128

MISSING = (
    "faces need dlib and its face models; install them with "
    "`pip install dlib-bin face-recognition-models` (about 100 MB, offline afterwards)"
)


@dataclass(frozen=True)
class FoundFace:
    box: tuple[float, float, float, float]  # left, top, width, height as fractions of the image
    score: float
    descriptor: np.ndarray  # float32, DESCRIPTOR_SIZE


def _model_folder() -> Path:
    # The package's own __init__ imports pkg_resources, which new setuptools no longer has, so
    # its files are found without importing it.
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise LucidaError(MISSING)
    return Path(next(iter(spec.submodule_search_locations))) / "models"


class FaceModel:
    """Finds faces and describes them. Loaded once; `find` may run on several threads (dlib's
    detector releases Python's lock; the descriptor network runs under one lock)."""

    name = FACE_FINDER
    input_side = DETECT_SIDE

    def __init__(self):
        try:
            import dlib
        except ImportError as error:
            raise LucidaError(MISSING) from error
        folder = _model_folder()
        predictor = folder / "shape_predictor_5_face_landmarks.dat"
        network = folder / "dlib_face_recognition_resnet_model_v1.dat"
        if not predictor.is_file() or not network.is_file():
            raise LucidaError(MISSING)
        self._dlib = dlib
        self._predictor_path = str(predictor)
        self._network = dlib.face_recognition_model_v1(str(network))
        self._lock = threading.Lock()
        # dlib's detector and landmark model keep scratch state: one of each per thread (a
        # shared detector returns garbage boxes when two threads run it at once). Building a
        # detector takes 0.25-1 s and holds Python's lock, so every worker of every run would
        # wait for it; a copy from its pickle takes 1-10 ms and finds the same faces.
        self._detector_pickle = pickle.dumps(dlib.get_frontal_face_detector())
        self._local = threading.local()

    def _thread_models(self):
        if not hasattr(self._local, "detector"):
            self._local.detector = pickle.loads(self._detector_pickle)  # noqa: S301 - made above
            self._local.landmarks = self._dlib.shape_predictor(self._predictor_path)
        return self._local.detector, self._local.landmarks

    def find(self, image: Image.Image) -> list[FoundFace]:
        """The faces in `image` (any size; it is read at DETECT_SIDE), best first."""
        pixels, _ = _pixels(image)
        detector, _ = self._thread_models()
        found, found_scores, _ = detector.run(pixels, 0, MIN_SCORE)
        order = sorted(range(len(found)), key=lambda i: -found_scores[i])
        rects = [found[i] for i in order]
        scores = [float(found_scores[i]) for i in order]
        descriptors = self._describe(pixels, rects)
        height, width = pixels.shape[:2]
        return [
            FoundFace(_fraction_box(rect, width, height), score, vector)
            for rect, score, vector in zip(rects, scores, descriptors)
        ]

    def describe_regions(self, image: Image.Image, boxes: list[tuple[float, float, float, float]]) -> list[np.ndarray]:
        """Descriptors of faces at known places (a region a photo's metadata names), as fractions
        of the image: left, top, width, height."""
        pixels, _ = _pixels(image)
        height, width = pixels.shape[:2]
        rects = [
            self._dlib.rectangle(
                int(round(x * width)), int(round(y * height)), int(round((x + w) * width)), int(round((y + h) * height))
            )
            for x, y, w, h in boxes
        ]
        return self._describe(pixels, rects)

    def _describe(self, pixels: np.ndarray, rects: list) -> list[np.ndarray]:
        if not rects:
            return []
        _, landmarks = self._thread_models()
        shapes = self._dlib.full_object_detections([landmarks(pixels, r) for r in rects])
        with self._lock:
            vectors = self._network.compute_face_descriptor(pixels, shapes)
        return [np.asarray(v, dtype=np.float32) for v in vectors]


def _pixels(image: Image.Image) -> tuple[np.ndarray, float]:
    """RGB pixels at DETECT_SIDE on the longer side (never enlarged), and the scale applied."""
    rgb = image.convert("RGB")
    scale = min(1.0, DETECT_SIDE / max(rgb.size))
    if scale < 1.0:
        rgb = rgb.resize((max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale))), Image.Resampling.BILINEAR)
    return np.ascontiguousarray(np.asarray(rgb)), scale


def _fraction_box(rect, width: int, height: int) -> tuple[float, float, float, float]:
    """A detector rectangle (which may reach past the edges) as a box inside the image."""
    left, top = max(rect.left(), 0), max(rect.top(), 0)
    right, bottom = min(rect.right() + 1, width), min(rect.bottom() + 1, height)
    return (left / width, top / height, max(right - left, 1) / width, max(bottom - top, 1) / height)


_shared: FaceModel | None = None
_shared_lock = threading.Lock()


def load_face_model() -> FaceModel:
    """The face model, loaded once per process (1.2 s); a LucidaError in one line when dlib or
    its models are not installed."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = FaceModel()
        return _shared
