"""Bad files never stop an index run.

One real photo library (sample photos plus every kind of bad file) is built once for the module
and indexed through the real `lucida` command in a subprocess, with the real offline models and a
real SQLite catalog.

A file without read permission must really be unreadable to the run, but root reads everything.
So as root the runs go through `setpriv` with CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH dropped:
still uid 0, but bound by file modes like any user. (Switching to `nobody` instead would need an
interpreter and packages that `nobody` can reach; in this project's environment Python lives under
/root, which is private.)
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from lucida.cli import cli
from lucida.samples import write_sample_photos

from conftest import png_bomb

GOOD = ["chelsea", "coffee", "rocket", "astronaut"]  # in the library's top folder
GOOD_IN_SUBFOLDER = "clock"  # in photos/sub, next to the link back to its parent
GOOD_OUTSIDE = "grass"  # in a folder outside the library, reached through photos/elsewhere -> ../outside
REPLACEMENT = "coins"  # written over the empty file between runs
LOCKED_CONTENT = "moon"  # the photo inside the unreadable file
LOCKED_FOLDER_CONTENT = "brick"  # the photo inside the unreadable folder
NON_UTF8_NAME = b"bad\xff.jpg"

IS_ROOT = os.geteuid() == 0
SETPRIV = shutil.which("setpriv")
_NO_DAC = "-dac_override,-dac_read_search"
UNPRIVILEGED = [SETPRIV, f"--bounding-set={_NO_DAC}", f"--inh-caps={_NO_DAC}"] if SETPRIV else []


def _can_lock() -> tuple[bool, str]:
    """Whether a file with mode 000 will really be unreadable to the index runs."""
    if not IS_ROOT:
        return True, ""
    if not SETPRIV:
        return False, "running as root and setpriv is absent: root reads files whatever their mode"
    probe = subprocess.run([*UNPRIVILEGED, "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        return False, f"setpriv cannot drop CAP_DAC_OVERRIDE here: {probe.stderr.strip()}"
    return True, ""


CAN_LOCK, CANNOT_LOCK_REASON = _can_lock()


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str


class Library:
    def __init__(self, base: Path):
        self.base = base
        self.photos = base / "photos"
        self.db = base / "catalog.db"

    def lucida(self, *args: str, db: Path | None = None) -> Run:
        """Run the real `lucida` command in a subprocess, unable to read what its modes forbid."""
        command = [sys.executable, "-m", "lucida", "--db", str(db or self.db), *args]
        if IS_ROOT and CAN_LOCK:
            command = [*UNPRIVILEGED, *command]
        env = {**os.environ, "HF_HUB_OFFLINE": "1"}
        env.pop("LUCIDA_DB", None)
        done = subprocess.run(command, cwd=self.base, env=env, capture_output=True, text=True, timeout=300)
        return Run(done.returncode, done.stdout, done.stderr)

    def in_process(self, *args: str, db: Path | None = None) -> Run:
        """Run the CLI in this process: the models load once, so this is much quicker."""
        try:
            runner = CliRunner(mix_stderr=False)  # click < 8.2
        except TypeError:
            runner = CliRunner()
        result = runner.invoke(cli, ["--db", str(db or self.db), *args], catch_exceptions=False)
        return Run(result.exit_code, result.stdout, result.stderr)

    def status(self) -> dict:
        run = self.in_process("status", "--json")
        assert run.returncode == 0, run.stderr
        return json.loads(run.stdout)

    def skip_times(self) -> dict[str, float]:
        """When each skip was recorded, straight from the catalog file."""
        with sqlite3.connect(self.db) as db:
            return dict(db.execute("SELECT path, at FROM skipped"))

    def path(self, relative: str) -> str:
        return str(self.photos / relative)


def summary_counts(line: str) -> dict[str, int]:
    """The numbers in the end-of-run summary line."""
    counts = {}
    for key, pattern in {
        "indexed": r"(\d+) photos? indexed",
        "described": r"(\d+) described",
        "unchanged": r"(\d+) unchanged[;,)]",
        "skipped": r"(\d+) skipped",
        "skipped_before": r"(\d+) unchanged since skipped before",
    }.items():
        match = re.search(pattern, line)
        counts[key] = int(match.group(1)) if match else 0
    return counts


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    base = tmp_path_factory.mktemp("bad-files")
    lib = Library(base)
    try:
        photos = lib.photos
        write_sample_photos(photos, names=GOOD)
        write_sample_photos(photos / "sub", names=[GOOD_IN_SUBFOLDER])
        spare = base / "spare"
        write_sample_photos(spare, names=[REPLACEMENT, LOCKED_CONTENT, LOCKED_FOLDER_CONTENT])

        (photos / "empty.jpg").write_bytes(b"")
        coffee = (photos / "coffee.jpg").read_bytes()
        (photos / "truncated.jpg").write_bytes(coffee[: len(coffee) // 2])
        (photos / "notes.jpg").write_text("shopping list: milk, eggs, bread\n")
        (photos / "bomb.png").write_bytes(png_bomb(30000, 30000))
        os.symlink("b.jpg", photos / "a.jpg")
        os.symlink("a.jpg", photos / "b.jpg")
        os.symlink("nowhere.jpg", photos / "dangling.jpg")
        os.symlink("..", photos / "sub" / "up")
        # A link to a folder of the library that sorts before it: the photo keeps its own path.
        os.symlink("sub", photos / "favourites")
        write_sample_photos(base / "outside", names=[GOOD_OUTSIDE])
        os.symlink("../outside", photos / "elsewhere")
        handle = os.open(os.fsencode(photos) + b"/" + NON_UTF8_NAME, os.O_WRONLY | os.O_CREAT, 0o644)
        os.write(handle, (photos / "chelsea.jpg").read_bytes())
        os.close(handle)
        if CAN_LOCK:
            shutil.copyfile(spare / f"{LOCKED_CONTENT}.jpg", photos / "locked.jpg")
            (photos / "locked_folder").mkdir()
            shutil.copyfile(spare / f"{LOCKED_FOLDER_CONTENT}.jpg", photos / "locked_folder" / "inside.jpg")

        if CAN_LOCK:
            os.chmod(photos / "locked.jpg", 0)
            os.chmod(photos / "locked_folder", 0)

        lib.first = lib.lucida("index", str(photos))
        lib.first_status = lib.status()
        lib.first_skip_times = lib.skip_times()
        lib.search = lib.in_process("search", "--json", "--all", "-k", "50", "a cat")

        lib.second = lib.lucida("index", str(photos))
        lib.second_status = lib.status()
        lib.second_skip_times = lib.skip_times()

        # Fix some of the bad files: the empty one becomes a real photo, the locked ones readable.
        (photos / "empty.jpg").write_bytes((spare / f"{REPLACEMENT}.jpg").read_bytes())
        if CAN_LOCK:
            os.chmod(photos / "locked.jpg", 0o644)
            os.chmod(photos / "locked_folder", 0o755)
        lib.third = lib.lucida("index", str(photos))
        lib.third_status = lib.status()
        yield lib
    finally:  # leave nothing that pytest's clean-up of old temporary folders could trip on
        for locked in (lib.photos / "locked.jpg", lib.photos / "locked_folder"):
            if locked.exists():
                os.chmod(locked, 0o755)


@pytest.fixture(scope="module")
def clean_library(library):
    """The same good photos with no bad files, indexed the same way: for comparing search output."""
    base = library.base / "clean"
    photos = base / "photos"
    photos.mkdir(parents=True)
    for name in GOOD:
        shutil.copy2(library.photos / f"{name}.jpg", photos / f"{name}.jpg")
    for folder, name in (("sub", GOOD_IN_SUBFOLDER), ("elsewhere", GOOD_OUTSIDE)):
        (photos / folder).mkdir()
        shutil.copy2(library.photos / folder / f"{name}.jpg", photos / folder / f"{name}.jpg")
    db = base / "catalog.db"
    run = library.in_process("index", "--quiet", str(photos), db=db)
    assert run.returncode == 0, run.stderr
    search = library.in_process("search", "--json", "--all", "-k", "50", "a cat", db=db)
    assert search.returncode == 0, search.stderr
    return photos, search


def good_paths(lib: Library) -> set[str]:
    return {lib.path(f"{name}.jpg") for name in GOOD} | {
        lib.path(f"sub/{GOOD_IN_SUBFOLDER}.jpg"),
        lib.path(f"elsewhere/{GOOD_OUTSIDE}.jpg"),
    }


def expected_reasons(lib: Library) -> dict[str, list[str]]:
    """Skipped path -> words its reason must contain (any of them)."""
    non_utf8 = os.fsencode(lib.photos).decode() + "/" + NON_UTF8_NAME.decode("utf-8", "backslashreplace")
    expected = {
        lib.path("empty.jpg"): ["empty"],
        lib.path("truncated.jpg"): ["damaged", "truncated"],
        lib.path("notes.jpg"): ["not a readable image"],
        lib.path("bomb.png"): ["decompression bomb"],
        lib.path("a.jpg"): ["symbolic link loop"],
        lib.path("b.jpg"): ["symbolic link loop"],
        lib.path("dangling.jpg"): ["broken symbolic link"],
        lib.path("sub/up"): ["symbolic link loop"],
        lib.path("favourites"): ["indexed already"],
        non_utf8: ["UTF-8"],
    }
    if CAN_LOCK:
        expected[lib.path("locked.jpg")] = ["permission denied"]
        expected[lib.path("locked_folder")] = ["permission denied"]
    return expected


# Skipped because of their content or permissions: these are what a second run must not retry.
def content_skips(lib: Library) -> list[str]:
    names = ["empty.jpg", "truncated.jpg", "notes.jpg", "bomb.png"] + (["locked.jpg"] if CAN_LOCK else [])
    return [lib.path(n) for n in names]


def skipped(status: dict) -> dict[str, str]:
    return {entry["path"]: entry["reason"] for entry in status["skipped"]}


# -- the first run -----------------------------------------------------------------------------


def test_run_finishes_with_exit_code_0(library):
    assert library.first.returncode == 0, library.first.stderr
    assert "Traceback" not in library.first.stderr


def test_every_good_photo_is_indexed(library):
    status = library.first_status
    assert status["indexed"] == len(good_paths(library))
    assert status["pending"] == 0
    assert status["unembedded"] == 0
    results = json.loads(library.search.stdout)["results"]
    assert {r["path"] for r in results} == good_paths(library)


def test_every_bad_file_is_listed_with_a_one_line_reason(library):
    found = skipped(library.first_status)
    expected = expected_reasons(library)
    assert set(found) == set(expected)
    for path, words in expected.items():
        reason = found[path]
        assert any(word in reason for word in words), (path, reason)
        assert "\n" not in reason and len(reason) < 200, reason
        assert "Traceback" not in reason and "b'" not in reason
    assert "250-megapixel" in found[library.path("bomb.png")]


def test_unreadable_file_is_skipped_as_permission_denied(library):
    if not CAN_LOCK:
        pytest.skip(CANNOT_LOCK_REASON)
    found = skipped(library.first_status)
    assert "permission denied" in found[library.path("locked.jpg")]
    assert "permission denied" in found[library.path("locked_folder")]


def test_summary_line_counts_indexed_and_skipped(library):
    lines = library.first.stdout.strip().splitlines()
    assert len(lines) == 1, library.first.stdout  # notes about skipped files go to stderr
    counts = summary_counts(lines[0])
    assert counts["indexed"] == len(good_paths(library))
    assert counts["described"] == len(good_paths(library))
    assert counts["skipped"] == len(expected_reasons(library))
    assert counts["skipped_before"] == 0
    for path in content_skips(library):
        assert f"skipped {path}" in library.first.stderr  # each one reported as it happens


def test_search_json_contract_is_unaffected(library, clean_library):
    assert library.search.returncode == 0, library.search.stderr
    lines = library.search.stdout.splitlines()
    assert len(lines) == 1
    payload = json.loads(lines[0])
    assert set(payload) == {"query", "people", "searched_as", "total", "weaker", "results"}
    assert payload["query"] == "a cat"
    for result in payload["results"]:
        assert set(result) == {"path", "score", "caption", "taken_at", "files", "why", "answer"}
        assert isinstance(result["score"], float) and isinstance(result["caption"], str)
    answers = [r["answer"] for r in payload["results"]]
    assert answers == sorted(answers, reverse=True)  # the answers first (--all), then the weaker matches
    assert payload["results"][0]["path"] == library.path("chelsea.jpg")
    # Identical to the same photos indexed without any bad files around them.
    clean_photos, clean_search = clean_library
    clean = json.loads(clean_search.stdout)
    assert [os.path.relpath(r["path"], library.photos) for r in payload["results"]] == [
        os.path.relpath(r["path"], clean_photos) for r in clean["results"]
    ]
    assert [r["caption"] for r in payload["results"]] == [r["caption"] for r in clean["results"]]
    # (Scores may differ in the last digits: the photos reached the models in other batches.)
    assert [r["score"] for r in payload["results"]] == pytest.approx([r["score"] for r in clean["results"]], abs=1e-4)


# -- the second run: nothing changed -----------------------------------------------------------


def test_second_run_does_not_retry_unchanged_skipped_files(library):
    run = library.second
    assert run.returncode == 0, run.stderr
    counts = summary_counts(run.stdout)
    assert counts["indexed"] == len(good_paths(library))
    assert counts["unchanged"] == len(good_paths(library))
    assert counts["described"] == 0
    assert counts["skipped"] == len(expected_reasons(library))
    # Nothing changed, so every skip is old news: none is reported as new...
    assert counts["skipped_before"] == counts["skipped"]
    assert "skipped before" in run.stdout
    assert "skipped /" not in run.stderr
    # ...and the files skipped for their content were not read and decoded again.
    for path in content_skips(library):
        assert library.second_skip_times[path] == library.first_skip_times[path]  # not recorded again
    # ...and stay listed, with the same reasons.
    assert skipped(library.second_status) == skipped(library.first_status)
    assert library.second_status["indexed"] == len(good_paths(library))


# -- the third run: some bad files were fixed ---------------------------------------------------


def test_fixed_files_are_indexed_on_the_next_run(library):
    run = library.third
    assert run.returncode == 0, run.stderr
    fixed = [library.path("empty.jpg")]
    if CAN_LOCK:
        fixed += [library.path("locked.jpg"), library.path("locked_folder/inside.jpg")]
    status = library.third_status
    assert status["indexed"] == len(good_paths(library)) + len(fixed)
    still_bad = set(expected_reasons(library)) - set(fixed) - {library.path("locked_folder")}
    assert set(skipped(status)) == still_bad
    counts = summary_counts(run.stdout)
    assert counts["described"] == len(fixed)
    assert counts["unchanged"] == len(good_paths(library))
    assert counts["skipped_before"] >= len(set(content_skips(library)) - set(fixed))
    results = json.loads(library.in_process("search", "--json", "--all", "-k", "50", "coins").stdout)["results"]
    assert set(fixed) <= {r["path"] for r in results}
