"""What the pixels say without a classifier: colours, light, black and white, shape, sharpness.

Each function reads a small decoded photo (a few hundred pixels a side) and costs about a
millisecond, so every photo gets them. The words are the ones people search with: "a red
car", "black and white", "at night", "blurry".
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageFilter

# The eleven basic colour terms of English (Berlin and Kay), which every language's colour
# words map onto; a pixel takes the name of the region of HSV space it falls in.
_GREYS = ("black", "grey", "white")
_SIDE = 128  # pixels on the longer side that the measures below read


def look_words(image: Image.Image) -> dict[str, str]:
    """The pixel facts of one photo as short phrases, by field: colours, light, shape, focus."""
    small = image.convert("RGB")
    small.thumbnail((_SIDE, _SIDE), Image.Resampling.BILINEAR)
    hsv = np.asarray(small.convert("HSV"), dtype=np.float32) / 255.0
    fields = {}
    monochrome = is_monochrome(hsv)
    colours = [] if monochrome else dominant_colours(hsv)
    if monochrome:
        fields["colours"] = "black and white photo, monochrome, greyscale"
    elif colours:
        fields["colours"] = "colours: " + ", ".join(colours)
    fields["light"] = light_words(hsv)
    fields["shape"] = orientation(image.width, image.height)
    if is_blurry(small):
        fields["focus"] = "blurry, out of focus"
    return {k: v for k, v in fields.items() if v}


def colour_names(hsv: np.ndarray) -> np.ndarray:
    """The basic colour name index of every pixel of an HSV array (values 0..1), into
    COLOUR_NAMES."""
    h, s, v = hsv[..., 0] * 360.0, hsv[..., 1], hsv[..., 2]
    names = np.full(h.shape, COLOUR_NAMES.index("grey"), dtype=np.int8)
    names[v < 0.2] = COLOUR_NAMES.index("black")
    grey = (s < 0.18) | (v < 0.2)
    names[grey & (v >= 0.2) & (v > 0.82)] = COLOUR_NAMES.index("white")
    chromatic = ~grey
    hue_names = np.select(
        [h < 15, h < 40, h < 68, h < 165, h < 255, h < 290, h < 335],
        [0, 1, 2, 3, 4, 5, 6],
        default=0,
    )  # red, orange, yellow, green, blue, purple, pink; red again past 335
    hue_index = np.array([COLOUR_NAMES.index(n) for n in ("red", "orange", "yellow", "green", "blue", "purple", "pink")])
    chromatic_names = hue_index[hue_names]
    # Dark or washed-out orange and red read as brown; pale red reads as pink.
    brownish = np.isin(hue_names, (0, 1)) & ((v < 0.55) | ((s < 0.45) & (v < 0.8)))
    chromatic_names = np.where(brownish, COLOUR_NAMES.index("brown"), chromatic_names)
    pinkish = (hue_names == 0) & (s < 0.45) & (v >= 0.8)
    chromatic_names = np.where(pinkish, COLOUR_NAMES.index("pink"), chromatic_names)
    return np.where(chromatic, chromatic_names, names)


COLOUR_NAMES = ("black", "grey", "white", "red", "orange", "yellow", "green", "blue", "purple", "pink", "brown")


def dominant_colours(hsv: np.ndarray, at_least: float = 0.12, most: int = 3) -> list[str]:
    """The colours covering at least `at_least` of the photo, most first. A chromatic colour
    counts from a third of that: a red car on grey tarmac is "red" to anyone who sees it."""
    counts = np.bincount(colour_names(hsv).ravel(), minlength=len(COLOUR_NAMES)) / hsv[..., 0].size
    chosen = []
    for index in np.argsort(-counts):
        name = COLOUR_NAMES[index]
        need = at_least if name in _GREYS else at_least / 3
        if counts[index] >= need:
            chosen.append(name)
    return chosen[:most]


def is_monochrome(hsv: np.ndarray) -> bool:
    """No colour anywhere to speak of: greyscale, or a tinted (sepia) black-and-white print."""
    saturation = hsv[..., 1]
    hue = hsv[..., 0]
    if float(np.percentile(saturation, 95)) < 0.12:
        return True
    # Sepia and other toned prints: saturated, but all of one hue.
    coloured = saturation > 0.12
    if coloured.mean() < 0.5:
        return False
    angles = hue[coloured] * 2 * np.pi
    spread = 1.0 - float(np.hypot(np.cos(angles).mean(), np.sin(angles).mean()))
    return spread < 0.01 and float(np.percentile(saturation, 95)) < 0.5


def light_words(hsv: np.ndarray) -> str:
    """Brightness as the time of day it suggests: dark photos look like night or low light."""
    value = hsv[..., 2]
    mean = float(value.mean())
    if mean < 0.22:
        bright_spots = float((value > 0.85).mean())
        return "dark, at night" + (", lights in the dark" if bright_spots > 0.005 else ", low light")
    if mean < 0.35:
        return "dim light, dusk or indoors"
    if mean > 0.72:
        return "bright, high key, daylight"
    return ""


def orientation(width: int, height: int) -> str:
    if width > height * 1.15:
        return "landscape format" + (", panorama" if width > height * 2.2 else "")
    if height > width * 1.15:
        return "portrait format, vertical"
    return "square format"


def is_blurry(image: Image.Image) -> bool:
    """Few edges anywhere: out of focus, motion blur, or fog. The variance of the Laplacian is
    the usual focus measure; the threshold keeps smooth but sharp subjects (sky, walls) out."""
    grey = image.convert("L")
    edges = np.asarray(grey.filter(ImageFilter.Kernel((3, 3), (0, 1, 0, 1, -4, 1, 0, 1, 0), 1, 128)), dtype=np.float32)
    return float(edges.var()) < 30.0
