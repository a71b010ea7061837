"""Finding photo files under folders, and deciding which need work.

The walk never raises for one bad entry: unreadable folders, symlink loops, broken links and
names that are not valid UTF-8 come back as `ScanProblem`s for the run's summary.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from lucida.media import SUPPORTED_EXTENSIONS


@dataclass(frozen=True)
class FoundFile:
    path: str  # absolute
    size: int
    mtime_ns: int
    change_stamp: int  # max(mtime, ctime): also moves when permissions change

    @property
    def extension(self) -> str:
        return os.path.splitext(self.path)[1].lower()


@dataclass(frozen=True)
class ScanProblem:
    path: str  # printable: undecodable bytes are shown as \xNN escapes
    reason: str
    size: int | None = None
    change_stamp: int | None = None


@dataclass
class ScanResult:
    files: list[FoundFile] = field(default_factory=list)
    problems: list[ScanProblem] = field(default_factory=list)
    # Folders whose contents could not be listed: files under them must not be taken as deleted.
    unreadable_dirs: list[str] = field(default_factory=list)


def printable_path(path: str) -> str:
    """A path as valid UTF-8 text, with undecodable bytes escaped."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def disk_path(printed: str) -> str:
    """The path on disk that printable_path printed: its escaped bytes restored."""
    raw = re.sub(rb"\\x([0-9a-f]{2})", lambda m: bytes([int(m.group(1), 16)]), printed.encode("utf-8"))
    return os.fsdecode(raw)


def is_photo_name(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in SUPPORTED_EXTENSIONS


def scan(roots: list[str]) -> ScanResult:
    """Walk `roots` (folders or single files) and list every photo file under them.

    Follows symbolic links to folders and files, guarding against loops; skips hidden entries
    (names starting with a dot), as caches and editor folders live there.
    """
    result = ScanResult()
    visited_dirs: set[tuple[int, int]] = set()
    # Folders reached through a symbolic link are walked last, so that a folder that can also be
    # reached directly is indexed under its own path, and its link is the one reported.
    linked_dirs: deque[str] = deque()
    for root in roots:
        root = os.path.abspath(root)
        if os.path.isdir(root):
            _walk(root, result, visited_dirs, linked_dirs)
        else:
            _consider_file(root, result)
    while linked_dirs:
        _walk(linked_dirs.popleft(), result, visited_dirs, linked_dirs)
    return result


def _walk(folder: str, result: ScanResult, visited: set[tuple[int, int]], linked_dirs: deque[str]) -> None:
    try:
        info = os.stat(folder)
    except OSError as error:
        result.problems.append(ScanProblem(printable_path(folder), _os_reason(error, "folder")))
        result.unreadable_dirs.append(folder)
        return
    key = (info.st_dev, info.st_ino)
    if key in visited:
        result.problems.append(ScanProblem(printable_path(folder), _walked_already_reason(folder)))
        return
    visited.add(key)
    try:
        with os.scandir(folder) as entries:
            children = sorted(entries, key=lambda e: e.name)
    except OSError as error:
        result.problems.append(ScanProblem(printable_path(folder), _os_reason(error, "folder")))
        result.unreadable_dirs.append(folder)
        return
    for entry in children:
        if entry.name.startswith("."):
            continue
        try:
            is_dir = entry.is_dir()  # follows symlinks
            is_link = entry.is_symlink()
        except OSError:
            is_dir = is_link = False
        if is_dir and is_link:
            linked_dirs.append(entry.path)
        elif is_dir:
            _walk(entry.path, result, visited, linked_dirs)
        elif is_photo_name(entry.name):
            _consider_file(entry.path, result)


def _walked_already_reason(folder: str) -> str:
    if not os.path.islink(folder):
        return "this folder was already walked"
    if is_under(os.path.realpath(os.path.dirname(folder)), os.path.realpath(folder)):
        return "symbolic link loop: it links to a folder that contains it"
    return "symbolic link to a folder that is indexed already under its own path"


def _consider_file(path: str, result: ScanResult) -> None:
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        result.problems.append(
            ScanProblem(printable_path(path), "file name is not valid UTF-8; rename the file to index it")
        )
        return
    try:
        info = os.stat(path)
    except OSError as error:
        result.problems.append(ScanProblem(path, _os_reason(error, "file")))
        return
    if not stat.S_ISREG(info.st_mode):
        result.problems.append(ScanProblem(path, "not a regular file"))
        return
    result.files.append(
        FoundFile(
            path=path,
            size=info.st_size,
            mtime_ns=info.st_mtime_ns,
            change_stamp=max(info.st_mtime_ns, info.st_ctime_ns),
        )
    )


def _os_reason(error: OSError, what: str) -> str:
    if error.errno == errno.ELOOP:
        return "symbolic link loop"
    if error.errno == errno.ENOENT:
        return "broken symbolic link: its target does not exist"
    if error.errno == errno.EACCES:
        return f"cannot read {what}: permission denied"
    return f"cannot read {what}: {error.strerror or error}"


def is_under(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def under_any(folders: Iterable[str]) -> Callable[[str], bool]:
    """A test equal to `any(is_under(path, f) for f in folders)`, in time linear in len(path)."""
    exact = set(folders)
    prefixes = {f.rstrip(os.sep) for f in exact}  # is_under: path starts with prefix + os.sep

    def test(path: str) -> bool:
        if path in exact:
            return True
        cut = path.find(os.sep)
        while cut != -1:
            if path[:cut] in prefixes:
                return True
            cut = path.find(os.sep, cut + 1)
        return False

    return test
