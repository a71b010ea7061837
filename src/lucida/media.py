"""Decoding photos into small, upright RGB images for the models and for screens.

Decoding is the main cost of indexing, so it decodes as little as it can: JPEGs in draft mode
(the decoder's DCT scaling gives 1/2, 1/4 or 1/8 size almost for free) and camera RAW files
through their embedded preview JPEG. EXIF orientation is applied before the models see pixels.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import io
import re
import sys
import warnings
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pillow_heif
import rawpy
from PIL import Image, UnidentifiedImageError

pillow_heif.register_heif_opener()

from lucida.formats import RAW_EXTENSIONS, SUPPORTED_EXTENSIONS  # noqa: E402,F401 - also named from here

# Real cameras reach 150-200 megapixels (Phase One, Fujifilm GFX pixel shift); far beyond that is a
# decompression bomb. Pillow's default limit (89 MP) would refuse a GFX100's 102 MP frames.
MAX_PIXELS = 250_000_000
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
# Pillow only warns between 1x and 2x its limit; a bomb must be refused, not decoded.
warnings.filterwarnings("error", category=Image.DecompressionBombWarning)
# A photo uploaded to search by is decoded whole (only JPEGs have a reduced-scale decode, and
# even they, when progressive, buffer every coefficient), so strangers' files get a lower limit
# than the library's own: 50 MP is a 1-bit PNG of 50 MB decoded, an RGBA one of 200 MB.
UPLOAD_MAX_PIXELS = 50_000_000

# An image decoded larger than this is converted to RGB and reduced band by band, not whole: a
# 240 MP 1-bit PNG costs its 240 MB of decoded pixels, not 960 MB more as one RGB copy.
_BANDED_ABOVE = 16_000_000
_BAND_PIXELS = 4_000_000

_EXIF_IFD = 0x8769
_ORIENTATION = 0x0112
_DATETIME = 0x0132
_DATETIME_ORIGINAL = 0x9003
_OFFSET_TIME_ORIGINAL = 0x9011

# LibRaw's `flip` code -> the Pillow transpose that makes the image upright.
_RAW_FLIP = {3: Image.Transpose.ROTATE_180, 5: Image.Transpose.ROTATE_90, 6: Image.Transpose.ROTATE_270}


class UnreadablePhoto(Exception):
    """This file cannot be decoded; the message is the one-line reason shown to the user."""


@dataclass
class DecodedPhoto:
    image: Image.Image  # RGB, upright, shorter side about `min_side` (smaller if the photo is)
    width: int  # full size as displayed (after orientation)
    height: int
    taken_at: str | None  # ISO 8601 capture time from EXIF


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def decode_for_models(data: bytes, extension: str, min_side: int) -> DecodedPhoto:
    """Decode `data` (a whole file) into an upright RGB image whose shorter side is `min_side`."""
    if not data:
        raise UnreadablePhoto("file is empty")
    try:
        if extension in RAW_EXTENSIONS:
            return _decode_raw(data, min_side)
        return _decode_with_pillow(data, min_side)
    except UnreadablePhoto:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise UnreadablePhoto(_bomb_reason(error)) from None
    except UnidentifiedImageError:
        raise UnreadablePhoto(f"not a readable image, though named {extension}") from None
    except (OSError, SyntaxError, ValueError, EOFError, MemoryError) as error:
        # Pillow reports truncated and corrupt data as OSError/SyntaxError/ValueError.
        raise UnreadablePhoto(f"damaged image data: {_one_line(error)}") from None


def upload_problem(data: bytes, extension: str) -> str | None:
    """Why an uploaded photo is refused before it is decoded (its header names more pixels than
    UPLOAD_MAX_PIXELS), or None. Pillow reads only the header here; what it cannot even open is
    left to the decoder's own message. Camera RAW files are not checked: LibRaw decodes their
    embedded preview, or the sensor data at half size."""
    if extension in RAW_EXTENSIONS:
        return None
    try:
        with Image.open(io.BytesIO(data)) as opened:
            width, height = opened.size
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        return _bomb_reason(error)
    except Exception:  # noqa: BLE001 - unreadable: decode_for_models says why
        return None
    if width * height > UPLOAD_MAX_PIXELS:
        return f"refused: {width}x{height} pixels is over the {UPLOAD_MAX_PIXELS // 1_000_000}-megapixel limit for uploads"
    return None


def release_memory() -> None:
    """Give freed heap memory back to the system (glibc's malloc_trim). After a large image is
    freed, glibc keeps its pages (the images' 16 MB blocks come from the heap once the mmap
    threshold has grown), so a server would stay at its peak. A no-op off glibc."""
    if _malloc_trim is not None:
        _malloc_trim(0)


def _find_malloc_trim():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim  # glibc only: musl has none
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


_malloc_trim = _find_malloc_trim()


def decode_for_screen(data: bytes, extension: str, long_side: int) -> Image.Image:
    """An upright RGB rendition whose longer side is at most `long_side`: thumbnails, previews."""
    image = decode_for_models(data, extension, long_side).image  # shorter side >= long_side, cheaply
    image.thumbnail((long_side, long_side), Image.Resampling.LANCZOS)
    return image


def _decode_with_pillow(data: bytes, min_side: int) -> DecodedPhoto:
    with Image.open(io.BytesIO(data)) as opened:
        full_w, full_h = opened.size
        if full_w * full_h > MAX_PIXELS:
            raise UnreadablePhoto(_bomb_message(f"{full_w}x{full_h} pixels"))
        exif = opened.getexif()
        if opened.format in ("JPEG", "MPO"):  # cameras' JPEGs with an MPF preview open as MPO
            # Ask the decoder for the smallest DCT scale that still covers min_side.
            scale = min(full_w, full_h) / min_side
            if scale >= 2:
                opened.draft("RGB", (int(full_w / scale) + 1, int(full_h / scale) + 1))
        opened.seek(0)  # first frame of a GIF or multi-page TIFF
        opened.load()
        decoded = opened.width * opened.height
        if decoded > _BANDED_ABOVE and min(opened.size) >= 2 * min_side:
            image = _reduced_rgb(opened, min(opened.size) // min_side)
        else:
            image = _to_rgb(opened)
        if image is not opened:
            opened.close()  # frees the decoded pixels now, not when this frame ends
    if decoded > _BANDED_ABOVE:
        release_memory()
    image = _apply_orientation(image, exif.get(_ORIENTATION))
    width, height = (full_h, full_w) if exif.get(_ORIENTATION) in (5, 6, 7, 8) else (full_w, full_h)
    return DecodedPhoto(_shrink(image, min_side), width, height, _capture_time(exif))


def _decode_raw(data: bytes, min_side: int) -> DecodedPhoto:
    # Every RAW format (NEF, CR2, CR3, ARW, DNG, RAF, ORF, RW2) takes this same LibRaw path.
    try:
        raw = rawpy.imread(io.BytesIO(data))
    except (rawpy.LibRawError, OSError) as error:
        raise UnreadablePhoto(f"not a readable camera RAW file: {_one_line(error)}") from None
    with raw:
        flip = raw.sizes.flip
        full_w, full_h = raw.sizes.width, raw.sizes.height
        if flip in (5, 6):
            full_w, full_h = full_h, full_w
        image, taken_at = _raw_preview(raw, flip, min(min_side, full_w, full_h))
        if image is None:
            # No usable preview: demosaic (at half size when that still covers min_side); LibRaw
            # applies the flip itself.
            try:
                pixels = raw.postprocess(
                    half_size=min(full_w, full_h) >= 2 * min_side, use_camera_wb=True, output_bps=8
                )
            except rawpy.LibRawError as error:
                raise UnreadablePhoto(f"cannot develop RAW data: {_one_line(error)}") from None
            image = Image.fromarray(pixels)
            taken_at = _raw_capture_time(raw)  # only now: rawpy unpacks the sensor data to answer
        elif taken_at == datetime.fromtimestamp(0).isoformat():
            # LibRaw wraps a bare preview JPEG in EXIF of its own, dated 0 when no time is known.
            taken_at = None
    return DecodedPhoto(_shrink(image, min_side), full_w, full_h, taken_at)


def _raw_preview(raw: rawpy.RawPy, flip: int, wanted_side: int) -> tuple[Image.Image | None, str | None]:
    """The embedded preview, upright, with its EXIF capture time; (None, None) when there is none,
    it cannot be decoded, or its shorter side is under `wanted_side` (a thumbnail too small for
    the models when the sensor has more)."""
    try:
        thumb = raw.extract_thumb()
    except rawpy.LibRawError:
        return None, None
    try:
        if thumb.format == rawpy.ThumbFormat.JPEG:
            preview = _decode_with_pillow(thumb.data, wanted_side)
            image, taken_at, size = preview.image, preview.taken_at, (preview.width, preview.height)
            # Previews written without an orientation tag are in sensor orientation.
            if not _jpeg_has_orientation(thumb.data) and flip in _RAW_FLIP:
                image = image.transpose(_RAW_FLIP[flip])
        elif thumb.format == rawpy.ThumbFormat.BITMAP:
            image, taken_at = Image.fromarray(thumb.data).convert("RGB"), None
            size = image.size
            if flip in _RAW_FLIP:
                image = image.transpose(_RAW_FLIP[flip])
        else:
            return None, None
    except (UnreadablePhoto, OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError,
            Image.DecompressionBombWarning):
        return None, None  # a damaged preview: the sensor data may still be fine
    if min(size) < wanted_side:
        return None, None
    return image, taken_at


def _raw_capture_time(raw: rawpy.RawPy) -> str | None:
    """LibRaw's capture time (from the RAW's EXIF DateTimeOriginal), as local wall time."""
    try:
        moment = raw.other.timestamp
        if isinstance(moment, (int, float)):
            moment = datetime.fromtimestamp(moment)
        if not isinstance(moment, datetime) or moment.timestamp() <= 0:  # 0: none was recorded
            return None
    except (rawpy.LibRawError, AttributeError, OverflowError, OSError, ValueError):
        return None
    return moment.isoformat()


def _jpeg_has_orientation(data: bytes) -> bool:
    with Image.open(io.BytesIO(data)) as preview:
        return preview.getexif().get(_ORIENTATION, 1) != 1


def _reduced_rgb(image: Image.Image, factor: int) -> Image.Image:
    """`image` in RGB at 1/factor size (box filter), converted and reduced a band of rows at a
    time, so that no full-size RGB copy is ever made."""
    extrema = image.getextrema() if image.mode in _WIDE_GREY else None
    rows = max(factor, _BAND_PIXELS // image.width // factor * factor)
    out = Image.new("RGB", (-(-image.width // factor), -(-image.height // factor)))
    for top in range(0, image.height, rows):
        band = image.crop((0, top, image.width, min(image.height, top + rows)))
        out.paste(_to_rgb(band, extrema).reduce(factor), (0, top // factor))
    return out


_WIDE_GREY = ("I", "I;16", "I;16B", "I;16L", "F")


def _to_rgb(image: Image.Image, extrema: tuple[float, float] | None = None) -> Image.Image:
    """`extrema`: the whole image's, when `image` is a band of it (16-bit and float greyscale)."""
    if image.mode == "RGB":
        return image
    if image.mode in _WIDE_GREY:
        # 16-bit or float greyscale (scientific TIFFs, some PNGs): stretch to 8 bits.
        pixels = np.asarray(image, dtype=np.float32)
        low, high = (float(pixels.min()), float(pixels.max())) if extrema is None else map(float, extrema)
        scaled = (pixels - low) * (255.0 / (high - low)) if high > low else np.zeros_like(pixels)
        return Image.fromarray(scaled.astype(np.uint8)).convert("RGB")
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        # Transparent areas over white, as a viewer would show them.
        rgba = image.convert("RGBA")
        canvas = Image.new("RGB", rgba.size, (255, 255, 255))
        canvas.paste(rgba, mask=rgba.getchannel("A"))
        return canvas
    return image.convert("RGB")


def _apply_orientation(image: Image.Image, orientation: int | None) -> Image.Image:
    if not orientation or orientation == 1:
        return image
    # Not ImageOps.exif_transpose: the tag lives on the opened file, not on its RGB copy.
    method = {
        2: Image.Transpose.FLIP_LEFT_RIGHT,
        3: Image.Transpose.ROTATE_180,
        4: Image.Transpose.FLIP_TOP_BOTTOM,
        5: Image.Transpose.TRANSPOSE,
        6: Image.Transpose.ROTATE_270,
        7: Image.Transpose.TRANSVERSE,
        8: Image.Transpose.ROTATE_90,
    }.get(orientation)
    return image.transpose(method) if method is not None else image


def _shrink(image: Image.Image, min_side: int) -> Image.Image:
    shorter = min(image.size)
    if shorter <= min_side:
        return image
    scale = min_side / shorter
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)


def _capture_time(exif: Image.Exif) -> str | None:
    sub = exif.get_ifd(_EXIF_IFD)
    value = sub.get(_DATETIME_ORIGINAL) or exif.get(_DATETIME)
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.strptime(value.strip("\x00 "), "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    offset = sub.get(_OFFSET_TIME_ORIGINAL)
    text = moment.isoformat()
    if isinstance(offset, str) and len(offset.strip("\x00 ")) == 6:
        text += offset.strip("\x00 ")
    return text


def _bomb_reason(error: Exception) -> str:
    # Pillow refuses outright at twice its limit and names that in its message; state ours.
    match = re.search(r"\((\d+) pixels\)", str(error))
    return _bomb_message(f"{int(match.group(1)) / 1_000_000:.0f} megapixels" if match else "the image")


def _bomb_message(what: str) -> str:
    return f"refused as a decompression bomb: {what} is over the {MAX_PIXELS // 1_000_000}-megapixel limit"


def _one_line(error: BaseException) -> str:
    text = str(error)
    if len(error.args) == 1 and isinstance(error.args[0], bytes):  # LibRaw's messages are bytes
        text = error.args[0].decode("utf-8", "replace")
    return " ".join(text.split()) or type(error).__name__

