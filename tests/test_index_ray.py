"""`lucida index --ray` on a real local Ray cluster (ray.init(num_cpus=2)) with the real offline
describer and embedder: every photo indexed once, as `lucida index` indexes it (a damaged file
skipped with the same reason, a copy reusing its twin's description); a worker killed mid-run is
restarted and its batch redone; a driver killed and rerun resumes without describing again."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import psutil
import pytest

ray = pytest.importorskip("ray")

from conftest import make_photo_variants  # noqa: E402
from lucida.catalog import open_catalog  # noqa: E402
from lucida.library import Library  # noqa: E402
from test_postgres import wait_for  # noqa: E402

PHOTOS = 17  # readable photos; besides them a damaged one and a copy


@pytest.fixture(scope="module")
def photos(tmp_path_factory, sample_photos) -> Path:
    folder = tmp_path_factory.mktemp("ray-index") / "photos"
    make_photo_variants(sample_photos, folder, 1)
    first = sorted(folder.iterdir())[0]
    shutil.copy(first, folder / f"copy-of-{first.name}")
    (folder / "damaged.jpg").write_bytes(first.read_bytes()[:300])
    return folder


def indexed(db: Path) -> dict[str, tuple[str, np.ndarray, str]]:
    """path -> (description, its vector, when it was written) of every indexed photo."""
    with open_catalog(db, create=False) as catalog:
        vectors = catalog.search_vectors("all-minilm-l6-v2")
        by_image = dict(zip(vectors.image_ids.tolist(), vectors.vectors))
        found = {}
        for image_id, path in catalog.image_files():
            [description] = [d for d in catalog.image_record(image_id).descriptions if d.describer != "metadata"]
            found[path] = (description.text, by_image[image_id], description.created_at)
        return found


def skipped(db: Path) -> dict[str, str]:
    with open_catalog(db, create=False) as catalog:
        return {s.path: s.reason for s in catalog.status().skipped}


def test_every_photo_is_indexed_once_and_as_lucida_index_indexes_it(cluster, photos, tmp_path):
    with Library.open(tmp_path / "local.db", create=True) as library:
        local = library.index([str(photos)])
    with Library.open(tmp_path / "ray.db", create=True) as library:
        on_ray = library.index([str(photos)], batch_size=4, ray_address="auto", actors=2)
    # The copy's content is new to the catalog when the run starts, so both files are described.
    assert (on_ray.described, on_ray.reused, len(on_ray.skipped)) == (local.described, local.reused, 1) == (PHOTOS + 1, 0, 1)
    expected, got = indexed(tmp_path / "local.db"), indexed(tmp_path / "ray.db")
    assert sorted(got) == sorted(expected) and len(got) == PHOTOS + 1
    for path, (text, vector, _) in expected.items():
        assert got[path][0] == text
        assert np.allclose(got[path][1], vector, atol=1e-5)
    assert skipped(tmp_path / "ray.db") == skipped(tmp_path / "local.db") != {}
    with sqlite3.connect(tmp_path / "ray.db") as check:  # one image and one description per content
        assert check.execute("SELECT count(*), count(DISTINCT content_hash) FROM images").fetchone() == (PHOTOS, PHOTOS)
    with Library.open(tmp_path / "ray.db") as library:  # nothing left: a rerun describes nothing
        again = library.index([str(photos)], ray_address="auto")
    assert (again.described, again.reused, again.unchanged) == (0, 0, PHOTOS + 1)
    # A photo moved (copied, here) keeps its description: the worker hashes it and does not decode it.
    moved = tmp_path / "more" / "moved.jpg"
    moved.parent.mkdir()
    shutil.copy(sorted(photos.glob("*_00.jpg"))[-1], moved)
    with Library.open(tmp_path / "ray.db") as library:
        more = library.index([str(photos), str(moved.parent)], ray_address="auto")
    assert (more.described, more.reused) == (0, 1)
    assert indexed(tmp_path / "ray.db")[str(moved)][0] == expected[str(sorted(photos.glob("*_00.jpg"))[-1])][0]


def _index_workers() -> list[psutil.Process]:
    """The processes of Ray Data's actors (their titles name the map worker)."""
    return [
        process for process in psutil.process_iter(["cmdline"])
        if any("MapWorker" in part for part in process.info["cmdline"] or [])
    ]  # fmt: skip


def _count(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db, timeout=30) as check:
            return check.execute("SELECT count(*) FROM files").fetchone()[0]
    except sqlite3.OperationalError:  # not created yet
        return 0


def test_a_worker_killed_mid_run_is_restarted_and_its_batch_redone(cluster, photos, tmp_path):
    db = tmp_path / "c.db"
    outcome: dict = {}

    def run() -> None:
        try:
            with Library.open(db, create=True) as library:
                outcome["summary"] = library.index([str(photos)], batch_size=1, ray_address="auto", actors=1)
        except BaseException as error:  # reported by the test thread
            outcome["error"] = error

    thread = threading.Thread(target=run)
    thread.start()
    wait_for(lambda: _count(db) >= 2)
    [worker] = _index_workers()
    worker.send_signal(signal.SIGKILL)
    assert _count(db) < PHOTOS + 1, "killed mid-run"
    thread.join(300)
    assert "error" not in outcome, outcome.get("error")
    assert _count(db) == PHOTOS + 1 and outcome["summary"].described == PHOTOS + 1


def test_a_driver_killed_and_run_again_resumes_without_describing_again(cluster, photos, tmp_path):
    db = tmp_path / "d.db"
    command = [sys.executable, "-m", "lucida", "--db", str(db), "index", str(photos), "--ray", "auto",
               "--actors", "1", "--batch-size", "1"]  # fmt: skip
    env = {**os.environ, "RAY_ADDRESS": ray.get_runtime_context().gcs_address}
    driver = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(lambda: _count(db) >= 3)
    driver.send_signal(signal.SIGKILL)
    driver.wait(timeout=30)
    before = indexed(db)
    assert 3 <= len(before) < PHOTOS + 1
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"{len(before)} unchanged" in done.stdout
    after = indexed(db)
    assert len(after) == PHOTOS + 1
    assert all(after[path][2] == written for path, (_, _, written) in before.items())  # not described again


def test_actors_without_ray_is_a_usage_error(photos, tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "lucida", "--db", str(tmp_path / "e.db"), "index", str(photos), "--actors", "2"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2 and "--actors goes with --ray" in done.stderr


def test_workers_that_load_other_models_stop_the_run_in_one_line_before_any_work(cluster, photos, tmp_path):
    from lucida.errors import LucidaError
    from lucida.index_ray import describe_on_ray
    from lucida.indexer import IndexSummary
    from lucida.models import DEFAULT_DESCRIBER, DEFAULT_EMBEDDER
    from lucida.progress import SilentProgress
    from lucida.ray_runs import RayRun
    from lucida.scan import scan

    run = RayRun("auto", DEFAULT_DESCRIBER, None, None, DEFAULT_EMBEDDER, None, actors=1)
    with open_catalog(tmp_path / "m.db", create=True) as catalog:
        files = scan([str(photos)]).files
        with pytest.raises(LucidaError, match=r"^the Ray workers load .*not an-older-describer") as raised:
            describe_on_ray(catalog, files, run, ("an-older-describer", "", DEFAULT_EMBEDDER), SilentProgress(), IndexSummary(), None)
        assert "\n" not in str(raised.value)
        assert catalog.status().files == 0


def test_files_no_worker_can_read_stop_the_run_in_one_line_and_mark_nothing(cluster, photos, tmp_path):
    """The driver found the files, the workers cannot read them (here: gone after the scan; on a
    cluster: the share mounted elsewhere): one line, and no file recorded as unreadable."""
    from lucida.errors import LucidaError
    from lucida.index_ray import describe_on_ray
    from lucida.indexer import IndexSummary
    from lucida.models import DEFAULT_DESCRIBER, DEFAULT_EMBEDDER, load_describer, load_embedder
    from lucida.progress import SilentProgress
    from lucida.ray_runs import RayRun
    from lucida.scan import scan

    moved = tmp_path / "photos"
    shutil.copytree(photos, moved)
    files = scan([str(moved)]).files
    shutil.rmtree(moved)
    run = RayRun("auto", DEFAULT_DESCRIBER, None, None, DEFAULT_EMBEDDER, None, actors=1, batch_size=4)
    describer = load_describer(DEFAULT_DESCRIBER)
    models = (describer.name, describer.prompt, load_embedder(DEFAULT_EMBEDDER).name)
    with open_catalog(tmp_path / "n.db", create=True) as catalog:
        with pytest.raises(LucidaError, match=r"^cannot read file: .* on the Ray worker .*every worker must reach the photos") as raised:
            describe_on_ray(catalog, files, run, models, SilentProgress(), IndexSummary(), None)
        assert "\n" not in str(raised.value)
        status = catalog.status()
        assert (status.files, status.skipped) == (0, [])


def test_a_file_one_worker_cannot_read_is_tried_again_next_run_not_skipped_until_it_changes():
    from lucida.index_ray import _prepared

    def column(*values):
        return np.array(values, dtype=object)

    batch = {
        "path": column("/p/a.jpg", "/p/b.jpg", "/p/c.jpg"), "size": np.array([1, 2, 3]), "mtime_ns": np.array([4, 5, 6]),
        "change_stamp": np.array([7, 8, 9]), "content_hash": column("", "ab12", "cd34"),
        "reason": column("cannot read file: No such file or directory", "damaged image data: broken", ""),
        "retry": np.array([False, False, False]), "made": np.array([False, False, False]), "text": column("", "", ""),
        "details": column("", "", ""), "width": np.zeros(3), "height": np.zeros(3), "taken_at": column("", "", ""),
        "vector": np.zeros((3, 1)),
    }  # fmt: skip
    unreadable, damaged, reused = _prepared(batch)
    assert (unreadable.retry, damaged.retry, reused.retry) == (True, False, False)
    assert (damaged.reason, damaged.content_hash) == ("damaged image data: broken", "ab12")
    assert (reused.reason, reused.made, reused.content_hash, reused.file.size) == (None, None, "cd34", 3)
