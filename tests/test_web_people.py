"""People in the web app: the JSON API's people, faces and person search, and naming a person in
the page in a real browser. A real uvicorn on 127.0.0.1 serves a real catalog of real faces (Grace
Hopper four times, Eileen Collins once, a cup of coffee), indexed by the real models, whose faces
the real face model found."""

from __future__ import annotations

import io
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import matplotlib.cbook
import pytest
import skimage.data
from PIL import Image, ImageEnhance, ImageOps

from lucida.catalog import Catalog
from lucida.indexer import index_paths
from lucida.library import Library
from lucida.web import create_app

from test_web_api import RESULT_KEYS, SEARCH_KEYS, assert_error, serving

GRACE = {"grace.jpg", "grace_flipped.jpg", "grace_bright.jpg", "grace_small.jpg"}
TOKEN = "s3cret-token-for-people"


def write_face_photos(folder: Path) -> None:
    """Grace Hopper as matplotlib ships her, mirrored, brighter and smaller; the astronaut Eileen
    Collins (scikit-image); and a photo with no face."""
    folder.mkdir(parents=True)
    with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as handle:
        grace = Image.open(handle).convert("RGB")
    grace.save(folder / "grace.jpg", quality=92)
    ImageOps.mirror(grace).save(folder / "grace_flipped.jpg", quality=92)
    ImageEnhance.Brightness(grace).enhance(1.3).save(folder / "grace_bright.jpg", quality=92)
    grace.resize((grace.width * 3 // 4, grace.height * 3 // 4)).save(folder / "grace_small.jpg", quality=92)
    Image.fromarray(skimage.data.astronaut()).save(folder / "astronaut.jpg", quality=92)
    Image.fromarray(skimage.data.coffee()).save(folder / "coffee.jpg", quality=92)


@pytest.fixture(scope="module")
def faces_catalog(tmp_path_factory, describer, embedder) -> Path:
    """The indexed catalog with its faces found, nobody named: copy it before changing it."""
    root = tmp_path_factory.mktemp("web-people")
    write_face_photos(root / "photos")
    with Catalog.open(root / "catalog.db") as catalog:
        index_paths(catalog, [str(root / "photos")], describer, embedder)
    with Library.open(root / "catalog.db") as library:
        found = library.find_faces()
    assert (found.photos, found.faces) == (6, 5)
    return root / "catalog.db"


def copy_of(catalog: Path, folder: Path) -> Path:
    folder.mkdir()
    shutil.copy(catalog, folder / "catalog.db")  # closed, so whole: no write-ahead log beside it
    return folder / "catalog.db"


@pytest.fixture(scope="module")
def served(faces_catalog, describer, embedder, tmp_path_factory) -> Iterator[dict]:
    root = tmp_path_factory.mktemp("web-people-api")
    app = create_app(copy_of(faces_catalog, root / "catalog"), describer, embedder, cache_dir=root / "cache")
    with serving(app) as url:
        yield {"url": url, "cache": root / "cache", "photos": faces_catalog.parent / "photos"}


@pytest.fixture(scope="module")
def api(served) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=served["url"], timeout=60) as client:
        yield client


def people(api: httpx.Client) -> list[dict]:
    response = api.get("/api/people")
    assert response.status_code == 200, response.text
    return response.json()["people"]


def group_of(api: httpx.Client, faces: int) -> dict:
    (group,) = [g for g in people(api) if g["faces"] == faces]
    return group


def image_id_of(api: httpx.Client, name: str) -> int:
    for hit in api.get("/api/search", params={"q": "a photo", "k": 100, "all": True}).json()["results"]:
        if Path(hit["path"]).name == name:
            return hit["id"]
    raise AssertionError(f"{name} not in the catalog")


def name_grace(api: httpx.Client) -> None:
    """Names the four faces of Grace Hopper "Grace Hopper" (again, if named already)."""
    reference = group_of(api, faces=4)["reference"]
    response = api.post("/api/people/name", json={"person": reference, "name": "Grace Hopper"})
    assert response.status_code == 200, response.text
    assert response.json() == {"faces": 4}


def names(page: dict) -> set[str]:
    return {Path(hit["path"]).name for hit in page["results"]}


# -- people and faces ----------------------------------------------------------------------------


def test_people_lists_the_groups_largest_first_with_face_thumbnails(api):
    response = api.get("/api/people")
    assert response.status_code == 200
    answer = response.json()
    assert answer["total"] == 2
    grace, astronaut = answer["people"]
    assert set(grace) == {
        "name", "group", "reference", "faces", "photos", "sample_face", "sample_image", "thumbnail_url"
    }  # fmt: skip
    assert (grace["faces"], grace["photos"], astronaut["faces"], astronaut["photos"]) == (4, 4, 1, 1)
    for group in (grace, astronaut):
        assert group["name"] is None and group["reference"] == str(group["group"])
        assert group["thumbnail_url"] == f"/api/faces/{group['sample_face']}/thumbnail"
        detail = api.get(f"/api/images/{group['sample_image']}").json()
        assert group["sample_face"] in [face["id"] for face in detail["faces"]]
    assert Path(api.get(f"/api/images/{astronaut['sample_image']}").json()["path"]).name == "astronaut.jpg"
    # k lists fewer; total still counts them all.
    assert api.get("/api/people", params={"k": 1}).json() == {"total": 2, "people": [grace]}


def test_a_face_thumbnail_is_a_square_jpeg_cached_beside_the_catalog(api, served):
    photos_before = sorted(served["photos"].iterdir())
    url = group_of(api, faces=1)["thumbnail_url"]
    first = api.get(url)
    assert first.status_code == 200 and first.headers["content-type"] == "image/jpeg"
    assert first.headers["x-cache"] == "miss"
    with Image.open(io.BytesIO(first.content)) as face:
        assert face.format == "JPEG" and face.size[0] == face.size[1] >= 128
    again = api.get(url)
    assert again.headers["x-cache"] == "hit" and again.content == first.content
    # Rendered into the cache folder, never beside the photos.
    assert [p.name for p in served["cache"].rglob("*-face-*.jpeg")]
    assert sorted(served["photos"].iterdir()) == photos_before


def test_the_detail_of_a_photo_has_its_face_boxes(api):
    grace = api.get(f"/api/images/{image_id_of(api, 'grace.jpg')}").json()
    (face,) = grace["faces"]
    assert set(face) == {"id", "box", "person", "group"}
    left, top, width, height = face["box"]
    # Her face: in the upper middle of the portrait, about 40% of its width.
    assert 0.2 < left < 0.5 and 0.1 < top < 0.4 and 0.3 < width < 0.55 and 0 < height < 0.5
    assert face["group"] == group_of(api, faces=4)["group"]
    assert api.get(f"/api/images/{image_id_of(api, 'coffee.jpg')}").json()["faces"] == []


def test_naming_a_group_in_place_names_every_face_in_it(api):
    name_grace(api)
    listed = people(api)
    assert (listed[0]["name"], listed[0]["reference"], listed[0]["faces"]) == ("Grace Hopper", "Grace Hopper", 4)
    assert listed[1]["name"] is None
    for name in GRACE:
        (face,) = api.get(f"/api/images/{image_id_of(api, name)}").json()["faces"]
        assert face["person"] == "Grace Hopper"
    (face,) = api.get(f"/api/images/{image_id_of(api, 'astronaut.jpg')}").json()["faces"]
    assert face["person"] is None


def test_search_by_person_lists_only_their_photos_and_says_who(api):
    name_grace(api)
    page = api.get("/api/search", params={"person": "Grace Hopper"}).json()
    assert set(page) == SEARCH_KEYS and page["people"] == ["Grace Hopper"]
    assert names(page) == GRACE and page["total"] == 4
    assert all(set(hit) == RESULT_KEYS for hit in page["results"])
    # A name in the query restricts the results the same way; the rest of the query ranks them.
    page = api.get("/api/search", params={"q": "Grace Hopper in uniform", "all": True}).json()
    assert page["people"] == ["Grace Hopper"] and names(page) == GRACE
    page = api.get("/api/search", params={"q": "a cup of coffee", "person": "Grace Hopper", "all": True}).json()
    assert page["people"] == ["Grace Hopper"] and names(page) <= GRACE
    # Without a person the same query finds the coffee, and says nobody restricted it.
    page = api.get("/api/search", params={"q": "a cup of coffee"}).json()
    assert page["people"] == [] and page["results"][0]["path"].endswith("coffee.jpg")


def test_an_unknown_person_or_group_is_a_clear_error(api):
    response = api.get("/api/search", params={"q": "a portrait", "person": "Nobody Atall"})
    assert_error(response, 400)
    assert response.json()["error"] == "nobody is named 'Nobody Atall'; `lucida people` lists the people"
    assert_error(api.get("/api/search", params={"person": "Nobody Atall"}), 400)
    # Neither words nor a person: nothing to search for.
    assert_error(api.get("/api/search", params={"person": "  "}), 422)
    assert_error(api.get("/api/search", params={"person": ["x"] * 21}), 422)
    response = api.post("/api/people/name", json={"person": "9999", "name": "Somebody"})
    assert_error(response, 400)
    assert "no group of faces numbered 9999" in response.json()["error"]
    reference = group_of(api, faces=1)["reference"]
    for bad in ("", "   ", "12"):
        assert_error(api.post("/api/people/name", json={"person": reference, "name": bad}), 400)
    assert_error(api.post("/api/people/name", json={"person": reference}), 422)
    assert group_of(api, faces=1)["name"] is None


def test_more_like_this_face_ranks_photos_by_their_likeliest_face(api):
    name_grace(api)
    face = api.get(f"/api/images/{image_id_of(api, 'grace.jpg')}").json()["faces"][0]
    page = api.get(f"/api/faces/{face['id']}/similar", params={"k": 10}).json()
    assert set(page) == SEARCH_KEYS and page["query"] == "Grace Hopper" and page["people"] == []
    assert all(set(hit) == RESULT_KEYS and hit["answer"] is None for hit in page["results"])
    found = [Path(hit["path"]).name for hit in page["results"]]
    scores = [hit["score"] for hit in page["results"]]
    assert found[0] == "grace.jpg" and scores[0] == pytest.approx(1.0)
    assert set(found[:4]) == GRACE and "coffee.jpg" not in found and scores == sorted(scores, reverse=True)
    assert all(score >= 0.5 for score in scores[:4])  # one person: within lucida.people.SAME_PERSON
    assert page["total"] == len(found)
    second = api.get(f"/api/faces/{face['id']}/similar", params={"k": 2, "offset": 2}).json()
    assert [hit["id"] for hit in second["results"]] == [hit["id"] for hit in page["results"][2:4]]


def test_unknown_faces_are_json_404s(api):
    for response in (
        api.get("/api/faces/999999/thumbnail"),
        api.get("/api/faces/999999/similar"),
        api.post("/api/faces/999999/split"),
        api.post("/api/faces/999999/not-a-person"),
    ):
        assert_error(response, 404)
        assert response.json()["error"] == "no face with id 999999"
    assert_error(api.get("/api/faces/0/thumbnail"), 422)


def test_split_merge_and_not_a_person(api):
    name_grace(api)
    face = api.get(f"/api/images/{image_id_of(api, 'grace_small.jpg')}").json()["faces"][0]
    response = api.post(f"/api/faces/{face['id']}/split")
    assert response.status_code == 200, response.text
    group = response.json()["group"]
    split = [g for g in people(api) if g["group"] == group and g["name"] is None]
    assert [(g["faces"], g["sample_face"]) for g in split] == [(1, face["id"])]
    assert group_of(api, faces=3)["name"] == "Grace Hopper"
    # Merged back into her: four faces again, all named.
    response = api.post("/api/people/merge", json={"into": "Grace Hopper", "other": str(group)})
    assert response.status_code == 200 and response.json() == {"faces": 1}
    assert group_of(api, faces=4)["name"] == "Grace Hopper"
    assert_error(api.post("/api/people/merge", json={"into": "Grace Hopper", "other": "Grace Hopper"}), 400)
    # The astronaut's group is not a person: it leaves the people and the photo's faces.
    astronaut = group_of(api, faces=1)
    response = api.post("/api/people/not-a-person", json={"person": astronaut["reference"]})
    assert response.status_code == 200 and response.json() == {"faces": 1}
    assert [g["name"] for g in people(api)] == ["Grace Hopper"]
    assert api.get(f"/api/images/{astronaut['sample_image']}").json()["faces"] == []
    # One face of hers, marked on its own.
    response = api.post(f"/api/faces/{face['id']}/not-a-person")
    assert response.status_code == 200 and response.json() == {"faces": 1}
    assert group_of(api, faces=3)["name"] == "Grace Hopper"


def test_changes_need_the_token_and_come_only_from_the_page_itself(faces_catalog, describer, embedder, tmp_path):
    catalog = copy_of(faces_catalog, tmp_path / "token")
    app = create_app(catalog, describer, embedder, token=TOKEN, cache_dir=tmp_path / "c1")
    with serving(app) as url, httpx.Client(base_url=url, timeout=60) as client:
        body = {"person": "1", "name": "Eileen Collins"}
        assert_error(client.post("/api/people/name", json=body), 401)
        assert_error(client.get("/api/people"), 401)
        listed = client.get("/api/people", params={"token": TOKEN}).json()["people"]
        # <img> sends no header: the face's URL carries the token.
        assert all(f"token={TOKEN}" in g["thumbnail_url"] for g in listed)
        assert client.get(listed[0]["thumbnail_url"]).headers["content-type"] == "image/jpeg"
        astronaut = [g for g in listed if g["faces"] == 1][0]["reference"]
        good = {"Authorization": f"Bearer {TOKEN}"}
        response = client.post("/api/people/name", json={**body, "person": astronaut}, headers=good)
        assert response.status_code == 200 and response.json() == {"faces": 1}

    # Without a token, another site's page may not change anything (it could make the browser
    # post to 127.0.0.1); the page's own requests, and clients that are no page, may.
    app = create_app(copy_of(faces_catalog, tmp_path / "open"), describer, embedder, cache_dir=tmp_path / "c2")
    with serving(app) as url, httpx.Client(base_url=url, timeout=60) as client:
        reference = [g for g in client.get("/api/people").json()["people"] if g["faces"] == 1][0]["reference"]
        body = {"person": reference, "name": "Eileen Collins"}
        for elsewhere in ("http://evil.example", "null", url.replace("127.0.0.1", "localhost")):
            assert_error(client.post("/api/people/name", json=body, headers={"Origin": elsewhere}), 403)
            assert_error(client.post("/api/faces/1/split", headers={"Origin": elsewhere}), 403)
        assert [g["name"] for g in client.get("/api/people").json()["people"]] == [None, None]
        assert client.get("/api/people", headers={"Origin": "http://evil.example"}).status_code == 200  # reads: CORS
        assert client.post("/api/people/name", json=body, headers={"Origin": url}).status_code == 200
        assert "Eileen Collins" in [g["name"] for g in client.get("/api/people").json()["people"]]


# -- the page, in a real browser ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def page_server(faces_catalog, describer, embedder, tmp_path_factory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("web-people-page")
    app = create_app(copy_of(faces_catalog, root / "catalog"), describer, embedder, cache_dir=root / "cache")
    with serving(app) as url:
        yield url


@pytest.fixture
def page(page_server):
    # As tests/test_web_e2e.py drives it: Debian's headless Chromium through Playwright.
    playwright_sync = pytest.importorskip("playwright.sync_api")
    from test_web_e2e import CHROMIUM, CHROMIUM_ARGS, TIMEOUT_MS

    if not CHROMIUM.exists():
        pytest.skip("needs Debian's chromium (`make system-deps` installs it)")
    with playwright_sync.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.set_default_timeout(TIMEOUT_MS)
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        yield page
        browser.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def test_name_a_person_in_the_page_and_see_their_photos(page, page_server):
    page.goto(page_server + "/")
    page.wait_for_function("() => document.querySelectorAll('#people .person').length === 2")
    page.wait_for_function(
        "() => [...document.querySelectorAll('#people .person-face img')]"
        ".every(img => img.complete && img.naturalWidth > 0)"
    )
    assert page.locator("#people .person-name").all_inner_texts() == ["unnamed", "unnamed"]

    # Her group has the most faces, so it comes first: name it where it stands.
    page.locator("#people .person-name").first.click()
    field = page.get_by_role("textbox", name="Name this person")
    field.fill("Grace Hopper")
    field.press("Enter")

    page.wait_for_function("() => document.querySelector('#people .person-name').innerText === 'Grace Hopper'")
    page.wait_for_function("() => document.querySelectorAll('#grid .tile').length === 4")
    shown = page.eval_on_selector_all("#grid .tile", "tiles => tiles.map(t => t.dataset.path)")
    assert {Path(path).name for path in shown} == GRACE
    assert re.match(r"4 photos of Grace Hopper in [\d.]+ ms$", page.locator("#summary").inner_text())
    assert "person=Grace+Hopper" in page.url
    assert page.locator("#people .person-face").first.get_attribute("aria-pressed") == "true"

    # Her photo's detail draws a box on her face, with her name.
    page.locator("#grid .tile").first.click()
    box = page.locator("#detail-faces .face-box")
    box.wait_for(state="visible")
    assert box.inner_text() == "Grace Hopper"
    page.wait_for_function("() => document.querySelector('#detail-preview').naturalWidth > 0")
    face, photo = box.bounding_box(), page.locator("#detail-preview").bounding_box()
    assert photo["x"] < face["x"] and face["x"] + face["width"] < photo["x"] + photo["width"]
    assert photo["y"] < face["y"] and face["y"] + face["height"] < photo["y"] + photo["height"]
    assert 0.3 < face["width"] / photo["width"] < 0.55

    # The address opens on her photos again.
    page.goto(page_server + "/?person=Grace%20Hopper")
    page.wait_for_function("() => document.querySelectorAll('#grid .tile').length === 4")


def test_forgetting_a_person_deletes_their_faces_and_cached_face_pictures(faces_catalog, describer, embedder, tmp_path):
    catalog = copy_of(faces_catalog, tmp_path / "forget")
    app = create_app(catalog, describer, embedder, cache_dir=tmp_path / "cache")
    with serving(app) as url, httpx.Client(base_url=url, timeout=60) as client:
        name_grace(client)
        faces = [f for i in (image_id_of(client, n) for n in sorted(GRACE)) for f in client.get(f"/api/images/{i}").json()["faces"]]
        assert len(faces) == 4
        for face in faces:  # each face's crop, cached as the page asks for it
            assert client.get(f"/api/faces/{face['id']}/thumbnail").status_code == 200
        crops = list((tmp_path / "cache" / "thumbs").rglob("*-face-*.jpeg"))
        assert len(crops) == 4
        response = client.post("/api/people/forget", json={"person": "Grace Hopper"})
        assert response.status_code == 200 and response.json() == {"faces": 4}, response.text
        assert not any(crop.exists() for crop in crops)
        assert [g["name"] for g in people(client)] == [None]  # the astronaut's group is left
        assert all(client.get(f"/api/faces/{face['id']}/thumbnail").status_code == 404 for face in faces)
        assert client.get(f"/api/images/{image_id_of(client, 'grace.jpg')}").json()["faces"] == []
        assert_error(client.post("/api/people/forget", json={"person": "Grace Hopper"}), 400)  # nobody by that name now
        astronaut = people(client)[0]
        assert_error(client.post("/api/people/forget", json={"person": astronaut["reference"]}), 400)
