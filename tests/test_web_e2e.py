"""The web page in a real browser: Debian's headless Chromium, driven by Playwright, against a real
uvicorn server on 127.0.0.1 serving a real catalog of the real sample photos.

Set LUCIDA_UPDATE_SCREENSHOT=1 to write the README's screenshot (docs/screenshot.png) as well.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

playwright_sync = pytest.importorskip("playwright.sync_api")
uvicorn = pytest.importorskip("uvicorn")

from lucida.catalog import Catalog  # noqa: E402
from lucida.indexer import index_paths  # noqa: E402
from lucida.translation import dictionaries_installed  # noqa: E402
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
ABSENT = "a zebra"  # no sample photo shows one, and the classifier knows zebras (an ImageNet class)

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


def tile_classes(page) -> list[str]:
    return page.eval_on_selector_all("#grid .tile", "tiles => tiles.map(t => t.className)")


def show_weaker_matches(page) -> int:
    """Clicks "Show weaker matches (N)" once the answers are shown; returns N."""
    button = page.locator("#show-weaker")
    button.wait_for(state="visible")
    count = int(re.fullmatch(r"Show weaker matches \((\d+)\)", button.inner_text()).group(1))
    button.click()
    button.wait_for(state="hidden")
    return count


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
    wait_for_thumbnails(page, 1)
    assert Path(tile_paths(page)[0]).name == "chelsea.jpg"
    assert "q=a+cat" in page.url or "q=a%20cat" in page.url
    summary = page.locator("#summary").inner_text()
    assert re.match(r"\d+ answers? for “a cat” in [\d.]+ ms$", summary), summary

    first = page.locator("#grid .tile").first
    # The relevance on hover, as a percentage.
    assert re.match(r"relevance \d{1,3}% · ", first.get_attribute("title")), first.get_attribute("title")
    first.click()
    detail = page.locator("#detail")
    detail.wait_for(state="visible")
    assert page.locator("#detail-title").inner_text() == "chelsea.jpg"
    page.wait_for_selector("#detail-captions .caption-card")
    card = page.locator("#detail-captions .caption-card").first
    assert "efficientnet" in card.inner_text().lower()
    # The caption a person reads, on the tiles and in the detail; the search text folded beneath it.
    shown = [*page.locator("#grid .tile .caption").all_inner_texts(), card.locator("p").first.inner_text()]
    assert shown[-1].startswith("Egyptian cat") and not any("(" in text for text in shown), shown
    card.locator(".search-text summary").click()
    assert "(a domestic cat of Egypt)" in card.locator(".search-text p").inner_text()
    page.wait_for_function(
        "() => { const img = document.querySelector('#detail-preview'); return img.complete && img.naturalWidth > 0; }"
    )
    assert page.locator("#detail-path").inner_text() == str(Path(tile_paths(page)[0]).parent)
    assert "chelsea.jpg" in page.locator("#detail-meta").inner_text()
    page.wait_for_selector("#detail-why li")  # why it matched: the similarity and the classes seen
    why = page.locator("#detail-why").inner_text()
    assert "Similarity" in why and "Relevance" in why and "an answer" in why

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


@pytest.mark.skipif(not dictionaries_installed(), reason="no FreeDict dictionaries: run make system-deps")
def test_a_query_in_another_language_says_what_it_was_searched_as(page, server):
    page.goto(server + "/?q=" + quote("une tasse de café"))
    page.wait_for_selector("#grid .tile")
    assert Path(tile_paths(page)[0]).name == "coffee.jpg"
    summary = page.locator("#summary").inner_text()
    assert "“une tasse de café”" in summary and "searched as “cup coffee”" in summary
    page.goto(server + "/?q=coffee")
    page.wait_for_selector("#grid .tile")
    assert "searched as" not in page.locator("#summary").inner_text()


def test_scrolling_down_loads_the_next_page(browser, server):
    # A small window asks for small pages (12 photos); the weaker matches come page by page too.
    context = browser.new_context(viewport={"width": 360, "height": 300})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url) if "/api/search?" in request.url else None)
    try:
        page.goto(server + "/?q=a%20cat")
        page.wait_for_selector("#grid .tile")
        answers = page.locator("#grid .tile").count()
        weaker = show_weaker_matches(page)
        assert answers + weaker == 17
        page.wait_for_function("count => document.querySelectorAll('#grid .tile').length > count", arg=answers)
        assert page.locator("#grid .tile").count() < 17, "the first page of weaker matches is not all of them"
        page.locator("#sentinel").scroll_into_view_if_needed()
        page.wait_for_function("() => document.querySelectorAll('#grid .tile').length === 17")
        assert len(set(tile_paths(page))) == 17
        weak_pages = [url for url in requests if "all=true" in url]
        assert f"offset={answers}&" in weak_pages[0] + "&" and any(f"offset={answers + 12}" in u for u in weak_pages)
        assert f"{answers} answer" in page.locator("#summary").inner_text()
        assert f"and {weaker} weaker matches" in page.locator("#summary").inner_text()
    finally:
        context.close()


def test_weaker_matches_follow_the_answers_marked_as_weaker(page, server):
    page.goto(server + "/?q=a%20cat")
    page.wait_for_selector("#grid .tile")
    answers = page.locator("#grid .tile").count()
    assert page.locator("#grid .tile.weak").count() == 0 and page.locator("#grid .divider").count() == 0
    weaker = show_weaker_matches(page)  # the button shows once the answers are all on the page
    page.wait_for_function("count => document.querySelectorAll('#grid .tile').length === count", arg=answers + weaker)
    classes = tile_classes(page)
    assert ["weak" in c for c in classes] == [False] * answers + [True] * weaker
    # One divider, right after the last answer; the weaker tiles are dimmed.
    assert page.locator("#grid .divider").count() == 1
    assert page.eval_on_selector("#grid .divider", "d => d.previousElementSibling.dataset.index") == str(answers - 1)
    page.mouse.move(0, 0)  # not over a tile: a hovered one shows at full strength
    page.wait_for_function(
        "() => [...document.querySelectorAll('#grid .tile img')].every(img =>"
        " (parseFloat(getComputedStyle(img).opacity) < 1) === img.closest('.tile').classList.contains('weak'))"
    )
    assert page.locator("#grid .tile.weak").first.get_attribute("title").startswith("relevance ")


def test_a_query_nothing_answers_says_so_and_offers_the_weaker_matches(page, server):
    page.goto(server + "/?q=" + ABSENT.replace(" ", "%20"))
    notice = page.locator("#notice")
    notice.wait_for(state="visible")
    assert f"No photos match “{ABSENT}” well." in notice.inner_text()
    assert page.locator("#grid .tile").count() == 0
    assert page.locator("#summary").inner_text().startswith("0 answers for")
    weaker = show_weaker_matches(page)
    assert weaker == 17
    page.wait_for_function("() => document.querySelectorAll('#grid .tile').length === 17")
    assert all("weak" in c for c in tile_classes(page))
    assert notice.is_hidden() and page.locator("#grid .divider").count() == 1


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
    show_weaker_matches(page)  # more than one tile to move between, across the divider
    page.wait_for_function("() => document.querySelectorAll('#grid .tile').length === 17")
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
