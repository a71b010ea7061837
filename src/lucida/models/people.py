"""People in a photo: a count of frontal faces from OpenCV's bundled Haar cascade.

The cascade ships inside opencv-python-headless, so it runs offline. It finds faces turned
towards the camera at 20 pixels and up in the small image the describer reads, which covers
portraits and small groups, not crowds far away. It costs 40-150 ms a photo on a CPU, so it is
an optional signal (`+people`).
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from lucida.errors import LucidaError

_SIDE = 320  # longer side the detector reads: faces of ~6% of the frame and up


class FaceCounter:
    def __init__(self):
        try:
            import cv2
        except ImportError as error:
            raise LucidaError("the people signal needs opencv-python-headless; install it with pip") from error
        self._cv2 = cv2
        self._cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
        if self._cascade.empty():
            raise LucidaError("OpenCV's bundled face cascade is missing; reinstall opencv-python-headless")

    def count(self, image: Image.Image) -> int:
        small = image.convert("L")
        small.thumbnail((_SIDE, _SIDE), Image.Resampling.BILINEAR)
        grey = self._cv2.equalizeHist(np.asarray(small))
        faces = self._cascade.detectMultiScale(grey, scaleFactor=1.15, minNeighbors=6, minSize=(20, 20))
        return len(faces)


def people_words(faces: int) -> str:
    """A face count as the words people search with."""
    if faces == 0:
        return ""
    if faces == 1:
        return "one person, a face, portrait"
    if faces == 2:
        return "two people, a couple, faces"
    return f"a group of {faces} people, faces" if faces < 6 else "a crowd, a large group of people, faces"
