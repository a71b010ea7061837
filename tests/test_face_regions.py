"""People in and out of metadata: MWG face regions (as Lightroom writes them) read at index time
seed the people; `lucida export-xmp` writes named faces as MWG regions and PersonInImage entries
through the real ExifTool, keeps everyone else's, and --undo takes out only lucida's. Real photos
(matplotlib's portrait of Grace Hopper), the real face model, real catalogs."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
from pathlib import Path

import matplotlib.cbook
import pytest
from PIL import Image

from lucida.catalog import Catalog
from lucida.indexer import index_paths
from lucida.library import Library
from lucida.metadata import MetadataReader, find_sidecars
from lucida.xmp_export import ExportOptions

from test_cli import run
from test_metadata import exiftool, make_sidecar
from test_xmp_export import digest, xmp

pytestmark = [
    pytest.mark.skipif(shutil.which("exiftool") is None, reason="needs exiftool (make system-deps)"),
    pytest.mark.skipif(importlib.util.find_spec("dlib") is None, reason="needs dlib-bin and face-recognition-models"),
]

GRACE = Path(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
# Around her face on the portrait as displayed (512 x 600): left, top, width, height. The face
# model's own box is about (0.31, 0.23, 0.42, 0.36).
FACE = (0.30, 0.20, 0.45, 0.42)
# Box tolerance: ExifTool and lucida keep six decimals.
CLOSE = 1e-5


def lightroom_region(name: str, box, dimensions=(512, 600)) -> str:
    """An ExifTool argument writing an MWG RegionInfo as Lightroom does: AppliedToDimensions in
    pixels and one named Face region, its Area a normalized centre and size."""
    left, top, width, height = box
    area = f"X={left + width / 2:.6f},Y={top + height / 2:.6f},W={width:.6f},H={height:.6f},Unit=normalized"
    w, h = dimensions
    return (
        f"-XMP-mwg-rs:RegionInfo={{AppliedToDimensions={{W={w},H={h},Unit=pixel}},"
        f"RegionList=[{{Area={{{area}}},Name={name},Type=Face}}]}}"
    )


def regions_of(path: Path) -> tuple[dict | None, list[str]]:
    """(the MWG RegionInfo structure, the PersonInImage entries) ExifTool reads from a file."""
    done = subprocess.run(
        ["exiftool", "-j", "-struct", "-XMP-mwg-rs:RegionInfo", "-XMP-iptcExt:PersonInImage", str(path)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    tags = json.loads(done.stdout)[0]
    people = tags.get("PersonInImage", [])
    return tags.get("RegionInfo"), people if isinstance(people, list) else [people]


def box_of(area: dict) -> tuple[float, float, float, float]:
    return (area["X"] - area["W"] / 2, area["Y"] - area["H"] / 2, area["W"], area["H"])


def assert_close(box, expected, tolerance=CLOSE) -> None:
    assert box == pytest.approx(expected, abs=tolerance), (box, expected)


def quarter_turned(folder: Path, name: str = "grace.jpg") -> Path:
    """The portrait as a camera held sideways stores it: pixels turned a quarter counter-clockwise
    (600 x 512), with EXIF orientation 6 ("turn 90 degrees clockwise to show")."""
    folder.mkdir(exist_ok=True)
    path = folder / name
    with Image.open(GRACE) as upright:
        stored = upright.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    stored.save(path, quality=95, exif=exif)
    return path


def stored_box(box) -> tuple[float, float, float, float]:
    """A box on the displayed photo, on orientation 6's stored pixels: the displayed point (x, y)
    is the stored point (y, 1 - x)."""
    left, top, width, height = box
    return (top, 1 - left - width, height, width)


def index(db: Path, folder: Path, describer, embedder) -> None:
    with Catalog.open(db) as catalog:
        index_paths(catalog, [str(folder)], describer, embedder)


def grace_named(tmp_path: Path, describer, embedder, photo: Path | None = None) -> tuple[Path, Path]:
    """(catalog, photo): the portrait indexed, its face found and named Grace Hopper by hand."""
    folder = tmp_path / "photos"
    folder.mkdir(exist_ok=True)
    if photo is None:
        photo = folder / "grace.jpg"
        shutil.copy(GRACE, photo)
    db = tmp_path / "catalog.db"
    index(db, folder, describer, embedder)
    with Library.open(db) as library:
        library.find_faces()
        [group] = library.people()
        assert group.name is None
        library.name_person(str(group.cluster), "Grace Hopper")
    return db, photo


def export(db: Path, undo: bool = False, **options):
    with Library.open(db) as library:
        return library.undo_xmp(None) if undo else library.export_xmp(None, ExportOptions(**options))


def test_a_lightroom_region_is_read_at_index_and_names_the_face(tmp_path, describer, embedder):
    folder = tmp_path / "photos"
    folder.mkdir()
    photo = folder / "grace.jpg"
    shutil.copy(GRACE, photo)
    make_sidecar(folder / "grace.xmp", lightroom_region("Grace Hopper", FACE), "-XMP-xmp:Rating=4")
    db = tmp_path / "catalog.db"
    index(db, folder, describer, embedder)

    with Library.open(db) as library:
        [region] = library.catalog.file_metadata(str(photo)).face_regions
        assert region.name == "Grace Hopper"
        assert_close(region.box, FACE)
        summary = library.find_faces()
        assert summary.named_from_metadata == 1
        [face] = library.faces_in(library.catalog.files_under(None)[0][1])
        # The face the detector found in the region carries the name, not one made from the region.
        assert (face.person, face.named_by, face.finder) == ("Grace Hopper", "metadata", "dlib-hog-resnet-v1")
        assert [(p.name, p.faces) for p in library.people()] == [("Grace Hopper", 1)]

    # Exported: the name is in a region already, so only PersonInImage is added; undo takes it out.
    before = xmp(folder / "grace.xmp")
    [change] = export(db)
    assert change.add_regions == [] and change.add_people == ["Grace Hopper"]
    info, people = regions_of(folder / "grace.xmp")
    assert [r["Name"] for r in info["RegionList"]] == ["Grace Hopper"] and people == ["Grace Hopper"]
    export(db, undo=True)
    assert xmp(folder / "grace.xmp") == before


def test_a_region_named_in_lightroom_after_the_faces_were_found_names_the_face(tmp_path, describer, embedder):
    folder = tmp_path / "photos"
    folder.mkdir()
    shutil.copy(GRACE, folder / "grace.jpg")
    db = tmp_path / "catalog.db"
    index(db, folder, describer, embedder)
    with Library.open(db) as library:
        library.find_faces()
        assert library.people()[0].name is None
    # Named later in Lightroom: the next index reads the sidecar, the next faces run names the face.
    make_sidecar(folder / "grace.xmp", lightroom_region("Grace Hopper", FACE))
    index(db, folder, describer, embedder)
    with Library.open(db) as library:
        summary = library.find_faces()
        assert summary.photos == 0 and summary.named_from_metadata == 1
        assert [(p.name, p.faces) for p in library.people()] == [("Grace Hopper", 1)]
        # A name the user gave is never replaced by one from metadata.
        library.name_person("Grace Hopper", "Amazing Grace")
        assert library.find_faces().named_from_metadata == 0
        assert [p.name for p in library.people()] == ["Amazing Grace"]


def test_regions_are_turned_by_the_photos_orientation_and_a_sidecars_win(tmp_path):
    photo = quarter_turned(tmp_path / "photos")
    # MWG: regions are measured on the stored pixels (600 x 512 here).
    make_sidecar(photo.with_suffix(".xmp"), lightroom_region("Grace Hopper", stored_box(FACE), (600, 512)))
    # The same face measured on the photo as displayed: its AppliedToDimensions (512 x 600) say so.
    displayed = photo.with_name("shown.jpg")
    shutil.copy(photo, displayed)
    exiftool(lightroom_region("Grace Hopper", FACE, (512, 600)), displayed)
    # A region embedded in the photo, and a sidecar's: the sidecar's win, as its other fields do.
    both = photo.with_name("both.jpg")
    shutil.copy(photo, both)
    exiftool(lightroom_region("Someone Else", stored_box((0.1, 0.1, 0.2, 0.2)), (600, 512)), both)
    make_sidecar(both.with_suffix(".xmp"), lightroom_region("Grace Hopper", stored_box(FACE), (600, 512)))
    # Unnamed regions and other types are not people.
    other = photo.with_name("other.jpg")
    shutil.copy(photo, other)
    exiftool(
        "-XMP-mwg-rs:RegionInfo={AppliedToDimensions={W=600,H=512,Unit=pixel},RegionList=["
        "{Area={X=0.5,Y=0.5,W=0.2,H=0.2,Unit=normalized},Type=Face},"
        "{Area={X=0.5,Y=0.5,W=0.2,H=0.2,Unit=normalized},Name=Rex,Type=Pet}]}",
        other,
    )

    paths = [str(p) for p in (photo, displayed, both, other)]
    with MetadataReader() as reader:
        found = reader.read(paths, find_sidecars(paths))
    for path in (photo, displayed, both):
        [region] = found[str(path)].face_regions
        assert region.name == "Grace Hopper", path.name
        assert_close(region.box, FACE)
    assert found[str(other)].face_regions == ()


def test_export_writes_regions_and_person_in_image_keeps_lightrooms_and_undo_takes_out_only_lucidas(
    tmp_path, describer, embedder
):
    db, photo = grace_named(tmp_path, describer, embedder)
    sidecar = photo.with_suffix(".xmp")
    # Lightroom was here first: someone else's region (and their PersonInImage entry), and a rating.
    make_sidecar(
        sidecar, lightroom_region("Ada Lovelace", (0.05, 0.05, 0.15, 0.15), (512, 600)),
        "-XMP-iptcExt:PersonInImage=Ada Lovelace", "-XMP-xmp:Rating=3",
    )  # fmt: skip
    original = xmp(sidecar)
    photo_before = digest(photo)
    with Catalog.open(db, create=False) as catalog:
        [face] = catalog.faces_in(catalog.files_under(None)[0][1])

    dry = run("export-xmp", "--dry-run", db=db).stdout
    assert f"{sidecar}: " in dry and "people +Grace Hopper" in dry and xmp(sidecar) == original
    [change] = export(db)
    assert [name for name, _ in change.add_regions] == ["Grace Hopper"] and change.add_people == ["Grace Hopper"]
    info, people = regions_of(sidecar)
    assert info["AppliedToDimensions"] == {"W": 512, "H": 600, "Unit": "pixel"}  # Lightroom's, kept
    ada, grace = info["RegionList"]
    assert ada == {
        "Area": {"X": 0.125, "Y": 0.125, "W": 0.15, "H": 0.15, "Unit": "normalized"},
        "Name": "Ada Lovelace", "Type": "Face",
    }  # fmt: skip
    assert (grace["Name"], grace["Type"], grace["Area"]["Unit"]) == ("Grace Hopper", "Face", "normalized")
    assert_close(box_of(grace["Area"]), face.box)
    assert sorted(people) == ["Ada Lovelace", "Grace Hopper"]
    assert xmp(sidecar)["XMP-xmp:Rating"] == 3 and digest(photo) == photo_before
    assert not any(c.changes_anything for c in export(db))  # nothing new: nothing to do

    # Renamed: lucida's region and entry follow the name; Lightroom's stay.
    with Library.open(db) as library:
        library.name_person("Grace Hopper", "Grace Brewster Hopper")
    [renamed] = export(db)
    assert renamed.remove_regions == ["Grace Hopper"] and renamed.remove_people == ["Grace Hopper"]
    info, people = regions_of(sidecar)
    assert [r["Name"] for r in info["RegionList"]] == ["Ada Lovelace", "Grace Brewster Hopper"]
    assert sorted(people) == ["Ada Lovelace", "Grace Brewster Hopper"]

    [undone] = export(db, undo=True)
    assert undone.remove_regions == ["Grace Brewster Hopper"] and not undone.remove_region_info
    assert xmp(sidecar) == original and digest(photo) == photo_before


@pytest.mark.parametrize("embed", [False, True], ids=["sidecar", "embedded"])
def test_exported_regions_come_back_in_a_fresh_catalog(tmp_path, describer, embedder, embed):
    photo = quarter_turned(tmp_path / "photos")
    db, _ = grace_named(tmp_path, describer, embedder, photo)
    with Catalog.open(db, create=False) as catalog:
        [face] = catalog.faces_in(catalog.files_under(None)[0][1])
    target = photo if embed else photo.with_suffix(".xmp")
    photo_before = digest(photo)

    [change] = export(db, embed=embed)
    assert change.target == str(target) and change.create is not embed
    info, people = regions_of(target)
    # On the stored pixels, as MWG says: AppliedToDimensions are the stored 600 x 512, and the
    # area is the displayed face turned back a quarter.
    assert info["AppliedToDimensions"] == {"W": 600, "H": 512, "Unit": "pixel"}
    [grace] = info["RegionList"]
    assert grace["Name"] == "Grace Hopper" and grace["Type"] == "Face" and people == ["Grace Hopper"]
    assert_close(box_of(grace["Area"]), stored_box(face.box))
    assert (digest(photo) != photo_before) is embed  # the photo itself only with --embed

    fresh = tmp_path / "fresh.db"
    index(fresh, photo.parent, describer, embedder)
    with Catalog.open(fresh, create=False) as catalog:
        [region] = catalog.file_metadata(str(photo)).face_regions
    assert region.name == "Grace Hopper"
    assert_close(region.box, face.box)

    [undone] = export(db, undo=True)
    assert undone.remove_region_info and undone.remove_people == ["Grace Hopper"]
    if embed:
        assert regions_of(photo) == (None, [])
    else:
        assert not target.exists() and undone.delete  # lucida created it; nothing else was in it
