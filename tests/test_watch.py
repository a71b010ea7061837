"""`lucida watch` with real file-system events in temporary folders, the real offline models
and real catalog files: in process (to count describer calls) and as a real command."""

from __future__ import annotations

import logging
import os
import queue
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from lucida.catalog import Catalog, open_catalog
from lucida.indexer import index_paths
from lucida.errors import LucidaError
from lucida.watch import WatchPass, _Changes, watch_folders, watch_roots

from conftest import interruptible
from test_indexer import CountingDescriber


LUCIDA = [sys.executable, "-m", "lucida"]


def wait_until(condition: Callable[[], object], timeout: float = 30.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def indexed(db: Path | str) -> dict[str, str]:
    """path -> content hash of every indexed file, read as a search beside the watch would."""
    return dict(_rows(db, "SELECT f.path, i.content_hash FROM files f JOIN images i ON i.id = f.image_id"))


def skipped(db: Path | str) -> set[str]:
    return {p for (p,) in _rows(db, "SELECT path FROM skipped")}


def _rows(db: Path | str, sql: str) -> list[tuple]:
    """The rows of a query on the catalog file, or on the PostgreSQL catalog at a URL."""
    if isinstance(db, str):
        import psycopg

        with psycopg.connect(db) as reader:
            return reader.execute(sql).fetchall()
    with sqlite3.connect(db, timeout=30) as reader:
        return reader.execute(sql).fetchall()


def some_photos(sample_photos: Path, folder: Path, count: int) -> list[Path]:
    """Copies of the first `count` sample photos in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    return [Path(shutil.copy(p, folder / p.name)) for p in sorted(sample_photos.glob("*.jpg"))[:count]]


def new_photo(source: Path, target: Path) -> None:
    """A photo with content never seen before, made from `source`."""
    with Image.open(source) as image:
        image.rotate(90, expand=True).save(target, quality=85)


class Watching:
    """watch_folders running in a thread of its own, with its own catalog connection."""

    def __init__(self, db: Path, folders: list[Path], describer, embedder, **options):
        self.passes: queue.Queue[WatchPass] = queue.Queue()
        self.seen: list[WatchPass] = []
        self.stop = threading.Event()
        self.error: BaseException | None = None
        options = {"quiet_s": 0.3, "max_delay_s": 3.0, **options}

        def run() -> None:
            try:
                with Catalog.open(db) as catalog:
                    watch_folders(
                        catalog, [str(f) for f in folders], describer, embedder,
                        on_pass=self.passes.put, stop=self.stop, **options,
                    )
            except BaseException as error:  # reported by the test thread
                self.error = error

        self.thread = threading.Thread(target=run, name="watch")
        self.thread.start()
        self.start_pass = self.next_pass(lambda p: p.reason == "start")

    def next_pass(self, wanted: Callable[[WatchPass], bool], timeout: float = 30.0) -> WatchPass:
        deadline = time.monotonic() + timeout
        while True:
            assert self.error is None, self.error
            left = deadline - time.monotonic()
            assert left > 0, f"no matching pass in {timeout} s; passes: {self.seen}"
            try:
                done = self.passes.get(timeout=min(left, 0.5))
            except queue.Empty:
                continue
            self.seen.append(done)
            if wanted(done):
                return done

    def close(self) -> None:
        self.stop.set()
        self.thread.join(30)
        assert not self.thread.is_alive()
        assert self.error is None, self.error
        while not self.passes.empty():
            self.seen.append(self.passes.get())


@pytest.fixture
def watching(tmp_path, describer, embedder):
    started: list[Watching] = []

    def start(folders: list[Path], described_by=None, **options) -> Watching:
        w = Watching(tmp_path / "catalog.db", folders, described_by or describer, embedder, **options)
        started.append(w)
        return w

    yield start
    for w in started:
        w.stop.set()
        w.thread.join(30)


def test_create_modify_move_rename_and_delete_follow_the_folder(tmp_path, watching, describer, sample_photos):
    library = tmp_path / "library"
    (library / "2024").mkdir(parents=True)
    counting = CountingDescriber(describer)
    w = watching([library], counting)
    db = tmp_path / "catalog.db"

    shutil.copy(sample_photos / "chelsea.jpg", library / "2024" / "cat.jpg")
    shutil.copy(sample_photos / "coffee.jpg", library / "2024" / "coffee.jpg")
    wait_until(lambda: len(indexed(db)) == 2, what="two new photos indexed")
    assert counting.described == 2

    # A rename and a move to another folder: the same content, so no describing.
    cat_hash = indexed(db)[str(library / "2024" / "cat.jpg")]
    (library / "2024" / "cat.jpg").rename(library / "2024" / "chelsea.jpg")
    (library / "archive").mkdir()
    (library / "2024" / "coffee.jpg").rename(library / "archive" / "coffee.jpg")
    wait_until(
        lambda: set(indexed(db)) == {str(library / "2024" / "chelsea.jpg"), str(library / "archive" / "coffee.jpg")},
        what="moves reflected",
    )
    assert indexed(db)[str(library / "2024" / "chelsea.jpg")] == cat_hash
    # A whole folder renamed: watchdog reports its files as moved too.
    (library / "2024").rename(library / "2024-cats")
    wait_until(
        lambda: set(indexed(db)) == {str(library / "2024-cats" / "chelsea.jpg"), str(library / "archive" / "coffee.jpg")},
        what="folder rename reflected",
    )
    assert counting.described == 2, "a move or rename must not describe again"

    # New content under an old name is described again.
    with open(library / "archive" / "coffee.jpg", "wb") as out:
        out.write((sample_photos / "rocket.jpg").read_bytes())
    wait_until(lambda: counting.described == 3, what="modified photo described")
    wait_until(lambda: len(set(indexed(db).values())) == 2 and cat_hash in indexed(db).values(), what="new hash")

    (library / "archive" / "coffee.jpg").unlink()
    wait_until(lambda: list(indexed(db)) == [str(library / "2024-cats" / "chelsea.jpg")], what="deletion reflected")
    shutil.rmtree(library / "2024-cats")
    wait_until(lambda: indexed(db) == {}, what="deleted folder reflected")
    w.close()
    assert counting.described == 3
    assert all(p.reason in ("start", "changes") for p in w.seen)


def test_folders_linked_into_the_library_are_watched_under_their_link(tmp_path, watching, sample_photos):
    library, elsewhere = tmp_path / "library", tmp_path / "elsewhere"
    some_photos(sample_photos, elsewhere / "2024", 1)
    library.mkdir()
    (library / "external").symlink_to(elsewhere, target_is_directory=True)
    (library / "loop").symlink_to(library, target_is_directory=True)  # the scan skips it; so does the watch
    w = watching([library])
    db = tmp_path / "catalog.db"
    assert set(indexed(db)) == {str(library / "external" / "2024" / "astronaut.jpg")}
    # Written through the folder's real path: the catalog knows it by the link's.
    shutil.copy(sample_photos / "chelsea.jpg", elsewhere / "2024" / "chelsea.jpg")
    (elsewhere / "2024" / "astronaut.jpg").unlink()
    wait_until(
        lambda: set(indexed(db)) == {str(library / "external" / "2024" / "chelsea.jpg")}, what="changes via the link"
    )
    w.close()


def test_bulk_copy_is_indexed_in_few_passes_and_copies_are_not_described(tmp_path, watching, describer, sample_photos):
    library = tmp_path / "library"
    known = some_photos(sample_photos, library / "known", 5)
    counting = CountingDescriber(describer)
    w = watching([library], counting, max_delay_s=2.0)
    assert (w.start_pass.summary.described, counting.described) == (5, 5)

    # 340 copies of photos the catalog knows, plus 4 new photos, copied in one go.
    for i in range(340):
        shutil.copy(known[i % len(known)], library / f"copy_{i:03d}.jpg")
    for i, source in enumerate(known[:4]):
        new_photo(source, library / f"new_{i}.jpg")
    db = tmp_path / "catalog.db"
    wait_until(lambda: len(indexed(db)) == 5 + 340 + 4, timeout=60, what="the bulk copy indexed")
    w.close()
    changes = [p for p in w.seen if p.reason == "changes"]
    assert counting.described == 5 + 4, "copies of known content are not described"
    assert 1 <= len(changes) <= 6, f"one pass per quiet period, not per event: {len(changes)} passes"
    assert sum(p.summary.reused for p in changes) == 340
    assert skipped(db) == set()


def test_a_long_copy_gets_finished_files_indexed_and_leaves_the_one_being_written(tmp_path, watching, sample_photos):
    library = tmp_path / "library"
    library.mkdir()
    w = watching([library], quiet_s=0.4, max_delay_s=1.0)
    db = tmp_path / "catalog.db"
    shutil.copy(sample_photos / "chelsea.jpg", library / "first.jpg")
    data = (sample_photos / "astronaut.jpg").read_bytes()
    slow = library / "slow.jpg"
    with open(slow, "wb") as out:
        # Never quiet for 0.4 s: the folder is busy, so only the overdue rule can start a pass.
        for chunk in range(400):  # up to 20 s, for a loaded machine
            out.write(data[chunk * len(data) // 400 : (chunk + 1) * len(data) // 400])
            out.flush()
            time.sleep(0.05)
            if str(library / "first.jpg") in indexed(db):
                break
        assert str(library / "first.jpg") in indexed(db), "the finished file waited for the copy to end"
        assert str(slow) not in indexed(db) and str(slow) not in skipped(db), "a file being written was read"
        out.write(data[(chunk + 1) * len(data) // 400 :])
    wait_until(lambda: str(slow) in indexed(db), what="the slow file indexed once written")
    w.close()
    assert str(slow) not in skipped(db)


def test_too_many_changes_at_once_become_one_rescan(tmp_path, watching, describer, sample_photos):
    library = tmp_path / "library"
    library.mkdir()
    w = watching([library], max_pending=5)
    for path in sorted(sample_photos.glob("*.jpg"))[:8]:
        shutil.copy(path, library / path.name)
    done = w.next_pass(lambda p: p.reason == "rescan")
    wait_until(lambda: len(indexed(tmp_path / "catalog.db")) == 8, what="all eight indexed")
    w.close()
    assert done.changed == 0


def test_events_lost_by_the_kernel_lead_to_a_rescan(tmp_path, watching, sample_photos):
    library = tmp_path / "library"
    some_photos(sample_photos, library / "2024", 3)
    w = watching([library])
    # A real overflow needs fs.inotify.max_queued_events lowered for the whole machine; watchdog
    # reports one only through its logger, so its report is made here with watchdog 7.1's words.
    logging.getLogger("watchdog.observers.inotify_c").warning("Inotify queue overflowed; filesystem events were lost")
    done = w.next_pass(lambda p: p.reason == "rescan")
    w.close()
    assert (done.changed, done.summary.found, done.summary.unchanged) == (0, 3, 3)


def test_partially_written_photo_is_indexed_once_it_is_complete(tmp_path, watching, sample_photos):
    library = tmp_path / "library"
    library.mkdir()
    w = watching([library])
    db = tmp_path / "catalog.db"
    data = (sample_photos / "astronaut.jpg").read_bytes()
    target = library / "astronaut.jpg"
    with open(target, "wb") as out:
        out.write(data[: len(data) // 3])
        out.flush()
        # The writer stalls longer than the quiet period: the pass finds a damaged photo.
        wait_until(lambda: str(target) in skipped(db), what="the partial photo tried")
        out.write(data[len(data) // 3 :])
    wait_until(lambda: str(target) in indexed(db), what="the completed photo indexed")
    assert str(target) not in skipped(db)
    w.close()


def xmp_sidecar(rating: int) -> str:
    return (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        f'<rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:Rating="{rating}"/>'
        "</rdf:RDF></x:xmpmeta>"
    )


def ratings(db: Path) -> dict[str, int | None]:
    with sqlite3.connect(db, timeout=30) as reader:
        return dict(reader.execute("SELECT path, rating FROM file_metadata"))


def test_sidecar_edit_rereads_its_photo_metadata_without_describing(tmp_path, watching, describer, sample_photos):
    library = tmp_path / "library"
    library.mkdir()
    shutil.copy(sample_photos / "chelsea.jpg", library / "IMG_0001.jpg")
    shutil.copy(sample_photos / "rocket.jpg", library / "IMG_0002.jpg")
    shutil.copy(sample_photos / "coffee.jpg", library / "IMG_0003.JPG")
    counting = CountingDescriber(describer)
    w = watching([library], counting)
    db = tmp_path / "catalog.db"
    assert counting.described == 3

    # Lightroom's and PhotoLab's naming, then darktable's, in another case than the photo's.
    (library / "IMG_0001.xmp").write_text(xmp_sidecar(4))
    done = w.next_pass(lambda p: p.reason == "changes")
    assert (done.changed, done.summary.found, done.summary.metadata_read) == (1, 1, 1)
    (library / "IMG_0003.jpg.xmp").write_text(xmp_sidecar(2))
    done = w.next_pass(lambda p: p.reason == "changes")
    assert (done.changed, done.summary.found, done.summary.metadata_read) == (1, 1, 1)
    assert ratings(db) == {str(library / "IMG_0001.jpg"): 4, str(library / "IMG_0002.jpg"): None, str(library / "IMG_0003.JPG"): 2}
    # A hidden file or a file that is no photo is no reason for a pass.
    (library / ".IMG_0001.jpg.swp").write_text("editor state")
    (library / "notes.txt").write_text("not a photo")
    time.sleep(1.0)  # several quiet periods, for a pass that must not come
    w.close()
    assert [p.reason for p in w.seen] == ["start", "changes", "changes"]
    assert counting.described == 3


def test_restart_catches_up_with_what_changed_while_stopped(tmp_path, watching, describer, embedder, sample_photos):
    library = tmp_path / "library"
    photos = some_photos(sample_photos, library, 5)
    counting = CountingDescriber(describer)
    db = tmp_path / "catalog.db"
    with Catalog.open(db) as catalog:
        index_paths(catalog, [str(library)], counting, embedder)
    assert counting.described == 5
    photos[0].rename(library / "renamed.jpg")
    photos[1].unlink()
    new_photo(photos[2], library / "new.jpg")

    w = watching([library], counting)
    w.close()
    s = w.start_pass.summary
    assert (s.described, s.reused, s.removed, s.unchanged) == (1, 1, 2, 3)
    assert counting.described == 6
    assert set(indexed(db)) == {str(p) for p in library.glob("*.jpg")}


def test_polling_finds_new_and_deleted_photos_without_events(tmp_path, watching, sample_photos):
    library = tmp_path / "library"
    library.mkdir()
    shutil.copy(sample_photos / "chelsea.jpg", library / "chelsea.jpg")
    w = watching([library], poll=True, poll_interval_s=0.3)
    db = tmp_path / "catalog.db"
    assert list(indexed(db)) == [str(library / "chelsea.jpg")]
    shutil.copy(sample_photos / "coffee.jpg", library / "coffee.jpg")
    (library / "chelsea.jpg").unlink()
    wait_until(lambda: list(indexed(db)) == [str(library / "coffee.jpg")], what="a scan to notice")
    w.close()
    assert {p.reason for p in w.seen} == {"start", "scan"}


def test_only_existing_folders_are_watched_and_nested_ones_once(tmp_path, describer, embedder, sample_photos):
    photo = Path(shutil.copy(sample_photos / "chelsea.jpg", tmp_path / "chelsea.jpg"))
    with Catalog.open(tmp_path / "c.db") as catalog:
        with pytest.raises(LucidaError, match="is not a folder; `lucida watch` watches folders"):
            watch_folders(catalog, [str(photo)], describer, embedder)
        with pytest.raises(LucidaError, match="nowhere does not exist"):
            watch_folders(catalog, [str(tmp_path / "nowhere")], describer, embedder)
    (tmp_path / "a" / "b").mkdir(parents=True)
    assert watch_roots([str(tmp_path / "a" / "b"), str(tmp_path / "a"), str(tmp_path / "a")]) == [str(tmp_path / "a")]


def test_changes_during_a_long_copy_are_taken_once_settled():
    changes = _Changes(max_pending=100)
    changes.add("/p/a.jpg", now=0.0)
    changes.add("/p/b.jpg", now=1.0)
    changes.add("/p/a.jpg", now=4.2)  # written again: now the latest
    changes.add("/p/c.jpg", now=5.4)
    assert changes.take(4.5, quiet_s=1.0, max_delay_s=5.0) is None  # neither quiet nor overdue
    # Activity never stops: once overdue, the paths quiet for quiet_s go, oldest event first.
    batch = changes.take(5.5, quiet_s=1.0, max_delay_s=5.0)
    assert batch is not None and (batch.paths, batch.rescan) == (["/p/b.jpg", "/p/a.jpg"], False)
    assert changes.take(5.6, quiet_s=1.0, max_delay_s=5.0) is None
    batch = changes.take(6.4, quiet_s=1.0, max_delay_s=5.0)  # quiet at last: everything
    assert batch is not None and batch.paths == ["/p/c.jpg"]
    assert changes.take(9.0, quiet_s=1.0, max_delay_s=5.0) is None


# -- the command, as a user runs it ----------------------------------------------------------


class WatchCommand:
    """`lucida watch` as a real process, its progress lines collected as they come."""

    def __init__(self, db: Path, *args: str, env: dict[str, str] | None = None, prefix: list[str] | None = None):
        self.process = subprocess.Popen(
            [*(prefix or []), *LUCIDA, "--db", str(db), "watch", *args],
            env={**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=interruptible,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=lambda: self.lines.extend(self.process.stderr), daemon=True)
        self._reader.start()

    def wait_for_line(self, start: str) -> str:
        def found():
            assert self.process.poll() is None or any(l.startswith(start) for l in self.lines), self.lines
            return next((l for l in self.lines if l.startswith(start)), None)

        return wait_until(found, what=f"a line starting {start!r}")

    def stop(self, sig: signal.Signals) -> tuple[int, list[str]]:
        self.process.send_signal(sig)
        returncode = self.process.wait(timeout=30)
        self._reader.join(10)
        return returncode, [l.rstrip("\n") for l in self.lines]


def indexed_library(
    tmp_path: Path, sample_photos: Path, describer, embedder, photo: str, db: Path | str | None = None
) -> tuple[Path | str, Path, Path]:
    """(catalog, library, photo): a library holding chelsea.jpg as `photo`, indexed in process,
    so that the command's passes find it described and stay quick."""
    db, library = db or tmp_path / "catalog.db", tmp_path / "library"
    (library / photo).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(sample_photos / "chelsea.jpg", library / photo)
    with open_catalog(db) as catalog:
        index_paths(catalog, [str(library)], describer, embedder)
    return db, library, library / photo


def test_command_follows_a_copy_and_ctrl_c_exits_130(tmp_path, sample_photos, describer, embedder, catalog_location):
    db, library, photo = indexed_library(tmp_path, sample_photos, describer, embedder, "IMG_0001.jpg", catalog_location)
    watch = WatchCommand(db, str(library))
    try:
        watch.wait_for_line("watch: catching up")  # the watches are in place before this pass
        shutil.copy(photo, library / "IMG_0002.jpg")
        watch.wait_for_line("watch: 1 changed path: 0 described, 1 moved or copied")
        assert str(library / "IMG_0002.jpg") in indexed(db)
    finally:
        returncode, lines = watch.stop(signal.SIGINT)
    assert returncode == 130, lines
    assert lines[-1] == "interrupted: every committed batch is kept"


def test_command_polls_when_asked_and_stops_cleanly_on_sigterm(tmp_path, sample_photos, describer, embedder, catalog_location):
    db, library, photo = indexed_library(tmp_path, sample_photos, describer, embedder, "IMG_0001.jpg", catalog_location)
    watch = WatchCommand(db, str(library), "--poll-interval", "0.3", env={"LUCIDA_WATCH_POLL": "1"})
    try:
        watch.wait_for_line("watch: catching up")
        photo.unlink()
        watch.wait_for_line("watch: periodic scan: 0 described, 0 moved or copied (descriptions kept), 1 removed")
        assert indexed(db) == {}
    finally:
        returncode, lines = watch.stop(signal.SIGTERM)
    assert returncode == 0, lines
    assert not any("changed path" in line for line in lines), "no events are watched when polling"
    assert lines[-1] == "stopped: every committed batch is kept"


def _can_limit_inotify_in_a_user_namespace() -> bool:
    probe = "echo 4 > /proc/sys/user/max_inotify_watches"
    try:
        done = subprocess.run(["unshare", "--user", "--map-root-user", "sh", "-c", probe], capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


# Holds inotify watches on a folder tree until its parent process ends.
HOLDER = """
import os, sys, time
from watchdog.events import FileSystemEventHandler
from watchdog.observers import Observer
parent = os.getppid()
observer = Observer()
observer.schedule(FileSystemEventHandler(), sys.argv[1], recursive=True)
observer.start()
open(sys.argv[2], "w").write("ready")
while os.getppid() == parent:
    time.sleep(0.1)
"""


@pytest.mark.skipif(
    not _can_limit_inotify_in_a_user_namespace(),
    reason="needs `unshare --user` to lower the inotify watch limit for one process tree",
)
@pytest.mark.parametrize(
    ("limit", "held_elsewhere", "why"),
    [
        (4, 0, "the 9 folders need more inotify watches than the limit of 4"),
        (12, 6, "3 of the 9 folders could not be watched (other programs hold inotify watches too)"),
    ],
)
def test_command_falls_back_to_scans_past_the_inotify_watch_limit(
    tmp_path, sample_photos, describer, embedder, limit, held_elsewhere, why
):
    db, library, photo = indexed_library(tmp_path, sample_photos, describer, embedder, "2025/IMG_0001.jpg")
    for year in range(2018, 2025):
        (library / str(year)).mkdir()
    held = tmp_path / "held"
    for i in range(held_elsewhere - 1):
        (held / str(i)).mkdir(parents=True)
    # A user namespace of its own, with a low inotify limit, where another program may hold
    # some of the watches before lucida starts.
    script = f"echo {limit} > /proc/sys/user/max_inotify_watches && "
    if held_elsewhere:
        ready = tmp_path / "ready"
        script += (
            f"{sys.executable} -c '{HOLDER}' {held} {ready} & "
            f"while [ ! -s {ready} ]; do sleep 0.05; done && "
        )
    prefix = ["unshare", "--user", "--map-root-user", "sh", "-c", script + 'exec "$@"', "sh"]
    watch = WatchCommand(db, str(library), "--poll-interval", "0.3", prefix=prefix)
    try:
        watch.wait_for_line("watch: catching up")
        photo.unlink()
        watch.wait_for_line("watch: periodic scan: 0 described, 0 moved or copied (descriptions kept), 1 removed")
    finally:
        returncode, lines = watch.stop(signal.SIGTERM)
    assert returncode == 0, lines
    assert lines[0] == (
        f"lucida watch: {why}; each folder takes one watch: raise the limit, e.g. "
        "`sudo sysctl fs.inotify.max_user_watches=524288`, for instant updates. "
        "Falling back to scanning the folders every 0.3 s (see --poll-interval)."
    )


def test_a_fifo_named_like_a_photo_is_recorded_as_skipped(tmp_path, watching):
    library = tmp_path / "library"
    library.mkdir()
    w = watching([library])
    fifo = library / "pipe.jpg"
    os.mkfifo(fifo)  # nothing ever opens it: a reader would wait for a writer forever
    wait_until(lambda: str(fifo) in skipped(tmp_path / "catalog.db"), what="the FIFO recorded as skipped")
    w.close()


def test_sigterm_ends_the_watch_after_the_pass_and_a_second_one_at_once():
    from lucida.cli import _stop_on_sigterm, _Terminated

    stop = threading.Event()
    handler = _stop_on_sigterm(stop)
    handler(signal.SIGTERM, None)  # the first: the loop sees the event between passes
    assert stop.is_set()
    with pytest.raises(_Terminated):  # the second: out of whatever runs now
        handler(signal.SIGTERM, None)
    assert not issubclass(_Terminated, Exception), "an `except Exception` must not swallow it"
