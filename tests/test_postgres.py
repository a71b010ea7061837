"""A catalog in PostgreSQL shared by several processes: concurrent index runs, a run killed with
SIGKILL, a database server restarted under a run. Real `lucida` processes against a real
PostgreSQL with pgvector on 127.0.0.1 (tests/postgres_server.py)."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from conftest import make_photo_variants
from lucida.catalog import open_catalog
from postgres_server import LocalPostgres


def lucida(url: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "lucida", "--db", url, *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"},
    )  # fmt: skip


def finished(process: subprocess.Popen, timeout: float = 300) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, err


def count(url: str, sql: str) -> int:
    with psycopg.connect(url) as db:
        return db.execute(sql).fetchone()[0]


def wait_for(predicate, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_two_index_runs_on_two_roots_at_once_leave_every_photo_exactly_once(postgres, sample_photos, tmp_path):
    # Two workstations index two folders of one NAS into one database at the same time. Some
    # photos are in both folders (the first crops of each sample, and three copies): one image
    # each, with two files.
    first, second = tmp_path / "studio-a", tmp_path / "studio-b"
    make_photo_variants(sample_photos, first, 2)
    make_photo_variants(sample_photos, second, 1)
    for name in sorted(p.name for p in first.iterdir())[:3]:
        shutil.copy(first / name, second / f"shared-{name}")
    url = postgres.new_database()
    with open_catalog(url):
        pass  # the schema first, so both runs start indexing at once (its creation is locked too)
    runs = [lucida(url, "index", str(folder), "--batch-size", "4") for folder in (first, second)]
    results = [finished(run) for run in runs]
    assert all(code == 0 for code, _, _ in results), results

    files = {str(p) for folder in (first, second) for p in folder.iterdir()}
    with psycopg.connect(url) as db:
        stored = [p for (p,) in db.execute("SELECT path FROM files")]
        assert sorted(stored) == sorted(files)  # every file, once
        images = db.execute("SELECT count(*), count(DISTINCT content_hash) FROM images").fetchone()
        distinct = len({hashlib.sha256(Path(p).read_bytes()).digest() for p in files})
        assert distinct < len(files)
        assert images == (distinct, distinct)  # a photo in both folders is one image
        per_image = db.execute(
            "SELECT max(n) FROM (SELECT count(*) AS n FROM descriptions GROUP BY image_id, describer, prompt) c"
        ).fetchone()[0]
        assert per_image == 1
        assert db.execute("SELECT count(*) FROM embeddings").fetchone()[0] == distinct
    search = lucida(url, "search", "a cat", "--json", "-k", "3")
    code, out, err = finished(search)
    assert code == 0 and "chelsea" in out, err


def test_an_index_run_killed_with_sigkill_loses_nothing_it_committed(postgres, sample_photos, tmp_path):
    photos = tmp_path / "photos"
    make_photo_variants(sample_photos, photos, 3)
    url = postgres.new_database()
    run = lucida(url, "index", str(photos), "--batch-size", "2")
    wait_for(lambda: _committed_files(url) >= 6)
    run.send_signal(signal.SIGKILL)
    run.wait(timeout=30)
    committed = _committed_files(url)
    assert 6 <= committed < len(list(photos.iterdir()))
    with psycopg.connect(url) as db:
        # What a batch commits is whole: each committed file's photo is described and embedded.
        assert db.execute(
            "SELECT count(*) FROM files f WHERE NOT EXISTS (SELECT 1 FROM descriptions d JOIN embeddings e "
            "ON e.description_id = d.id WHERE d.image_id = f.image_id)"
        ).fetchone()[0] == 0
    code, out, err = finished(lucida(url, "index", str(photos)))
    assert code == 0, err
    assert f"{committed} unchanged" in out  # nothing committed is described again
    assert _committed_files(url) == len(list(photos.iterdir()))


def test_a_database_restart_under_a_run_is_one_clear_line_and_a_rerun_completes(sample_photos, tmp_path):
    server = LocalPostgres()  # its own server: the session's stays up for the other tests
    try:
        photos = tmp_path / "photos"
        make_photo_variants(sample_photos, photos, 3)
        url = server.new_database()
        run = lucida(url, "index", str(photos), "--batch-size", "2")
        wait_for(lambda: _committed_files(url) >= 4)
        server.stop("fast")  # ends every connection, as a restart or failover does
        server.start()
        code, _, err = finished(run)
        assert code == 1
        lines = [line for line in err.splitlines() if "Error" in line or "cannot reach" in line]
        assert lines and lines[-1].startswith("Error: cannot reach the catalog database postgresql://"), err
        assert "Traceback" not in err
        code, out, err = finished(lucida(url, "index", str(photos)))
        assert code == 0, err
        assert _committed_files(url) == len(list(photos.iterdir()))
        # A long-lived process (lucida serve) reads on after a restart without a failed request.
        with open_catalog(url, create=False) as catalog:
            server.stop("fast")
            server.start()
            assert catalog.status().files == len(list(photos.iterdir()))
            with catalog.transaction():
                catalog.set_setting("after", "restart")
    finally:
        server.close()


def _committed_files(url: str) -> int:
    try:
        return count(url, "SELECT count(*) FROM files")
    except psycopg.Error:  # the schema is not made yet
        return 0


@pytest.mark.parametrize("word, found", [("cafe", True), ("CAFÉS", True), ("dogs", False)])
def test_words_match_by_stem_and_without_accents_as_sqlite_does(catalog_location, word, found):
    import numpy as np

    with open_catalog(catalog_location) as catalog:
        with catalog.transaction():
            image_id = catalog.add_image("h", 1, 1, None)
            catalog.put_file("/p/a.jpg", 1, 1, image_id)
            description_id = catalog.put_description(image_id, "d", "", "two cats in a café")
            catalog.put_embedding(description_id, "e", np.array([1.0, 0.0], dtype=np.float32))
        assert (catalog.descriptions_holding([word], every=False).tolist() == [description_id]) is found


def test_named_roots_map_one_share_mounted_at_two_places_to_the_same_photos(postgres, sample_photos, tmp_path):
    from lucida.config import Config
    from lucida.library import Library

    share = tmp_path / "share"
    make_photo_variants(sample_photos, share / "2024", 1)
    mounts = {}
    for machine in ("mac", "linux"):
        mounts[machine] = tmp_path / machine / "photos"
        mounts[machine].parent.mkdir()
        mounts[machine].symlink_to(share)  # one share, mounted at another path on each machine

    def on(machine: str | None) -> Library:
        roots = {"roots": {"nas": str(mounts[machine])}} if machine else {}
        return Library.open(url, create=True, config=Config(roots, tmp_path / f"{machine}.toml"))

    url = postgres.new_database()
    with on("mac") as library:
        first = library.index([str(mounts["mac"])])
    with on("linux") as library:
        second = library.index([str(mounts["linux"])])
        assert (second.described, second.unchanged, second.removed) == (0, first.described, 0)
        [hit] = library.search("a cat", k=1).results
        assert hit.path.startswith(str(mounts["linux"]) + "/2024/chelsea")
    with psycopg.connect(url) as db:
        stored = [p for (p,) in db.execute("SELECT path FROM files")]
        assert len(stored) == first.described and all(p.startswith("@nas/2024/") for p in stored)
        assert [p for (p,) in db.execute("SELECT path FROM roots")] == ["@nas"]
    with on(None) as library:  # a machine that has not named the root sees the catalog's names
        assert library.search("a cat", k=1).results[0].path.startswith("@nas/2024/chelsea")
        assert library.index([str(share)]).removed == 0  # and takes no photo for deleted


def test_a_sqlite_catalog_copied_into_postgresql_searches_the_same_and_describes_nothing_again(postgres, sample_photos, tmp_path):
    import numpy as np

    from lucida.library import Library

    photos = tmp_path / "photos"
    shutil.copytree(sample_photos, photos)
    sqlite_db = tmp_path / "catalog.db"
    with Library.open(sqlite_db, create=True) as library:
        library.index([str(photos)])
        before = [(r.path, round(r.score, 5), r.caption) for r in library.search("a cup of coffee", k=5).results]
        status = library.status()
    url = postgres.new_database()
    copied = lucida(str(sqlite_db), "copy-catalog", url)
    code, out, err = finished(copied)
    assert code == 0, err
    assert out.startswith(f"copied {status.images} photos ({status.indexed} files")
    with Library.open(url) as library:
        after = library.status()
        assert (after.indexed, after.images, after.descriptions_by_describer, after.vectors_by_embedder, after.roots) == (
            status.indexed, status.images, status.descriptions_by_describer, status.vectors_by_embedder, status.roots
        )
        assert [(r.path, round(r.score, 5), r.caption) for r in library.search("a cup of coffee", k=5).results] == before
        with open_catalog(sqlite_db) as original:
            for image_id, _ in original.image_files():
                assert library.catalog.image_record(image_id) == original.image_record(image_id)
            stored = original.search_vectors("all-minilm-l6-v2")
        copy = library.catalog.search_vectors("all-minilm-l6-v2")
        assert np.array_equal(copy.image_ids, stored.image_ids) and np.array_equal(copy.vectors, stored.vectors)
        rerun = library.index([str(photos)])
        assert (rerun.described, rerun.unchanged) == (0, status.indexed)  # nothing is described again
        new_photo = photos / "new.jpg"
        from PIL import Image, ImageOps

        ImageOps.mirror(Image.open(photos / "coffee.jpg")).save(new_photo)
        assert library.index([str(photos)]).described == 1  # new ids follow the copied ones
    code, _, err = finished(lucida(str(sqlite_db), "copy-catalog", url))
    assert code == 1 and "already holds a catalog" in err
