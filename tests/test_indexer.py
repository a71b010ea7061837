"""The indexing pipeline over real photos, real models and a real catalog file."""

from __future__ import annotations

import os
import shutil
import sqlite3

import numpy as np
import pytest

from lucida.catalog import Catalog
from lucida.concepts import EMBEDDED_TEXT_FORM, EMBEDDED_TEXT_SETTING, embedded_text
from lucida.errors import LucidaError
from lucida.indexer import index_paths
from lucida.library import Library
from lucida.models import load_embedder
from lucida.search import Searcher


class CountingDescriber:
    """The real describer, counting the images it is asked to describe."""

    def __init__(self, inner):
        self.inner = inner
        self.name, self.prompt, self.input_side = inner.name, inner.prompt, inner.input_side
        self.described = 0

    def describe(self, images):
        self.described += len(images)
        return self.inner.describe(images)


def rows(db_path, sql):
    with sqlite3.connect(db_path) as db:
        return db.execute(sql).fetchall()


def test_first_run_indexes_every_photo_and_stores_what_the_issue_asks(tmp_path, photo_folder, describer, embedder):
    db = tmp_path / "catalog.db"
    with Catalog.open(db) as catalog:
        summary = index_paths(catalog, [str(photo_folder)], describer, embedder)
    photos = sorted(photo_folder.glob("*.jpg"))
    assert summary.described == len(photos) == 17
    assert summary.skipped == [] and summary.removed == 0
    files = rows(db, "SELECT path, size, mtime_ns, image_id FROM files ORDER BY path")
    assert [f[0] for f in files] == [str(p) for p in photos]
    for path, size, mtime_ns, _ in files:
        assert (size, mtime_ns) == (os.stat(path).st_size, os.stat(path).st_mtime_ns)
    images = rows(db, "SELECT content_hash, width, height FROM images")
    assert len(images) == 17 and all(len(h) == 64 and w > 0 and h_ > 0 for h, w, h_ in images)
    # One description per image by the default describer, one unit vector per description.
    described = rows(db, "SELECT describer, prompt, count(*) FROM descriptions GROUP BY describer, prompt")
    assert described == [("efficientnet-lite0-imagenet+hypernyms+pixels", "", 17)]
    import numpy as np

    vectors = [np.frombuffer(v, dtype="<f4") for (v,) in rows(db, "SELECT vector FROM embeddings")]
    assert len(vectors) == 17 and all(v.shape == (384,) for v in vectors)
    assert all(abs(float(np.linalg.norm(v)) - 1) < 1e-4 for v in vectors)
    assert rows(db, "PRAGMA journal_mode") == [("wal",)]


def test_unchanged_rerun_does_no_model_work(tmp_path, photo_folder, describer, embedder):
    counting = CountingDescriber(describer)
    with Catalog.open(tmp_path / "c.db") as catalog:
        index_paths(catalog, [str(photo_folder)], counting, embedder)
        assert counting.described == 17
        again = index_paths(catalog, [str(photo_folder)], counting, embedder)
    assert counting.described == 17
    assert (again.unchanged, again.described, again.reused, again.embedded) == (17, 0, 0, 0)


def test_renamed_folder_keeps_descriptions_and_search_finds_new_paths(tmp_path, photo_folder, describer, embedder):
    counting = CountingDescriber(describer)
    library = photo_folder.parent
    with Catalog.open(tmp_path / "c.db") as catalog:
        index_paths(catalog, [str(library)], counting, embedder)
        renamed = library / "holidays-2024"
        photo_folder.rename(renamed)
        summary = index_paths(catalog, [str(library)], counting, embedder)
        assert counting.described == 17, "a rename must not describe any photo again"
        assert (summary.reused, summary.removed, summary.described) == (17, 17, 0)
        best = Searcher(catalog, embedder).search("a cat", k=1)[0]
    assert best.path == str(renamed / "chelsea.jpg")


def test_changed_file_is_described_again_and_deleted_file_leaves_results(tmp_path, photo_folder, describer, embedder):
    with Catalog.open(tmp_path / "c.db") as catalog:
        index_paths(catalog, [str(photo_folder)], describer, embedder)
        # Replace the rocket with the cat's pixels (new content, same name), delete the coffee.
        target = photo_folder / "rocket.jpg"
        shutil.copyfile(photo_folder / "chelsea.jpg", target)
        os.utime(target, ns=(1, 1_000_000_000))
        (photo_folder / "coffee.jpg").unlink()
        summary = index_paths(catalog, [str(photo_folder)], describer, embedder)
        assert summary.removed == 1
        # Same bytes as chelsea.jpg: recognised by content, so no model work is needed.
        assert summary.reused == 1 and summary.described == 0
        searcher = Searcher(catalog, embedder)
        # Identical content is one photo in results (shown at its first path), not two hits.
        paths = [r.path for r in searcher.search("a cat", k=20)]
        assert paths[0] == str(photo_folder / "chelsea.jpg") and str(target) not in paths
        assert len(paths) == 15
        assert all("coffee.jpg" not in r.path for r in searcher.search("a cup of coffee", k=17))
        assert catalog.status().images == 15  # the cat's content is one image with two files


def test_a_file_changed_to_new_content_is_described(tmp_path, photo_folder, describer, embedder, sample_photos):
    counting = CountingDescriber(describer)
    with Catalog.open(tmp_path / "c.db") as catalog:
        index_paths(catalog, [str(photo_folder)], counting, embedder)
        from PIL import Image

        target = photo_folder / "rocket.jpg"
        with Image.open(sample_photos / "chelsea.jpg") as cat:
            cat.rotate(90, expand=True).save(target, quality=85)  # content never seen before
        summary = index_paths(catalog, [str(photo_folder)], counting, embedder)
        assert summary.described == 1 and counting.described == 18
        top = Searcher(catalog, embedder).search("a rocket launch", k=1)[0]
    assert top.path != str(target)


def test_switching_embedder_reembeds_without_describing(tmp_path, photo_folder, describer, embedder, tiny_embedder_folder):
    counting = CountingDescriber(describer)
    db = tmp_path / "c.db"
    with Catalog.open(db) as catalog:
        index_paths(catalog, [str(photo_folder)], counting, embedder)
        created = rows(db, "SELECT id, created_at FROM descriptions ORDER BY id")
        tiny = load_embedder(f"st:{tiny_embedder_folder}")
        summary = index_paths(catalog, [str(photo_folder)], counting, tiny)
        assert counting.described == 17 and summary.described == 0
        assert summary.embedded == 17
        assert rows(db, "SELECT id, created_at FROM descriptions ORDER BY id") == created
        per_embedder = dict(rows(db, "SELECT embedder, count(*) FROM embeddings GROUP BY embedder"))
        assert per_embedder == {"all-minilm-l6-v2": 17, f"st:{tiny_embedder_folder}": 17}
        assert catalog.get_setting("embedder") == f"st:{tiny_embedder_folder}"
        # Search now runs with the new embedder's 32-dimensional vectors.
        searcher = Library(catalog).searcher()  # the embedder the catalog was last indexed with
        assert searcher.embedder.name == tiny.name
        assert len(searcher.search("a cat", k=5)) == 5
        # Switching back needs no work at all: the old vectors are still there.
        back = index_paths(catalog, [str(photo_folder)], counting, embedder)
        assert (back.embedded, back.described) == (0, 0)


def test_vectors_are_made_without_the_definitions_and_a_catalog_made_before_is_embedded_again(
    tmp_path, photo_folder, describer, embedder
):
    counting = CountingDescriber(describer)
    db = tmp_path / "c.db"
    with Catalog.open(db) as catalog:
        index_paths(catalog, [str(photo_folder)], counting, embedder)
        assert catalog.get_setting(f"{EMBEDDED_TEXT_SETTING}:{embedder.name}") == EMBEDDED_TEXT_FORM
        stored = catalog.embedded_descriptions(embedder.name)
        assert len(stored) == 17
        for description_id, text, details in stored:
            shown = embedded_text(text, details)
            assert "(" in text and "(" not in shown and len(shown) < len(text)  # the definitions are gone
            assert shown.split(". ")[0] in text and " format" in shown  # the pixels' words stay
        made_now = catalog.vectors_of([i for i, _, _ in stored], embedder.name)
        expected = embedder.embed_documents([embedded_text(t, d) for _, t, d in stored])
        assert np.allclose(made_now, expected, atol=1e-5)
        # A catalog indexed before: its vectors made of the whole text, no form recorded.
        with catalog.transaction():
            for (description_id, _, _), vector in zip(stored, embedder.embed_documents([t for _, t, _ in stored])):
                catalog.put_embedding(description_id, embedder.name, vector)
            catalog.delete_setting(f"{EMBEDDED_TEXT_SETTING}:{embedder.name}")
        again = index_paths(catalog, [str(photo_folder)], counting, embedder)
        assert (again.described, again.embedded) == (0, 17) and counting.described == 17  # nothing described again
        assert np.allclose(catalog.vectors_of([i for i, _, _ in stored], embedder.name), expected, atol=1e-5)
        assert catalog.get_setting(f"{EMBEDDED_TEXT_SETTING}:{embedder.name}") == EMBEDDED_TEXT_FORM
        assert index_paths(catalog, [str(photo_folder)], counting, embedder).embedded == 0  # once
        # A run interrupted after the first 10: the next one goes on from there.
        whole = embedder.embed_documents([t for _, t, _ in stored])
        with catalog.transaction():
            for (description_id, _, _), vector in zip(stored, whole):
                catalog.put_embedding(description_id, embedder.name, vector)
            catalog.set_setting(f"{EMBEDDED_TEXT_SETTING}:{embedder.name}", f"{EMBEDDED_TEXT_FORM}:{stored[9][0]}")
        assert index_paths(catalog, [str(photo_folder)], counting, embedder).embedded == 7
        ids = [i for i, _, _ in stored]
        assert np.allclose(catalog.vectors_of(ids[:10], embedder.name), whole[:10], atol=1e-5)
        assert np.allclose(catalog.vectors_of(ids[10:], embedder.name), expected[10:], atol=1e-5)
        assert Searcher(catalog, embedder).search("a cat", k=1)[0].path.endswith("/chelsea.jpg")


def test_a_caption_is_embedded_whole():
    assert embedded_text("a cat (tabby) on a sofa", None) == "a cat (tabby) on a sofa"
    assert embedded_text("a cat (tabby) on a sofa", {"fields": {}}) == "a cat (tabby) on a sofa"


def test_switching_describer_keeps_old_descriptions_until_replaced(tmp_path, photo_folder, describer, embedder):
    other = CountingDescriber(describer)
    other.name = "another-describer"
    with Catalog.open(tmp_path / "c.db") as catalog:
        index_paths(catalog, [str(photo_folder)], describer, embedder)
        # The new describer covers only part of the library: the rest keeps its old descriptions.
        subset = photo_folder / "subset"
        subset.mkdir()
        for name in ("chelsea.jpg", "coffee.jpg"):
            shutil.copy2(photo_folder / name, subset / name)
        index_paths(catalog, [str(subset)], other, embedder)
        assert other.described == 2
        status = catalog.status()
        assert status.describers == {"another-describer": 2, "efficientnet-lite0-imagenet+hypernyms+pixels": 17}
        results = Searcher(catalog, embedder).search("a rocket launch", k=19)
    by_path = {r.path: r for r in results}
    assert by_path[str(photo_folder / "rocket.jpg")].describer == "efficientnet-lite0-imagenet+hypernyms+pixels"
    # The copies have the cat's content, so that one image now has the new describer's text.
    assert by_path[str(photo_folder / "chelsea.jpg")].describer == "another-describer"


def test_missing_root_is_a_clear_error(tmp_path, describer, embedder):
    with Catalog.open(tmp_path / "c.db") as catalog, pytest.raises(LucidaError, match="does not exist"):
        index_paths(catalog, [str(tmp_path / "nowhere")], describer, embedder)


def test_single_file_roots_and_files_outside_roots(tmp_path, photo_folder, describer, embedder):
    with Catalog.open(tmp_path / "c.db") as catalog:
        index_paths(catalog, [str(photo_folder / "chelsea.jpg")], describer, embedder)
        index_paths(catalog, [str(photo_folder / "coffee.jpg")], describer, embedder)
        assert catalog.status().files == 2, "indexing one file must not forget another"
        (photo_folder / "chelsea.jpg").unlink()
        index_paths(catalog, [str(photo_folder / "coffee.jpg")], describer, embedder)
        assert sorted(catalog.indexed_file_states()) == [str(photo_folder / "coffee.jpg")]


def test_photos_on_an_offline_drive_stay_while_another_folder_is_indexed(tmp_path, photo_folder, describer, embedder):
    # An external drive: a library folder of its own that disappears when it is unmounted.
    drive = tmp_path / "drive"
    shutil.copytree(photo_folder, drive / "photos")
    with Catalog.open(tmp_path / "c.db") as catalog:
        index_paths(catalog, [str(photo_folder), str(drive / "photos")], describer, embedder)
        assert catalog.status().files == 34
        drive.rename(tmp_path / "unmounted")
        summary = index_paths(catalog, [str(photo_folder)], describer, embedder)
        assert summary.removed == 0 and catalog.status().files == 34, "an offline drive is not a deletion"
        # Back online with one photo deleted meanwhile: only that one goes.
        (tmp_path / "unmounted").rename(drive)
        (drive / "photos" / "coffee.jpg").unlink()
        summary = index_paths(catalog, [str(photo_folder)], describer, embedder)
        assert summary.removed == 1 and catalog.status().files == 33


# Kills the `lucida index` process with SIGKILL at one named point, through the indexer's own
# module global, not through timing luck: after every batch and its vectors committed, before
# the class vectors and the metadata words are written.
_KILL_BEFORE_CLASS_VECTORS = """
import os, signal, sys
import lucida.indexer
lucida.indexer.add_conse_vectors = lambda *args, **kwargs: os.kill(os.getpid(), signal.SIGKILL)
from lucida.cli import main
sys.argv = ["lucida", "--db", sys.argv[1], "index", sys.argv[2], "-q"]
main()
"""


def test_kill_9_before_the_metadata_words_leaves_them_to_the_next_run(tmp_path, sample_photos):
    import subprocess
    import sys

    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("chelsea", "coffee", "rocket"):
        shutil.copy(sample_photos / f"{name}.jpg", photos)
    subprocess.run(
        ["exiftool", "-q", "-overwrite_original", "-XMP-dc:Subject=Kilimanjaro", str(photos / "coffee.jpg")], check=True
    )
    db = tmp_path / "catalog.db"
    killed = subprocess.run([sys.executable, "-c", _KILL_BEFORE_CLASS_VECTORS, str(db), str(photos)], timeout=600)
    assert killed.returncode == -9
    with Catalog.open(db) as catalog:
        assert len(catalog.image_files()) == 3  # every photo committed
        assert catalog.descriptions_holding(["kilimanjaro"], False).tolist() == []  # its words were not written
    rerun = subprocess.run(
        [sys.executable, "-m", "lucida", "--db", str(db), "index", str(photos)], capture_output=True, text=True, timeout=600
    )
    assert rerun.returncode == 0 and "0 described" in rerun.stdout, rerun.stderr
    with Catalog.open(db) as catalog:
        coffee = next(i for i, p in catalog.image_files() if p.endswith("coffee.jpg"))
        descriptions, images = catalog.description_images()
        assert images[np.isin(descriptions, catalog.descriptions_holding(["kilimanjaro"], False))].tolist() == [coffee]
        assert catalog.search_vectors("all-minilm-l6-v2", table="class_mixtures").image_ids.size == 3


def test_a_skipped_name_that_is_not_utf8_keeps_its_record_when_another_folder_is_indexed(tmp_path, sample_photos, describer, embedder):
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    shutil.copy(sample_photos / "coffee.jpg", os.fsdecode(os.fsencode(first) + b"/caf\xe9.jpg"))  # Latin-1
    shutil.copy(sample_photos / "rocket.jpg", second)
    with Catalog.open(tmp_path / "catalog.db") as catalog:
        index_paths(catalog, [str(first)], describer, embedder)
        before = [(s.path, s.reason) for s in catalog.status().skipped]
        assert len(before) == 1 and "not valid UTF-8" in before[0][1]
        index_paths(catalog, [str(second)], describer, embedder)
        assert [(s.path, s.reason) for s in catalog.status().skipped] == before
