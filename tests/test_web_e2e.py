"""The web page in a real browser: Debian's headless Chromium, driven by Playwright, against a real
uvicorn server on 127.0.0.1 serving a real catalog of the real sample photos.

Set LUCIDA_UPDATE_SCREENSHOT=1 to write the README's screenshot (docs/screenshot.png) as well.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

playwright_sync = pytest.importorskip("playwright.sync_api")
uvicorn = pytest.importorskip("uvicorn")

from lucida.catalog import Catalog  # noqa: E402
from lucida.indexer import index_paths  # noqa: E402
from lucida.web.app import create_app  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOT = Path(__file__).resolve().parent.parent / "docs" / "screenshot.png"
TIMEOUT_MS = 15_000

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's chromium (`make system-deps` installs it)"
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(app) -> Iterator[str]:
    """Runs `app` under uvicorn in a thread; yields its base URL and stops it afterwards."""
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def library(tmp_path_factory, sample_photos, describer, embedder) -> Path:
    """A catalog of the sample photos, indexed with the real models."""
    root = tmp_path_factory.mktemp("web-library")
    photos = root / "photos"
    shutil.copytree(sample_photos, photos)
    with Catalog.open(root / "catalog.db") as catalog:
        index_paths(catalog, [str(photos)], describer, embedder)
    return root / "catalog.db"


@pytest.fixture(scope="module")
def server(library, describer, embedder, tmp_path_factory) -> Iterator[str]:
    app = create_app(library, describer, embedder, cache_dir=tmp_path_factory.mktemp("web-cache"))
    yield from _serve(app)


@pytest.fixture(scope="module")
def token_server(library, describer, embedder, tmp_path_factory) -> Iterator[str]:
    app = create_app(library, describer, embedder, token="s3cret", cache_dir=tmp_path_factory.mktemp("web-cache"))
    yield from _serve(app)


@pytest.fixture(scope="module")
def empty_server(tmp_path_factory, describer, embedder) -> Iterator[str]:
    root = tmp_path_factory.mktemp("web-empty")
    with Catalog.open(root / "catalog.db"):
        pass
    yield from _serve(create_app(root / "catalog.db", describer, embedder, cache_dir=root / "cache"))


@pytest.fixture(scope="module")
def browser():
    with playwright_sync.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    # Every asset is local: the page asks nothing of any other site.
    elsewhere: list[str] = []

    def note_request(request) -> None:
        if not request.url.startswith(("http://127.0.0.1:", "data:", "blob:")):
            elsewhere.append(request.url)

    page.on("request", note_request)
    yield page
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"
    assert not elsewhere, f"requests that left the server: {elsewhere}"


def tile_paths(page) -> list[str]:
    return page.eval_on_selector_all("#grid .tile", "tiles => tiles.map(t => t.dataset.path)")


def wait_for_thumbnails(page, count: int) -> None:
    """Waits until the first `count` thumbnails have really loaded (decoded pixels, not just a src)."""
    page.wait_for_function(
        """count => {
            const images = [...document.querySelectorAll('#grid .tile img')].slice(0, count);
            return images.length === count && images.every(img => img.complete && img.naturalWidth > 0);
        }""",
        arg=count,
    )


def test_search_as_you_type_open_a_photo_and_find_more_like_it(page, server):
    page.goto(server + "/")
    searches: list[str] = []
    page.on("request", lambda r: searches.append(r.url) if "/api/search?" in r.url else None)
    page.locator("#q").press_sequentially("a cat", delay=40)
    page.wait_for_selector("#grid .tile")
    assert 1 <= len(searches) < len("a cat"), searches  # debounced: not one search per key
    wait_for_thumbnails(page, 4)
    assert Path(tile_paths(page)[0]).name == "chelsea.jpg"
    assert "q=a+cat" in page.url or "q=a%20cat" in page.url
    summary = page.locator("#summary").inner_text()
    assert "results" in summary and "ms" in summary

    first = page.locator("#grid .tile").first
    assert first.get_attribute("title").split(" · ")[0].replace(".", "").isdigit()  # the score on hover
    first.click()
    detail = page.locator("#detail")
    detail.wait_for(state="visible")
    assert page.locator("#detail-title").inner_text() == "chelsea.jpg"
    page.wait_for_selector("#detail-captions .caption-card")
    caption = page.locator("#detail-captions .caption-card").first.inner_text()
    assert "efficientnet" in caption.lower()
    page.wait_for_function(
        "() => { const img = document.querySelector('#detail-preview'); return img.complete && img.naturalWidth > 0; }"
    )
    assert page.locator("#detail-path").inner_text() == str(Path(tile_paths(page)[0]).parent)
    assert "chelsea.jpg" in page.locator("#detail-meta").inner_text()
    page.wait_for_selector("#detail-why li")  # why it matched: the similarity and the classes seen
    assert "Similarity" in page.locator("#detail-why").inner_text()

    before = tile_paths(page)
    page.get_by_role("button", name="More like this").click()
    detail.wait_for(state="hidden")
    page.wait_for_function(
        "before => { const now = [...document.querySelectorAll('#grid .tile')].map(t => t.dataset.path);"
        " return now.length > 0 && now.join() !== before.join(); }",
        arg=before,
    )
    assert "chelsea.jpg" in page.locator("#summary").inner_text()
    wait_for_thumbnails(page, 1)


def test_query_in_the_url_opens_with_results(page, server):
    page.goto(server + "/?q=coffee")
    page.wait_for_selector("#grid .tile")
    assert page.locator("#q").input_value() == "coffee"
    assert Path(tile_paths(page)[0]).name == "coffee.jpg"


def test_scrolling_down_loads_the_next_page(browser, server):
    # A small window asks for a small first page (12 of the 17 photos); the rest come on scrolling.
    context = browser.new_context(viewport={"width": 360, "height": 300})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url) if "/api/search?" in request.url else None)
    try:
        page.goto(server + "/?q=a%20cat")
        page.wait_for_selector("#grid .tile")
        assert page.locator("#grid .tile").count() < 17
        page.locator("#sentinel").scroll_into_view_if_needed()
        page.wait_for_function("() => document.querySelectorAll('#grid .tile').length === 17")
        paths = tile_paths(page)
        assert len(set(paths)) == 17
        assert any("offset=12" in url for url in requests)
        assert "17 results" in page.locator("#summary").inner_text()
    finally:
        context.close()


def test_search_by_photo(page, server, sample_photos):
    page.goto(server + "/")
    page.locator("#pick").set_input_files(str(sample_photos / "coffee.jpg"))
    page.wait_for_selector("#grid .tile")
    assert Path(tile_paths(page)[0]).name == "coffee.jpg"
    assert "coffee.jpg" in page.locator("#summary").inner_text()


def test_a_token_in_the_page_url_is_passed_on(page, token_server):
    page.goto(token_server + "/?q=coffee&token=s3cret")
    page.wait_for_selector("#grid .tile")
    wait_for_thumbnails(page, 1)
    page.locator("#grid .tile").first.click()
    page.wait_for_selector("#detail-captions .caption-card")
    page.wait_for_function("() => document.querySelector('#detail-preview').naturalWidth > 0")
    assert "token=s3cret" in page.url and "q=coffee" in page.url

    page.goto(token_server + "/?q=coffee")
    page.wait_for_function("() => document.querySelector('#notice').innerText.includes('token')")


def test_keyboard_slash_arrows_enter_and_escape(page, server):
    page.goto(server + "/?q=a%20cat")
    page.wait_for_selector("#grid .tile")
    page.locator("#summary").click()  # focus away from the search box
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "q"

    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowRight")
    selected = page.locator('#grid .tile[aria-selected="true"]')
    assert selected.get_attribute("data-index") == "1"
    page.keyboard.press("Enter")
    page.locator("#detail").wait_for(state="visible")
    assert page.locator("#detail-title").inner_text() == Path(tile_paths(page)[1]).name
    page.keyboard.press("Escape")
    page.locator("#detail").wait_for(state="hidden")


def test_an_empty_catalog_says_what_to_do(page, empty_server):
    page.goto(empty_server + "/")
    notice = page.locator("#notice")
    notice.wait_for(state="visible")
    assert "lucida index" in notice.inner_text()

    page.goto(empty_server + "/?q=a%20cat")
    page.wait_for_function("() => document.querySelector('#notice').innerText.includes('lucida index')")


def test_screenshot_of_results(page, server, tmp_path):
    page.goto(server + "/?q=a%20cat")
    page.wait_for_selector("#grid .tile")
    count = page.locator("#grid .tile").count()
    wait_for_thumbnails(page, min(count, 12))
    page.locator("#grid .tile").first.hover()
    page.wait_for_timeout(300)  # the caption fades in
    shot = page.screenshot(path=str(tmp_path / "screenshot.png"))
    assert shot[:8] == b"\x89PNG\r\n\x1a\n"
    if os.environ.get("LUCIDA_UPDATE_SCREENSHOT"):
        SCREENSHOT.parent.mkdir(exist_ok=True)
        SCREENSHOT.write_bytes(shot)
