"""Metadata in: real ExifTool reading real photos and XMP sidecars whose tags ExifTool wrote."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from lucida.catalog import Catalog
from lucida.indexer import index_paths
from lucida.metadata import MetadataReader, PhotoMetadata, find_sidecars, parse_date

pytestmark = pytest.mark.skipif(
    subprocess.run(["which", "exiftool"], capture_output=True).returncode != 0,
    reason="needs exiftool (make system-deps)",
)


def exiftool(*args: str | Path) -> None:
    """Write tags with the real ExifTool; fails the test on any ExifTool error."""
    subprocess.run(["exiftool", "-q", "-overwrite_original", *map(str, args)], check=True)


def make_sidecar(path: Path, *tags: str) -> None:
    subprocess.run(["exiftool", "-q", "-o", str(path), *tags], check=True)


class NotingProgress:
    def __init__(self):
        self.notes: list[str] = []

    def start(self, phase, total):
        pass

    def advance(self, count=1):
        pass

    def finish(self):
        pass

    def note(self, message):
        self.notes.append(message)


NIKON_TAGS = [
    "-DateTimeOriginal=2021:06:05 14:03:22", "-OffsetTimeOriginal=+02:00",
    "-Make=NIKON CORPORATION", "-Model=NIKON Z 6", "-LensModel=NIKKOR Z 24-70mm f/4 S",
    "-FocalLength=35", "-FNumber=5.6", "-ExposureTime=1/250", "-ISO=400",
    "-GPSLatitude=33.925", "-GPSLatitudeRef=S", "-GPSLongitude=18.42", "-GPSLongitudeRef=E",
    "-Orientation#=6", "-XMP:Rating=4", "-XMP:Label=Red", "-XMP:Title=Table Mountain",
    "-XMP:Description=Evening light over the city", "-XMP:Subject=mountain", "-XMP:Subject=Cape Town",
    "-XMP:HierarchicalSubject=places|South Africa|Cape Town",
]  # fmt: skip


def test_reads_every_field_the_issue_names_from_embedded_exif_and_xmp(photo_folder):
    photo = photo_folder / "coffee.jpg"
    exiftool(*NIKON_TAGS, photo)
    with MetadataReader() as reader:
        found = reader.read([str(photo)])
    assert found[str(photo)] == PhotoMetadata(
        taken_at="2021-06-05T14:03:22+02:00",
        make="NIKON CORPORATION",
        model="NIKON Z 6",
        lens="NIKKOR Z 24-70mm f/4 S",
        focal_length=35.0,
        aperture=5.6,
        exposure_time=0.004,
        iso=400,
        latitude=-33.925,
        longitude=18.42,
        orientation=6,
        rating=4,
        label="Red",
        title="Table Mountain",
        description="Evening light over the city",
        keywords=("mountain", "Cape Town"),
        hierarchical_keywords=("places|South Africa|Cape Town",),
    )


def test_iptc_keywords_and_caption_count_when_xmp_has_none(photo_folder):
    photo = photo_folder / "chelsea.jpg"
    exiftool("-IPTC:Keywords=cat", "-IPTC:Keywords=pet", "-IPTC:Caption-Abstract=Chelsea the cat",
             "-IPTC:ObjectName=Chelsea", "-DateTimeOriginal=2019:01:02 03:04:05", photo)  # fmt: skip
    with MetadataReader() as reader:
        found = reader.read([str(photo)])[str(photo)]
    assert found.keywords == ("cat", "pet")
    assert (found.description, found.title) == ("Chelsea the cat", "Chelsea")
    assert found.taken_at == "2019-01-02T03:04:05"  # no offset recorded, none invented


def test_sidecars_win_over_embedded_and_the_one_naming_the_file_wins_over_the_shared_one(photo_folder):
    photo = photo_folder / "astronaut.jpg"
    exiftool("-XMP:Rating=1", "-XMP:Subject=embedded", "-Make=Canon", photo)
    make_sidecar(photo_folder / "astronaut.xmp", "-XMP:Rating=3", "-XMP:Subject=shared", "-XMP:Label=Blue")
    make_sidecar(photo_folder / "astronaut.jpg.xmp", "-XMP:Rating=5")
    paths = [str(photo), str(photo_folder / "brick.jpg")]
    sidecars = find_sidecars(paths)
    assert [s.path for s in sidecars[str(photo)]] == [
        str(photo_folder / "astronaut.xmp"),
        str(photo_folder / "astronaut.jpg.xmp"),
    ]
    assert str(photo_folder / "brick.jpg") not in sidecars
    with MetadataReader() as reader:
        found = reader.read(paths, sidecars)
    meta = found[str(photo)]
    assert meta.rating == 5  # IMG.jpg.xmp
    assert meta.keywords == ("shared",) and meta.label == "Blue"  # IMG.xmp
    assert meta.make == "Canon"  # only the file says it
    assert meta.sidecars == (str(photo_folder / "astronaut.xmp"), str(photo_folder / "astronaut.jpg.xmp"))
    assert found[str(photo_folder / "brick.jpg")] == PhotoMetadata()


def test_sidecar_names_match_whatever_their_case(photo_folder):
    photo = photo_folder / "clock.jpg"
    make_sidecar(photo_folder / "CLOCK.XMP", "-XMP:Rating=2")
    with MetadataReader() as reader:
        assert reader.read([str(photo)], find_sidecars([str(photo)]))[str(photo)].rating == 2


def test_a_file_exiftool_cannot_read_costs_its_batch_mates_nothing(photo_folder):
    (photo_folder / "broken.jpg").write_bytes(b"not a photo at all")
    exiftool("-XMP:Rating=3", photo_folder / "camera.jpg")
    paths = [str(photo_folder / "broken.jpg"), str(photo_folder / "camera.jpg"), str(photo_folder / "gone.jpg")]
    with MetadataReader() as reader:
        found = reader.read(paths)
    assert found[str(photo_folder / "camera.jpg")].rating == 3
    assert found[str(photo_folder / "broken.jpg")] == PhotoMetadata()
    assert found[str(photo_folder / "gone.jpg")] == PhotoMetadata()


@pytest.mark.parametrize(
    "text, iso",
    [
        ("2021:06:05 14:03:22", "2021-06-05T14:03:22"),
        ("2021:06:05 14:03:22.45-05:00", "2021-06-05T14:03:22-05:00"),
        ("2021:06:05 14:03:22Z", "2021-06-05T14:03:22+00:00"),
        ("2021:06:05 14:03+0530", "2021-06-05T14:03:00+05:30"),
        ("2021:06:05", "2021-06-05"),
        ("0000:00:00 00:00:00", None),
        ("    ", None),
    ],
)
def test_parse_date(text, iso):
    assert parse_date(text) == iso


def test_index_stores_metadata_and_picks_up_an_edited_sidecar_without_redescribing(
    tmp_path, photo_folder, describer, embedder
):
    photo = photo_folder / "coffee.jpg"
    exiftool(*NIKON_TAGS, photo)
    db = tmp_path / "catalog.db"
    with Catalog.open(db) as catalog:
        first = index_paths(catalog, [str(photo_folder)], describer, embedder)
        assert first.described == 17
        stored = catalog.file_metadata(str(photo))
        assert stored is not None and stored.model == "NIKON Z 6" and stored.rating == 4
        assert stored.keywords == ("mountain", "Cape Town")
        assert catalog.file_metadata(str(photo_folder / "brick.jpg")) == PhotoMetadata()

        # A photo editor writes a sidecar later; the photo itself does not change.
        before = photo.read_bytes()
        make_sidecar(photo_folder / "coffee.xmp", "-XMP:Rating=5", "-XMP:Subject=espresso")
        second = index_paths(catalog, [str(photo_folder)], describer, embedder)
        assert (second.described, second.unchanged, second.metadata_read) == (0, 17, 1)
        stored = catalog.file_metadata(str(photo))
        assert stored.rating == 5 and stored.keywords == ("espresso",)
        assert stored.model == "NIKON Z 6"  # still from the photo
        assert stored.sidecars == (str(photo_folder / "coffee.xmp"),)

        # Edited again (same size is possible, so the mtime must count too).
        os.utime(photo_folder / "coffee.xmp", ns=(1, 1))
        assert index_paths(catalog, [str(photo_folder)], describer, embedder).metadata_read == 1

        # Deleted: the photo's own metadata is back.
        (photo_folder / "coffee.xmp").unlink()
        third = index_paths(catalog, [str(photo_folder)], describer, embedder)
        assert third.metadata_read == 1 and catalog.file_metadata(str(photo)).rating == 4

        # Nothing changed: nothing read.
        assert index_paths(catalog, [str(photo_folder)], describer, embedder).metadata_read == 0
        image_id = catalog.image_id_for_hash(__import__("hashlib").sha256(before).hexdigest())
        assert catalog.image_metadata([image_id])[image_id].title == "Table Mountain"
    assert photo.read_bytes() == before


def test_without_exiftool_indexing_says_so_in_one_line_and_reads_metadata_once_it_is_there(
    tmp_path, photo_folder, describer, embedder, monkeypatch
):
    exiftool("-XMP:Rating=2", photo_folder / "coins.jpg")
    monkeypatch.setenv("LUCIDA_EXIFTOOL", str(tmp_path / "no-such-exiftool"))
    progress = NotingProgress()
    with Catalog.open(tmp_path / "catalog.db") as catalog:
        summary = index_paths(catalog, [str(photo_folder)], describer, embedder, progress)
        assert summary.described == 17
        notes = [n for n in progress.notes if "exiftool" in n]
        assert len(notes) == 1 and "\n" not in notes[0] and "libimage-exiftool-perl" in notes[0]
        assert catalog.file_metadata(str(photo_folder / "coins.jpg")) is None

        monkeypatch.delenv("LUCIDA_EXIFTOOL")
        again = index_paths(catalog, [str(photo_folder)], describer, embedder)
        assert (again.described, again.metadata_read) == (0, 17)
        assert catalog.file_metadata(str(photo_folder / "coins.jpg")).rating == 2


def test_a_removed_file_takes_its_metadata_with_it(tmp_path, photo_folder, describer, embedder):
    with Catalog.open(tmp_path / "catalog.db") as catalog:
        index_paths(catalog, [str(photo_folder)], describer, embedder)
        (photo_folder / "clock.jpg").unlink()
        index_paths(catalog, [str(photo_folder)], describer, embedder)
        assert catalog.file_metadata(str(photo_folder / "clock.jpg")) is None
        assert len(catalog.metadata_states()) == 16


def test_reads_a_dng_and_its_sidecar(tmp_path, sample_photos):
    """A real DNG (pidng, as tests/test_media.py builds them): ExifTool reads camera RAW tags."""
    from PIL import Image

    from test_media import dng_with_preview

    with Image.open(sample_photos / "rocket.jpg") as rocket:
        upright = rocket.convert("RGB").resize((200, 150))
    raw = tmp_path / "IMG_0007.dng"
    raw.write_bytes(dng_with_preview(upright, upright, orientation=6, taken="2023:04:01 09:30:00"))
    make_sidecar(tmp_path / "IMG_0007.xmp", "-XMP:Rating=4", "-XMP:HierarchicalSubject=space|rockets")
    with MetadataReader() as reader:
        found = reader.read([str(raw)], find_sidecars([str(raw)]))[str(raw)]
    assert (found.make, found.model) == ("Lucida", "Test Camera")
    assert found.taken_at == "2023-04-01T09:30:00" and found.orientation == 6
    assert found.rating == 4 and found.hierarchical_keywords == ("space|rockets",)
