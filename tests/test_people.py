"""People (lucida.faces, lucida.people): real faces found and described with dlib, grouped, named
once, searched by name with words, and forgotten on request.

The faces are real photos that packages ship (scikit-image's astronaut, matplotlib's Grace
Hopper, and the photos of two PyPI source distributions: bench/face_photos.py, `make
face-photos`), plus photos built from them: crops, flips, rescales and brightness changes of the
same face as "same person"."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import matplotlib.cbook
import numpy as np
import pytest
import skimage.data
from click.testing import CliRunner
from PIL import Image, ImageEnhance, ImageOps

from lucida.catalog import PhotoFilter
from lucida.cli import cli
from lucida.config import Config
from lucida.errors import LucidaError
from lucida.library import Library
from lucida.models.faces import load_face_model
from lucida.people import SAME_PERSON, people_in_query

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
from conftest import copy_catalog  # noqa: E402
from face_photos import face_photos  # noqa: E402


def run(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def fails(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code != 0, result.output
    return result.output


def grace() -> Image.Image:
    return Image.open(matplotlib.cbook.get_sample_data("grace_hopper.jpg")).convert("RGB")


def astronaut() -> Image.Image:
    return Image.fromarray(skimage.data.astronaut())


def write_people_photos(folder: Path) -> dict[str, str]:
    """Photos of two people and one of none; name -> who it shows."""
    folder.mkdir(parents=True, exist_ok=True)
    g, a = grace(), astronaut()
    photos = {
        "grace.jpg": (g, "grace"),
        "grace_flipped_larger.jpg": (ImageOps.mirror(g).resize((900, 1054)), "grace"),
        "grace_dark.jpg": (ImageEnhance.Brightness(g).enhance(0.6), "grace"),
        "grace_crop.jpg": (g.crop((60, 40, 460, 480)), "grace"),
        "astronaut.jpg": (a, "astronaut"),
        "astronaut_closer.jpg": (a.crop((120, 30, 370, 280)).resize((600, 600)), "astronaut"),
        "coffee.jpg": (Image.fromarray(skimage.data.coffee()), None),
    }
    for name, (image, _) in photos.items():
        image.save(folder / name, quality=92)
    return {name: who for name, (_, who) in photos.items()}


@pytest.fixture(scope="module")
def people_library(tmp_path_factory, module_catalog_location):
    """A catalog of the photos above, indexed and read for faces; a fresh copy per test."""
    root = tmp_path_factory.mktemp("people")
    who = write_people_photos(root / "photos")
    db = module_catalog_location
    with Library.open(db, create=True, config=Config({}, root / "none.toml")) as library:
        library.index([str(root / "photos")])
        summary = library.find_faces()
    return root, db, who, summary


@pytest.fixture
def library(people_library, tmp_path, request):
    root, db, who, _ = people_library
    shutil.copytree(root / "photos", tmp_path / "photos")
    copy = copy_catalog(db, tmp_path, request)
    # The paths inside point at the module's photos; tests that change files use their own.
    with Library.open(copy, config=Config({}, tmp_path / "none.toml")) as opened:
        yield opened


def group_of(library: Library, photo: str) -> str:
    """The reference (name or number) of the group holding the face in `photo`."""
    [image_id] = [i for i, p in library.catalog.image_files() if Path(p).name == photo]
    [face] = library.faces_in(image_id)
    return face.person or str(face.cluster)


def test_detection_finds_the_faces_and_only_faces(people_library):
    _, db, who, summary = people_library
    assert summary.photos == len(who) and summary.failed == 0
    with Library.open(db, config=Config({}, Path("/nonexistent.toml"))) as library:
        for image_id, path in library.catalog.image_files():
            faces = library.faces_in(image_id)
            expected = 0 if who[Path(path).name] is None else 1
            assert len(faces) == expected, (path, faces)
            for face in faces:
                x, y, w, h = face.box
                assert 0 <= x < x + w <= 1 and 0 <= y < y + h <= 1
                assert face.score > 0.1


def test_grace_hoppers_face_is_where_her_face_is(people_library):
    _, db, _, _ = people_library
    with Library.open(db, config=Config({}, Path("/nonexistent.toml"))) as library:
        [image_id] = [i for i, p in library.catalog.image_files() if p.endswith("/grace.jpg")]
        [face] = library.faces_in(image_id)
    x, y, w, h = face.box
    # Her face in the 512x600 portrait spans about x 0.3-0.7, y 0.2-0.6.
    assert 0.2 < x + w / 2 < 0.8 and 0.15 < y + h / 2 < 0.65 and 0.2 < w < 0.6


def test_a_group_photo_has_six_faces_and_a_landscape_none():
    model = load_face_model()
    folder = face_photos()
    assert len(model.find(Image.open(folder / "group_t1.jpg"))) == 6
    assert model.find(Image.fromarray(skimage.data.coffee())) == []
    assert model.find(Image.fromarray(skimage.data.rocket())) == []


def test_the_same_face_clusters_together_and_different_people_apart(library, people_library):
    who = people_library[2]
    groups = {}
    for image_id, path in library.catalog.image_files():
        for face in library.faces_in(image_id):
            groups.setdefault(who[Path(path).name], set()).add(face.cluster)
    assert len(groups["grace"]) == 1 and len(groups["astronaut"]) == 1
    assert groups["grace"] != groups["astronaut"]
    assert [g.faces for g in library.people()] == [4, 2]


def test_photos_of_different_people_are_further_apart_than_the_threshold():
    model = load_face_model()
    folder = face_photos()
    descriptor = lambda name: model.find(Image.open(folder / name))[0].descriptor  # noqa: E731
    obama = [descriptor(n) for n in ("obama.jpg", "obama2.jpg", "obama3.jpg")]
    others = [descriptor("biden.jpg"), descriptor("tom_hanks.png"), model.find(grace())[0].descriptor]
    for i in range(3):
        for j in range(i + 1, 3):
            assert np.linalg.norm(obama[i] - obama[j]) < SAME_PERSON  # three different photos of him
        for other in others:
            assert np.linalg.norm(obama[i] - other) > SAME_PERSON


def test_a_name_survives_reclustering_and_a_new_photo_joins_it(people_library, tmp_path):
    root, db, _, _ = people_library
    photos = tmp_path / "photos"
    shutil.copytree(root / "photos", photos)
    config = Config({}, tmp_path / "none.toml")
    with Library.open(tmp_path / "c.db", create=True, config=config) as library:
        library.index([str(photos)])
        library.find_faces()
        assert library.name_person(group_of(library, "grace.jpg"), "Grace Hopper") == 4
        assert library.recluster() == 2
        assert [(g.name, g.faces) for g in library.people()] == [("Grace Hopper", 4), (None, 2)]
        # A new photo of her: found, joins her group without re-clustering, and is named.
        ImageEnhance.Contrast(grace()).enhance(1.4).rotate(4).save(photos / "grace_new.jpg")
        library.index([str(photos)])
        summary = library.find_faces()
        assert summary.photos == 1 and summary.faces == 1  # only the new photo is read
        assert group_of(library, "grace_new.jpg") == "Grace Hopper"
        assert library.people()[0].faces == 5


def test_a_name_with_words_ranks_that_persons_photos(library):
    library.name_person(group_of(library, "grace.jpg"), "Grace Hopper")
    library.name_person(group_of(library, "astronaut.jpg"), "Eileen Collins")
    page = library.search("Grace in uniform", k=10)
    assert page.people == ("Grace Hopper",)
    shown = {Path(r.path).name for r in page.results}
    assert shown and shown <= {"grace.jpg", "grace_flipped_larger.jpg", "grace_dark.jpg", "grace_crop.jpg"}
    assert all(r.answer is not None for r in page.results)  # ranked by "uniform", not listed
    # The same with the name as a filter, and the two people together in no photo.
    assert library.search("in uniform", PhotoFilter(people=("grace hopper",)), k=10).people == ("grace hopper",)
    assert library.search("eileen collins", k=10).total == 2
    assert library.search("Grace Hopper and Eileen Collins", k=10).results == []
    with pytest.raises(LucidaError, match="nobody is named 'Anna'"):
        library.search("beach", PhotoFilter(people=("Anna",)))


def test_merge_split_not_a_person_and_forget(library):
    grace_group = group_of(library, "grace.jpg")
    astronaut_group = group_of(library, "astronaut.jpg")
    library.name_person(grace_group, "Grace Hopper")
    assert library.merge_people("Grace Hopper", astronaut_group) == 2
    assert [(g.name, g.faces) for g in library.people()] == [("Grace Hopper", 6)]
    # The astronaut's faces were wrongly merged: split one off, mark the other not a person.
    [image_id] = [i for i, p in library.catalog.image_files() if p.endswith("/astronaut.jpg")]
    [face] = library.faces_in(image_id)
    new_group = library.split_face(face.id)
    assert library.face(face.id).person is None and library.face(face.id).cluster == new_group
    library.recluster()  # a split-off face keeps its own group
    assert library.face(face.id).cluster != library.face(library.group_faces("Grace Hopper")[0].id).cluster
    [closer] = [i for i, p in library.catalog.image_files() if p.endswith("/astronaut_closer.jpg")]
    [closer_face] = library.faces_in(closer)
    library.not_a_person(face_id=closer_face.id)
    assert library.faces_in(closer) == []
    forgotten = library.forget_person("Grace Hopper")
    assert len(forgotten) == 4 and all(record is not None and face.person == "Grace Hopper" for face, record in forgotten)
    assert library.people()[0].name is None and library.catalog.person_id("Grace Hopper") is None
    assert library.find_faces().photos == 0  # her photos stay read: her faces are not found again


def test_the_cli_lists_names_and_searches_people(people_library, tmp_path, request):
    root, db, _, _ = people_library
    copy = copy_catalog(db, tmp_path, request)
    listing = run("--db", str(copy), "people")
    assert "#" in listing and "4 faces in     4 photos" in listing
    number = listing.split()[0]
    assert "4 faces named Grace Hopper" in run("--db", str(copy), "people", "name", number, "Grace Hopper")
    assert run("--db", str(copy), "people").startswith("Grace Hopper")
    found = run("--db", str(copy), "search", "Grace Hopper", "-k", "10")
    assert found.startswith("photos of Grace Hopper") and found.count("/grace") == 4
    assert "astronaut" not in run("--db", str(copy), "search", "a woman", "--person", "Grace Hopper", "--all")
    assert "nobody is named 'Nobody'" in fails("--db", str(copy), "search", "x", "--person", "Nobody")
    assert "is a number" in fails("--db", str(copy), "people", "name", "Grace Hopper", "12")
    shown = run("--db", str(copy), "people", "show", "Grace Hopper")
    assert shown.count("face ") == 4
    assert "faces      6 in 7 photos read: 1 named people, 1 unnamed groups" in run("--db", str(copy), "status")
    # Forgetting her deletes the face crops a server cached beside the catalog too.
    from lucida.web.renditions import default_thumbs_dir, face_rendition_path, render_face

    with Library.open(copy) as library:
        crops = [face_rendition_path(default_thumbs_dir(library.path), library.record(f.image_id), f.box)
                 for f in library.group_faces("Grace Hopper")]  # fmt: skip
        for face, crop in zip(library.group_faces("Grace Hopper"), crops):
            render_face(library.record(face.image_id), face.box, crop)
    assert all(crop.is_file() for crop in crops) and len(set(crops)) == 4
    said = run("--db", str(copy), "people", "forget", "Grace Hopper")
    assert said == "forgot Grace Hopper: 4 faces deleted from the catalog, 4 cached face pictures deleted\n", said
    assert not any(crop.exists() for crop in crops)
    assert "nobody is named 'Grace Hopper'" in fails("--db", str(copy), "people", "forget", "Grace Hopper")


def test_a_moved_photo_keeps_its_faces_and_a_bad_photo_is_skipped_with_why(people_library, tmp_path):
    root, _, _, _ = people_library
    photos = tmp_path / "photos"
    shutil.copytree(root / "photos", photos)
    db = str(tmp_path / "c.db")
    run("--db", db, "index", str(photos), "-q")
    # A photo that breaks after indexing (a failing disk): skipped with why, the rest read.
    (photos / "coffee.jpg").write_bytes(b"not a jpeg any more")
    out = run("--db", db, "faces")
    assert "7 photos read for faces" not in out and "1 could not be read" in out
    assert "faces not read from" in run("--db", db, "status")
    run("--db", db, "people", "name", run("--db", db, "people").split()[0], "Grace Hopper")
    (photos / "grace.jpg").rename(photos / "renamed.jpg")
    run("--db", db, "index", str(photos), "-q")
    out = run("--db", db, "faces")
    assert "0 faces found" in out  # the moved photo is not read again; the broken one is retried
    assert "renamed.jpg" in run("--db", db, "search", "Grace Hopper")


def test_faces_run_inside_index_when_the_config_asks(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    grace().save(photos / "grace.jpg")
    config_file = tmp_path / "config.toml"
    config_file.write_text("[index]\nfaces = true\n")
    with Library.open(tmp_path / "c.db", create=True, config=Config.load(config_file)) as library:
        summary = library.index([str(photos)])
        assert summary.faces is not None and summary.faces.faces == 1
    config_file.write_text('[index]\nfaces = "yes"\n')
    with pytest.raises(LucidaError, match="faces must be true or false"):
        Config.load(config_file)


@pytest.mark.parametrize(
    ("query", "people", "rest"),
    [
        ("Grace in uniform", ("Grace Hopper",), "in uniform"),
        ("grace hopper at her desk", ("Grace Hopper",), "at her desk"),
        ("Grace Hopper's office", ("Grace Hopper",), "office"),
        ("a grace note", (), "a grace note"),  # a first name counts only with its capital
        ("a red rose", (), "a red rose"),
        ("Rose at the beach", ("Rose",), "at the beach"),
        ("Anna and Grace", ("Grace Hopper", "Anna Berg"), None),
        ("Grace Hopper", ("Grace Hopper",), None),
    ],
)
def test_names_in_a_query(query, people, rest):
    found, remaining = people_in_query(query, ["Grace Hopper", "Rose", "Anna Berg"])
    assert set(found) == set(people) and remaining == rest


def test_a_shared_first_name_needs_the_full_name():
    assert people_in_query("Anna at the beach", ["Anna Berg", "Anna Smith"]) == ((), "Anna at the beach")
    assert people_in_query("anna smith at the beach", ["Anna Berg", "Anna Smith"]) == (("Anna Smith",), "at the beach")


def test_a_missing_face_model_fails_in_one_line(monkeypatch):
    import importlib.util

    from lucida.models import faces

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "face_recognition_models" else real(name, *a))
    with pytest.raises(LucidaError, match="pip install dlib-bin face-recognition-models"):
        faces.FaceModel()


def test_grouping_a_person_with_many_faces_links_each_to_its_nearest_only():
    """One person in hundreds of photos: each face links to its nearest LINKS_PER_FACE, and the
    person stays one group; two people stay two, a lone face its own."""
    from lucida.people import LINKS_PER_FACE, cluster_labels

    rng = np.random.default_rng(16)
    centres = rng.normal(size=(2, 128)).astype(np.float32)
    centres *= 1.44 / np.linalg.norm(centres, axis=1, keepdims=True)  # dlib's norms; the two 1.8 apart
    # Noise of 0.015 a dimension puts a person's faces at most 0.3 apart, within SAME_PERSON.
    faces = np.concatenate([c + rng.normal(scale=0.015, size=(n, 128)) for c, n in zip(centres, (300, 120))])
    lone = centres.mean(axis=0, keepdims=True) + 0.5
    labels = cluster_labels(np.concatenate([faces, lone]).astype(np.float32))
    assert 300 > LINKS_PER_FACE + 1, "the first person has more close faces than are linked"
    assert len(set(labels[:300])) == 1 and len(set(labels[300:420])) == 1
    assert labels[0] != labels[300] and labels[-1] not in (labels[0], labels[300])
    # Fewer links still hold a person together.
    few = cluster_labels(faces.astype(np.float32), links=4)
    assert len(set(few[:300])) == 1 and len(set(few[300:])) == 1 and few[0] != few[300]


def test_a_group_number_past_any_id_is_no_group_not_a_crash(library):
    from lucida.people import find_group

    for reference in ("9" * 30, "#" + "9" * 19):
        with pytest.raises(LucidaError, match="there is no group of faces numbered"):
            find_group(library.catalog, reference)
