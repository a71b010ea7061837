"""Assemble the lucida-offline evaluation set (data/eval/lucida-offline) into a folder of photos.

Every photo comes from a file an installed package ships (scikit-image, scikit-learn and
matplotlib wheels; Debian wallpaper and Tux Paint stamp packages), is written as a JPEG under the
neutral name the manifest gives it (p001.jpg ...), and gets the manifest's capture date, GPS
position, camera, title and keywords written into the copy by ExifTool. The packages' own files
are only read.

    python bench/build_offline_set.py /tmp/lucida-offline            # the whole set
    python bench/build_offline_set.py /tmp/part --available-only     # what is installed here

The Debian packages: `make eval-photos-deps` (or apt-get install mate-backgrounds
lomiri-wallpapers-16.04 lomiri-wallpapers-20.04 plasma-workspace-wallpapers
tuxpaint-stamps-default libimage-exiftool-perl).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps

SET_DIR = Path(__file__).resolve().parents[1] / "data" / "eval" / "lucida-offline"
MANIFEST = SET_DIR / "manifest.jsonl"
QUERIES = SET_DIR / "queries.jsonl"
MAX_SIDE = 4000  # the largest wallpapers (5120 px) come down to a 12-megapixel camera's size
QUALITY = 92


@dataclass(frozen=True)
class SetPhoto:
    name: str  # neutral file name in the built folder
    package: str  # the pip or Debian package that ships the source file
    source: Path | None  # the installed file; None when its package is not installed
    cutout: bool  # a cut-out photo with transparency, composed onto white
    metadata: dict


def read_manifest(path: Path = MANIFEST) -> list[SetPhoto]:
    photos = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        record = json.loads(line)
        source = record["source"]
        photos.append(
            SetPhoto(
                record["photo"],
                source["package"],
                _installed(source),
                bool(source.get("cutout")),
                record.get("metadata", {}),
            )
        )
    return photos


def _installed(source: dict) -> Path | None:
    """The source file on this machine, or None when its package is not installed."""
    if "module" in source:
        spec = importlib.util.find_spec(source["module"])
        if spec is None or not spec.submodule_search_locations:
            return None
        path = Path(next(iter(spec.submodule_search_locations))) / source["path"]
    else:
        path = Path(source["path"])
    return path if path.is_file() else None


def write_photo(photo: SetPhoto, folder: Path, max_side: int = MAX_SIDE) -> Path:
    with Image.open(photo.source) as opened:
        image = ImageOps.exif_transpose(opened)
        if photo.cutout or image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
            rgba = image.convert("RGBA")
            image = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            image.alpha_composite(rgba)
        image = image.convert("RGB")
    if max(image.size) > max_side:
        image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    path = folder / photo.name
    partial = path.with_suffix(".part")
    image.save(partial, "JPEG", quality=QUALITY)
    os.replace(partial, path)
    return path


def exiftool_args(metadata: dict) -> list[str]:
    """ExifTool assignments for the manifest's metadata of one photo."""
    args = []
    if "taken" in metadata:
        stamp = metadata["taken"].replace("-", ":").replace("T", " ")
        args += [f"-EXIF:DateTimeOriginal={stamp}", f"-EXIF:CreateDate={stamp}"]
    if "gps" in metadata:
        lat, lon = metadata["gps"]
        args += [
            f"-GPSLatitude={abs(lat)}",
            f"-GPSLatitudeRef={'N' if lat >= 0 else 'S'}",
            f"-GPSLongitude={abs(lon)}",
            f"-GPSLongitudeRef={'E' if lon >= 0 else 'W'}",
        ]
    if "camera" in metadata:
        camera = metadata["camera"]
        args += [f"-Make={camera['make']}", f"-Model={camera['model']}", f"-LensModel={camera['lens']}"]
    if "title" in metadata:
        args += [f"-XMP-dc:Title={metadata['title']}", f"-IPTC:ObjectName={metadata['title']}"]
    for keyword in metadata.get("keywords", []):
        args += [f"-XMP-dc:Subject={keyword}", f"-IPTC:Keywords={keyword}"]
    if any(a.startswith("-IPTC:") for a in args):
        args.append("-IPTC:CodedCharacterSet=UTF8")  # keywords such as "café" stay UTF-8
    return args


def write_metadata(paths_and_metadata: list[tuple[Path, dict]]) -> None:
    """One ExifTool process for all photos (an argument file with -execute between photos)."""
    jobs = [(path, exiftool_args(metadata)) for path, metadata in paths_and_metadata]
    jobs = [(path, args) for path, args in jobs if args]
    if not jobs:
        return
    exiftool = shutil.which("exiftool")
    if exiftool is None:
        sys.exit("exiftool not found: apt-get install libimage-exiftool-perl (or use --no-metadata)")
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", suffix=".args", delete=False) as argfile:
        for path, args in jobs:
            argfile.write("\n".join([*args, str(path), "-execute"]) + "\n")
    try:
        done = subprocess.run(
            [exiftool, "-@", argfile.name, "-common_args", "-overwrite_original", "-q", "-charset", "iptc=utf8"],
            capture_output=True,
            text=True,
            check=False,  # its stderr says what went wrong; checked below
        )
    finally:
        os.unlink(argfile.name)
    if done.returncode != 0 or done.stderr.strip():
        sys.exit(f"exiftool failed ({done.returncode}): {done.stderr.strip()[:2000]}")


def build(
    folder: Path, available_only: bool = False, metadata: bool = True, max_side: int = MAX_SIDE, manifest: Path = MANIFEST
) -> list[Path]:
    """Write the set's photos into `folder` and return their paths; exits naming the packages
    to install when some are missing (unless `available_only`)."""
    photos = read_manifest(manifest)
    missing = [p for p in photos if p.source is None]
    if missing and not available_only:
        packages = sorted({p.package for p in missing})
        sys.exit(
            f"{len(missing)} of {len(photos)} photos need packages that are not installed: {', '.join(packages)} "
            "(apt-get install the Debian ones, pip install the Python ones), or pass --available-only"
        )
    folder.mkdir(parents=True, exist_ok=True)
    present = [p for p in photos if p.source is not None]
    paths = [write_photo(p, folder, max_side) for p in present]
    if metadata:
        write_metadata([(path, p.metadata) for path, p in zip(paths, present)])
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", help="where to write the photos (created; files of the same names are replaced)")
    parser.add_argument("--available-only", action="store_true", help="skip photos whose package is not installed")
    parser.add_argument("--no-metadata", action="store_true", help="do not write EXIF/IPTC/XMP (no ExifTool needed)")
    parser.add_argument("--max-side", type=int, default=MAX_SIDE, help=f"longest side in pixels (default {MAX_SIDE})")
    args = parser.parse_args()
    paths = build(Path(args.folder), args.available_only, not args.no_metadata, args.max_side)
    total = len(read_manifest())
    print(f"wrote {len(paths)} of {total} photos to {args.folder}")


if __name__ == "__main__":
    main()
