"""Text in the photo: Tesseract OCR, run only where a cheap detector finds lines of text.

Tesseract (Debian `tesseract-ocr`, through pytesseract) takes 0.3-1 s a photo, so a detector
that costs a few milliseconds decides first: text is rows of small, high-contrast strokes, so
it looks for wide, short boxes of dense edges. Words Tesseract is not sure of are dropped:
on a photo without text it reads noise from foliage and gravel.
"""

from __future__ import annotations

import re
import shutil

import numpy as np
from PIL import Image

from lucida.errors import LucidaError

# Side, in pixels, of the image OCR reads: 12 MP photos are decoded at 1/4 scale (~1000 px),
# enough for signs, book covers and captions that fill a few percent of the frame.
OCR_SIDE = 1024
_DETECT_SIDE = 640
_MIN_CONFIDENCE = 70
_WORD = re.compile(r"\w{2,}")


class TextReader:
    def __init__(self):
        try:
            import cv2
            import pytesseract
        except ImportError as error:
            raise LucidaError("the ocr signal needs pytesseract and opencv-python-headless; install them with pip") from error
        if shutil.which("tesseract") is None:
            raise LucidaError("the ocr signal needs the tesseract program: apt-get install tesseract-ocr")
        self._cv2 = cv2
        self._tesseract = pytesseract

    def likely_text(self, image: Image.Image) -> bool:
        """Two or more boxes that look like lines of text."""
        return len(text_boxes(self._cv2, image)) >= 2

    def read(self, image: Image.Image) -> str:
        """The words in the photo that Tesseract is sure of, in reading order; "" when none."""
        if not self.likely_text(image):
            return ""
        grey = image.convert("L")
        grey.thumbnail((OCR_SIDE, OCR_SIDE), Image.Resampling.BILINEAR)
        data = self._tesseract.image_to_data(grey, config="--psm 3", output_type=self._tesseract.Output.DICT)
        words = [
            word.strip()
            for word, confidence in zip(data["text"], data["conf"])
            if float(confidence) >= _MIN_CONFIDENCE and _WORD.search(word)
        ]
        return " ".join(words)


def text_boxes(cv2, image: Image.Image) -> list[tuple[int, int, int, int]]:
    """(x, y, w, h) of regions shaped like a line of text: strokes joined along a row into a
    box at least twice as wide as tall, of letter height, with dense but not solid edges."""
    small = image.convert("L")
    small.thumbnail((_DETECT_SIDE, _DETECT_SIDE), Image.Resampling.BILINEAR)
    grey = np.asarray(small)
    gradient = cv2.morphologyEx(grey, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8))
    _, edges = cv2.threshold(gradient, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    rows = cv2.morphologyEx(edges, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (9, 1)))
    contours, _ = cv2.findContours(rows, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    height = grey.shape[0]
    boxes = []
    for contour in contours:
        x, y, w, h = cv2.boundingRect(contour)
        if not (8 <= h <= height * 0.15 and w >= 2.5 * h):
            continue
        fill = float(edges[y : y + h, x : x + w].mean()) / 255.0
        if 0.25 <= fill <= 0.85:
            boxes.append((x, y, w, h))
    return boxes
