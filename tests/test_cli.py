"""The `lucida` command as a user runs it: real processes, real catalog files, real models."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lucida.catalog import Catalog
from lucida.indexer import index_paths
from lucida.translation import dictionaries_installed

from conftest import interruptible, make_photo_variants

LUCIDA = [sys.executable, "-m", "lucida"]


def run(*args: str, db: Path, check: bool = True, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "LUCIDA_DB": str(db)}
    done = subprocess.run([*LUCIDA, *args], env=env, capture_output=True, text=True, input=stdin, timeout=300)
    if check:
        assert done.returncode == 0, done.stderr
    return done


def start_index_and_wait_for_commits(db: Path, library: Path, at_least: int, **popen) -> tuple[subprocess.Popen, int]:
    """Start `lucida index` with small batches; return once `at_least` files are committed.

    Polls the catalog from a second connection, as a search beside an index run would.
    """
    process = subprocess.Popen(
        [*LUCIDA, "--db", str(db), "index", str(library), "--batch-size", "4"],
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        preexec_fn=interruptible,
        **popen,
    )
    committed = 0
    deadline = time.monotonic() + 120
    while committed < at_least and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
        if db.exists():
            try:
                with sqlite3.connect(db, timeout=5) as reader:
                    committed = reader.execute("SELECT count(*) FROM files").fetchone()[0]
            except sqlite3.OperationalError:  # schema not created yet
                pass
    assert process.poll() is None, "the run finished before it could be stopped; use more photos"
    return process, committed


@pytest.fixture(scope="module")
def indexed_db(tmp_path_factory, sample_photos, describer, embedder) -> Path:
    db = tmp_path_factory.mktemp("cli") / "catalog.db"
    with Catalog.open(db) as catalog:
        index_paths(catalog, [str(sample_photos)], describer, embedder)
    return db


def test_search_json_contract_is_exact(indexed_db, sample_photos):
    done = run("search", "a cat", "-k", "5", "--all", "--json", db=indexed_db)
    lines = done.stdout.splitlines()
    assert len(lines) == 1, "exactly one JSON object"
    payload = json.loads(lines[0])
    # issue 12: counts; issue 16: the named people every result shows
    assert set(payload) == {"query", "people", "searched_as", "total", "weaker", "results"}
    assert payload["query"] == "a cat" and payload["searched_as"] is None  # English: searched as typed
    assert payload["people"] == []
    assert payload["total"] >= 1 and payload["total"] + payload["weaker"] == 17
    results = payload["results"]
    assert len(results) == 5
    for result in results:
        # issue 7 added taken_at, files; issue 5 why; issue 12 answer
        assert set(result) == {"path", "score", "caption", "taken_at", "files", "why", "answer"}
        assert os.path.isabs(result["path"]) and Path(result["path"]).exists()
        assert isinstance(result["score"], float) and isinstance(result["caption"], str) and result["caption"]
        assert 0 <= result["score"] <= 1 and isinstance(result["answer"], bool)  # the calibrated relevance
        assert "(" not in result["caption"] and ")" not in result["caption"]  # no WordNet definitions
        assert set(result["why"]) == {
            "similarity", "vector_rank", "word_rank", "class_rank", "fused", "words", "classes", "search_text"
        }  # fmt: skip
        assert "(" in result["why"]["search_text"]  # what was searched: the text with its definitions
    # In order of relevance, so the answers come first.
    flags = [r["answer"] for r in results]
    assert flags == sorted(flags, reverse=True)
    assert [r["score"] for r in results] == sorted((r["score"] for r in results), reverse=True)
    assert results[0]["path"] == str(sample_photos / "chelsea.jpg") and results[0]["answer"] is True
    # It matched the word "cat" in its classes' names and definitions, and its top class is a cat.
    why = results[0]["why"]
    assert why["words"]["classes"] == ["cat"] and why["vector_rank"] == 1 and why["word_rank"] == 1
    assert "cat" in why["classes"][0]["label"] and 0 < why["classes"][0]["p"] <= 1


def test_queries_file_prints_json_lines_in_order(indexed_db, sample_photos, tmp_path):
    queries = ["a cat", "a cup of coffee", "a rocket launch"]
    query_file = tmp_path / "queries.txt"
    query_file.write_text("\n".join(queries) + "\n\n", encoding="utf-8")
    done = run("search", "--queries", str(query_file), "--json", "-k", "3", "--all", db=indexed_db)
    payloads = [json.loads(line) for line in done.stdout.splitlines()]
    assert [p["query"] for p in payloads] == queries
    assert [p["results"][0]["path"] for p in payloads] == [
        str(sample_photos / "chelsea.jpg"),
        str(sample_photos / "coffee.jpg"),
        str(sample_photos / "rocket.jpg"),
    ]
    assert all(len(p["results"]) == 3 for p in payloads)


@pytest.mark.skipif(not dictionaries_installed(), reason="no FreeDict dictionaries: run make system-deps")
def test_a_query_in_another_language_says_the_english_words_it_was_searched_by(indexed_db, sample_photos):
    done = run("search", "une tasse de café", "-k", "2", db=indexed_db)
    said, first = done.stdout.splitlines()[:2]
    assert said == "searched as: cup coffee"
    assert first.split(maxsplit=2)[2] == str(sample_photos / "coffee.jpg")
    payload = json.loads(run("search", "une tasse de café", "-k", "1", "--json", db=indexed_db).stdout)
    assert payload["query"] == "une tasse de café" and payload["searched_as"] == "cup coffee"


def test_human_search_output_has_rank_score_path_and_description(indexed_db, sample_photos):
    done = run("search", "a cup of coffee", "-k", "2", db=indexed_db)
    first, description = done.stdout.splitlines()[:2]
    rank, score, path = first.split(maxsplit=2)
    assert rank == "1" and 0 < float(score) <= 1 and path == str(sample_photos / "coffee.jpg")
    # The caption a person reads: class names and a category, no WordNet definitions.
    assert description.strip().startswith("espresso") and "coffee" in description
    assert "(" not in description and ")" not in description


def test_search_lists_the_answers_and_all_adds_the_weaker_matches(indexed_db, sample_photos):
    answers = json.loads(run("search", "a cat", "-k", "100", "--json", db=indexed_db).stdout)
    everything = json.loads(run("search", "a cat", "-k", "100", "--all", "--json", db=indexed_db).stdout)
    # By default only the answers, the cat among them; --all: the same answers, then the rest.
    assert answers["total"] == len(answers["results"]) >= 1 and answers["total"] + answers["weaker"] == 17
    assert all(r["answer"] is True for r in answers["results"])
    assert str(sample_photos / "chelsea.jpg") in [r["path"] for r in answers["results"]]
    assert (everything["total"], everything["weaker"]) == (answers["total"], answers["weaker"])
    assert [r["answer"] for r in everything["results"]] == [True] * answers["total"] + [False] * answers["weaker"]
    assert [r["path"] for r in everything["results"][: answers["total"]]] == [r["path"] for r in answers["results"]]
    assert all(0 <= r["score"] <= 1 for r in everything["results"])

    # The plain listing marks where the weaker matches start, once.
    lines = run("search", "a cat", "-k", "100", "--all", db=indexed_db).stdout.splitlines()
    ranked = [line for line in lines if line[:3].strip().isdigit()]
    assert [line.split()[2] for line in ranked] == [r["path"] for r in everything["results"]]
    assert [line.strip() for line in lines].count("— weaker matches —") == 1
    divider = [line.strip() for line in lines].index("— weaker matches —")
    assert lines[divider + 1].split()[0] == str(answers["total"] + 1)


def test_a_search_without_answers_names_the_closest_photos_and_succeeds(indexed_db, sample_photos):
    query = "a zebra"  # no sample photo shows one, and the classifier knows zebras (an ImageNet class)
    done = run("search", query, db=indexed_db)  # exit status 0: finding nothing is no error
    assert done.stderr == ""
    (line,) = done.stdout.splitlines()
    assert line.startswith(f'no photos match "{query}" well; closest: ') and "--all" in line
    names = line.split("closest: ")[1].split(" (")[0].split(", ")
    assert len(names) == 3 and all((sample_photos / name).exists() for name in names)
    payload = json.loads(run("search", query, "--json", db=indexed_db).stdout)
    assert (payload["total"], payload["weaker"], payload["results"]) == (0, 17, [])


def test_status_json_reports_counts_models_and_catalog(indexed_db):
    payload = json.loads(run("status", "--json", db=indexed_db).stdout)
    assert payload["indexed"] == 17 and payload["images"] == 17
    assert payload["pending"] == 0 and payload["skipped"] == []
    assert payload["models"] == {"describer": "efficientnet-lite0-imagenet+hypernyms+pixels", "embedder": "all-minilm-l6-v2"}
    assert payload["catalog"] == str(indexed_db) and payload["catalog_bytes"] > 0


def test_user_errors_are_one_line_and_non_zero(tmp_path, indexed_db):
    missing = run("search", "a cat", db=tmp_path / "none.db", check=False)
    assert missing.returncode == 1 and "no catalog at" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1 and "Traceback" not in missing.stderr
    assert not (tmp_path / "none.db").exists(), "searching must not create a catalog"
    nowhere = run("index", str(tmp_path / "nowhere"), db=tmp_path / "new.db", check=False)
    assert nowhere.returncode == 1 and "does not exist" in nowhere.stderr and "Traceback" not in nowhere.stderr
    assert not (tmp_path / "new.db").exists(), "a mistyped path must not leave a catalog behind"
    empty = run("search", "   ", db=indexed_db, check=False)
    assert empty.returncode == 1 and "query is empty" in empty.stderr
    # Control characters are no query either: before, they ranked every photo in arbitrary order.
    control = run("search", "\x01\x02", db=indexed_db, check=False)
    assert control.returncode == 1 and "query is empty" in control.stderr


def test_kill_9_mid_run_then_rerun_indexes_every_photo_exactly_once(tmp_path, sample_photos):
    photos = make_photo_variants(sample_photos, tmp_path / "library", per_photo=6)
    db = tmp_path / "catalog.db"
    process, committed = start_index_and_wait_for_commits(
        db, tmp_path / "library", 12, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert 12 <= committed < len(photos)

    status = json.loads(run("status", "--json", db=db).stdout)
    assert status["pending"] > 0 and status["indexed"] >= 12

    rerun = run("index", str(tmp_path / "library"), db=db)
    assert "0 skipped" in rerun.stdout
    with sqlite3.connect(db) as reader:
        paths = [p for (p,) in reader.execute("SELECT path FROM files")]
        per_image = reader.execute(
            "SELECT count(*) FROM descriptions GROUP BY image_id, describer HAVING count(*) > 1"
        ).fetchall()
        embeddings = reader.execute("SELECT count(*) FROM embeddings").fetchone()[0]
    assert sorted(paths) == sorted(str(p) for p in photos)
    assert per_image == [] and embeddings == len(photos)
    # The rerun described only what the killed run had not committed.
    described = int(rerun.stdout.split(" described")[0].rsplit(" ", 1)[1])
    assert described <= len(photos) - committed
    status = json.loads(run("status", "--json", db=db).stdout)
    assert (status["indexed"], status["pending"]) == (len(photos), 0)


def test_ctrl_c_keeps_committed_batches_and_says_how_to_resume(tmp_path, sample_photos):
    photos = make_photo_variants(sample_photos, tmp_path / "library", per_photo=3)
    db = tmp_path / "catalog.db"
    process, _ = start_index_and_wait_for_commits(
        db, tmp_path / "library", 4, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130
    assert "interrupted" in stderr and "resume" in stderr and "Traceback" not in stderr
    status = json.loads(run("status", "--json", db=db).stdout)
    assert 4 <= status["indexed"] < len(photos) and status["pending"] == len(photos) - status["indexed"]
    run("index", str(tmp_path / "library"), "--quiet", db=db)
    status = json.loads(run("status", "--json", db=db).stdout)
    assert (status["indexed"], status["pending"]) == (len(photos), 0)


def test_help_loads_neither_numpy_nor_images_nor_models(tmp_path):
    # The first thing a new user runs: it answered in about 0.5 s while the CLI imported the
    # library at start-up, and in about 0.15 s without it (bench/cli_latency.py).
    heavy = ("numpy", "torch", "transformers", "sentence_transformers", "onnxruntime", "PIL")
    script = (
        "import sys\n"
        "from lucida.cli import cli\n"
        "for argv in (['--help'], ['search', '--help'], ['models', 'list', '--help']):\n"
        "    cli(argv, prog_name='lucida', standalone_mode=False)\n"
        f"print(sorted(m for m in {heavy!r} if m in sys.modules))\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "LUCIDA_DB": str(tmp_path / "none.db")}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "Usage: lucida search" in done.stdout and "Usage: lucida models list" in done.stdout
    assert done.stdout.splitlines()[-1] == "[]"
