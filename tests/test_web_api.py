"""The web app's JSON API, served by a real uvicorn on 127.0.0.1 over a real catalog of the
sample photos, indexed by the real models."""

from __future__ import annotations

import asyncio
import hashlib
import http.client
import io
import json
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote, quote_plus

import httpx
import pytest
import schemathesis
import uvicorn
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from PIL import Image
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode

from lucida.catalog import Catalog
from lucida.cli import cli
from lucida.indexer import index_paths
from lucida.translation import dictionaries_installed
from lucida.web import create_app

from conftest import make_photo_variants, png_bomb

SEARCH_KEYS = {"query", "took_ms", "total", "weaker", "people", "searched_as", "results"}
RESULT_KEYS = {"id", "path", "score", "caption", "thumbnail_url", "taken_at", "width", "height", "files", "why", "answer"}
ABSENT = "a zebra"  # no sample photo shows one, and the classifier knows zebras (an ImageNet class)
TOKEN = "s3cret-token"


@pytest.fixture(scope="module")
def library(tmp_path_factory, sample_photos, describer, embedder) -> dict:
    root = tmp_path_factory.mktemp("web")
    photos = root / "photos"
    shutil.copytree(sample_photos, photos)
    catalog_path = root / "catalog.db"
    with Catalog.open(catalog_path) as catalog:
        index_paths(catalog, [str(photos)], describer, embedder)
    return {"catalog": catalog_path, "photos": photos, "cache": root / "cache", "count": len(list(photos.iterdir()))}


@contextmanager
def serving(app) -> Iterator[str]:
    """Run `app` on a free port of 127.0.0.1 in a background thread; yields its base URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)


@pytest.fixture(scope="module")
def server(library, describer, embedder) -> Iterator[str]:
    app = create_app(library["catalog"], describer, embedder, cache_dir=library["cache"])
    with serving(app) as url:
        yield url


@pytest.fixture(scope="module")
def api(server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server, timeout=60) as client:
        yield client


def search(api: httpx.Client, q: str, **params) -> dict:
    response = api.get("/api/search", params={"q": q, **params})
    assert response.status_code == 200, response.text
    return response.json()


def image_id_of(api: httpx.Client, name: str) -> int:
    for hit in search(api, "a photo", k=100, all=True)["results"]:
        if Path(hit["path"]).name == name:
            return hit["id"]
    raise AssertionError(f"{name} not in the catalog")


def assert_error(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and body["error"], body
    assert "Traceback" not in body["error"]


# -- search ------------------------------------------------------------------------------------


def test_search_answers_the_documented_shape_with_the_cat_first(api, library):
    page = search(api, "a cat", k=5, all=True)
    assert set(page) == SEARCH_KEYS
    assert page["query"] == "a cat" and page["took_ms"] >= 0
    assert page["total"] >= 1 and page["total"] + page["weaker"] == library["count"]
    assert len(page["results"]) == 5
    for hit in page["results"]:
        assert set(hit) == RESULT_KEYS
        assert hit["thumbnail_url"].startswith(f"/api/images/{hit['id']}/thumbnail")
        assert Path(hit["path"]).parent == library["photos"]
        assert 0 <= hit["score"] <= 1 and isinstance(hit["answer"], bool)  # the calibrated relevance
    first = page["results"][0]
    assert Path(first["path"]).name == "chelsea.jpg" and first["answer"] is True
    assert (first["width"], first["height"]) == Image.open(first["path"]).size
    flags = [hit["answer"] for hit in page["results"]]
    assert flags == sorted(flags, reverse=True)  # the answers first


@pytest.mark.skipif(not dictionaries_installed(), reason="no FreeDict dictionaries: run make system-deps")
def test_a_query_in_another_language_is_searched_in_english_words_and_says_so(api, library):
    page = search(api, "eine Rakete", k=3)
    assert page["query"] == "eine Rakete" and page["searched_as"] == "rocket"
    hit = page["results"][0]
    assert Path(hit["path"]).name == "rocket.jpg"
    assert search(api, "a rocket", k=3)["searched_as"] is None
    # The detail view weighs the same English words as the search: its score is the hit's similarity.
    detail = api.get(f"/api/images/{hit['id']}", params={"q": "eine Rakete"}).json()
    assert detail["why"]["score"] == pytest.approx(hit["why"]["similarity"], abs=1e-5)


def test_search_lists_the_answers_and_all_adds_the_weaker_matches(api, library):
    answers = search(api, "a cat", k=100)
    everything = search(api, "a cat", k=100, all=True)
    assert answers["total"] == len(answers["results"]) >= 1
    assert answers["total"] + answers["weaker"] == library["count"]
    assert all(hit["answer"] is True for hit in answers["results"])
    assert "chelsea.jpg" in [Path(hit["path"]).name for hit in answers["results"]]
    # all=true: the same counts; the answers, then the weaker matches, each in ranking order.
    assert (everything["total"], everything["weaker"]) == (answers["total"], answers["weaker"])
    ids = [hit["id"] for hit in everything["results"]]
    assert ids[: answers["total"]] == [hit["id"] for hit in answers["results"]]
    assert [hit["answer"] for hit in everything["results"]] == [True] * answers["total"] + [False] * answers["weaker"]
    assert all(0 <= hit["score"] <= 1 for hit in everything["results"])
    # Paging runs on past the answers with all=true, and ends with them without it.
    after = search(api, "a cat", k=3, offset=answers["total"], all=True)["results"]
    assert [hit["id"] for hit in after] == ids[answers["total"] : answers["total"] + 3]
    assert search(api, "a cat", k=3, offset=answers["total"])["results"] == []
    assert search(api, "a cat", all=False)["total"] == answers["total"]


def test_a_query_nothing_answers_still_counts_its_weaker_matches(api, library):
    page = search(api, ABSENT)
    assert (page["total"], page["weaker"], page["results"]) == (0, library["count"], [])
    weaker = search(api, ABSENT, k=100, all=True)
    assert len(weaker["results"]) == library["count"] and all(hit["answer"] is False for hit in weaker["results"])
    # By photo there is no cutoff: every photo counts, no hit is an answer or not.
    similar = api.get(f"/api/similar/{weaker['results'][0]['id']}", params={"k": 3}).json()
    assert similar["weaker"] == 0 and all(hit["answer"] is None for hit in similar["results"])


class CountingEmbedder:
    """The real embedder, recording each call's queries."""

    def __init__(self, inner):
        self.inner, self.name, self.query_calls = inner, inner.name, []

    def embed_documents(self, texts):
        return self.inner.embed_documents(texts)

    def embed_queries(self, texts):
        self.query_calls.append(list(texts))
        return self.inner.embed_queries(texts)


def test_concurrent_searches_share_query_embedding_calls(library, describer, embedder, api):
    counting = CountingEmbedder(embedder)
    app = create_app(library["catalog"], describer, counting, cache_dir=library["cache"])
    queries = [f"a photo of something, number {i}" for i in range(12)] + ["a cat"]
    with serving(app) as url:

        async def all_at_once():
            async with httpx.AsyncClient(base_url=url, timeout=60) as client:
                return await asyncio.gather(*(client.get("/api/search", params={"q": q, "k": 3}) for q in queries))

        answers = asyncio.run(all_at_once())
        repeat = httpx.get(f"{url}/api/search", params={"q": "a cat", "k": 3}, timeout=60)
    assert all(a.status_code == 200 for a in answers)
    # Batched: fewer model calls than searches, every query embedded exactly once, none again.
    embedded = [q for call in counting.query_calls for q in call]
    assert sorted(embedded) == sorted(queries) and len(counting.query_calls) < len(queries)
    # The same answers as searches one at a time on the shared server.
    for q, answer in zip(queries, answers):
        alone = search(api, q, k=3)
        assert [r["id"] for r in answer.json()["results"]] == [r["id"] for r in alone["results"]]
    assert repeat.json()["results"][0]["path"].endswith("chelsea.jpg")


def test_offset_pages_through_the_same_ranking(api, library):
    whole = [hit["id"] for hit in search(api, "a rocket", k=12, all=True)["results"]]
    pages = [
        hit["id"] for offset in (0, 5, 10, 15) for hit in search(api, "a rocket", k=5, offset=offset, all=True)["results"]
    ]
    assert pages[:12] == whole
    assert len(pages) == library["count"]  # the last page is short
    assert search(api, "a rocket", k=5, offset=library["count"], all=True)["results"] == []


def test_search_results_show_captions_without_definitions(api, library):
    hit = search(api, "a cat", k=1)["results"][0]
    others = api.get(f"/api/similar/{hit['id']}", params={"k": 100}).json()["results"]
    captions = [hit["caption"]] + [other["caption"] for other in others]
    assert len(captions) == library["count"]
    for caption in captions:
        assert caption and "(" not in caption and ")" not in caption, caption


def test_bad_search_parameters_are_refused_with_json(api):
    assert_error(api.get("/api/search", params={"q": "a cat", "k": 0}), 422)
    assert_error(api.get("/api/search", params={"q": "a cat", "offset": -1}), 422)
    assert_error(api.get("/api/search"), 422)
    assert_error(api.get("/api/search", params={"q": "   "}), 400)


# -- one photo ---------------------------------------------------------------------------------


def test_image_detail_has_every_fact_and_says_why_it_matched(api, library):
    hit = search(api, "a cat", k=1)["results"][0]
    detail = api.get(f"/api/images/{hit['id']}", params={"q": "a cat"}).json()
    path = Path(hit["path"])
    assert detail["id"] == hit["id"]
    assert detail["paths"] == [str(path)]
    assert detail["file_size"] == path.stat().st_size
    assert detail["content_hash"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert (detail["width"], detail["height"]) == (hit["width"], hit["height"])
    (description,) = detail["descriptions"]
    assert description["describer"] == "efficientnet-lite0-imagenet+hypernyms+pixels" and description["prompt"] == ""
    # The caption a person reads; the text search ranks by beside it, definitions and all.
    assert description["caption"] == hit["caption"] == detail["caption"] == detail["why"]["description"]
    assert description["text"] == detail["search_text"] and "(a domestic cat of Egypt)" in detail["search_text"]
    assert hit["caption"].startswith("Egyptian cat") and "(" not in hit["caption"]
    assert description["details"]["classes"][0]["label"]
    why = detail["why"]
    # A search fuses rankings; the detail's score is the same vector similarity the hit reports.
    assert why["score"] == pytest.approx(hit["why"]["similarity"], abs=1e-5)
    assert hit["why"]["words"]["classes"] == ["cat"] and hit["why"]["vector_rank"] == 1
    assert 0 < len(why["top_classes"]) <= 5 and "cat" in why["top_classes"][0]["label"]
    assert "why" not in api.get(f"/api/images/{hit['id']}").json()


@pytest.mark.parametrize("query, everything", [("a cat", False), ("a cat", True), ("a cup of coffee -cat", True)])
def test_a_search_without_why_gives_the_same_page_without_it(api, query, everything):
    """The page asks why=false (it shows why in the detail view): the same photos, scores,
    captions and counts, and no explanation made."""
    params = {"q": query, "k": 8, "all": str(everything).lower()}
    explained = api.get("/api/search", params=params).json()
    plain = api.get("/api/search", params={**params, "why": "false"}).json()
    assert all(hit["why"] for hit in explained["results"]) and len(explained["results"]) >= (8 if everything else 1)
    assert all(hit["why"] is None for hit in plain["results"])
    strip = lambda page: [{**hit, "why": None} for hit in page["results"]]  # noqa: E731
    assert strip(plain) == strip(explained)
    assert (plain["total"], plain["weaker"]) == (explained["total"], explained["weaker"])


def test_thumbnail_is_a_real_image_of_the_size_asked_and_cached(api, library):
    image_id = image_id_of(api, "astronaut.jpg")  # 512 x 512
    first = api.get(f"/api/images/{image_id}/thumbnail", params={"size": 128})
    assert first.status_code == 200 and first.headers["content-type"] == "image/jpeg"
    assert first.headers["x-cache"] == "miss"
    with Image.open(io.BytesIO(first.content)) as thumb:
        assert thumb.format == "JPEG" and thumb.size == (128, 128)
    again = api.get(f"/api/images/{image_id}/thumbnail", params={"size": 128})
    assert again.headers["x-cache"] == "hit" and again.content == first.content
    assert len(list(library["cache"].rglob("*-128.jpeg"))) == 1

    webp = api.get(f"/api/images/{image_id}/thumbnail", params={"size": 100, "format": "webp"})
    assert webp.headers["content-type"] == "image/webp"
    assert Image.open(io.BytesIO(webp.content)).format == "WEBP"
    by_accept = api.get(f"/api/images/{image_id}/thumbnail", headers={"Accept": "image/webp,*/*"})
    assert Image.open(io.BytesIO(by_accept.content)).format == "WEBP"

    cat = image_id_of(api, "chelsea.jpg")  # 451 x 300: sizes are clamped, photos never enlarged
    assert Image.open(io.BytesIO(api.get(f"/api/images/{cat}/thumbnail", params={"size": 1}).content)).size[0] == 64
    big = api.get(f"/api/images/{cat}/thumbnail", params={"size": 10**9})
    assert Image.open(io.BytesIO(big.content)).size == (451, 300)


def test_preview_is_screen_sized_and_upright(api, library, tmp_path):
    image_id = image_id_of(api, "rocket.jpg")
    response = api.get(f"/api/images/{image_id}/preview")
    assert response.status_code == 200 and response.headers["content-type"] == "image/jpeg"
    with Image.open(io.BytesIO(response.content)) as preview, Image.open(library["photos"] / "rocket.jpg") as photo:
        assert preview.size == photo.size  # smaller than 1600 px: kept as it is


def test_api_docs_load_everything_from_this_server(api):
    page = api.get("/docs")
    assert page.status_code == 200 and "swagger-ui" in page.text
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert assets and all(a.startswith("/") and not a.startswith("//") for a in assets), assets
    for asset in assets:
        assert api.get(asset).status_code == 200, asset


def test_unknown_photo_is_a_json_404(api):
    for path in ("/api/images/999999", "/api/images/999999/thumbnail", "/api/images/999999/preview",
                 "/api/similar/999999"):
        assert_error(api.get(path), 404)


def test_photos_are_addressed_only_by_catalog_id(server, api):
    host, port = server.removeprefix("http://").split(":")
    for raw in (
        "/api/images/..%2F..%2F..%2Fetc%2Fpasswd/thumbnail",
        "/api/images/../../../../etc/passwd",
        "/api/images/%2Fetc%2Fpasswd/preview",
        "/api/images/-1/thumbnail",
        "/api/images/0",
        "/api/images/99999999999999999999999999/thumbnail",
        "/api/images/9223372036854775808",
        "/api/images/1e3/thumbnail",
        "/api/images/abc/preview",
        "/api/similar/..%2Fcatalog.db",
        "/../../../../etc/passwd",
        "/..%2F..%2F..%2Fetc%2Fpasswd",
    ):
        connection = http.client.HTTPConnection(host, int(port), timeout=30)
        connection.request("GET", raw)  # sent as written: no client-side normalisation
        response = connection.getresponse()
        body = response.read()
        connection.close()
        assert response.status in (404, 422), (raw, response.status)
        assert b"root:" not in body
        assert "error" in json.loads(body), raw


def test_without_a_token_only_local_host_names_are_answered(server):
    """A page on another site whose name resolves to 127.0.0.1 (DNS rebinding) is refused."""
    host, port = server.removeprefix("http://").split(":")
    for name, status in (("evil.example", 403), (f"evil.example:{port}", 403), (f"localhost:{port}", 200),
                         (f"127.0.0.1:{port}", 200), ("[::1]", 200)):
        connection = http.client.HTTPConnection(host, int(port), timeout=30)
        connection.request("GET", "/api/status", headers={"Host": name})
        response = connection.getresponse()
        body = json.loads(response.read())
        connection.close()
        assert response.status == status, (name, body)
        assert status == 200 or set(body) == {"error"}


def test_host_headers_that_may_name_another_host_are_refused(server):
    """A Host with userinfo or a port that is not a number may be read as another host elsewhere."""
    host, port = server.removeprefix("http://").split(":")
    for name in ("127.0.0.1:80@evil.example", "127.0.0.1:abc", "localhost:80x", "[::1]:80@evil.example",
                 "[::1]:abc", "[::1]evil", "@127.0.0.1", "localhost:"):
        connection = http.client.HTTPConnection(host, int(port), timeout=30)
        connection.request("GET", "/api/status", headers={"Host": name})
        response = connection.getresponse()
        body = json.loads(response.read())
        connection.close()
        assert response.status == 403 and set(body) == {"error"}, (name, body)


def test_filter_errors_name_query_parameters_not_cli_options(api):
    for params, name in (({"type": "/../etc"}, "type="), ({"from": "2021", "to": "2020"}, "from=2021"),
                         ({"focal": "abc"}, "focal="), ({"from": "June"}, "from=")):
        response = api.get("/api/search", params={"q": "a cat", **params})
        assert_error(response, 400)
        assert "--" not in response.json()["error"] and name in response.json()["error"], response.json()


# -- more like this, and search by photo -------------------------------------------------------


def test_similar_ranks_the_others_and_never_itself(api, library):
    image_id = image_id_of(api, "chelsea.jpg")
    page = api.get(f"/api/similar/{image_id}", params={"k": 100}).json()
    assert set(page) == SEARCH_KEYS
    ids = [hit["id"] for hit in page["results"]]
    assert image_id not in ids
    assert len(ids) == len(set(ids)) == page["total"] == library["count"] - 1
    second = api.get(f"/api/similar/{image_id}", params={"k": 3, "offset": 3}).json()
    assert [hit["id"] for hit in second["results"]] == ids[3:6]


def test_uploading_a_photo_finds_that_photo_first(api, library):
    data = (library["photos"] / "chelsea.jpg").read_bytes()
    response = api.post("/api/search/image", files={"file": ("mine.jpg", data, "image/jpeg")}, params={"k": 3})
    assert response.status_code == 200, response.text
    page = response.json()
    assert set(page) == SEARCH_KEYS and page["total"] == library["count"]
    assert Path(page["results"][0]["path"]).name == "chelsea.jpg"
    # The same photo, the same description: the text searched for is its search text.
    first = api.get(f"/api/images/{page['results'][0]['id']}").json()
    assert page["query"] == first["search_text"] and page["results"][0]["caption"] == first["caption"]
    # The upload lands nowhere in the library.
    assert sorted(p.name for p in library["photos"].iterdir()) == sorted(
        p.name for p in library["photos"].iterdir() if p.name != "mine.jpg"
    )
    assert not list(library["photos"].rglob("mine*"))


def test_bad_uploads_are_refused(api):
    post = lambda name, data: api.post("/api/search/image", files={"file": (name, data, "image/jpeg")})  # noqa: E731
    assert_error(post("big.jpg", b"\xff" * (30 * 1024 * 1024 + 1)), 413)
    assert_error(post("notes.jpg", b"these are not pixels " * 100), 415)
    assert_error(post("empty.jpg", b""), 400)
    assert_error(api.post("/api/search/image", data={"nothing": "here"}), 422)


def _rss_mb() -> float:
    """This process's resident memory; the test server runs on a thread of it."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS in /proc/self/status")


def _at_once(work, args: list) -> tuple[list, float, float]:
    """work(arg) for every arg, each in a thread of its own, all at once: their results, and this
    process's resident memory (MB) at its peak meanwhile, sampled every 20 ms, above before."""
    from concurrent.futures import ThreadPoolExecutor

    before = _rss_mb()
    peak = [before]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _rss_mb())
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        with ThreadPoolExecutor(len(args)) as pool:
            results = list(pool.map(work, args))
    finally:
        done.set()
        sampler.join(5)
    return results, before, peak[0]


def test_an_upload_over_the_pixel_limit_is_refused_from_its_header(api):
    # 16000x15000 = 240 MP: under the library's 250 MP bomb limit, over the uploads' 50 MP. The
    # 1-bit PNG is ~30 KB; decoded (and made RGB) it once cost the server 1.15 GB per request.
    data = png_bomb(16000, 15000)
    assert len(data) < 100_000
    began = time.monotonic()
    response = api.post("/api/search/image", files={"file": ("bomb.png", data, "image/png")})
    assert_error(response, 413)
    assert response.json()["error"] == "refused: 16000x15000 pixels is over the 50-megapixel limit for uploads"
    assert time.monotonic() - began < 5  # read from the header: nothing was decoded
    assert search(api, "a cat", k=1)["results"][0]["path"].endswith("chelsea.jpg")


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads RSS from /proc")
def test_concurrent_large_uploads_keep_the_servers_memory_bounded(api, library):
    """Four 49 MP 1-bit PNGs at once, just under the upload limit. Each decodes to 49 MB of
    pixels and is reduced band by band (never one 196 MB RGB copy); at most two decode at once.
    Unbounded, four such decodes once cost ~1.2 GB and stayed; 1.5 GB is far above the bounded
    cost (2 x ~60 MB plus the model's working memory) and far below the old one at 240 MP."""
    photo = (library["photos"] / "chelsea.jpg").read_bytes()  # the model's own buffers, first
    assert api.post("/api/search/image", files={"file": ("warm.jpg", photo, "image/jpeg")}).status_code == 200
    data = png_bomb(7000, 7000)

    def upload(_: int) -> int:
        response = api.post("/api/search/image", files={"file": ("big.png", data, "image/png")}, params={"k": 1})
        return response.status_code

    statuses, before, peak = _at_once(upload, list(range(4)))
    assert statuses == [200] * 4
    after = _rss_mb()
    assert peak - before < 1500, (before, peak, after)
    assert after - before < 300, (before, peak, after)  # the pixels' memory went back
    assert search(api, "a cat", k=1)["results"][0]["path"].endswith("chelsea.jpg")


def test_thumbnails_of_a_huge_library_photo_keep_the_servers_memory_bounded(tmp_path, describer, embedder):
    """A 240 MP 1-bit PNG in the library (under its 250 MP limit) asked for at four sizes at
    once, each a full decode: banded, two at a time, and the memory given back. Unbounded, each
    such decode once added about 1.15 GB and kept it."""
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "huge.png").write_bytes(png_bomb(16000, 15000))
    with Catalog.open(tmp_path / "catalog.db") as catalog:
        index_paths(catalog, [str(photos)], describer, embedder)
        (image_id,) = {i for i, _ in catalog.image_files()}
    sizes = [128, 256, 512, 1024]
    with serving(create_app(tmp_path / "catalog.db", describer, embedder, cache_dir=tmp_path / "cache")) as url:
        with httpx.Client(base_url=url, timeout=120) as client:
            get = lambda size: client.get(f"/api/images/{image_id}/thumbnail", params={"size": size})  # noqa: E731
            answers, before, peak = _at_once(get, sizes)
    assert [a.status_code for a in answers] == [200] * len(sizes)
    assert [max(Image.open(io.BytesIO(a.content)).size) for a in answers] == sizes
    after = _rss_mb()
    assert peak - before < 1500, (before, peak, after)
    assert after - before < 300, (before, peak, after)


def test_a_chunked_upload_is_cut_off_at_the_limit_while_it_streams(server, api):
    """With no Content-Length the size is counted as the body arrives: the server answers 413 once
    it has read past the limit, without waiting for (or storing) the rest."""
    host, port = server.removeprefix("http://").split(":")
    chunk = b"\xff" * 2**20
    head = (
        b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="big.jpg"\r\n'
        b"Content-Type: image/jpeg\r\n\r\n"
    )
    sent = []

    def send_body(sock: socket.socket) -> None:
        try:
            sock.sendall(f"{len(head):x}\r\n".encode() + head + b"\r\n")
            for _ in range(40):  # 40 MB, never finished: only an answer mid-stream ends the request
                sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                sent.append(len(chunk))
        except OSError:  # the server closed the connection after answering: the point
            pass

    with socket.create_connection((host, int(port)), timeout=60) as sock:
        sock.sendall(
            f"POST /api/search/image HTTP/1.1\r\nHost: {host}:{port}\r\nTransfer-Encoding: chunked\r\n"
            "Content-Type: multipart/form-data; boundary=xyz\r\n\r\n".encode()
        )
        sender = threading.Thread(target=send_body, args=(sock,), daemon=True)
        sender.start()
        response = http.client.HTTPResponse(sock)
        response.begin()
        body = json.loads(response.read())
        sender.join(60)
    assert response.status == 413 and set(body) == {"error"} and "30 MB" in body["error"], body
    assert not sender.is_alive()
    # The server is fine: it answers the next request at once.
    assert search(api, "a cat", k=1)["results"][0]["path"].endswith("chelsea.jpg")


# -- the command -------------------------------------------------------------------------------


def test_serve_refuses_a_public_address_without_a_token(library):
    result = CliRunner().invoke(cli, ["--db", str(library["catalog"]), "serve", "--host", "0.0.0.0"])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "refusing to serve on 0.0.0.0 without --token" in lines[0]


def test_serve_refuses_a_short_token_off_localhost_and_makes_one_with_auto(library, describer, embedder, monkeypatch):
    started = []
    monkeypatch.setattr(uvicorn, "run", lambda app, host, port, **_: started.append((app, host)))
    # Each app adds a filter that hides its token to the access log: these apps never serve.
    monkeypatch.setattr(logging.getLogger("uvicorn.access"), "filters", [])
    monkeypatch.setattr("lucida.library.Library.serve_models", lambda _library: (describer, embedder))
    serve = lambda *args, **env: CliRunner().invoke(cli, ["--db", str(library["catalog"]), "serve", *args], env=env)  # noqa: E731

    for refused in (["--token", "a"], ["--token", "x" * 15]):
        result = serve("--host", "0.0.0.0", *refused)
        assert result.exit_code == 1 and not started
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and "refusing to serve on 0.0.0.0 with a" in lines[0] and "--token auto" in lines[0]
    result = serve("--host", "0.0.0.0", LUCIDA_TOKEN="short")
    assert result.exit_code == 1 and not started

    result = serve("--host", "0.0.0.0", "--token", "auto")
    assert result.exit_code == 0, result.output
    (app, host), = started
    token = app.state.lucida.token
    assert host == "0.0.0.0" and token != "auto" and len(token) >= 32
    assert result.stdout == "" and result.stderr.count(token) == 1
    assert f"http://0.0.0.0:8765/?token={token}" in result.stderr
    assert serve("--host", "0.0.0.0", "--token", "auto").exit_code == 0
    assert started[1][0].state.lucida.token != token  # a new one each time

    # Long enough, or on this machine only: accepted, and a given token is never printed.
    assert serve("--host", "0.0.0.0", "--token", "x" * 16).exit_code == 0
    result = serve("--token", "a")
    assert result.exit_code == 0 and started[-1][1] == "127.0.0.1" and "?token=…" in result.stderr


def test_serve_runs_the_app_over_the_catalog(library):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "lucida", "--db", str(library["catalog"]), "serve", "--port", str(port)],
        env={**os.environ, "HF_HUB_OFFLINE": "1", "LUCIDA_TOKEN": TOKEN},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, process.stdout.read()
            try:
                response = httpx.get(
                    f"http://127.0.0.1:{port}/api/status", headers={"Authorization": f"Bearer {TOKEN}"}
                )
                break
            except httpx.ConnectError:
                assert time.monotonic() < deadline, "lucida serve did not start"
                time.sleep(0.2)
        assert response.status_code == 200
        assert response.json()["models"] == {"describer": "efficientnet-lite0-imagenet+hypernyms+pixels", "embedder": "all-minilm-l6-v2"}
        assert httpx.get(f"http://127.0.0.1:{port}/api/status").status_code == 401
        assert httpx.get(f"http://127.0.0.1:{port}/api/status", params={"token": TOKEN}).status_code == 200
        assert "<html" in httpx.get(f"http://127.0.0.1:{port}/").text.lower()
    finally:
        process.send_signal(signal.SIGINT)
        output = process.communicate(timeout=30)[0]
    assert "GET /api/status?token=*** HTTP/1.1" in output
    assert TOKEN not in output  # neither printed at start nor logged with a URL


# -- a token -----------------------------------------------------------------------------------


def test_with_a_token_every_api_request_needs_it(library, describer, embedder):
    app = create_app(library["catalog"], describer, embedder, token=TOKEN, cache_dir=library["cache"])
    with serving(app) as url, httpx.Client(base_url=url, timeout=60) as client:
        assert_error(client.get("/api/search", params={"q": "a cat"}), 401)
        assert_error(client.get("/api/status"), 401)
        assert_error(client.get("/api/images/1/thumbnail"), 401)
        assert_error(client.get("/api/status", headers={"Authorization": "Bearer wrong"}), 401)
        assert_error(client.get("/api/status", params={"token": "wrong"}), 401)
        good = {"Authorization": f"Bearer {TOKEN}"}
        page = client.get("/api/search", params={"q": "a cat", "k": 2}, headers=good).json()
        thumbnail_url = page["results"][0]["thumbnail_url"]
        assert f"token={TOKEN}" in thumbnail_url
        image = client.get(thumbnail_url)  # as an <img> would load it: no header
        assert image.status_code == 200 and image.headers["content-type"] == "image/jpeg"
        assert client.get("/api/status", params={"token": TOKEN}).status_code == 200
        assert client.get("/").status_code == 200  # the page itself carries no photos
        # With a token it may serve a network: any host name, the token decides.
        assert client.get("/api/status", headers={**good, "Host": "photos.lan"}).status_code == 200


def test_the_access_log_hides_the_token_however_a_url_encodes_it(library, describer, embedder):
    token = "p@ss w+rd/ü&x=1"
    spellings = {
        quote(token, safe=""), quote(token), quote_plus(token, safe=""), quote_plus(token),
        quote(token, safe="!'()*~"), "p%40ss%20w%2brd%2f%c3%bc%26x%3d1", "p%40ss+w%2Brd%2f%C3%bc%26x%3D1",
    }
    lines = []
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(record.getMessage())
    access = logging.getLogger("uvicorn.access")
    app = create_app(library["catalog"], describer, embedder, token=token, cache_dir=library["cache"])
    with serving(app) as url:
        level = access.level
        access.setLevel(logging.INFO)  # serving() logs warnings only
        access.addHandler(handler)
        try:
            host, port = url.removeprefix("http://").split(":")
            for spelling in sorted(spellings):
                connection = http.client.HTTPConnection(host, int(port), timeout=30)
                connection.request("GET", f"/api/status?token={spelling}")  # sent as written
                response = connection.getresponse()
                response.read()
                connection.close()
                assert response.status == 200, spelling
        finally:
            access.removeHandler(handler)
            access.setLevel(level)
    assert len(lines) == len(spellings)
    for line in lines:
        assert "/api/status?token=*** " in line, line
        assert not any(s in line for s in spellings | {token, "p%40ss", "w%2"}), line


# -- fuzzing the schema ------------------------------------------------------------------------


def test_no_request_makes_a_server_error(server):
    """Requests generated from the OpenAPI schema, valid and invalid: never a 5xx. (Driven by hand:
    schemathesis.pytest.from_fixture does not work with this pytest.)"""
    schema = schemathesis.openapi.from_url(f"{server}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 17
    for operation in operations:
        takes_input = operation.definition.raw.get("parameters") or "requestBody" in operation.definition.raw
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE) if takes_input else (GenerationMode.POSITIVE,):

            @given(case=operation.as_strategy(mode))
            @settings(max_examples=25, deadline=None, database=None, suppress_health_check=list(HealthCheck))
            def no_server_error(case):
                case.call_and_validate(checks=[not_a_server_error], timeout=30)

            no_server_error()


# -- indexing from the app (last: it adds photos to the module's library) ----------------------


def test_index_refuses_relative_paths_and_links_that_lead_out_of_the_roots(api, library, tmp_path, monkeypatch):
    photos = library["photos"]
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    link = photos / "link-out"
    link.symlink_to(outside, target_is_directory=True)
    try:
        # Read against the server's working folder, these would name the root itself.
        monkeypatch.chdir(photos.parent)
        assert_error(api.post("/api/index", json={"path": photos.name}), 403)
        monkeypatch.chdir(photos)
        assert_error(api.post("/api/index", json={"path": "."}), 403)
        # Inside the root by name, outside it on disk.
        assert_error(api.post("/api/index", json={"path": str(link)}), 403)
        assert_error(api.post("/api/index", json={"path": f"{link}/"}), 403)
        # What is refused is echoed, but not all of a huge path.
        response = api.post("/api/index", json={"path": "/" + "x" * 100_000})
        assert_error(response, 403)
        assert "not a library root" in response.json()["error"] and len(response.json()["error"]) < 400
        status = api.get("/api/status").json()
        assert status["roots"] == [str(photos)] and status["indexing"] == {"running": False}
    finally:
        link.unlink()


def test_index_accepts_a_link_that_stays_in_its_root_by_its_own_name(tmp_path):
    from lucida.web.api import _folder_in_roots

    root = tmp_path / "photos"
    (root / "2021").mkdir(parents=True)
    (root / "this-year").symlink_to(root / "2021", target_is_directory=True)
    (tmp_path / "alias").symlink_to(root, target_is_directory=True)
    assert _folder_in_roots(str(root / "this-year"), [str(root)]) == str(root / "2021")
    assert _folder_in_roots(str(root / "2021" / ".."), [str(root)]) == str(root)
    # A root recorded through a link: the folder is spelled as the root was.
    assert _folder_in_roots(str(root / "2021"), [str(tmp_path / "alias")]) == str(tmp_path / "alias" / "2021")
    assert _folder_in_roots(str(root / "missing"), [str(root)]) is None
    assert _folder_in_roots("photos", [str(root)]) is None


def test_index_only_runs_on_a_library_root_and_reports_progress(api, library, sample_photos, tmp_path):
    assert_error(api.post("/api/index", json={"path": str(tmp_path)}), 403)
    assert_error(api.post("/api/index", json={"path": str(library["photos"].parent)}), 403)
    assert_error(api.post("/api/index", json={"path": f"{library['photos']}/../.."}), 403)
    assert_error(api.post("/api/index", json={"path": ""}), 403)
    assert_error(api.post("/api/index", json={}), 422)
    before = api.get("/api/status").json()
    assert before["roots"] == [str(library["photos"])]
    assert before["indexed"] == library["count"] and before["indexing"] == {"running": False}

    added = make_photo_variants(sample_photos, library["photos"] / "new", per_photo=1)
    started = api.post("/api/index", json={"path": str(library["photos"])})
    assert started.status_code == 202, started.text
    assert started.json()["indexing"]["running"] is True
    assert_error(api.post("/api/index", json={"path": str(library["photos"])}), 409)

    seen = []
    deadline = time.monotonic() + 120
    while True:
        indexing = api.get("/api/status").json()["indexing"]
        seen.append(indexing)
        if not indexing["running"]:
            break
        assert time.monotonic() < deadline, indexing
        time.sleep(0.05)
    assert any(s["running"] and s["phase"] == "indexing" and s["total"] == len(added) for s in seen[:-1]), seen
    assert indexing["phase"] == "done" and indexing["error"] is None
    assert indexing["summary"]["described"] == len(added) and indexing["summary"]["unchanged"] == library["count"]
    after = api.get("/api/status").json()
    assert after["indexed"] == library["count"] + len(added)
    # The searcher sees the new photos at once.
    page = search(api, "a cat", k=1)
    assert page["total"] + page["weaker"] == library["count"] + len(added)
