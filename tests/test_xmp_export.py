"""Metadata out: `lucida export-xmp` through the real ExifTool into real sidecars and photos,
read back by ExifTool; foreign fields survive export and undo; originals keep their bytes."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from lucida.catalog import open_catalog
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


def index_copies(tmp_path: Path, describer, embedder, sources: dict[str, Path], db=None) -> tuple[Path, Path]:
    """(catalog, folder): a new folder holding each source file under its name, indexed."""
    photos = tmp_path / "photos"
    photos.mkdir()
    for name, source in sources.items():
        shutil.copy(source, photos / name)
    db = db or tmp_path / "catalog.db"
    with open_catalog(db) as catalog:
        index_paths(catalog, [str(photos)], describer, embedder)
    return db, photos


@pytest.fixture
def indexed(tmp_path, sample_photos, describer, embedder, catalog_location) -> tuple[Path, Path]:
    return index_copies(tmp_path, describer, embedder, {name: sample_photos / name for name in PHOTOS}, catalog_location)


def export(db: Path, roots=None, **options):
    with open_catalog(db, create=False) as catalog:
        return export_xmp(catalog, roots, ExportOptions(**options))


def undo(db: Path, roots=None, dry_run=False):
    with open_catalog(db, create=False) as catalog:
        return undo_xmp(catalog, roots, dry_run)


def test_export_writes_sidecars_exiftool_reads_and_leaves_originals_alone(indexed):
    db, photos = indexed
    before = {name: digest(photos / name) for name in PHOTOS}
    changes = export(db)
    assert sorted(Path(c.target).name for c in changes) == ["chelsea.xmp", "coffee.xmp", "rocket.xmp"]
    assert all(c.create for c in changes)
    chelsea = xmp(photos / "chelsea.xmp")
    with open_catalog(db, create=False) as catalog:
        record = catalog.image_record(catalog.files_under(None)[0][1])
    description = record.descriptions[0]
    # The caption a person reads, class names and no WordNet definitions; keywords are class names.
    assert chelsea["XMP-dc:Description"] == description.display
    assert chelsea["XMP-dc:Description"].startswith("Egyptian cat") and "(" not in chelsea["XMP-dc:Description"]
    assert "(a domestic cat of Egypt)" in description.text  # what search reads is unchanged
    keywords = keywords_of(description)
    assert keywords[0] == description.details["classes"][0]["label"]
    assert not any("(" in k or ")" in k for k in keywords)
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
    with open_catalog(db, create=False) as catalog:
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
    with open_catalog(db, create=False) as catalog:
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
    with open_catalog(db, create=False) as catalog:
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
    with open_catalog(db) as catalog:
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


def test_export_without_exiftool_is_a_one_line_error(indexed, monkeypatch, tmp_path):
    db, photos = indexed
    monkeypatch.setenv("LUCIDA_EXIFTOOL", str(tmp_path / "no-exiftool"))
    done = run("export-xmp", db=db, check=False)
    assert done.returncode == 1 and done.stderr.count("\n") == 1
    assert "exiftool is not installed" in done.stderr and "libimage-exiftool-perl" in done.stderr
    assert not list(photos.glob("*.xmp"))


def test_descriptions_in_other_languages_survive_export_and_undo(indexed):
    db, photos = indexed
    german_only = photos / "coffee.xmp"
    make_sidecar(german_only, "-XMP-dc:Description-de=Nur auf Deutsch")
    both = photos / "rocket.xmp"
    make_sidecar(both, "-XMP-dc:Description-x-default=Launch day", "-XMP-dc:Description-de=Starttag")
    originals = {german_only: xmp(german_only), both: xmp(both)}
    assert originals[both] == {"XMP-dc:Description": "Launch day", "XMP-dc:Description-de": "Starttag"}

    # No default-language description: lucida writes one, beside the German.
    changes = {c.target: c for c in export(db)}
    assert changes[str(german_only)].description is not None
    assert xmp(german_only)["XMP-dc:Description-de"] == "Nur auf Deutsch"
    assert "espresso" in xmp(german_only)["XMP-dc:Description"]
    assert changes[str(both)].kept_description == "Launch day"
    assert {k: v for k, v in xmp(both).items() if "Subject" not in k} == originals[both]

    export(db, overwrite_description=True)
    replaced = xmp(both)
    assert replaced["XMP-dc:Description"] != "Launch day" and replaced["XMP-dc:Description-de"] == "Starttag"
    undo(db)
    assert {path: xmp(path) for path in originals} == originals


def test_two_photos_never_share_a_sidecar_but_a_raw_jpeg_pair_does(tmp_path, sample_photos, describer, embedder):
    sources = tmp_path / "sources"
    sources.mkdir()
    Image.open(sample_photos / "moon.jpg").save(sources / "g.png")
    with Image.open(sample_photos / "rocket.jpg") as rocket:
        upright = rocket.convert("RGB").resize((320, 240))
    (sources / "IMG.dng").write_bytes(dng_with_preview(upright, upright))
    db, photos = index_copies(tmp_path, describer, embedder, {
        "g.jpg": sample_photos / "coffee.jpg", "g.png": sources / "g.png",
        "IMG.dng": sources / "IMG.dng", "IMG.jpg": sample_photos / "chelsea.jpg",
    })  # fmt: skip
    shared = photos / "g.xmp"
    make_sidecar(shared, "-XMP-dc:Description-x-default=Coffee, not the moon", "-XMP-xmp:Rating=4")
    before = shared.read_bytes()

    # Only g.png asked for: g.jpg, outside the paths, still owns half of g.xmp.
    [change] = export(db, [str(photos / "g.png")], overwrite_description=True)
    assert change.target == str(shared) and not change.changes_anything
    assert "g.jpg and g.png" in change.skipped and "--sidecar-style filename.ext.xmp" in change.skipped
    assert change.summary() == f"skipped: {change.skipped}"
    changes = {Path(c.target).name: c for c in export(db, overwrite_description=True)}
    assert changes["g.xmp"].skipped and shared.read_bytes() == before
    # The pair is one photo: its sidecar is the RAW's and gets the RAW's caption.
    assert changes["IMG.xmp"].skipped is None and changes["IMG.xmp"].photo == str(photos / "IMG.dng")
    with open_catalog(db, create=False) as catalog:
        raw = dict(catalog.files_under(None))[str(photos / "IMG.dng")]
        assert xmp(photos / "IMG.xmp")["XMP-dc:Description"] == catalog.image_record(raw).preferred.display

    apart = export(db, [str(photos / "g.jpg"), str(photos / "g.png")], sidecar_style="filename.ext.xmp")
    assert sorted(Path(c.target).name for c in apart if c.changes_anything) == ["g.jpg.xmp", "g.png.xmp"]
    assert xmp(photos / "g.jpg.xmp")["XMP-dc:Description"] != xmp(photos / "g.png.xmp")["XMP-dc:Description"]


def test_a_bad_sidecar_is_skipped_with_its_reason_and_the_photos_after_it_are_exported(
    tmp_path, sample_photos, describer, embedder
):
    names = ("chelsea.jpg", "coffee.jpg", "moon.jpg", "rocket.jpg")
    db, photos = index_copies(tmp_path, describer, embedder, {name: sample_photos / name for name in names})
    (photos / "chelsea.xmp").write_bytes(bytes(range(256)) * 4)
    (photos / "coffee.xmp").mkdir()
    (photos / "coffee.xmp" / "inside.xmp").write_bytes(b"")  # ExifTool must not be pointed at it
    (photos / "moon.xmp").write_text("notes, not XMP\n")
    before = {p.name: p.read_bytes() for p in photos.glob("*.xmp") if p.is_file()}

    for dry_run in (True, False):
        changes = {Path(c.target).name: c for c in export(db, dry_run=dry_run)}
        assert "ExifTool cannot read it" in changes["chelsea.xmp"].skipped
        assert changes["coffee.xmp"].skipped == "a folder, not a file"
        assert changes["moon.xmp"].skipped == "not XMP (ExifTool reads it as TXT)"
        assert all("\n" not in c.summary() for c in changes.values())
        assert changes["rocket.xmp"].skipped is None and changes["rocket.xmp"].changes_anything
    assert "XMP-dc:Subject" in xmp(photos / "rocket.xmp")
    assert {p.name: p.read_bytes() for p in photos.glob("*.xmp") if p.is_file() and p.name != "rocket.xmp"} == before
    with open_catalog(db, create=False) as catalog:
        assert [Path(w.target).name for w in catalog.xmp_writes()] == ["rocket.xmp"]

    dry = run("export-xmp", "--dry-run", db=db).stdout.splitlines()
    assert dry[-1] == "0 of 4 files would change (dry run: nothing written)."
    (photos / "rocket.xmp").unlink()
    assert run("export-xmp", db=db).stdout.splitlines()[-1] == "1 of 4 files changed."
    assert run("export-xmp", "--undo", db=db).stdout.splitlines()[-1] == "1 of 1 files changed."


def test_a_read_only_sidecar_is_skipped_on_export_and_undo(indexed):
    db, photos = indexed
    sidecar = photos / "coffee.xmp"
    make_sidecar(sidecar, "-XMP-xmp:Rating=2")

    def lock(locked: bool) -> None:
        if os.geteuid() != 0:
            sidecar.chmod(0o444 if locked else 0o644)
            return
        # Root writes whatever the mode bits say; the immutable flag stops it too.
        flag = subprocess.run(["chattr", "+i" if locked else "-i", str(sidecar)]) if shutil.which("chattr") else None
        if flag is None or flag.returncode:
            pytest.skip("running as root, and chattr +i does not work here")

    lock(True)
    try:
        before = sidecar.read_bytes()
        for dry_run in (True, False):
            changes = {Path(c.target).name: c for c in export(db, dry_run=dry_run)}
            assert changes["coffee.xmp"].skipped == "read-only"
            assert changes["rocket.xmp"].changes_anything
        assert sidecar.read_bytes() == before
        lock(False)
        export(db)
        lock(True)
        [skipped] = [c for c in undo(db) if c.skipped]
        assert skipped.target == str(sidecar) and skipped.skipped == "read-only"
        with open_catalog(db, create=False) as catalog:  # still on record, for an undo that can
            assert [Path(w.target).name for w in catalog.xmp_writes()] == ["coffee.xmp"]
    finally:
        lock(False)
    undo(db)
    assert xmp(sidecar) == {"XMP-xmp:Rating": 2}


def test_a_sidecar_linked_out_of_the_photos_folder_is_never_written_or_removed(indexed, tmp_path):
    db, photos = indexed
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    victim = elsewhere / "victim.xmp"
    make_sidecar(victim, "-XMP-xmp:Rating=5")
    before = victim.read_bytes()
    (photos / "coffee.xmp").symlink_to(victim)
    (photos / "chelsea.xmp").symlink_to(elsewhere / "not-yet.xmp")  # dangling: would be created there

    for dry_run in (True, False):
        changes = {Path(c.target).name: c for c in export(db, dry_run=dry_run)}
        assert changes["coffee.xmp"].skipped.startswith(f"a link to {victim}, outside the photo's folder")
        assert changes["chelsea.xmp"].skipped.startswith("a link to ")
        assert changes["rocket.xmp"].changes_anything
    assert victim.read_bytes() == before and sorted(p.name for p in elsewhere.iterdir()) == ["victim.xmp"]

    # A sidecar lucida created, swapped for a link since: undo neither edits nor removes the far file.
    rocket = photos / "rocket.xmp"
    far = elsewhere / "rocket.xmp"
    shutil.move(rocket, far)
    rocket.symlink_to(far)
    lucidas = far.read_bytes()
    [change] = undo(db)
    assert change.skipped.startswith(f"a link to {far}") and not change.delete
    assert far.read_bytes() == lucidas and rocket.is_symlink()
