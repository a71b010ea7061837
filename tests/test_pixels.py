"""Pixel signals on real photos and on images whose answer is known by construction."""

import numpy as np
import pytest
from PIL import Image, ImageFilter

from lucida.pixels import COLOUR_NAMES, colour_names, dominant_colours, is_blurry, look_words, orientation


def _hsv(rgb: tuple[int, int, int]) -> np.ndarray:
    return np.asarray(Image.new("RGB", (4, 4), rgb).convert("HSV"), dtype=np.float32) / 255.0


@pytest.mark.parametrize(
    "rgb, name",
    [
        ((220, 30, 30), "red"), ((250, 140, 20), "orange"), ((240, 230, 40), "yellow"),
        ((40, 170, 60), "green"), ((30, 80, 220), "blue"), ((130, 40, 180), "purple"),
        ((250, 150, 190), "pink"), ((110, 70, 30), "brown"), ((10, 10, 10), "black"),
        ((128, 128, 128), "grey"), ((245, 245, 245), "white"),
    ],
)
def test_basic_colour_names(rgb, name):
    assert COLOUR_NAMES[int(colour_names(_hsv(rgb))[0, 0])] == name


def test_a_small_red_subject_on_grey_is_still_red():
    image = Image.new("RGB", (100, 100), (120, 120, 120))
    image.paste((220, 20, 20), (40, 40, 60, 60))  # 4% of the frame
    hsv = np.asarray(image.convert("HSV"), dtype=np.float32) / 255.0
    assert dominant_colours(hsv) == ["grey", "red"]


def test_real_photos(sample_photos):
    def look(name):
        return look_words(Image.open(sample_photos / f"{name}.jpg").convert("RGB"))

    assert look("camera")["colours"].startswith("black and white")
    assert look("moon")["colours"].startswith("black and white")
    assert "black and white" not in look("coffee")["colours"]
    assert "red" in look("coffee")["colours"]
    assert look("hubble")["light"].startswith("dark")
    assert look("grace_hopper")["shape"].startswith("portrait")
    assert look("chelsea")["shape"].startswith("landscape")
    assert "focus" not in look("chelsea")


def test_a_sepia_print_is_black_and_white(sample_photos):
    grey = Image.open(sample_photos / "camera.jpg").convert("L")
    sepia = Image.merge("RGB", [grey.point(lambda v: min(255, int(v * 1.07))), grey, grey.point(lambda v: int(v * 0.82))])
    assert look_words(sepia)["colours"].startswith("black and white")


def test_blur_is_seen(sample_photos):
    sharp = Image.open(sample_photos / "grass.jpg").convert("RGB")
    assert not is_blurry(sharp)
    assert is_blurry(sharp.filter(ImageFilter.GaussianBlur(8)))


def test_orientation():
    assert orientation(4000, 3000) == "landscape format"
    assert orientation(3000, 4000).startswith("portrait")
    assert orientation(1000, 1000) == "square format"
    assert orientation(9000, 3000).endswith("panorama")
