"""Metadata out: `lucida export-xmp` through the real ExifTool into real sidecars and photos,
read back by ExifTool; foreign fields survive export and undo; originals keep their bytes."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from lucida.catalog import Catalog
from lucida.errors import LucidaError
from lucida.indexer import index_paths
from lucida.xmp_export import ExportOptions, export_xmp, keywords_of, sidecar_path, undo_xmp

from test_cli import run
from test_media import dng_with_preview
from test_metadata import make_sidecar

pytestmark = pytest.mark.skipif(shutil.which("exiftool") is None, reason="needs exiftool (make system-deps)")

PHOTOS = ("chelsea.jpg", "coffee.jpg", "rocket.jpg")

# What Lightroom or PhotoLab might have put into a sidecar: none of it is lucida's.
FOREIGN = [
    "-XMP-xmp:Rating=3", "-XMP-xmp:Label=Green", "-XMP-dc:Subject=morning", "-XMP-dc:Subject=kitchen",
    "-XMP-lr:HierarchicalSubject=places|home|kitchen", "-XMP-dc:Title=Breakfast",
    "-XMP-photoshop:City=Lyon", "-XMP-crs:Exposure2012=+0.35", "-XMP-dc:Creator=A. Photographer",
]  # fmt: skip


def xmp(path: Path) -> dict:
    """Every XMP field of a file as ExifTool reads it, by group and name (toolkit note aside)."""
    done = subprocess.run(["exiftool", "-j", "-G1", "-XMP:all", str(path)], capture_output=True, text=True, check=True)
    tags = json.loads(done.stdout)[0]
    return {k: v for k, v in tags.items() if k not in ("SourceFile", "XMP-x:XMPToolkit")}


def listed(value) -> list:
    return value if isinstance(value, list) else [value]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def indexed(tmp_path, sample_photos, describer, embedder) -> tuple[Path, Path]:
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in PHOTOS:
        shutil.copy(sample_photos / name, photos / name)
    db = tmp_path / "catalog.db"
    with Catalog.open(db) as catalog:
        index_paths(catalog, [str(photos)], describer, embedder)
    return db, photos


def export(db: Path, roots=None, **options):
    with Catalog.open(db, create=False) as catalog:
        return export_xmp(catalog, roots, ExportOptions(**options))


def undo(db: Path, roots=None, dry_run=False):
    with Catalog.open(db, create=False) as catalog:
        return undo_xmp(catalog, roots, dry_run)


def test_export_writes_sidecars_exiftool_reads_and_leaves_originals_alone(indexed):
    db, photos = indexed
    before = {name: digest(photos / name) for name in PHOTOS}
    changes = export(db)
    assert sorted(Path(c.target).name for c in changes) == ["chelsea.xmp", "coffee.xmp", "rocket.xmp"]
    assert all(c.create for c in changes)
    chelsea = xmp(photos / "chelsea.xmp")
    with Catalog.open(db, create=False) as catalog:
        record = catalog.image_record(catalog.files_under(None)[0][1])
    description = record.descriptions[0]
    assert chelsea["XMP-dc:Description"] == description.text
    keywords = keywords_of(description)
    assert keywords[0] == description.details["classes"][0]["label"]
    assert listed(chelsea["XMP-dc:Subject"]) == keywords
    assert listed(chelsea["XMP-lr:HierarchicalSubject"]) == [f"lucida|{k}" for k in keywords]
    assert {name: digest(photos / name) for name in PHOTOS} == before
    # Exported again with nothing new: nothing to do.
    assert not any(c.changes_anything for c in export(db))


def test_foreign_fields_survive_export_and_undo_and_undo_removes_exactly_lucidas(indexed):
    db, photos = indexed
    sidecar = photos / "coffee.xmp"
    make_sidecar(sidecar, *FOREIGN, "-XMP-dc:Description=Coffee before the trip")
    original = xmp(sidecar)

    export(db, parent="Keywords|lucida")
    merged = xmp(sidecar)
    for key, value in original.items():
        if key in ("XMP-dc:Subject", "XMP-lr:HierarchicalSubject"):
            assert set(listed(value)) <= set(listed(merged[key])), key
        else:
            assert merged[key] == value, key  # the person's description is kept too
    added = [k for k in listed(merged["XMP-dc:Subject"]) if k not in ("morning", "kitchen")]
    assert "espresso" in added
    assert [h for h in listed(merged["XMP-lr:HierarchicalSubject"]) if h.startswith("Keywords|lucida|")] == [
        f"Keywords|lucida|{k}" for k in added
    ]

    undo(db)
    assert xmp(sidecar) == original
    assert sidecar.exists()  # lucida did not create it
    with Catalog.open(db, create=False) as catalog:
        assert catalog.xmp_writes() == []


def test_overwrite_description_replaces_a_persons_and_undo_brings_it_back(indexed):
    db, photos = indexed
    sidecar = photos / "coffee.xmp"
    make_sidecar(sidecar, "-XMP-dc:Description=Coffee before the trip", "-XMP-xmp:Rating=2")
    [change] = [c for c in export(db) if c.target == str(sidecar)]
    assert change.kept_description == "Coffee before the trip" and change.description is None
    assert xmp(sidecar)["XMP-dc:Description"] == "Coffee before the trip"

    export(db, overwrite_description=True)
    assert "espresso" in xmp(sidecar)["XMP-dc:Description"]
    undo(db)
    assert xmp(sidecar) == {"XMP-dc:Description": "Coffee before the trip", "XMP-xmp:Rating": 2}


def test_a_description_edited_after_export_is_the_persons_and_stays(indexed):
    db, photos = indexed
    export(db)
    sidecar = photos / "rocket.xmp"
    subprocess.run(["exiftool", "-q", "-overwrite_original", "-XMP-dc:Description=Launch day", str(sidecar)], check=True)
    [change] = [c for c in export(db) if c.target == str(sidecar)]
    assert change.kept_description == "Launch day"
    undo(db)
    # lucida's keywords are gone; the person's description stays, so the sidecar does too.
    assert xmp(sidecar) == {"XMP-dc:Description": "Launch day"}
    assert not (photos / "chelsea.xmp").exists()  # created by lucida, nothing else in it: removed


def test_a_new_caption_replaces_lucidas_old_keywords_only(indexed):
    db, photos = indexed
    sidecar = photos / "chelsea.xmp"
    export(db)
    subprocess.run(["exiftool", "-q", "-overwrite_original", "-XMP-dc:Subject+=Chelsea", str(sidecar)], check=True)
    with Catalog.open(db, create=False) as catalog:
        path, image_id = next(f for f in catalog.files_under(None) if f[0].endswith("chelsea.jpg"))
        describer = catalog.image_record(image_id).descriptions[0].describer
        with catalog.transaction():
            catalog.put_description(
                image_id, describer, "", "A sleeping dog.", {"classes": [{"label": "dog", "p": 0.9}]}
            )
    export(db)
    after = xmp(sidecar)
    assert sorted(listed(after["XMP-dc:Subject"])) == ["Chelsea", "dog"]  # a Bag: no order
    assert listed(after["XMP-lr:HierarchicalSubject"]) == ["lucida|dog"]
    assert after["XMP-dc:Description"] == "A sleeping dog."
    undo(db)
    assert xmp(sidecar) == {"XMP-dc:Subject": "Chelsea"}


def test_dry_run_writes_nothing(indexed):
    db, photos = indexed
    make_sidecar(photos / "coffee.xmp", *FOREIGN)
    before = (photos / "coffee.xmp").read_bytes()
    changes = export(db, dry_run=True)
    assert sum(c.changes_anything for c in changes) == 3
    assert sorted(p.name for p in photos.iterdir()) == ["chelsea.jpg", "coffee.jpg", "coffee.xmp", "rocket.jpg"]
    assert (photos / "coffee.xmp").read_bytes() == before
    with Catalog.open(db, create=False) as catalog:
        assert catalog.xmp_writes() == []
    export(db)
    undo_plan = undo(db, dry_run=True)
    assert len(undo_plan) == 3 and all(c.remove_keywords for c in undo_plan)
    assert (photos / "chelsea.xmp").exists()


def test_sidecar_style_filename_ext_and_paths_limit_the_export(indexed):
    db, photos = indexed
    changes = export(db, [str(photos / "rocket.jpg")], sidecar_style="filename.ext.xmp")
    assert [c.target for c in changes] == [str(photos / "rocket.jpg.xmp")]
    assert "XMP-dc:Subject" in xmp(photos / "rocket.jpg.xmp")
    assert not (photos / "rocket.xmp").exists()
    assert sidecar_path("/a/IMG_1.NEF", "basename.xmp") == "/a/IMG_1.xmp"
    with pytest.raises(LucidaError, match="--sidecar-style"):
        sidecar_path("/a/IMG_1.NEF", "IMG.xmp")


def test_embed_writes_into_jpeg_and_dng_only_when_asked_and_undo_takes_it_out(tmp_path, sample_photos, describer, embedder):
    photos = tmp_path / "photos"
    photos.mkdir()
    shutil.copy(sample_photos / "coffee.jpg", photos / "coffee.jpg")
    with Image.open(sample_photos / "rocket.jpg") as rocket:
        upright = rocket.convert("RGB").resize((320, 240))
    (photos / "rocket.dng").write_bytes(dng_with_preview(upright, upright))
    Image.open(sample_photos / "moon.jpg").save(photos / "moon.png")
    db = tmp_path / "catalog.db"
    with Catalog.open(db) as catalog:
        index_paths(catalog, [str(photos)], describer, embedder)
    before = {p.name: digest(p) for p in photos.iterdir()}

    changes = export(db, embed=True)
    assert sorted(Path(c.target).name for c in changes) == ["coffee.jpg", "moon.xmp", "rocket.dng"]
    assert digest(photos / "moon.png") == before["moon.png"]  # PNG: a sidecar instead
    for name in ("coffee.jpg", "rocket.dng"):
        assert digest(photos / name) != before[name]
        assert "XMP-dc:Subject" in xmp(photos / name) and "XMP-lr:HierarchicalSubject" in xmp(photos / name)
    with Image.open(photos / "coffee.jpg") as still_a_photo:
        still_a_photo.load()

    undo(db)
    for name in ("coffee.jpg", "rocket.dng"):
        assert "XMP-dc:Subject" not in xmp(photos / name) and "XMP-dc:Description" not in xmp(photos / name)
    assert not (photos / "moon.xmp").exists()


def test_cli_export_dry_run_export_and_undo(indexed):
    db, photos = indexed
    dry = run("export-xmp", "--dry-run", db=db).stdout.splitlines()
    assert dry[-1] == "3 of 3 files would change (dry run: nothing written)."
    assert not list(photos.glob("*.xmp"))
    done = run("export-xmp", str(photos), "--parent", "ai", db=db).stdout.splitlines()
    assert done[-1] == "3 of 3 files changed."
    assert all(h.startswith("ai|") for h in listed(xmp(photos / "coffee.xmp")["XMP-lr:HierarchicalSubject"]))
    undone = run("export-xmp", "--undo", db=db).stdout.splitlines()
    assert undone[-1] == "3 of 3 files changed." and not list(photos.glob("*.xmp"))
    missing = run("export-xmp", str(photos / "nope"), db=db, check=False)
    assert missing.returncode == 1 and "does not exist" in missing.stderr
