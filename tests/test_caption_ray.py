"""`lucida caption --ray` on a real local Ray cluster (ray.init(num_cpus=2)) with a tiny
Florence-2 of the real architecture, loaded through the real checkpoint path
(tests/vlm_checkpoints.py): every photo captioned once, as `lucida caption` captions it; a
worker killed mid-run is restarted and its batch redone; a driver killed and rerun resumes."""

from __future__ import annotations

import os
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

import vlm_checkpoints  # noqa: E402
from conftest import make_photo_variants  # noqa: E402
from lucida.catalog import open_catalog  # noqa: E402
from lucida.library import Library  # noqa: E402
from test_postgres import wait_for  # noqa: E402

PROMPT = "<MORE_DETAILED_CAPTION>"


@pytest.fixture(scope="module")
def indexed(tmp_path_factory, sample_photos) -> tuple[Path, Path, str]:
    """(catalog, photos, captioner spec): 17 photos indexed by the offline describer."""
    root = tmp_path_factory.mktemp("ray")
    make_photo_variants(sample_photos, root / "photos", 1)
    with Library.open(root / "catalog.db", create=True) as library:
        library.index([str(root / "photos")])
    return root / "catalog.db", root / "photos", f"florence2:{vlm_checkpoints.build_florence2(root / 'tiny-florence2')}"


def copy_of(db: Path, folder: Path, name: str) -> Path:
    with sqlite3.connect(db) as source:
        source.execute("VACUUM INTO ?", (str(folder / name),))
    return folder / name


def captions(db: Path, spec: str) -> dict[str, tuple[str, np.ndarray | None, float]]:
    """path -> (caption, its vector, when it was written) of every photo captioned by `spec`."""
    with open_catalog(db, create=False) as catalog:
        vectors = catalog.search_vectors("all-minilm-l6-v2")
        by_image = dict(zip(vectors.image_ids.tolist(), vectors.vectors))
        found = {}
        for image_id, path in catalog.image_files():
            for d in catalog.image_record(image_id).descriptions:
                if d.describer == spec:
                    found[path] = (d.text, by_image.get(image_id), d.created_at)
        return found


def test_every_photo_is_captioned_once_and_as_lucida_caption_captions_it(cluster, indexed, tmp_path):
    db, photos, spec = indexed
    local, on_ray = copy_of(db, tmp_path, "local.db"), copy_of(db, tmp_path, "ray.db")
    with Library.open(local) as library:
        library.caption(spec, PROMPT, batch_size=2)
    with Library.open(on_ray) as library:
        name, prompt, summary = library.caption_on_ray("auto", spec, PROMPT, batch_size=2, actors=2)
    assert (name, prompt, summary.captioned, summary.failed) == (spec, PROMPT, 17, 0)
    expected, got = captions(local, spec), captions(on_ray, spec)
    assert sorted(got) == sorted(expected) == sorted(str(p) for p in photos.iterdir())
    for path, (text, vector, _) in expected.items():
        assert got[path][0] == text
        assert np.allclose(got[path][1], vector, atol=1e-5)
    with sqlite3.connect(on_ray) as check:
        assert check.execute(
            "SELECT max(n) FROM (SELECT count(*) AS n FROM descriptions WHERE describer = ? GROUP BY image_id)", (spec,)
        ).fetchone()[0] == 1
    with Library.open(on_ray) as library:  # nothing left: a rerun captions nothing
        assert library.caption_on_ray("auto", spec, PROMPT, batch_size=2)[2].captioned == 0


def _caption_workers() -> list[psutil.Process]:
    """The processes of Ray Data's actors (their titles name the map worker)."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        if any("MapWorker" in part for part in process.info["cmdline"] or []):
            found.append(process)
    return found


def _count(db: Path, spec: str) -> int:
    with sqlite3.connect(db, timeout=30) as check:
        return check.execute("SELECT count(*) FROM descriptions WHERE describer = ?", (spec,)).fetchone()[0]


def test_a_worker_killed_mid_run_is_restarted_and_its_batch_redone(cluster, indexed, tmp_path):
    db, _, spec = indexed
    copy = copy_of(db, tmp_path, "c.db")
    outcome: dict = {}

    def run() -> None:
        try:
            with Library.open(copy) as library:
                outcome["summary"] = library.caption_on_ray("auto", spec, PROMPT, batch_size=1, actors=1)[2]
        except BaseException as error:  # reported by the test thread
            outcome["error"] = error

    thread = threading.Thread(target=run)
    thread.start()
    wait_for(lambda: _count(copy, spec) >= 2)
    [worker] = _caption_workers()
    worker.send_signal(signal.SIGKILL)
    assert _count(copy, spec) < 17, "killed mid-run"
    thread.join(300)
    assert "error" not in outcome, outcome.get("error")
    assert _count(copy, spec) == 17 and outcome["summary"].failed == 0
    with sqlite3.connect(copy) as check:
        assert check.execute("SELECT count(*) FROM caption_failures").fetchone()[0] == 0


def test_a_driver_killed_and_run_again_resumes_without_redoing_committed_work(cluster, indexed, tmp_path):
    db, _, spec = indexed
    copy = copy_of(db, tmp_path, "c.db")
    command = [sys.executable, "-m", "lucida", "--db", str(copy), "caption", "--captioner", spec, "--prompt", PROMPT,
               "--ray", "auto", "--actors", "1", "--batch-size", "1"]  # fmt: skip
    env = {**os.environ, "RAY_ADDRESS": ray.get_runtime_context().gcs_address}
    driver = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(lambda: _count(copy, spec) >= 3)
    driver.send_signal(signal.SIGKILL)
    driver.wait(timeout=30)
    before = captions(copy, spec)
    assert 3 <= len(before) < 17
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"{17 - len(before)} photos captioned" in done.stdout
    after = captions(copy, spec)
    assert len(after) == 17
    assert all(after[path][2] == written for path, (_, _, written) in before.items())  # not captioned again


def test_a_model_the_workers_do_not_have_is_one_line_before_any_work(cluster, indexed, tmp_path):
    from lucida.errors import LucidaError

    db, _, _ = indexed
    copy = copy_of(db, tmp_path, "c.db")
    with Library.open(copy) as library, pytest.raises(LucidaError, match=r"^captioner florence2:/no/such/folder: there is no folder") as raised:
        library.caption_on_ray("auto", "florence2:/no/such/folder", PROMPT)
    assert "\n" not in str(raised.value)
    assert _count(copy, "florence2:/no/such/folder") == 0
