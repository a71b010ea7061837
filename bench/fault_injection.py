"""Fault injection: SIGKILL `lucida index` at named points in every phase, rerun it, and compare
the catalog with a clean index of the same photos, table by table (issue 14).

The photo folder holds ~25 real files: the 17 sample photos, a few rotated or re-saved variants
(other content hashes), an exact copy (a second file of one image), five files with EXIF/XMP
metadata written by ExifTool (a keyword, GPS, a capture time), and three bad files (empty,
truncated, not an image), so that skip records are compared too.

A clean catalog is built once by the plain CLI. Then each trial:

  1. runs `lucida index FOLDER` in a fresh catalog under a `python -c` wrapper that replaces one
     function of lucida (decode, describe, embed, store/commit, metadata read, metadata words,
     class vectors, embed_missing) with one that SIGKILLs its own process on its k-th call, before
     or after calling the real one; k comes from a seeded RNG within the number of calls a
     counting run saw, so the kill lands at a different batch each time. A few trials instead
     SIGKILL the plain CLI after a random delay. A run that ends without being killed is
     reported as "not reached", never as a pass;
  2. reruns the plain CLI once (`python -m lucida --db DB index FOLDER -q --batch-size B`) and
     compares every table with the clean catalog (acceptance: 0 differences after ONE rerun);
  3. reruns it a second time and compares again (convergence, reported only).

Rows are compared by stable values, never by ids or timestamps; vectors and the classifier's
probabilities in description details with a tolerance (batch composition changes float
rounding). The FTS5 index is checked with FTS5's own integrity-check against the descriptions
table, and by mapping MATCH results for every word of the clean catalog's descriptions to
(content hash, describer).

    HF_HUB_OFFLINE=1 python bench/fault_injection.py                 # 24 trials
    HF_HUB_OFFLINE=1 python bench/fault_injection.py --per-phase 2 --random 2 --out fault.json
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from _common import load_average, machine, print_machine, write_out

VECTOR_ATOL = 1e-5
DETAILS_ATOL = 1e-5
# Settings whose values legitimately differ between two catalogs of the same photos: none is
# known today; a key listed here is compared by presence only.
VOLATILE_SETTINGS: set[str] = set()

# The wrapper: patches the named targets, then runs the CLI. argv: db folder batch spec-json.
# spec = {"mode": "kill", "target": ..., "k": ..., "when": "before"|"after"|"after_exit"}
#      | {"mode": "count", "targets": [...], "counts_file": ...}
_WRAPPER = r"""
import atexit, contextlib, functools, importlib, itertools, json, os, signal, sys, threading

db, folder, batch, spec = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])

def resolve(target):
    module_name, _, attr = target.partition(":")
    owner = importlib.import_module(module_name)
    *path, name = attr.split(".")
    for part in path:
        owner = getattr(owner, part)
    return owner, name

def die():
    sys.stdout.flush(); sys.stderr.flush()
    os.kill(os.getpid(), signal.SIGKILL)

counts = {}
lock = threading.Lock()

def patch(target, k, when):
    owner, name = resolve(target)
    original = getattr(owner, name)
    counts[target] = 0
    def tick():
        with lock:
            counts[target] += 1
            return counts[target]
    if when == "after_exit":  # a context manager: kill once the k-th one has exited (committed)
        @contextlib.contextmanager
        def wrapped(*args, **kwargs):
            n = tick()
            with original(*args, **kwargs) as value:
                yield value
            if n == k:
                die()
    else:
        @functools.wraps(original)
        def wrapped(*args, **kwargs):
            n = tick()
            if n == k and when == "before":
                die()
            result = original(*args, **kwargs)
            if n == k and when == "after":
                die()
            return result
    setattr(owner, name, wrapped)

if spec["mode"] == "count":
    for target, when in spec["targets"]:
        patch(target, 0, when)
    atexit.register(lambda: open(spec["counts_file"], "w").write(json.dumps(counts)))
else:
    patch(spec["target"], spec["k"], spec["when"])

from lucida.cli import main
sys.argv = ["lucida", "--db", db, "index", folder, "-q", "--batch-size", batch]
main()
"""

# (phase, hook label, target, when). "after_exit" is for context managers.
HOOKS = {
    "decode": [
        ("_prepare before", "lucida.indexer:_prepare", "before"),
        ("_prepare after", "lucida.indexer:_prepare", "after"),
    ],
    "describe": [
        ("describe_each before", "lucida.indexer:describe_each", "before"),
        ("describe_each after", "lucida.indexer:describe_each", "after"),
    ],
    "embed": [
        ("_embed_texts before", "lucida.indexer:_embed_texts", "before"),
        ("_embed_texts after", "lucida.indexer:_embed_texts", "after"),
    ],
    "metadata read": [
        ("MetadataReader.read after (exiftool thread)", "lucida.metadata:MetadataReader.read", "after"),
    ],
    "commit": [
        ("_store_batch after (batch committed)", "lucida.indexer:_store_batch", "after"),
        ("Catalog.transaction after COMMIT", "lucida.catalog.store:Catalog.transaction", "after_exit"),
    ],
    "metadata words": [
        ("update_metadata_descriptions before", "lucida.indexer:update_metadata_descriptions", "before"),
        ("update_metadata_descriptions after (stale flag still set)", "lucida.indexer:update_metadata_descriptions", "after"),
        ("metadata_fields mid-transaction", "lucida.metadata_text:metadata_fields", "before"),
    ],
    "class vectors": [
        ("add_conse_vectors before", "lucida.indexer:add_conse_vectors", "before"),
        ("add_conse_vectors after", "lucida.indexer:add_conse_vectors", "after"),
        ("class_vectors after (text vectors committed)", "lucida.concepts:class_vectors", "after"),
        ("put_class_mixture mid-transaction", "lucida.catalog.store:Catalog.put_class_mixture", "before"),
    ],
    "embed_missing": [
        ("embed_missing before", "lucida.indexer:embed_missing", "before"),
        ("embed_missing after", "lucida.indexer:embed_missing", "after"),
    ],
}


# -- the photos ---------------------------------------------------------------------------------


def make_photos(folder: Path) -> dict:
    from PIL import Image

    from lucida.samples import write_sample_photos

    written = write_sample_photos(folder)
    by_name = {p.stem: p for p in written}
    names = sorted(by_name)
    # Variants with other bytes: rotated, and re-saved at another quality.
    for i, name in enumerate(names[:3]):
        Image.open(by_name[name]).rotate(90 * (i + 1), expand=True).save(folder / f"{name}_rot{90 * (i + 1)}.jpg", quality=90)
    Image.open(by_name[names[3]]).save(folder / f"{names[3]}_q60.jpg", quality=60)
    # Metadata written by ExifTool (changes the bytes, so before any exact copy is made).
    tagged = [by_name[n] for n in names[4:8]] + [folder / f"{names[0]}_rot90.jpg"]
    for path in tagged:
        subprocess.run(
            ["exiftool", "-q", "-overwrite_original", "-XMP-dc:Subject=Kilimanjaro", "-GPSLatitude=48.85",
             "-GPSLatitudeRef=N", "-GPSLongitude=2.35", "-GPSLongitudeRef=E",
             "-DateTimeOriginal=2021:06:05 14:03:22", str(path)],
            check=True,
        )  # fmt: skip
    # An exact copy: a second file of one image (filed as "moved or copied").
    shutil.copy(by_name[names[9]], folder / f"{names[9]}_copy.jpg")
    # Bad files.
    (folder / "empty.jpg").write_bytes(b"")
    data = by_name[names[10]].read_bytes()
    (folder / "truncated.jpg").write_bytes(data[: len(data) // 3])
    (folder / "not_a_photo.jpg").write_bytes(b"this is not a JPEG\n" * 10)
    files = sorted(p.name for p in folder.iterdir())
    return {"files": len(files), "tagged": [p.name for p in tagged], "names": files}


# -- running lucida -----------------------------------------------------------------------------


def _env() -> dict:
    return os.environ | {"HF_HUB_OFFLINE": "1"}


def run_cli(db: Path, folder: Path, batch: int, timeout: float = 900) -> tuple[int, float, str]:
    command = [sys.executable, "-m", "lucida", "--db", str(db), "index", str(folder), "-q", "--batch-size", str(batch)]
    began = time.perf_counter()
    done = subprocess.run(command, env=_env(), capture_output=True, text=True, timeout=timeout)
    return done.returncode, time.perf_counter() - began, done.stderr[-2000:]


def _reap(process: subprocess.Popen) -> None:
    """Kill what is left of the process group we started (an orphaned ExifTool)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def run_wrapper(db: Path, folder: Path, batch: int, spec: dict, timeout: float = 900) -> tuple[int, float, str]:
    command = [sys.executable, "-c", _WRAPPER, str(db), str(folder), str(batch), json.dumps(spec)]
    began = time.perf_counter()
    process = subprocess.Popen(
        command, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        _, err = process.communicate(timeout=timeout)
    finally:
        _reap(process)
    return process.returncode, time.perf_counter() - began, (err or "")[-2000:]


def run_killed_after(db: Path, folder: Path, batch: int, delay: float) -> tuple[int, float, str]:
    command = [sys.executable, "-m", "lucida", "--db", str(db), "index", str(folder), "-q", "--batch-size", str(batch)]
    began = time.perf_counter()
    process = subprocess.Popen(
        command, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        _, err = process.communicate(timeout=delay)
    except subprocess.TimeoutExpired:
        process.kill()
        _, err = process.communicate()
    finally:
        _reap(process)
    return process.returncode, time.perf_counter() - began, (err or "")[-2000:]


# -- comparing catalogs -------------------------------------------------------------------------


def _vector(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype="<f4")


def snapshot(db: Path, words: list[str] | None = None) -> dict:
    """Every table's rows, keyed by stable values (no ids, no timestamps)."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        q = lambda sql, *a: con.execute(sql, a).fetchall()  # noqa: E731
        tables = {name for (name,) in q("SELECT name FROM sqlite_master WHERE type IN ('table')")}
        s: dict = {"tables": tables}
        s["images"] = set(q("SELECT content_hash, width, height, taken_at FROM images"))
        s["files"] = set(q(
            "SELECT f.path, f.size, f.mtime_ns, i.content_hash FROM files f LEFT JOIN images i ON i.id = f.image_id"
        ))  # fmt: skip
        desc = q(
            "SELECT i.content_hash, d.describer, d.prompt, d.kind, d.revision, d.text, d.details "
            "FROM descriptions d LEFT JOIN images i ON i.id = d.image_id"
        )
        s["descriptions"] = {row[:5]: (row[5], json.loads(row[6]) if row[6] else None) for row in desc}
        s["descriptions_rows"] = len(desc)
        for table in ("embeddings", "class_mixtures"):
            rows = q(
                f"SELECT i.content_hash, d.describer, d.prompt, t.embedder, t.vector FROM {table} t "
                "LEFT JOIN descriptions d ON d.id = t.description_id LEFT JOIN images i ON i.id = d.image_id"
            )
            s[table] = {row[:4]: _vector(row[4]) for row in rows}
            s[table + "_rows"] = len(rows)
        s["text_vectors"] = {(e, t): _vector(v) for e, t, v in q("SELECT embedder, text, vector FROM text_vectors")}
        cols = [c[1] for c in q("PRAGMA table_info(file_metadata)") if c[1] != "read_at"]
        s["file_metadata"] = set(q(f"SELECT {', '.join(cols)} FROM file_metadata"))
        s["skipped"] = set(q("SELECT path, size, mtime_ns, reason FROM skipped"))
        s["pending"] = set(q("SELECT path FROM pending"))
        s["roots"] = set(q("SELECT path FROM roots"))
        s["caption_failures"] = set(q(
            "SELECT i.content_hash, c.captioner, c.prompt, c.error, c.attempts FROM caption_failures c "
            "LEFT JOIN images i ON i.id = c.image_id"
        ))  # fmt: skip
        xcols = [c[1] for c in q("PRAGMA table_info(xmp_writes)") if c[1] != "written_at"]
        s["xmp_writes"] = set(q(f"SELECT {', '.join(xcols)} FROM xmp_writes"))
        s["settings"] = {k: (v if k not in VOLATILE_SETTINGS else "<volatile>") for k, v in q("SELECT key, value FROM settings")}
        s["integrity"] = [r[0] for r in q("PRAGMA integrity_check")]
        s["foreign_keys"] = q("PRAGMA foreign_key_check")
        # FTS5: the index agrees with its content table (raises when not) ...
        # (a statement of the INSERT form, so it needs a writable connection; it changes nothing)
        writable = sqlite3.connect(db)
        try:
            writable.execute("INSERT INTO description_words (description_words, rank) VALUES ('integrity-check', 1)")
            s["fts_integrity"] = "ok"
        except sqlite3.DatabaseError as error:
            s["fts_integrity"] = str(error)
        finally:
            writable.close()
        # ... and each word finds the same (content hash, describer) rows.
        if words is None:
            words = sorted({w for text, _ in s["descriptions"].values() for w in _words(text)})
        s["words"] = words
        matches = {}
        for word in words:
            rows = q(
                "SELECT i.content_hash, d.describer FROM description_words w JOIN descriptions d ON d.id = w.rowid "
                "LEFT JOIN images i ON i.id = d.image_id WHERE description_words MATCH ?",
                '"' + word.replace('"', '""') + '"',
            )
            matches[word] = sorted(rows, key=repr)
        s["description_words"] = matches
    finally:
        con.close()
    return s


def _words(text: str) -> set[str]:
    out, current = set(), []
    for ch in text.lower() + " ":
        if ch.isalnum():
            current.append(ch)
        else:
            if len(current) >= 3:
                out.add("".join(current))
            current = []
    return out


def _close(a, b, atol: float) -> bool:
    """Structural equality with a tolerance on floats (classifier probabilities in details)."""
    if isinstance(a, float) or isinstance(b, float):
        return isinstance(a, (int, float)) and isinstance(b, (int, float)) and math.isclose(a, b, abs_tol=atol)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k], atol) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_close(x, y, atol) for x, y in zip(a, b))
    return a == b


def _example(items) -> str:
    items = sorted(items, key=repr)
    return repr(items[0])[:240] if items else ""


def compare(clean: dict, got: dict) -> list[dict]:
    """Differences between two snapshots: one entry per table that differs."""
    diffs: list[dict] = []

    def add(table: str, count: int, example: str, what: str = "") -> None:
        if count:
            diffs.append({"table": table, "count": count, "what": what, "example": example})

    if clean["tables"] != got["tables"]:
        add("sqlite_master", len(clean["tables"] ^ got["tables"]), _example(clean["tables"] ^ got["tables"]))
    for table in ("images", "files", "file_metadata", "skipped", "pending", "roots", "caption_failures", "xmp_writes"):
        missing, extra = clean[table] - got[table], got[table] - clean[table]
        add(table, len(missing), _example(missing), "missing rows")
        add(table, len(extra), _example(extra), "extra rows")
    # descriptions
    c, g = clean["descriptions"], got["descriptions"]
    add("descriptions", len(c.keys() - g.keys()), _example(c.keys() - g.keys()), "missing rows")
    add("descriptions", len(g.keys() - c.keys()), _example(g.keys() - c.keys()), "extra rows")
    add("descriptions", abs(got["descriptions_rows"] - len(g)), "", "duplicate keys")
    text = [k for k in c.keys() & g.keys() if c[k][0] != g[k][0]]
    add("descriptions", len(text), _example([(k, c[k][0], g[k][0]) for k in text]), "text differs")
    details = [k for k in c.keys() & g.keys() if not _close(c[k][1], g[k][1], DETAILS_ATOL)]
    add("descriptions", len(details), _example([(k[:2], c[k][1], g[k][1]) for k in details]), "details differ")
    # vectors
    for table in ("embeddings", "class_mixtures", "text_vectors"):
        c, g = clean[table], got[table]
        add(table, len(c.keys() - g.keys()), _example(c.keys() - g.keys()), "missing rows")
        add(table, len(g.keys() - c.keys()), _example(g.keys() - c.keys()), "extra rows")
        if table + "_rows" in got:
            add(table, abs(got[table + "_rows"] - len(g)), "", "duplicate keys")
        far = [k for k in c.keys() & g.keys() if c[k].shape != g[k].shape or not np.allclose(c[k], g[k], atol=VECTOR_ATOL)]
        add(table, len(far), _example(far), f"vector differs (atol {VECTOR_ATOL})")
    # settings
    c, g = clean["settings"], got["settings"]
    keys = {k for k in c.keys() | g.keys() if c.get(k) != g.get(k)}
    add("settings", len(keys), _example([(k, c.get(k), g.get(k)) for k in keys]), "value differs or missing")
    # FTS
    if got["fts_integrity"] != "ok":
        add("description_words", 1, got["fts_integrity"], "FTS5 integrity-check failed")
    words = [w for w in clean["description_words"] if clean["description_words"][w] != got["description_words"].get(w)]
    add("description_words", len(words), _example([(w, clean["description_words"][w], got["description_words"].get(w)) for w in words]),
        "MATCH finds other rows")  # fmt: skip
    if got["integrity"] != ["ok"]:
        add("integrity_check", len(got["integrity"]), _example(got["integrity"]))
    add("foreign_key_check", len(got["foreign_keys"]), _example(got["foreign_keys"]))
    return diffs


# -- the trials ---------------------------------------------------------------------------------


def plan_trials(per_phase: int, randoms: int, counts: dict, clean_s: float, rng: random.Random) -> list[dict]:
    trials = []
    for phase, hooks in HOOKS.items():
        usable = [h for h in hooks if counts.get(h[1], 0) > 0]
        if not usable:
            trials.append({"phase": phase, "hook": hooks[0][0], "target": hooks[0][1], "when": hooks[0][2], "k": 1})
            continue
        n = max(per_phase, len(usable)) if phase in ("metadata words", "class vectors") else per_phase
        if phase in ("metadata read", "embed_missing"):
            n = max(1, per_phase // 2)
        for i in range(n):
            label, target, when = usable[i % len(usable)]
            k = rng.randint(1, counts[target])
            trials.append({"phase": phase, "hook": label, "target": target, "when": when, "k": k})
    for _ in range(randoms):
        delay = round(rng.uniform(0.25, 0.95) * clean_s, 2)
        trials.append({"phase": "random time", "hook": f"SIGKILL after {delay} s", "delay": delay, "k": None})
    return trials


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-phase", type=int, default=3, help="trials per main phase (default 3)")
    parser.add_argument("--random", type=int, default=3, help="kills after a random delay (default 3)")
    parser.add_argument("--batch-size", type=int, default=4, help="--batch-size of every index run (default 4)")
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--no-second-rerun", action="store_true", help="skip the convergence rerun")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (printed)")
    parser.add_argument("--out", help="write the results as JSON to this file")
    args = parser.parse_args()

    rng = random.Random(args.seed)
    temp = Path(tempfile.mkdtemp(prefix="lucida-bench-fault-"))
    facts = machine()
    print_machine(facts)
    try:
        folder = temp / "photos"
        photos = make_photos(folder)
        print(f"photos: {photos['files']} files in {folder} ({len(photos['tagged'])} with ExifTool metadata, 3 bad)")

        clean_db = temp / "clean.db"
        rc, clean_s, err = run_cli(clean_db, folder, args.batch_size)
        if rc != 0:
            sys.exit(f"clean index failed ({rc}):\n{err}")
        clean = snapshot(clean_db)
        words = clean["words"]
        print(
            f"clean index: {clean_s:.1f} s; {len(clean['images'])} images, {len(clean['files'])} files, "
            f"{clean['descriptions_rows']} descriptions, {clean['embeddings_rows']} embeddings, "
            f"{clean['class_mixtures_rows']} class mixtures, {len(clean['file_metadata'])} metadata rows, "
            f"{len(clean['skipped'])} skipped, {len(clean['text_vectors'])} text vectors, {len(words)} FTS words checked"
        )
        # The clean catalog checked against a second clean build: what "0 differences" can mean.
        rc, again_s, err = run_cli(clean_db, folder, args.batch_size)
        settled = compare(clean, snapshot(clean_db, words))
        print(f"clean index rerun (no change): {again_s:.1f} s, {len(settled)} differences")

        # A counting run: how often each hook is called in an index of this folder.
        counts_file = temp / "counts.json"
        targets = sorted({(t, w if w == "after_exit" else "before") for hooks in HOOKS.values() for _, t, w in hooks})
        rc, count_s, err = run_wrapper(temp / "count.db", folder, args.batch_size,
                                       {"mode": "count", "targets": targets, "counts_file": str(counts_file)})  # fmt: skip
        if rc != 0 or not counts_file.exists():
            sys.exit(f"counting run failed ({rc}):\n{err}")
        counts = json.loads(counts_file.read_text())
        count_diffs = compare(clean, snapshot(temp / "count.db", words))
        print(f"counting run: {count_s:.1f} s, {len(count_diffs)} differences from clean; calls: {counts}")

        trials = plan_trials(args.per_phase, args.random, counts, clean_s, rng)
        results = []
        header = f"{'#':>2}  {'phase':<14} {'hook':<58} {'k':>3}  {'died':<11} {'kill s':>6} {'rerun s':>7}  diffs  2nd"
        print(header)
        for number, trial in enumerate(trials, 1):
            db = temp / f"trial{number}.db"
            load = load_average()
            if "delay" in trial:
                rc, kill_s, err = run_killed_after(db, folder, args.batch_size, trial["delay"])
            else:
                spec = {"mode": "kill", "target": trial["target"], "k": trial["k"], "when": trial["when"]}
                rc, kill_s, err = run_wrapper(db, folder, args.batch_size, spec)
            died = rc == -signal.SIGKILL
            status = "killed (-9)" if died else ("not reached" if rc == 0 else f"rc {rc}")
            result = dict(trial, number=number, returncode=rc, died=died, status=status, kill_s=round(kill_s, 2),
                          load_average_before=load)  # fmt: skip
            if not died and rc != 0:
                result["stderr"] = err
            if died:
                rc1, rerun_s, err1 = run_cli(db, folder, args.batch_size)
                result["rerun_rc"], result["rerun_s"] = rc1, round(rerun_s, 2)
                if rc1 != 0:
                    result["rerun_stderr"] = err1
                result["differences"] = compare(clean, snapshot(db, words))
                if not args.no_second_rerun:
                    rc2, rerun2_s, _ = run_cli(db, folder, args.batch_size)
                    result["rerun2_rc"], result["rerun2_s"] = rc2, round(rerun2_s, 2)
                    result["differences_after_second_rerun"] = compare(clean, snapshot(db, words))
            results.append(result)
            diffs = result.get("differences")
            second = result.get("differences_after_second_rerun")
            print(
                f"{number:>2}  {trial['phase']:<14} {trial['hook'][:58]:<58} {str(trial['k'] or '-'):>3}  {status:<11} "
                f"{kill_s:>6.1f} {result.get('rerun_s', float('nan')):>7.1f}  "
                f"{'-' if diffs is None else len(diffs):>5}  {'-' if second is None else len(second):>3}"
            )
            for d in diffs or []:
                print(f"      {d['table']}: {d['count']} {d['what']}; e.g. {d['example']}")
            for d in second or []:
                print(f"      after 2nd rerun: {d['table']}: {d['count']} {d['what']}; e.g. {d['example']}")
            if not args.keep:
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{db}{suffix}").unlink(missing_ok=True)

        killed = [r for r in results if r["died"]]
        passed = [r for r in killed if not r["differences"] and r.get("rerun_rc") == 0]
        not_reached = [r for r in results if r["status"] == "not reached"]
        failed_start = [r for r in results if not r["died"] and r["status"] != "not reached"]
        phases = sorted({r["phase"] for r in killed})
        total_diffs = sum(len(r["differences"]) for r in killed)
        summary = (
            f"{len(results)} trials: {len(killed)} killed with SIGKILL, {len(not_reached)} not reached, "
            f"{len(failed_start)} other exits; after one rerun {len(passed)}/{len(killed)} catalogs equal the clean "
            f"index ({total_diffs} table differences); phases killed: {', '.join(phases)}"
        )
        print(summary)
        write_out(args.out, {
            "benchmark": "fault_injection",
            "machine": facts,
            "photos": photos,
            "batch_size": args.batch_size,
            "seed": args.seed,
            "clean_index_s": clean_s,
            "clean_rerun_differences": settled,
            "counting_run_differences": count_diffs,
            "hook_calls": counts,
            "volatile_settings": sorted(VOLATILE_SETTINGS),
            "vector_atol": VECTOR_ATOL,
            "details_atol": DETAILS_ATOL,
            "trials": results,
            "summary": summary,
            "accepted": len(passed) == len(killed) and len(killed) >= 20,
        })  # fmt: skip
    finally:
        if args.keep:
            print(f"kept {temp}", file=sys.stderr)
        else:
            shutil.rmtree(temp, ignore_errors=True)


if __name__ == "__main__":
    main()
