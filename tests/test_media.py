"""Decoding real image files of every supported format into upright RGB images for the models.

Every input here is a real encoded file written by the library that owns the format (Pillow,
pillow-heif, pidng); nothing is mocked. Camera RAW is tested with real DNG files made by pidng
and read by LibRaw (rawpy). The other RAW formats lucida accepts (NEF, CR2, CR3, ARW, RAF, ORF,
RW2) cannot be produced without the cameras' own firmware, so there are no such files here; they
go through exactly the same `rawpy.imread` / `extract_thumb` / `postprocess` path as DNG.
"""

from __future__ import annotations

import io
import warnings

import numpy as np
import pytest
import rawpy
from PIL import Image
from pidng.core import RAW2DNG, DNGTags, Tag
from pidng.defs import CFAPattern, CalibrationIlluminant, DNGVersion, PhotometricInterpretation
from pidng.dng import DNG, Type, dngIFD, dngTag

from lucida import media
from lucida.media import DecodedPhoto, UnreadablePhoto, decode_for_models

from conftest import png_bomb

MIN_SIDE = 224
RED, BLUE, GREEN, GREY = (255, 0, 0), (0, 0, 255), (0, 255, 0), (128, 128, 128)


# -- pictures ----------------------------------------------------------------------------------


def marked(width: int = 400, height: int = 300) -> Image.Image:
    """A clearly asymmetric picture: grey, with a red block top-left and a blue block bottom-right."""
    pixels = np.full((height, width, 3), GREY, np.uint8)
    pixels[: height // 4, : width // 4] = RED
    pixels[-(height // 4) :, -(width // 4) :] = BLUE
    return Image.fromarray(pixels)


def corner(image: Image.Image, where: str) -> tuple[int, int, int]:
    """Mean colour of a small patch well inside the named corner ("top-left", "bottom-right", ...)."""
    pixels = np.asarray(image.convert("RGB"), dtype=np.float32)
    h, w = pixels.shape[:2]
    ys = slice(h // 32, h // 10) if where.startswith("top") else slice(h - h // 10, h - h // 32)
    xs = slice(w // 32, w // 10) if where.endswith("left") else slice(w - w // 10, w - w // 32)
    return tuple(int(round(c)) for c in pixels[ys, xs].reshape(-1, 3).mean(axis=0))


def near(colour: tuple[int, int, int], expected: tuple[int, int, int], tolerance: int = 40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(colour, expected))


def assert_upright_marked(photo: DecodedPhoto, width: int = 400, height: int = 300,
                          bottom_left: tuple[int, int, int] = GREY) -> None:
    """`photo` is `marked(width, height)` as displayed: red top-left, blue bottom-right."""
    assert photo.image.mode == "RGB"
    assert (photo.width, photo.height) == (width, height)
    assert min(photo.image.size) == min(MIN_SIDE, width, height)
    # Same aspect as displayed (landscape stays landscape, portrait stays portrait).
    assert (photo.image.width > photo.image.height) == (width > height)
    assert near(corner(photo.image, "top-left"), RED), corner(photo.image, "top-left")
    assert near(corner(photo.image, "bottom-right"), BLUE), corner(photo.image, "bottom-right")
    assert near(corner(photo.image, "top-right"), GREY)
    assert near(corner(photo.image, "bottom-left"), bottom_left), corner(photo.image, "bottom-left")


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def exif(orientation: int | None = None, original: str | None = None, offset: str | None = None,
         datetime: str | None = None) -> Image.Exif:
    tags = Image.Exif()
    if orientation is not None:
        tags[0x0112] = orientation
    if datetime is not None:
        tags[0x0132] = datetime
    if original is not None:
        sub = tags.get_ifd(0x8769)
        sub[0x9003] = original
        if offset is not None:
            sub[0x9011] = offset
    return tags


# How a camera stores the pixels of an upright picture for each EXIF orientation: the viewer
# applies the orientation to get back the upright picture.
STORED_AS = {
    3: Image.Transpose.ROTATE_180,
    6: Image.Transpose.ROTATE_90,  # viewer turns it 90 degrees clockwise
    8: Image.Transpose.ROTATE_270,  # viewer turns it 90 degrees counter-clockwise
}


# -- every format ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "extension", "options"),
    [
        ("JPEG", ".jpg", {"quality": 92}),
        ("JPEG", ".jpeg", {"quality": 92, "progressive": True}),
        ("PNG", ".png", {}),
        ("WEBP", ".webp", {"quality": 90}),
        ("WEBP", ".webp", {"lossless": True}),
        ("TIFF", ".tif", {}),
        ("TIFF", ".tiff", {"compression": "tiff_lzw"}),
        ("BMP", ".bmp", {}),
        ("GIF", ".gif", {}),
        ("HEIF", ".heic", {"quality": 90}),
        ("HEIF", ".heif", {"quality": 90}),
    ],
)
def test_formats_decode_to_small_upright_rgb(fmt, extension, options):
    assert extension in media.SUPPORTED_EXTENSIONS
    data = encode(marked(), fmt, **options)
    photo = decode_for_models(data, extension, MIN_SIDE)
    assert_upright_marked(photo)
    assert photo.image.size == (299, 224)
    assert photo.taken_at is None


def test_small_photos_are_not_enlarged():
    photo = decode_for_models(encode(marked(160, 120), "PNG"), ".png", MIN_SIDE)
    assert photo.image.size == (160, 120)
    assert_upright_marked(photo, 160, 120)


def test_rgba_png_shows_transparent_areas_over_white():
    pixels = np.zeros((300, 400, 4), np.uint8)
    pixels[..., 0] = 255  # red everywhere...
    pixels[:, :200, 3] = 255  # ...but only the left half is opaque
    photo = decode_for_models(encode(Image.fromarray(pixels, "RGBA"), "PNG"), ".png", MIN_SIDE)
    assert photo.image.mode == "RGB"
    assert near(corner(photo.image, "top-left"), RED, 5)
    assert near(corner(photo.image, "top-right"), (255, 255, 255), 5)


def test_palette_png_with_transparency():
    image = marked().convert("P", palette=Image.Palette.ADAPTIVE, colors=8)
    grey_index = image.getpixel((200, 150))
    photo = decode_for_models(encode(image, "PNG", transparency=grey_index), ".png", MIN_SIDE)
    assert photo.image.mode == "RGB"
    assert near(corner(photo.image, "top-left"), RED)
    assert near(corner(photo.image, "top-right"), (255, 255, 255))  # grey was the transparent colour


def test_16_bit_greyscale_png_is_stretched_to_8_bits():
    ramp = np.tile(np.linspace(1000, 60000, 400), (300, 1)).astype(np.uint16)  # dark left, bright right
    data = encode(Image.fromarray(ramp), "PNG")
    assert Image.open(io.BytesIO(data)).mode.startswith("I")  # really stored as 16 bits
    photo = decode_for_models(data, ".png", MIN_SIDE)
    assert photo.image.mode == "RGB"
    assert photo.image.size == (299, 224)
    left, right = corner(photo.image, "top-left"), corner(photo.image, "top-right")
    assert max(left) < 40 and min(right) > 215
    assert left[0] == left[1] == left[2]  # still grey


def test_16_bit_greyscale_tiff():
    ramp = np.tile(np.linspace(0, 65535, 300), (400, 1)).T.astype(np.uint16)  # dark top, bright bottom
    photo = decode_for_models(encode(Image.fromarray(ramp), "TIFF"), ".tif", MIN_SIDE)
    assert photo.image.mode == "RGB"
    assert max(corner(photo.image, "top-left")) < 40
    assert min(corner(photo.image, "bottom-left")) > 215


def test_animated_gif_uses_its_first_frame():
    frames = [Image.new("RGB", (300, 300), colour) for colour in (RED, GREEN, BLUE)]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    assert Image.open(io.BytesIO(data)).n_frames == 3
    photo = decode_for_models(data, ".gif", MIN_SIDE)
    assert photo.image.mode == "RGB" and photo.image.size == (224, 224)
    assert near(corner(photo.image, "top-left"), RED, 5)
    assert near(corner(photo.image, "bottom-right"), RED, 5)


def test_animated_webp_uses_its_first_frame():
    frames = [Image.new("RGB", (300, 300), colour) for colour in (BLUE, RED)]
    data = encode(frames[0], "WEBP", save_all=True, append_images=frames[1:], duration=100, lossless=True)
    photo = decode_for_models(data, ".webp", MIN_SIDE)
    assert near(corner(photo.image, "top-left"), BLUE, 5)


# -- orientation and JPEG draft mode -----------------------------------------------------------


@pytest.mark.parametrize("orientation", [6, 8, 3])
@pytest.mark.parametrize(("fmt", "extension"), [("JPEG", ".jpg"), ("HEIF", ".heic"), ("PNG", ".png"),
                                                ("WEBP", ".webp"), ("TIFF", ".tif")])
def test_exif_orientation_is_applied(fmt, extension, orientation):
    upright = marked(400, 300)
    stored = upright.transpose(STORED_AS[orientation])
    if orientation in (6, 8):
        assert stored.size == (300, 400)  # the file's pixels are portrait...
    tags = exif(orientation)
    data = encode(stored, fmt, exif=tags.tobytes() if fmt == "HEIF" else tags)
    photo = decode_for_models(data, extension, MIN_SIDE)
    assert_upright_marked(photo, 400, 300)  # ...but the models see the landscape picture


def test_portrait_photo_turned_by_orientation_6():
    upright = marked(300, 400)  # a portrait picture, stored landscape as a camera does
    data = encode(upright.transpose(STORED_AS[6]), "JPEG", quality=92, exif=exif(6))
    photo = decode_for_models(data, ".jpg", MIN_SIDE)
    assert_upright_marked(photo, 300, 400)
    assert photo.image.size == (224, 299)


def test_large_jpeg_decodes_in_draft_mode_to_min_side():
    rng = np.random.default_rng(7)
    base = np.asarray(marked(400, 300).resize((4000, 3000), Image.Resampling.NEAREST)).copy()
    base[1000:2000, 1500:2500] = rng.integers(0, 255, (1000, 1000, 3), dtype=np.uint8)  # some detail
    data = encode(Image.fromarray(base), "JPEG", quality=85)
    photo = decode_for_models(data, ".jpg", MIN_SIDE)
    assert (photo.width, photo.height) == (4000, 3000)
    assert photo.image.size == (299, 224)
    assert min(photo.image.size) == MIN_SIDE
    assert near(corner(photo.image, "top-left"), RED) and near(corner(photo.image, "bottom-right"), BLUE)


def test_large_jpeg_draft_mode_with_orientation():
    big = marked(400, 300).resize((4000, 3000), Image.Resampling.NEAREST)
    data = encode(big.transpose(STORED_AS[6]), "JPEG", quality=85, exif=exif(6))
    photo = decode_for_models(data, ".jpg", MIN_SIDE)
    assert (photo.width, photo.height) == (4000, 3000)
    assert photo.image.size == (299, 224)
    assert_upright_marked(photo, 4000, 3000)


def test_camera_jpeg_with_multi_picture_preview():
    """Cameras write JPEGs with an MPF second image (a preview); Pillow opens them as MPO."""
    big = marked(400, 300).resize((4000, 3000), Image.Resampling.NEAREST).transpose(STORED_AS[8])
    data = encode(big, "MPO", save_all=True, append_images=[big.resize((300, 400))], quality=85, exif=exif(8))
    assert Image.open(io.BytesIO(data)).format == "MPO"
    photo = decode_for_models(data, ".jpg", MIN_SIDE)
    assert photo.image.size == (299, 224)
    assert_upright_marked(photo, 4000, 3000)


def test_greyscale_large_jpeg_in_draft_mode():
    grey = marked(400, 300).convert("L").resize((4000, 3000))
    photo = decode_for_models(encode(grey, "JPEG", quality=85), ".jpg", MIN_SIDE)
    assert photo.image.mode == "RGB" and photo.image.size == (299, 224)


# -- capture time ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        (exif(original="2023:07:04 10:11:12", offset="+02:00"), "2023-07-04T10:11:12+02:00"),
        (exif(original="2023:07:04 10:11:12", offset="-05:30"), "2023-07-04T10:11:12-05:30"),
        (exif(original="2023:07:04 10:11:12"), "2023-07-04T10:11:12"),
        # DateTimeOriginal wins over the file's modification DateTime.
        (exif(original="2019:01:02 03:04:05", datetime="2024:12:31 23:59:59"), "2019-01-02T03:04:05"),
        (exif(datetime="2024:12:31 23:59:59"), "2024-12-31T23:59:59"),
        (exif(original="0000:00:00 00:00:00"), None),  # what some cameras write when unset
        (exif(original="garbage"), None),
        (exif(orientation=1), None),
    ],
)
def test_capture_time_from_exif(tags, expected):
    photo = decode_for_models(encode(marked(), "JPEG", exif=tags), ".jpg", MIN_SIDE)
    assert photo.taken_at == expected


def test_capture_time_survives_orientation_and_draft_mode():
    big = marked().resize((4000, 3000)).transpose(STORED_AS[6])
    data = encode(big, "JPEG", exif=exif(6, original="2022:02:22 22:22:22", offset="+09:00"))
    assert decode_for_models(data, ".jpg", MIN_SIDE).taken_at == "2022-02-22T22:22:22+09:00"


def test_capture_time_from_heic():
    tags = exif(original="2021:08:09 07:06:05", offset="+01:00")
    photo = decode_for_models(encode(marked(), "HEIF", exif=tags.tobytes()), ".heic", MIN_SIDE)
    assert photo.taken_at == "2021-08-09T07:06:05+01:00"


# -- camera RAW (real DNG files) ---------------------------------------------------------------

RAW_BITS = 12
WHITE = (1 << RAW_BITS) - 1
# The sensor of this made-up camera records linear sRGB: its ColorMatrix1 (XYZ -> camera, as DNG
# SRational pairs) is the XYZ -> linear sRGB matrix, so developed colours match the input.
XYZ_TO_SRGB = [[32406, -15372, -4986], [-9689, 18758, 415], [557, -2040, 10570]]
SENSOR_MATRIX = [[v, 10000] for row in XYZ_TO_SRGB for v in row]


def bayer(image: Image.Image) -> np.ndarray:
    """The RGGB sensor mosaic a camera would record of `image` (12 bits per photosite)."""
    encoded = np.asarray(image.convert("RGB"), dtype=np.float64) / 255
    linear = np.where(encoded <= 0.04045, encoded / 12.92, ((encoded + 0.055) / 1.055) ** 2.4)
    rgb = np.round(linear * WHITE).astype(np.uint16)
    h, w = rgb.shape[0] // 2 * 2, rgb.shape[1] // 2 * 2
    rgb = rgb[:h, :w]
    mosaic = np.empty((h, w), np.uint16)
    mosaic[0::2, 0::2] = rgb[0::2, 0::2, 0]
    mosaic[0::2, 1::2] = rgb[0::2, 1::2, 1]
    mosaic[1::2, 0::2] = rgb[1::2, 0::2, 1]
    mosaic[1::2, 1::2] = rgb[1::2, 1::2, 2]
    return mosaic


OFFSET_TIME_ORIGINAL = (36881, Type.Ascii)


def ifd_pointer(tag: tuple, ifd: dngIFD) -> dngTag:
    """A tag pointing to a sub-IFD (SubIFDs, ExifIFD). pidng has the writer for these, but its
    dngTag constructor cannot build one (it joins str and bytes), so build a plain tag and
    point it at the IFD."""
    pointer = dngTag(Tag.NewSubfileType, [0])
    pointer.Type, pointer.TagId, pointer.DataType, pointer.subIFD = tag, tag[0], tag[1], ifd
    return pointer


def exif_ifd(taken: str, offset: str | None = None) -> dngTag:
    """An EXIF IFD holding DateTimeOriginal (and OffsetTimeOriginal), as cameras write it."""
    ifd = dngIFD()
    ifd.tags.append(dngTag(Tag.DateTimeOriginal, taken))
    if offset is not None:
        ifd.tags.append(dngTag(OFFSET_TIME_ORIGINAL, offset))
    return ifd_pointer(Tag.EXIF_IFD, ifd)


def raw_tags(width: int, height: int, orientation: int) -> list[tuple]:
    tags = [
        (Tag.ImageWidth, [width]), (Tag.ImageLength, [height]),
        (Tag.TileWidth, [width]), (Tag.TileLength, [height]),
        (Tag.Orientation, [orientation]),
        (Tag.PhotometricInterpretation, [PhotometricInterpretation.Color_Filter_Array]),
        (Tag.SamplesPerPixel, [1]), (Tag.BitsPerSample, [RAW_BITS]),
        (Tag.CFARepeatPatternDim, [2, 2]), (Tag.CFAPattern, CFAPattern.RGGB),
        (Tag.BlackLevel, [0]), (Tag.WhiteLevel, [WHITE]),
        (Tag.ColorMatrix1, SENSOR_MATRIX), (Tag.CalibrationIlluminant1, [CalibrationIlluminant.D65]),
        (Tag.AsShotNeutral, [[1, 1], [1, 1], [1, 1]]),
        (Tag.Make, "Lucida"), (Tag.Model, "Test Camera"),
        (Tag.DNGVersion, DNGVersion.V1_4), (Tag.DNGBackwardVersion, DNGVersion.V1_2),
    ]
    return tags


def dng_without_preview(upright: Image.Image, orientation: int = 1, taken: str | None = None) -> bytes:
    """A DNG holding only sensor data, written with pidng's own converter: LibRaw must develop it."""
    sensor = upright.transpose(STORED_AS[orientation]) if orientation in STORED_AS else upright
    mosaic = bayer(sensor)
    tags = DNGTags()
    for tag, value in raw_tags(mosaic.shape[1], mosaic.shape[0], orientation):
        tags.set(tag, value)
    if taken is not None:
        tags.__tags__[Tag.EXIF_IFD] = exif_ifd(taken)
    writer = RAW2DNG()
    writer.options(tags, path="", compress=False)
    return bytes(writer.convert(mosaic))


def dng_with_preview(upright: Image.Image, preview: Image.Image, orientation: int = 1,
                     taken: str | None = None) -> bytes:
    """A DNG laid out as cameras and Adobe's converter write it: IFD0 holds a JPEG preview
    (NewSubfileType 1), its SubIFD the sensor data. pidng's converter writes the sensor IFD only,
    so this assembles the file with pidng's TIFF writer."""
    sensor = upright.transpose(STORED_AS[orientation]) if orientation in STORED_AS else upright
    mosaic = bayer(sensor)
    h, w = mosaic.shape
    stored_preview = preview.transpose(STORED_AS[orientation]) if orientation in STORED_AS else preview
    jpeg = encode(stored_preview.convert("RGB"), "JPEG", quality=90)

    dng = DNG()
    dng.ImageDataStrips.extend([mosaic.tobytes(), jpeg])  # unpacked 16-bit samples, then the preview
    raw_offsets, preview_offsets = dngTag(Tag.TileOffsets, [0]), dngTag(Tag.StripOffsets, [0])
    raw_ifd = dngIFD()
    raw_ifd.tags += [raw_offsets] + [
        dngTag(t, [16] if t == Tag.BitsPerSample else v)
        for t, v in raw_tags(w, h, orientation)
        if t not in (Tag.Orientation, Tag.Make, Tag.Model, Tag.DNGVersion, Tag.DNGBackwardVersion,
                     Tag.ColorMatrix1, Tag.CalibrationIlluminant1, Tag.AsShotNeutral)
    ] + [dngTag(Tag.NewSubfileType, [0]), dngTag(Tag.Compression, [1]), dngTag(Tag.TileByteCounts, [mosaic.nbytes])]
    main = dngIFD()
    main.tags += [preview_offsets] + [
        dngTag(t, v) for t, v in raw_tags(w, h, orientation)
        if t in (Tag.Orientation, Tag.Make, Tag.Model, Tag.DNGVersion, Tag.DNGBackwardVersion,
                 Tag.ColorMatrix1, Tag.CalibrationIlluminant1, Tag.AsShotNeutral)
    ] + [
        dngTag(Tag.NewSubfileType, [1]), dngTag(Tag.ImageWidth, [stored_preview.width]),
        dngTag(Tag.ImageLength, [stored_preview.height]), dngTag(Tag.BitsPerSample, [8, 8, 8]),
        dngTag(Tag.Compression, [7]), dngTag(Tag.PhotometricInterpretation, [6]),
        dngTag(Tag.SamplesPerPixel, [3]), dngTag(Tag.RowsPerStrip, [stored_preview.height]),
        dngTag(Tag.StripByteCounts, [len(jpeg)]), ifd_pointer(Tag.SubIFD, raw_ifd),
    ]
    if taken is not None:
        main.tags.append(exif_ifd(taken))
    dng.IFDs.append(main)
    size = dng.dataLen()
    raw_offsets.setValue([dng.StripOffsets[0]])
    preview_offsets.setValue([dng.StripOffsets[1]])
    buffer = bytearray(size)
    dng.setBuffer(buffer)
    dng.write()
    return bytes(buffer)


def with_green_corner(image: Image.Image) -> Image.Image:
    """The picture with a green block bottom-left: tells a preview apart from the developed RAW."""
    pixels = np.asarray(image.convert("RGB")).copy()
    h, w = pixels.shape[:2]
    pixels[-(h // 4) :, : w // 4] = GREEN
    return Image.fromarray(pixels)


def correlation(a: Image.Image, b: Image.Image) -> float:
    a_grey = np.asarray(a.convert("L").resize((64, 48)), dtype=np.float64).ravel()
    b_grey = np.asarray(b.convert("L").resize((64, 48)), dtype=np.float64).ravel()
    return float(np.corrcoef(a_grey, b_grey)[0, 1])


def test_dng_without_preview_is_developed_by_libraw(sample_photo):
    data = dng_without_preview(sample_photo)
    with rawpy.imread(io.BytesIO(data)) as raw:  # LibRaw really reads it as a camera RAW
        assert (raw.sizes.width, raw.sizes.height) == (sample_photo.width, sample_photo.height)
        with pytest.raises(rawpy.LibRawNoThumbnailError):
            raw.extract_thumb()
    photo = decode_for_models(data, ".dng", MIN_SIDE)
    assert photo.image.mode == "RGB"
    assert (photo.width, photo.height) == (sample_photo.width, sample_photo.height)
    assert min(photo.image.size) == MIN_SIDE  # a 450x300 sensor still gives the models 224 pixels
    assert correlation(photo.image, sample_photo) > 0.9  # the developed picture is the photo
    assert photo.taken_at is None


def test_dng_without_preview_applies_orientation():
    data = dng_without_preview(marked(400, 300), orientation=6)
    with rawpy.imread(io.BytesIO(data)) as raw:
        assert raw.sizes.flip == 6
    assert_upright_marked(decode_for_models(data, ".dng", MIN_SIDE), 400, 300)


def test_dng_with_preview_decodes_the_preview():
    upright = marked(400, 300)
    data = dng_with_preview(upright, with_green_corner(upright))
    with rawpy.imread(io.BytesIO(data)) as raw:
        assert raw.extract_thumb().format == rawpy.ThumbFormat.JPEG
        assert raw.postprocess(half_size=True).shape == (150, 200, 3)  # the sensor data is there too
    photo = decode_for_models(data, ".dng", MIN_SIDE)
    # The green block exists only in the preview: the preview was used, not the sensor data.
    assert_upright_marked(photo, 400, 300, bottom_left=GREEN)


def test_dng_with_preview_applies_orientation():
    upright = marked(400, 300)
    data = dng_with_preview(upright, with_green_corner(upright), orientation=6)
    with rawpy.imread(io.BytesIO(data)) as raw:
        assert raw.sizes.flip == 6
    assert_upright_marked(decode_for_models(data, ".dng", MIN_SIDE), 400, 300, bottom_left=GREEN)


def test_dng_with_a_tiny_preview_is_developed_instead():
    """A thumbnail smaller than the models' input is not enough when the sensor has more."""
    upright = marked(400, 300)
    data = dng_with_preview(upright, with_green_corner(upright).resize((96, 72)))
    photo = decode_for_models(data, ".dng", MIN_SIDE)
    assert min(photo.image.size) == MIN_SIDE
    assert_upright_marked(photo, 400, 300)


@pytest.mark.parametrize("with_preview", [False, True])
def test_dng_capture_time(with_preview):
    upright = marked(400, 300)
    if with_preview:
        data = dng_with_preview(upright, upright, taken="2021:06:15 14:30:05")
    else:
        data = dng_without_preview(upright, taken="2021:06:15 14:30:05")
    assert decode_for_models(data, ".dng", MIN_SIDE).taken_at == "2021-06-15T14:30:05"


def test_dng_with_preview_but_no_capture_time():
    # LibRaw wraps a bare preview JPEG in EXIF of its own; an unknown time must stay unknown
    # rather than become 1970-01-01.
    upright = marked(400, 300)
    assert decode_for_models(dng_with_preview(upright, upright), ".dng", MIN_SIDE).taken_at is None


@pytest.mark.parametrize("extension", sorted(media.RAW_EXTENSIONS))
def test_raw_extensions_refuse_non_raw_data_with_a_clear_reason(extension):
    with pytest.raises(UnreadablePhoto) as caught:
        decode_for_models(b"this is a text file, not a raw photo\n" * 20, extension, MIN_SIDE)
    message = str(caught.value)
    assert "RAW" in message
    assert "b'" not in message and "\n" not in message  # a readable line, not a bytes repr


def test_truncated_dng_is_refused(sample_photo):
    data = dng_without_preview(sample_photo)
    with pytest.raises(UnreadablePhoto) as caught:
        decode_for_models(data[: len(data) // 2], ".dng", MIN_SIDE)
    assert "b'" not in str(caught.value)


def test_dng_with_a_damaged_preview_falls_back_to_the_sensor_data():
    upright = marked(400, 300)
    data = bytearray(dng_with_preview(upright, with_green_corner(upright)))
    start = data.find(b"\xff\xd8\xff")  # the preview JPEG (16-bit samples of 12 bits never hold this)
    data[start + 2 : start + 400] = bytes(398)  # its headers wiped out; the sensor data is intact
    photo = decode_for_models(bytes(data), ".dng", MIN_SIDE)
    assert_upright_marked(photo, 400, 300)  # developed: grey bottom-left, no green from the preview


# -- bad data ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample_photo() -> Image.Image:
    """A real photo (scikit-image's cat), 450x300."""
    import skimage.data

    return Image.fromarray(skimage.data.chelsea()).crop((0, 0, 450, 300))


def test_empty_file():
    with pytest.raises(UnreadablePhoto, match="empty"):
        decode_for_models(b"", ".jpg", MIN_SIDE)


def test_text_named_as_a_photo():
    with pytest.raises(UnreadablePhoto, match="not a readable image"):
        decode_for_models(b"shopping list: milk, eggs\n", ".jpg", MIN_SIDE)


@pytest.mark.parametrize(("fmt", "extension"), [("JPEG", ".jpg"), ("PNG", ".png"), ("WEBP", ".webp"),
                                                ("HEIF", ".heic"), ("TIFF", ".tif")])
def test_truncated_files_are_refused(sample_photo, fmt, extension):
    data = encode(sample_photo, fmt)
    with pytest.raises(UnreadablePhoto) as caught:
        decode_for_models(data[: len(data) // 2], extension, MIN_SIDE)
    assert "\n" not in str(caught.value)


# lucida makes Pillow's DecompressionBombWarning an error when it is imported, but warning filters
# are process-wide and get reset (pytest does so around each test). Check both: with the warning
# an error, and ignored, where lucida's own size check must refuse the bomb.
@pytest.mark.parametrize("warning_action", ["error", "ignore"])
@pytest.mark.parametrize(("width", "height"), [(30000, 30000), (20000, 15000)])
def test_decompression_bombs_are_refused(width, height, warning_action):
    # 900 MP is over twice the limit (Pillow refuses it when opening); 300 MP is over the limit
    # but under twice it, where Pillow by itself would only warn.
    warnings.simplefilter(warning_action, Image.DecompressionBombWarning)  # pytest restores filters
    data = png_bomb(width, height)
    assert len(data) < 200_000
    assert width * height > media.MAX_PIXELS
    with pytest.raises(UnreadablePhoto) as caught:
        decode_for_models(data, ".png", MIN_SIDE)
    message = str(caught.value)
    assert "decompression bomb" in message
    assert f"{media.MAX_PIXELS // 1_000_000}-megapixel limit" in message
    assert "\n" not in message


def test_large_but_legitimate_photo_is_not_a_bomb():
    # 12000x9000 = 108 MP: a medium-format camera frame, over Pillow's default 89 MP limit.
    data = png_bomb(12000, 9000)
    photo = decode_for_models(data, ".png", MIN_SIDE)
    assert (photo.width, photo.height) == (12000, 9000)
    assert photo.image.size == (299, 224)


# -- renditions for screens ----------------------------------------------------------------------


@pytest.mark.parametrize(("size", "long_side", "expected"), [
    ((4000, 3000), 256, (256, 192)),
    ((4000, 3000), 1600, (1600, 1200)),
    ((3000, 4000), 256, (192, 256)),  # portrait: the longer side is the height
    ((400, 300), 1600, (400, 300)),  # never enlarged
])
def test_screen_rendition_fits_the_long_side_and_is_upright(size, long_side, expected):
    base = marked(400, 300) if size[0] > size[1] else marked(300, 400)
    upright = base.resize(size, Image.Resampling.NEAREST)
    data = encode(upright.transpose(STORED_AS[6]), "JPEG", quality=85, exif=exif(6))
    image = media.decode_for_screen(data, ".jpg", long_side)
    assert image.mode == "RGB" and image.size == expected
    assert near(corner(image, "top-left"), RED) and near(corner(image, "bottom-right"), BLUE)
    assert near(corner(image, "top-right"), GREY)
