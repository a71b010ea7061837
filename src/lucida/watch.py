"""Keeping the catalog current while photos come and go: `lucida watch`.

watchdog's threads only note which paths changed. The caller's thread gathers those notes until
the folders have been quiet for a moment, then runs one incremental `index_paths` pass over the
changed photos. The catalog keys images by content, so a moved or renamed photo keeps its
description, and every pass drops catalogued files that are gone from disk. A file still being
written keeps receiving events and waits for a later pass; one read half-written anyway fails
to decode, is recorded as skipped with its size, and is tried again once it changes.

On Linux each watched folder takes one inotify watch. When the user's limit is too low for the
tree, watching stops and the folders are scanned periodically instead.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from watchdog.events import (
    DirDeletedEvent,
    DirMovedEvent,
    FileAttribEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer

from lucida.catalog import Catalog
from lucida.errors import LucidaError
from lucida.indexer import IndexSummary, existing_roots, index_paths
from lucida.metadata import SIDECAR_EXTENSION
from lucida.models.base import Describer, Embedder
from lucida.progress import Progress, SilentProgress
from lucida.scan import is_photo_name, is_under, under_any

# Seconds without events before the changes are indexed: long enough to gather a burst of
# copies into one pass, short enough that a new photo is searchable soon after it lands.
DEFAULT_QUIET_S = 1.0
# A copy that never pauses still gets the files it finished indexed this often.
DEFAULT_MAX_DELAY_S = 20.0
DEFAULT_POLL_INTERVAL_S = 60.0
# Changed paths remembered one by one; past this, the next pass rescans the folders instead.
MAX_PENDING_PATHS = 100_000

_EVENTS = [
    FileCreatedEvent,
    FileModifiedEvent,
    FileAttribEvent,
    FileClosedEvent,
    FileMovedEvent,
    FileDeletedEvent,
    DirDeletedEvent,
    DirMovedEvent,
]
# inotify reports a lost burst of events only through this logger (watchdog 7).
_INOTIFY_LOGGER = "watchdog.observers.inotify_c"
_TICK_S = 0.1


@dataclass
class WatchPass:
    """One index pass and why it ran."""

    reason: str  # "start" (catch up after a restart), "changes", "rescan" or "scan" (polling)
    changed: int  # changed paths it covered (0 for passes over whole folders)
    summary: IndexSummary


def watch_folders(
    catalog: Catalog,
    folders: list[str],
    describer: Describer,
    embedder: Embedder,
    progress: Progress | None = None,
    *,
    poll: bool = False,
    quiet_s: float = DEFAULT_QUIET_S,
    max_delay_s: float = DEFAULT_MAX_DELAY_S,
    poll_interval_s: float = DEFAULT_POLL_INTERVAL_S,
    max_pending: int = MAX_PENDING_PATHS,
    on_pass: Callable[[WatchPass], None] | None = None,
    stop: threading.Event | None = None,
) -> None:
    """Index `folders`, then keep the catalog current with them until `stop` is set (or the
    caller's thread is interrupted). `poll` scans every `poll_interval_s` instead of watching."""
    progress = progress or SilentProgress()
    stop = stop or threading.Event()
    roots = watch_roots(folders)

    def run_pass(reason: str, paths: list[str], changed: int) -> None:
        summary = _index_existing(catalog, paths, describer, embedder, progress)
        done = WatchPass(reason, changed, summary)
        progress.note(describe_pass(done))
        if on_pass is not None:
            on_pass(done)

    changes = _Changes(max_pending)
    alarm = _OverflowAlarm(changes)
    logging.getLogger(_INOTIFY_LOGGER).addHandler(alarm)
    observer = None
    try:
        if not poll:
            observer = _start_observer(roots, changes, progress, poll_interval_s)
        # After the watches are in place, so nothing that lands during this pass is missed.
        run_pass("start", roots, 0)
        if observer is None:
            while not stop.wait(poll_interval_s):
                run_pass("scan", roots, 0)
            return
        while not stop.wait(_TICK_S):
            batch = changes.take(time.monotonic(), quiet_s, max_delay_s)
            if batch is None:
                continue
            if batch.rescan:
                run_pass("rescan", roots, 0)
            else:
                run_pass("changes", _photos_for(batch.paths), len(batch.paths))
    finally:
        logging.getLogger(_INOTIFY_LOGGER).removeHandler(alarm)
        if observer is not None:
            _stop_observer(observer)


def describe_pass(done: WatchPass) -> str:
    s = done.summary
    what = {
        "start": "catching up with the folders",
        "changes": f"{done.changed} changed path{'s' if done.changed != 1 else ''}",
        "rescan": "rescanning the folders (more changes at once than can be followed one by one)",
        "scan": "periodic scan",
    }[done.reason]
    return (
        f"watch: {what}: {s.described} described, {s.reused} moved or copied (descriptions kept), "
        f"{s.removed} removed, {len(s.skipped)} skipped"
        + (f", metadata read again for {s.metadata_read}" if s.metadata_read else "")
        + f" in {s.seconds:.1f} s"
    )


def inotify_watch_limit() -> int | None:
    """The most inotify watches this user may hold (Linux), or None where there is no limit."""
    limits = []
    for source in ("/proc/sys/fs/inotify/max_user_watches", "/proc/sys/user/max_inotify_watches"):
        try:
            with open(source) as handle:
                limits.append(int(handle.read()))
        except (OSError, ValueError):
            continue
    return min(limits) if limits else None


# -- gathering events -----------------------------------------------------------------------


@dataclass
class _Batch:
    paths: list[str]
    rescan: bool


class _Changes:
    """Paths with events, each with the time of its latest one. Filled by watchdog's thread,
    emptied by the indexing thread."""

    def __init__(self, max_pending: int):
        self._lock = threading.Lock()
        self._max_pending = max_pending
        self._last_event: dict[str, float] = {}
        self._rescan = False
        self._first_at: float | None = None  # oldest change not yet taken
        self._latest_at = 0.0

    def add(self, path: str, now: float) -> None:
        with self._lock:
            if self._first_at is None:
                self._first_at = now
            self._latest_at = now
            if self._rescan:
                return
            self._last_event.pop(path, None)  # re-inserted last: the dict stays in event order
            self._last_event[path] = now
            if len(self._last_event) > self._max_pending:
                self._rescan_locked()

    def rescan(self) -> None:
        with self._lock:
            now = time.monotonic()
            if self._first_at is None:
                self._first_at = now
            self._latest_at = now
            self._rescan_locked()

    def _rescan_locked(self) -> None:
        self._rescan = True
        self._last_event.clear()

    def take(self, now: float, quiet_s: float, max_delay_s: float) -> _Batch | None:
        """The changes to index now: all of them once nothing has happened for `quiet_s`; after
        `max_delay_s` of continuous activity, those paths that have been quiet for `quiet_s`."""
        with self._lock:
            if self._first_at is None:
                return None
            if now - self._latest_at >= quiet_s:
                batch = _Batch(list(self._last_event), self._rescan)
                self._last_event.clear()
                self._rescan = False
                self._first_at = None
                return batch
            if now - self._first_at < max_delay_s:
                return None
            if self._rescan:  # a rescan reads every file as it is now, settled or not
                self._rescan = False
                self._first_at = None
                return _Batch([], True)
            settled = []
            for path, at in self._last_event.items():  # oldest event first
                if now - at < quiet_s:
                    break
                settled.append(path)
            for path in settled:
                del self._last_event[path]
            self._first_at = min(self._last_event.values(), default=None)
            return _Batch(settled, False) if settled else None


class _Handler(FileSystemEventHandler):
    """Notes the photos and sidecars under one watched folder that an event touched, by the
    paths the catalog knows them by (through a folder link, the link's)."""

    def __init__(self, folder: str, known_as: str, changes: _Changes):
        self._folder = folder
        self._known_as = known_as
        self._changes = changes

    def on_any_event(self, event: FileSystemEvent) -> None:
        for path in (event.src_path, getattr(event, "dest_path", "")):
            path = os.fsdecode(path)
            if path and self._wanted(path, event.is_directory):
                self._changes.add(self._known_as + path[len(self._folder) :], time.monotonic())

    def _wanted(self, path: str, is_directory: bool) -> bool:
        relative = os.path.relpath(path, self._folder)
        # The scan skips hidden entries, where editors keep caches and copies keep temporary files.
        if relative != os.curdir and any(part.startswith(".") for part in relative.split(os.sep)):
            return False
        # A deleted or moved folder: its photos are gone from where the catalog has them.
        return is_directory or is_photo_name(path) or path.lower().endswith(SIDECAR_EXTENSION)


class _OverflowAlarm(logging.Handler):
    """Asks for a rescan when the kernel dropped events because they came faster than read."""

    def __init__(self, changes: _Changes):
        super().__init__(logging.WARNING)
        self._changes = changes

    def emit(self, record: logging.LogRecord) -> None:
        if "overflow" in record.getMessage().lower():
            self._changes.rescan()


def watch_roots(folders: Iterable[str]) -> list[str]:
    """The folders to watch, as absolute paths, without those inside another; a LucidaError
    names the first that does not exist or is no folder."""
    roots = existing_roots(folders)
    for root in roots:
        if not os.path.isdir(root):
            raise LucidaError(f"{root} is not a folder; `lucida watch` watches folders")
    # A folder inside another watched one is watched already; scanning it twice would report
    # it as walked twice.
    unique = sorted(set(roots))
    return [r for r in unique if not any(o != r and is_under(r, o) for o in unique)]


def _start_observer(roots: list[str], changes: _Changes, progress: Progress, poll_interval_s: float):
    """Watch `roots` recursively; None (after saying why) when the OS cannot watch them all."""
    trees, folders = _trees_to_watch(roots)
    inotify = sys.platform.startswith("linux")
    limit = inotify_watch_limit() if inotify else None
    if limit is not None and folders > limit:
        # Not even tried: taking every watch left would break other programs' watching too.
        why = f"the {folders} folders need more inotify watches than the limit of {limit}"
        progress.note(_fallback_message(why, limit, poll_interval_s))
        return None
    observer = Observer()
    for folder, known_as in trees:
        observer.schedule(_Handler(folder, known_as, changes), folder, recursive=True, event_filter=_EVENTS)
    try:
        observer.start()
    except OSError as error:
        _stop_observer(observer)
        why = f"cannot watch the folders ({error.strerror or error})"
        progress.note(_fallback_message(why, limit, poll_interval_s))
        return None
    # watchdog skips a subfolder it cannot watch without a word; other programs may hold the
    # watches this tree needs.
    missing = folders - _held_inotify_watches() if inotify else 0
    if missing > 0:
        _stop_observer(observer)
        why = f"{missing} of the {folders} folders could not be watched (other programs hold inotify watches too)"
        progress.note(_fallback_message(why, limit, poll_interval_s))
        return None
    return observer


def _trees_to_watch(roots: list[str]) -> tuple[list[tuple[str, str]], int]:
    """(folder, the path the catalog knows it by) for each root, and for each folder that is
    linked from inside one and lies outside them all, as the scan follows such links (watchdog
    does not); and the number of folders under them, each of which takes one inotify watch."""
    trees = [(root, root) for root in roots]
    in_roots = under_any(roots)
    targets: set[str] = set()
    folders = 0
    for folder, known_as in trees:  # grows while walked: links inside linked folders too
        # As watchdog walks: every folder, hidden ones too, not following links.
        for parent, subfolders, _files in os.walk(folder):
            folders += 1
            for name in subfolders:
                link = os.path.join(parent, name)
                if name.startswith(".") or not os.path.islink(link):
                    continue
                target = os.path.realpath(link)
                if in_roots(target) or not os.path.isdir(target):
                    continue
                # Watched already, or nested with one watched: the scan walks a folder once.
                if any(is_under(target, t) or is_under(t, target) for t in targets):
                    continue
                if is_under(os.path.realpath(parent), target):  # a loop: the scan skips it too
                    continue
                targets.add(target)
                trees.append((target, known_as + link[len(folder) :]))
    return trees, folders


def _stop_observer(observer) -> None:
    if observer.is_alive():
        observer.stop()
        observer.join()


def _fallback_message(why: str, limit: int | None, poll_interval_s: float) -> str:
    raise_it = (
        f"; each folder takes one watch: raise the limit, e.g. "
        f"`sudo sysctl fs.inotify.max_user_watches={max(limit * 4, 524288)}`, for instant updates"
        if limit is not None
        else ""
    )
    return (
        f"lucida watch: {why}{raise_it}. Falling back to scanning the folders every "
        f"{poll_interval_s:g} s (see --poll-interval)."
    )


def _held_inotify_watches() -> int:
    """inotify watches this process holds: one `inotify wd:` line per watch in /proc fdinfo."""
    held = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}") != "anon_inode:inotify":
                continue
            with open(f"/proc/self/fdinfo/{fd}") as info:
                held += sum(1 for line in info if line.startswith("inotify wd:"))
        except OSError:  # closed since listed
            continue
    return held


# -- indexing -------------------------------------------------------------------------------


def _photos_for(paths: list[str]) -> list[str]:
    """The photo files on disk that changed `paths` stand for: a photo itself, or the photos a
    sidecar describes (`IMG_1.xmp` every IMG_1.* photo beside it, `IMG_1.NEF.xmp` IMG_1.NEF),
    matched without regard to case as the metadata reader matches them. Paths no longer on disk
    stand for nothing: every pass drops the catalogued files that are gone."""
    photos: set[str] = set()
    listings: dict[str, list[str]] = {}
    for path in paths:
        if not path.lower().endswith(SIDECAR_EXTENSION):
            # Anything but a folder: a FIFO or a device named like a photo is recorded as skipped.
            if os.path.lexists(path) and not os.path.isdir(path):
                photos.add(path)
            continue
        folder, name = os.path.split(path)
        described = name[: -len(SIDECAR_EXTENSION)].lower()
        if folder not in listings:
            try:
                listings[folder] = [n for n in os.listdir(folder) if is_photo_name(n) and not n.startswith(".")]
            except OSError:
                listings[folder] = []
        for photo in listings[folder]:
            if described in (photo.lower(), os.path.splitext(photo)[0].lower()):
                photos.add(os.path.join(folder, photo))
    return sorted(photos)


def _index_existing(
    catalog: Catalog, paths: list[str], describer: Describer, embedder: Embedder, progress: Progress
) -> IndexSummary:
    """index_paths over those of `paths` still on disk. With none left, the pass still drops
    the catalogued files that are gone."""
    for _ in range(3):
        try:
            return index_paths(catalog, [p for p in paths if os.path.exists(p)], describer, embedder, progress)
        except LucidaError as error:  # deleted between the check and the scan: check again
            if not str(error).endswith("does not exist"):
                raise
    return index_paths(catalog, [], describer, embedder, progress)
