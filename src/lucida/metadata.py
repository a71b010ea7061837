"""Photo metadata in: EXIF, IPTC and XMP, embedded and from XMP sidecars, read with ExifTool.

One ExifTool process runs in `-stay_open` mode for a whole index run and reads files in batches,
so metadata costs a few milliseconds per photo, in a process of its own beside the models.

A photo's sidecars are `IMG_0001.xmp` (Lightroom, DxO PhotoLab, Capture One) and
`IMG_0001.NEF.xmp` (darktable, digiKam), matched case-insensitively in the photo's folder.
What a sidecar says wins over what the file embeds: editors write their ratings and keywords
there and leave RAW files alone. When both sidecars exist, `IMG_0001.NEF.xmp`, the one that
names this very file, wins over `IMG_0001.xmp`, which a RAW+JPEG pair shares.

Named face regions (MWG regions, as Lightroom, digiKam and Picasa write them) are read too, and
turned into boxes on the photo as lucida displays it (face_regions), so the people they name seed
lucida's (lucida.faces). lucida.xmp_export writes them with the same geometry (mwg_area).
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field, fields, replace

from lucida.errors import LucidaError

SIDECAR_EXTENSION = ".xmp"

MISSING_EXIFTOOL = (
    "exiftool is not installed, so lucida neither reads nor writes photo metadata (capture time, camera, "
    "ratings, keywords, XMP sidecars); install it (Debian/Ubuntu: apt-get install libimage-exiftool-perl) "
    "and index again"
)

# Tags asked of ExifTool. A trailing '#' asks for the number rather than the printed value.
# Without group names ExifTool answers each name from its preferred group (EXIF before XMP).
_TAGS = [
    "DateTimeOriginal", "OffsetTimeOriginal", "CreateDate", "OffsetTimeDigitized", "DateTimeCreated",
    "Make", "Model", "LensModel", "Lens", "LensID",
    "FocalLength#", "FNumber#", "ExposureTime#", "ISO#",
    "GPSLatitude#", "GPSLatitudeRef#", "GPSLongitude#", "GPSLongitudeRef#",
    "Orientation#", "Rating#", "Label",
    "Title", "ObjectName", "Description", "ImageDescription", "Caption-Abstract",
    "Subject", "Keywords", "HierarchicalSubject",
    "RegionInfo", "ImageWidth#", "ImageHeight#",
]  # fmt: skip

_DATE = re.compile(
    r"(\d{4})[:-](\d{2})[:-](\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2}))?(?:\.\d+)?)?\s*(Z|[+-]\d{2}:?\d{2})?"
)


@dataclass(frozen=True)
class SidecarFile:
    path: str
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class FaceRegion:
    """A face region with a name, as a photo's metadata holds it."""

    name: str
    box: tuple[float, float, float, float]  # left, top, width, height: fractions of the photo as displayed


@dataclass(frozen=True)
class PhotoMetadata:
    """What a photo's metadata says. None (or empty) where it says nothing."""

    taken_at: str | None = None  # ISO 8601 local capture time, with "+02:00" when the camera kept its offset
    make: str | None = None
    model: str | None = None
    lens: str | None = None
    focal_length: float | None = None  # mm, as recorded (not 35 mm equivalent)
    aperture: float | None = None  # f-number
    exposure_time: float | None = None  # seconds
    iso: int | None = None
    latitude: float | None = None  # decimal degrees, WGS 84; south negative
    longitude: float | None = None  # decimal degrees; west negative
    orientation: int | None = None  # EXIF orientation, 1-8
    rating: int | None = None  # -1 (rejected) to 5
    label: str | None = None  # colour label as the editor wrote it, e.g. "Red"
    title: str | None = None
    description: str | None = None
    keywords: tuple[str, ...] = ()  # dc:subject, and IPTC Keywords
    hierarchical_keywords: tuple[str, ...] = ()  # lr:hierarchicalSubject, e.g. "animals|cat"
    face_regions: tuple[FaceRegion, ...] = ()  # MWG regions of Type Face that have a Name
    sidecars: tuple[str, ...] = field(default=())  # paths of the XMP sidecars read, weakest first

    def merged_with(self, stronger: PhotoMetadata) -> PhotoMetadata:
        """These facts, each replaced by `stronger`'s where `stronger` has one."""
        values = {}
        for f in fields(self):
            mine, theirs = getattr(self, f.name), getattr(stronger, f.name)
            values[f.name] = theirs if theirs not in (None, ()) else mine
        values["sidecars"] = self.sidecars + stronger.sidecars
        return PhotoMetadata(**values)


def find_sidecars(paths: Iterable[str]) -> dict[str, tuple[SidecarFile, ...]]:
    """The XMP sidecars of each photo path that has any, weakest first.

    Lists each folder once, so it costs one directory read per folder, not stats per photo.
    """
    by_folder: dict[str, list[str]] = {}
    for path in paths:
        by_folder.setdefault(os.path.dirname(path), []).append(path)
    found: dict[str, tuple[SidecarFile, ...]] = {}
    for folder, photos in by_folder.items():
        xmp = _sidecars_in(folder)
        if not xmp:
            continue
        for photo in photos:
            name = os.path.basename(photo).lower()
            # `IMG_0001.xmp` first, so that `IMG_0001.nef.xmp`, naming this very file, wins.
            candidates = [os.path.splitext(name)[0] + SIDECAR_EXTENSION, name + SIDECAR_EXTENSION]
            sidecars = tuple(xmp[c] for c in candidates if c in xmp)
            if sidecars:
                found[photo] = sidecars
    return found


def _sidecars_in(folder: str) -> dict[str, SidecarFile]:
    """Lower-cased name -> sidecar, for every .xmp file in `folder`."""
    found = {}
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                if not entry.name.lower().endswith(SIDECAR_EXTENSION):
                    continue
                try:
                    if not entry.is_file():
                        continue
                    info = entry.stat()
                except OSError:
                    continue
                found[entry.name.lower()] = SidecarFile(entry.path, info.st_size, info.st_mtime_ns)
    except OSError:
        return {}
    return found


def sidecar_signature(sidecars: Iterable[SidecarFile]) -> str:
    """A short text that changes whenever a sidecar appears, goes, or is edited."""
    return json.dumps([[s.path, s.size, s.mtime_ns] for s in sidecars])


def exiftool_executable() -> str:
    """The path of exiftool; a LucidaError saying how to install it when it is missing."""
    found = shutil.which(os.environ.get("LUCIDA_EXIFTOOL", "exiftool"))
    if found is None:
        raise LucidaError(MISSING_EXIFTOOL)
    return found


class MetadataReader:
    """One long-running ExifTool process. Not shared between threads.

        with MetadataReader() as reader:
            found = reader.read(paths, find_sidecars(paths))
    """

    def __init__(self) -> None:
        import exiftool

        # -fast: stop reading at the image data; metadata sits before it in every format we read.
        self._tool = exiftool.ExifToolHelper(
            executable=exiftool_executable(), common_args=["-fast", "-charset", "filename=utf8"], check_execute=False
        )
        self._tool.run()

    def close(self) -> None:
        self._tool.terminate()

    def __enter__(self) -> MetadataReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def read(
        self, paths: list[str], sidecars: dict[str, tuple[SidecarFile, ...]] | None = None
    ) -> dict[str, PhotoMetadata]:
        """Metadata for each path, sidecars applied. A file ExifTool cannot read gets an empty
        PhotoMetadata (its sidecars may still say something); this never raises for one bad file."""
        sidecars = sidecars or {}
        wanted = list(dict.fromkeys([*paths, *(s.path for p in paths for s in sidecars.get(p, ()))]))
        raw = self._tags(wanted)
        result = {}
        for path in paths:
            own = raw.get(path, {})
            metadata = parse_tags(own)
            for sidecar in sidecars.get(path, ()):
                # A sidecar's regions are measured on the photo's pixels: the photo's own
                # orientation and size place them.
                from_sidecar = parse_tags(raw.get(sidecar.path, {}), photo_tags=own)
                metadata = metadata.merged_with(replace(from_sidecar, sidecars=(sidecar.path,)))
            result[path] = metadata
        return result

    def _tags(self, paths: list[str]) -> dict[str, dict]:
        if not paths:
            return {}
        import exiftool.exceptions

        try:
            # -struct: RegionInfo as one structure, not as flattened lists of its fields.
            rows = self._tool.get_tags(paths, _TAGS, params=["-struct"])
        except (exiftool.exceptions.ExifToolException, ValueError, OSError, UnicodeDecodeError):
            if len(paths) == 1:
                return {}
            # One file ExifTool chokes on must not cost its batch-mates their metadata.
            middle = len(paths) // 2
            return self._tags(paths[:middle]) | self._tags(paths[middle:])
        return {row.get("SourceFile"): row for row in rows if isinstance(row, dict)}


def parse_tags(tags: dict, photo_tags: dict | None = None) -> PhotoMetadata:
    """PhotoMetadata from one file's ExifTool JSON (tag names without groups, structures as
    structures). For a sidecar, `photo_tags` are its photo's: their orientation and size place
    the sidecar's face regions."""
    photo_tags = tags if photo_tags is None else photo_tags
    return PhotoMetadata(
        taken_at=_capture_time(tags),
        make=_text(tags.get("Make")),
        model=_text(tags.get("Model")),
        lens=_first_text(tags, "LensModel", "LensID", "Lens"),
        focal_length=_positive(tags.get("FocalLength")),
        aperture=_positive(tags.get("FNumber")),
        exposure_time=_positive(tags.get("ExposureTime")),
        iso=_integer(_positive(tags.get("ISO"))),
        latitude=_coordinate(tags.get("GPSLatitude"), tags.get("GPSLatitudeRef"), "S", 90),
        longitude=_coordinate(tags.get("GPSLongitude"), tags.get("GPSLongitudeRef"), "W", 180),
        orientation=_integer(tags.get("Orientation")),
        rating=_integer(tags.get("Rating")),
        label=_text(tags.get("Label")),
        title=_first_text(tags, "Title", "ObjectName"),
        description=_first_text(tags, "Description", "Caption-Abstract", "ImageDescription"),
        keywords=tuple(dict.fromkeys(_texts(tags.get("Subject")) + _texts(tags.get("Keywords")))),
        hierarchical_keywords=tuple(dict.fromkeys(_texts(tags.get("HierarchicalSubject")))),
        face_regions=face_regions(
            tags.get("RegionInfo"),
            _integer(photo_tags.get("Orientation")),
            _size(photo_tags.get("ImageWidth"), photo_tags.get("ImageHeight")),
        ),
    )


# -- face regions ------------------------------------------------------------------------
#
# An MWG region's Area is its centre (X, Y) and size (W, H), normalized to the image. The MWG's
# Guidelines for Handling Image Metadata 2.0 (2010), section 5.9, "Rotation Issues": "Region
# metadata is applied to the stored image. When applying a rotation by applying Exif
# Orientation, the rotation must be applied to the regions as well." So a region is measured on
# the pixels as stored, and lucida, whose boxes are on the photo as displayed, turns it with the
# photo's orientation on the way in and back on the way out (as Immich does since its pull
# request 18021: readers that did not put the regions of portrait photos beside the faces).
# AppliedToDimensions is the size of the image the regions were measured on: the stored pixels,
# width and height not swapped by the orientation.

# EXIF orientation -> where a point (x, y) of the stored image is on the image as displayed
# (lucida.media turns the pixels the same way).
_DISPLAYED = {
    1: lambda x, y: (x, y),
    2: lambda x, y: (1 - x, y),  # mirrored left to right
    3: lambda x, y: (1 - x, 1 - y),  # turned 180 degrees
    4: lambda x, y: (x, 1 - y),  # mirrored top to bottom
    5: lambda x, y: (y, x),  # mirrored along the diagonal from top left
    6: lambda x, y: (1 - y, x),  # turned 90 degrees clockwise
    7: lambda x, y: (1 - y, 1 - x),  # mirrored along the other diagonal
    8: lambda x, y: (y, 1 - x),  # turned 90 degrees counter-clockwise
}
# ... and back: each is its own inverse, except the two quarter turns, which undo each other.
_STORED = {**_DISPLAYED, 6: _DISPLAYED[8], 8: _DISPLAYED[6]}


def face_regions(
    region_info: object, orientation: int | None, stored_size: tuple[float, float] | None
) -> tuple[FaceRegion, ...]:
    """The named Face regions of an MWG RegionInfo structure (ExifTool's -struct JSON), as boxes
    on the photo as displayed, clamped to it; regions without a name, of another type (Pet,
    Focus, BarCode), or with no area (a point or a circle) are left out. `orientation` and
    `stored_size` are the photo's own, as ExifTool reads them from it."""
    if not isinstance(region_info, dict) or not isinstance(region_info.get("RegionList"), list):
        return ()
    applied_to = _dimensions(region_info.get("AppliedToDimensions"))
    on_stored = measured_on_stored_pixels(applied_to, orientation, stored_size)
    found: list[FaceRegion] = []
    for region in region_info["RegionList"]:
        if not isinstance(region, dict) or str(region.get("Type", "")).strip().casefold() != "face":
            continue
        name = region_name(region)
        box = _area_box(region.get("Area"), applied_to)
        if not name or box is None:
            continue
        box = _turned(box, _DISPLAYED, orientation) if on_stored else box
        left, top = max(box[0], 0.0), max(box[1], 0.0)
        right, bottom = min(box[0] + box[2], 1.0), min(box[1] + box[3], 1.0)
        if right > left and bottom > top:
            found.append(FaceRegion(name, (left, top, right - left, bottom - top)))
    return tuple(found)


def mwg_area(
    box: tuple[float, float, float, float], orientation: int | None, on_stored: bool = True
) -> dict[str, float]:
    """The MWG Area (normalized centre and size, on the stored pixels) of a box on the photo as
    displayed; `on_stored=False` keeps the displayed frame, for a file whose regions are measured
    there (measured_on_stored_pixels)."""
    left, top, width, height = _turned(box, _STORED, orientation) if on_stored else box
    centre_x, centre_y = left + width / 2, top + height / 2
    return {"X": round(centre_x, 6), "Y": round(centre_y, 6), "W": round(width, 6), "H": round(height, 6)}


def measured_on_stored_pixels(
    applied_to: tuple[float, float] | None, orientation: int | None, stored_size: tuple[float, float] | None
) -> bool:
    """Whether a file's regions are measured on the stored pixels, as MWG says. A writer that
    measured them on the photo as displayed gives itself away on a quarter-turned photo: its
    AppliedToDimensions are the displayed size, width and height swapped against the stored
    pixels'. Where nothing tells (no dimensions, a square photo, no quarter turn), MWG's rule holds."""
    if orientation not in (5, 6, 7, 8) or applied_to is None or stored_size is None:
        return True
    (applied_w, applied_h), (stored_w, stored_h) = applied_to, stored_size
    if applied_w == applied_h or stored_w == stored_h:
        return True
    return (applied_w > applied_h) == (stored_w > stored_h)


def region_name(region: object) -> str:
    """An MWG region's Name, whitespace-normalized as lucida stores names; '' when it has none."""
    return " ".join(str(region.get("Name") or "").split()) if isinstance(region, dict) else ""


def region_dimensions(region_info: object) -> tuple[float, float] | None:
    """(W, H) of an MWG RegionInfo's AppliedToDimensions; None when it has none."""
    return _dimensions(region_info.get("AppliedToDimensions")) if isinstance(region_info, dict) else None


def _turned(box: tuple[float, ...], turns: dict, orientation: int | None) -> tuple[float, float, float, float]:
    """The box with both its corners moved by the orientation's turn (`turns`: _DISPLAYED or _STORED)."""
    turn = turns.get(orientation or 1, turns[1])
    (ax, ay), (bx, by) = turn(box[0], box[1]), turn(box[0] + box[2], box[1] + box[3])
    return min(ax, bx), min(ay, by), abs(bx - ax), abs(by - ay)


def _area_box(area: object, applied_to: tuple[float, float] | None) -> tuple[float, float, float, float] | None:
    """(left, top, width, height) fractions of an MWG Area; None when it is not a rectangle. An
    Area in pixels (rare; MWG's is normalized) is measured against AppliedToDimensions."""
    if not isinstance(area, dict):
        return None
    x, y, w, h = (_number(area.get(k)) for k in ("X", "Y", "W", "H"))
    if x is None or y is None or w is None or h is None or w <= 0 or h <= 0:
        return None
    if str(area.get("Unit", "normalized")).strip().casefold() == "pixel":
        if applied_to is None:
            return None
        x, w = x / applied_to[0], w / applied_to[0]
        y, h = y / applied_to[1], h / applied_to[1]
    return x - w / 2, y - h / 2, w, h


def _dimensions(value: object) -> tuple[float, float] | None:
    return _size(value.get("W"), value.get("H")) if isinstance(value, dict) else None


def _size(width: object, height: object) -> tuple[float, float] | None:
    width, height = _positive(width), _positive(height)
    return (width, height) if width is not None and height is not None else None


def parse_date(value: object) -> str | None:
    """ExifTool's "2021:06:05 14:03:22+02:00" (time and offset optional) as ISO 8601."""
    match = _DATE.match(str(value).strip()) if value is not None else None
    if not match:
        return None
    year, month, day, hour, minute, second, offset = match.groups()
    if year == "0000" or month == "00" or day == "00":  # cameras with an unset clock write zeros
        return None
    text = f"{year}-{month}-{day}"
    if hour is not None:
        text += f"T{hour}:{minute}:{second or '00'}"
        if offset == "Z":
            text += "+00:00"
        elif offset:
            text += offset if ":" in offset else f"{offset[:3]}:{offset[3:]}"
    return text


def _capture_time(tags: dict) -> str | None:
    for date_tag, offset_tag in (
        ("DateTimeOriginal", "OffsetTimeOriginal"),
        ("CreateDate", "OffsetTimeDigitized"),
        ("DateTimeCreated", None),
    ):
        taken = parse_date(tags.get(date_tag))
        if taken is None:
            continue
        offset = parse_date(f"2000:01:01 00:00:00{tags.get(offset_tag)}") if offset_tag and tags.get(offset_tag) else None
        if "T" in taken and len(taken) == 19 and offset and len(offset) > 19:
            taken += offset[19:]
        return taken
    return None


def _text(value: object) -> str | None:
    if value is None or isinstance(value, (list, dict)):
        return None
    text = str(value).strip()
    return text or None


def _first_text(tags: dict, *names: str) -> str | None:
    for name in names:
        text = _text(tags.get(name))
        if text is not None:
            return text
    return None


def _texts(value: object) -> list[str]:
    """ExifTool gives a list for several values and a bare value for one."""
    values = value if isinstance(value, list) else [value] if value is not None else []
    return [t for t in (_text(v) for v in values) if t]


def _number(value: object) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _positive(value: object) -> float | None:
    number = _number(value)
    return number if number is not None and number > 0 else None


def _integer(value: object) -> int | None:
    number = _number(value)
    return int(round(number)) if number is not None else None


def _coordinate(value: object, reference: object, negative_reference: str, limit: float) -> float | None:
    number = _number(value)
    if number is None or abs(number) > limit:
        return None
    if str(reference or "").strip().upper().startswith(negative_reference) and number > 0:
        number = -number
    return number
