"""The JSON API's routes. Each validates what it was sent, calls the library (on the catalog's
thread) and shapes the answer as JSON; what to search, rank and show is the library's business.
Photos are addressed by catalog id only: no request names a file path that is then read."""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

import anyio
import anyio.to_thread
from fastapi import APIRouter, Depends, File, Query, Request, UploadFile
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

from lucida.catalog import ImageRecord
from lucida.catalog.faces import PersonGroup, StoredFace
from lucida.errors import LucidaError
from lucida.filters import Sort, parse_filter
from lucida.library import Library, UnreadableUpload, describe_upload
from lucida.library import SearchPage as LibraryPage
from lucida.media import SUPPORTED_EXTENSIONS, upload_problem
from lucida.scan import under_any
from lucida.search import SearchResult
from lucida.web.jobs import IndexJob
from lucida.web.renditions import (
    DEFAULT_THUMBNAIL_SIDE,
    PREVIEW_SIDE,
    RENDITION_TYPES,
    THUMBNAIL_SIDES,
    face_rendition_path,
    forget_face_renditions,
    render,
    render_face,
    rendition_path,
)
from lucida.web.runtime import LibraryThread, QueryEmbedder

MAX_UPLOAD_BYTES = 30 * 1024 * 1024
# Full decodes at once (uploads described, renditions rendered): each may hold a few hundred MB of
# pixels (a 250 MP photo of the library decodes to 250 MB at least), so 20 at once could exhaust
# the machine. The rest wait their turn without holding a worker thread.
MAX_CONCURRENT_DECODES = 2

# The search's query parameters, by the CLI option that parse_filter's errors name.
_QUERY_NAMES = {"from": "from", "to": "to", "focal": "focal", "min-rating": "min_rating", "type": "type"}
_CLI_OPTION = re.compile(r"--(min-rating|from|to|focal|type)\b( (?=['\d]))?")  # "--type 'x'" -> "type='x'"

# Catalog ids are SQLite integers: positive and 64-bit. Anything else is refused before a query.
ImageId = Annotated[int, PathParam(ge=1, le=2**63 - 1, description="The photo's catalog id")]
FaceId = Annotated[int, PathParam(ge=1, le=2**63 - 1, description="The face's catalog id")]
PageSize = Annotated[int, Query(ge=1, le=500, description="How many results")]
Offset = Annotated[int, Query(ge=0, le=1_000_000, description="How many best results to skip (paging)")]
Format = Annotated[Literal["jpeg", "webp"] | None, Query(description="Image format; else by Accept, else JPEG")]


@dataclass
class WebContext:
    """What every route shares: the library on its thread, the query embedder, the index job."""

    catalog_path: str | Path  # a SQLite file, or a PostgreSQL URL
    library: LibraryThread
    query_embedder: QueryEmbedder
    job: IndexJob
    thumbs_dir: Path
    token: str | None
    decodes: anyio.CapacityLimiter | None = field(default=None, repr=False)  # see _decodes

    def image_url(self, image_id: int, kind: str, **params: Any) -> str:
        return self._url(f"/api/images/{image_id}/{kind}", params)

    def face_url(self, face_id: int) -> str:
        return self._url(f"/api/faces/{face_id}/thumbnail", {})

    def _url(self, path: str, params: dict[str, Any]) -> str:
        # <img> cannot send a header: the token rides in the URL.
        if self.token:
            params["token"] = self.token
        query = f"?{urlencode(params)}" if params else ""
        return f"{path}{query}"


def context(request: Request) -> WebContext:
    return request.app.state.lucida


Context = Annotated[WebContext, Depends(context)]


class SearchHit(BaseModel):
    id: int
    path: str
    # A text query's hit: its relevance, 0..1 on the same scale for every query. By photo and
    # "more like this": the cosine similarity.
    score: float
    caption: str
    thumbnail_url: str
    taken_at: str | None
    width: int | None
    height: int | None
    files: list[str]  # every file of the photo: a RAW+JPEG pair is one hit with two
    # Why it matched a text query: similarity, ranks, matched words by field, likeliest classes.
    why: dict[str, Any] | None = None
    # A text query's hit: at or above the relevance cutoff (an answer) or a weaker match. None
    # by photo and for "more like this", which have no cutoff.
    answer: bool | None = None


class SearchPage(BaseModel):
    query: str
    took_ms: float
    # A text query's answers that pass the filters; by photo and "more like this", every photo
    # ranked. A RAW+JPEG pair counts once.
    total: int
    weaker: int  # a text query's matches below the cutoff: what all=true lists after the answers
    # The named people every result shows: those asked for with person= and those the query named.
    people: list[str] = []
    # A query typed in another language: the English words it was searched by ("une grenouille": "frog").
    searched_as: str | None = None
    results: list[SearchHit]


class IndexRequest(BaseModel):
    path: str


# A group of faces is named as the library names it: its number ("12") or the person's name.
Reference = Annotated[
    str, Field(min_length=1, max_length=1000, description='A group\'s number ("12") or a person\'s name')
]


class NameRequest(BaseModel):
    person: Reference
    name: str = Field(max_length=1000, description="The person's name; a name another group has joins them")


class MergeRequest(BaseModel):
    into: Reference
    other: Reference = Field(description="The group or person whose faces join `into`")


class GroupRequest(BaseModel):
    person: Reference


class Person(BaseModel):
    name: str | None  # None: an unnamed group of faces
    group: int | None  # the group's number; for a person, the group holding most of their faces
    reference: str  # what the naming routes take to address this row: the name, else the number
    faces: int
    photos: int
    sample_face: int  # the face shown for the group
    sample_image: int
    thumbnail_url: str  # a square crop of the sample face


class People(BaseModel):
    total: int  # named people and unnamed groups, however many `k` lists
    people: list[Person]


router = APIRouter(prefix="/api")


def _hits(web: WebContext, results: list[SearchResult]) -> list[SearchHit]:
    return [
        SearchHit(
            id=r.image_id, path=r.path, score=round(r.score, 6), caption=r.caption,
            thumbnail_url=web.image_url(r.image_id, "thumbnail", size=DEFAULT_THUMBNAIL_SIDE),
            taken_at=r.taken_at, width=r.width, height=r.height, files=list(r.files), why=r.why or None,
            answer=r.answer,
        )
        for r in results
    ]


def _page(web: WebContext, query: str, started: float, page: LibraryPage) -> SearchPage:
    return SearchPage(
        query=query, took_ms=_ms_since(started), total=page.total, weaker=page.weaker, people=list(page.people),
        searched_as=page.searched, results=_hits(web, page.results),
    )


# -- search ----------------------------------------------------------------------------------


@router.get(
    "/search",
    response_model=SearchPage,
    summary="Photos matching words, best first",
    description="The answers: photos whose relevance (`score`, 0..1 on the same scale for every query) reaches "
    "the cutoff; `total` counts them. With `all=true` the `weaker` matches below the cutoff follow them, and "
    "`offset` and `k` page through answers and weaker matches together. A named person in `q` (\"Grace Hopper "
    "in uniform\") or in `person` restricts the results to photos of them (`people` says who); with `person` "
    "and no `q`, their photos come oldest first.",
)
async def search(
    web: Context,
    q: Annotated[
        str | None, Query(min_length=1, max_length=1000, description="What the photo shows; optional with `person`")
    ] = None,
    person: Annotated[
        list[str] | None,
        Query(max_length=20, description="A named person who must be in the photo (see /api/people); repeatable"),
    ] = None,
    k: PageSize = 20,
    offset: Offset = 0,
    weak: Annotated[bool, Query(alias="all", description="After the answers, the weaker matches too")] = False,
    taken_from: Annotated[str | None, Query(alias="from", description="Taken on or after: YYYY[-MM[-DD]]")] = None,
    taken_to: Annotated[str | None, Query(alias="to", description="Taken on or before: YYYY[-MM[-DD]], inclusive")] = None,
    camera: Annotated[str | None, Query(max_length=200, description="Words in camera make and model")] = None,
    lens: Annotated[str | None, Query(max_length=200, description="Words in the lens name")] = None,
    focal: Annotated[str | None, Query(max_length=40, description="Focal length in mm: MIN-MAX, MIN- or -MAX")] = None,
    min_rating: Annotated[int | None, Query(ge=-1, le=5, description="Rated at least this")] = None,
    label: Annotated[str | None, Query(max_length=40, description="Colour label, e.g. red")] = None,
    folder: Annotated[str | None, Query(max_length=4096, description="Files under this folder")] = None,
    types: Annotated[str | None, Query(alias="type", max_length=200, description="raw, jpeg, heic, nef, ... (comma-separated)")] = None,
    has_gps: Annotated[bool, Query(description="Only photos with a GPS position")] = False,
    sort: Annotated[Sort, Query(description="Order of the k results: relevance or capture date")] = "relevance",
    why: Annotated[bool, Query(description="Say why each photo matched (`why`); false saves the server that work")] = True,
) -> SearchPage:
    started = time.perf_counter()
    try:
        photo_filter = parse_filter(
            taken_from, taken_to, camera, lens, focal, min_rating, label, folder, types, has_gps, person or ()
        )
    except LucidaError as problem:
        raise HTTPException(400, _in_query_words(problem)) from None
    if q is None and not photo_filter.people:
        raise HTTPException(422, "query q: Field required, unless a person is given")
    vector = None if q is None else await web.query_embedder.vector(q)
    page = await web.library.run(lambda library: library.search(q, photo_filter, k, offset, sort, vector, weak=weak, explain=why))
    return _page(web, q or "", started, page)


@router.get("/similar/{image_id}", response_model=SearchPage, summary="More like this photo")
async def similar(web: Context, image_id: ImageId, k: PageSize = 20, offset: Offset = 0) -> SearchPage:
    started = time.perf_counter()
    page = await web.library.run(lambda library: library.similar(image_id, k, offset))
    if page is None:
        raise _no_photo(image_id)
    return _page(web, page.query or "", started, page)


@router.post(
    "/search/image",
    response_model=SearchPage,
    summary="Photos like an uploaded photo",
    description=f"Multipart upload in the field `file`, at most {MAX_UPLOAD_BYTES // 2**20} MB. The photo is "
    "described and the description searched for; it is kept in memory only.",
)
async def search_by_photo(
    web: Context,
    file: Annotated[UploadFile, File(description="A photo")],
    k: PageSize = 20,
    offset: Offset = 0,
) -> SearchPage:
    started = time.perf_counter()
    data = await file.read(MAX_UPLOAD_BYTES + 1)
    await file.close()
    if len(data) > MAX_UPLOAD_BYTES:
        raise too_big_error()
    if not data:
        raise HTTPException(400, "the uploaded file is empty")
    extension = Path(file.filename or "").suffix.lower()
    extension = extension if extension in SUPPORTED_EXTENSIONS else ""
    refused = upload_problem(data, extension)  # from the header, before any pixel is decoded
    if refused:
        raise HTTPException(413, refused)
    describer, embedder = await web.library.run(lambda library: library.upload_models())
    try:
        # The models run in the worker pool, not on the catalog's thread.
        text, vector = await anyio.to_thread.run_sync(
            describe_upload, data, extension, describer, embedder, limiter=_decodes(web)
        )
    except UnreadableUpload as problem:
        raise HTTPException(415, str(problem)) from None
    page = await web.library.run(lambda library: library.search_vector(text, vector, k, offset))
    return _page(web, text, started, page)


# -- photos ------------------------------------------------------------------------------------


async def _record_of(web: WebContext, image_id: int) -> ImageRecord:
    record = await web.library.run(lambda library: library.record(image_id))
    if record is None:
        raise _no_photo(image_id)
    return record


@router.get("/images/{image_id}", summary="Everything the catalog knows about a photo")
async def image(
    web: Context,
    image_id: ImageId,
    q: Annotated[
        str | None,
        Query(max_length=1000, description="A query: adds why the photo matched it (`why.score`: the cosine similarity)"),
    ] = None,
) -> dict[str, Any]:
    # Through the query embedder, not the library's searcher: the page has just searched these
    # words, so their vector is cached there, and no model runs on the catalog thread (unless
    # the search was of other words: exclusions left out, another language's in English).
    query = q if q and q.strip() else None
    vector = await web.query_embedder.vector(query) if query else None
    details, faces = await web.library.run(
        lambda library: (library.photo(image_id, query, vector), library.faces_in(image_id))
    )
    if details is None:
        raise _no_photo(image_id)
    record = details.record
    caption = details.caption  # what a person reads; the text search ranks by stays beside it
    payload: dict[str, Any] = {
        "id": record.image_id,
        "path": record.files[0].path,
        "paths": [f.path for f in record.files],
        "file_size": record.files[0].size,
        "width": record.width,
        "height": record.height,
        "taken_at": record.taken_at,
        "added_at": record.added_at,
        "content_hash": record.content_hash,
        "caption": caption,
        "search_text": record.preferred.text if record.preferred else None,
        "thumbnail_url": web.image_url(image_id, "thumbnail", size=DEFAULT_THUMBNAIL_SIDE),
        "preview_url": web.image_url(image_id, "preview"),
        "descriptions": [
            {"describer": d.describer, "prompt": d.prompt, "caption": d.display, "text": d.text,
             "details": d.details, "created_at": d.created_at, "used_for_search": d.preferred}
            for d in record.descriptions
        ],
        # Left to right; a box is left, top, width, height as fractions of the photo as displayed.
        "faces": [
            {"id": f.id, "box": [round(v, 6) for v in f.box], "person": f.person, "group": f.cluster} for f in faces
        ],
    }
    if vector is not None:
        payload["why"] = {
            "query": q,
            "score": None if details.score is None else round(details.score, 6),
            "description": caption,
            "top_classes": details.classes[:5],
        }
    return payload


@router.get(
    "/images/{image_id}/thumbnail",
    response_class=FileResponse,
    summary="A small upright rendition of the photo",
    responses={200: {"content": {"image/jpeg": {}, "image/webp": {}}}},
)
async def thumbnail(
    web: Context,
    request: Request,
    image_id: ImageId,
    size: Annotated[int, Query(description=f"Longer side in pixels, clamped to {THUMBNAIL_SIDES}")] = DEFAULT_THUMBNAIL_SIDE,
    format: Format = None,
) -> FileResponse:
    side = min(max(size, THUMBNAIL_SIDES[0]), THUMBNAIL_SIDES[1])
    return await _rendition(web, request, image_id, side, format)


@router.get(
    "/images/{image_id}/preview",
    response_class=FileResponse,
    summary=f"A screen-sized upright rendition (longer side {PREVIEW_SIDE} px)",
    responses={200: {"content": {"image/jpeg": {}, "image/webp": {}}}},
)
async def preview(web: Context, request: Request, image_id: ImageId, format: Format = None) -> FileResponse:
    return await _rendition(web, request, image_id, PREVIEW_SIDE, format)


async def _rendition(web: WebContext, request: Request, image_id: int, side: int, format: str | None) -> FileResponse:
    record = await _record_of(web, image_id)
    if format is None:
        format = "webp" if "image/webp" in request.headers.get("accept", "") else "jpeg"
    target = rendition_path(web.thumbs_dir, record, side, format)
    cached = target.exists()
    if not cached:
        await anyio.to_thread.run_sync(render, record, side, format, target, limiter=_decodes(web))
    return FileResponse(
        target,
        media_type=RENDITION_TYPES[format],
        headers={"Cache-Control": "private, max-age=86400", "Vary": "Accept", "X-Cache": "hit" if cached else "miss"},
    )


# -- people ------------------------------------------------------------------------------------


@router.get("/people", response_model=People, summary="Named people, then unnamed groups of faces, largest first")
async def people(
    web: Context, k: Annotated[int | None, Query(ge=1, le=100_000, description="List at most this many")] = None
) -> People:
    groups = await web.library.run(lambda library: library.people())
    return People(total=len(groups), people=[_person(web, g) for g in groups[:k]])


@router.post(
    "/people/name",
    summary="Name a group of faces, or rename a person",
    description="A name another person already has makes the two one person.",
)
async def name_person(web: Context, body: NameRequest) -> dict[str, int]:
    named = await web.library.run(lambda library: library.name_person(body.person, body.name))
    return {"faces": named}


@router.post("/people/merge", summary="One group's or person's faces join another's")
async def merge_people(web: Context, body: MergeRequest) -> dict[str, int]:
    moved = await web.library.run(lambda library: library.merge_people(body.into, body.other))
    return {"faces": moved}


@router.post("/people/not-a-person", summary="Mark a group's faces as not a person (a statue, a poster)")
async def group_not_a_person(web: Context, body: GroupRequest) -> dict[str, int]:
    marked = await web.library.run(lambda library: library.not_a_person(body.person))
    return {"faces": marked}


@router.post(
    "/people/forget",
    summary="Delete a named person's faces (boxes, descriptors, cached crops) and name",
    description="Their photos stay, marked as read for faces, so the faces are not found again.",
)
async def forget_person(web: Context, body: GroupRequest) -> dict[str, int]:
    forgotten = await web.library.run(lambda library: library.forget_person(body.person))
    await anyio.to_thread.run_sync(forget_face_renditions, web.thumbs_dir, forgotten)
    return {"faces": len(forgotten)}


@router.post("/faces/{face_id}/split", summary="A wrongly grouped face to a group of its own")
async def split_face(web: Context, face_id: FaceId) -> dict[str, int]:
    group = await web.library.run(lambda library: library.split_face(face_id) if library.face(face_id) else None)
    if group is None:
        raise _no_face(face_id)
    return {"group": group}


@router.post("/faces/{face_id}/not-a-person", summary="Mark one face as not a person")
async def face_not_a_person(web: Context, face_id: FaceId) -> dict[str, int]:
    marked = await web.library.run(
        lambda library: library.not_a_person(face_id=face_id) if library.face(face_id) else None
    )
    if marked is None:
        raise _no_face(face_id)
    return {"faces": marked}


@router.get(
    "/faces/{face_id}/thumbnail",
    response_class=FileResponse,
    summary="A square crop of a face, with some of the photo around it",
    responses={200: {"content": {"image/jpeg": {}}}},
)
async def face_thumbnail(web: Context, face_id: FaceId) -> FileResponse:
    face, record = await web.library.run(lambda library: _face_and_photo(library, face_id))
    if face is None or record is None:
        raise _no_face(face_id)
    target = face_rendition_path(web.thumbs_dir, record, face.box)
    cached = target.exists()
    if not cached:
        await anyio.to_thread.run_sync(render_face, record, face.box, target, limiter=_decodes(web))
    return FileResponse(
        target, media_type=RENDITION_TYPES["jpeg"],
        headers={"Cache-Control": "private, max-age=86400", "X-Cache": "hit" if cached else "miss"},
    )  # fmt: skip


@router.get(
    "/faces/{face_id}/similar",
    response_model=SearchPage,
    summary="More like this face: photos by how like it their likeliest face is",
    description="`score` is the face similarity, 1 - distance: two faces of one person are at 0.5 or more. "
    "The face's own photo comes first.",
)
async def similar_faces(web: Context, face_id: FaceId, k: PageSize = 20, offset: Offset = 0) -> SearchPage:
    started = time.perf_counter()
    page = await web.library.run(lambda library: library.similar_faces(face_id, k, offset))
    if page is None:
        raise _no_face(face_id)
    return _page(web, page.query or "", started, page)


def _person(web: WebContext, group: PersonGroup) -> Person:
    return Person(
        name=group.name, group=group.cluster, reference=group.name or str(group.cluster), faces=group.faces,
        photos=group.photos, sample_face=group.sample_face, sample_image=group.sample_image,
        thumbnail_url=web.face_url(group.sample_face),
    )  # fmt: skip


def _face_and_photo(library: Library, face_id: int) -> tuple[StoredFace | None, ImageRecord | None]:
    face = library.face(face_id)
    return face, library.record(face.image_id) if face else None


# -- status and indexing ---------------------------------------------------------------------


@router.get("/status", summary="Photos indexed, models, library roots, indexing progress")
async def status(web: Context) -> dict[str, Any]:
    st = await web.library.run(lambda library: library.status())
    return {
        "catalog": st.catalog,
        "catalog_bytes": st.catalog_bytes,
        "indexed": st.indexed,
        "images": st.images,
        "pending": st.pending,
        "unembedded": st.unembedded,
        "skipped": len(st.skipped),
        "models": st.models,
        "roots": st.roots,
        "indexing": web.job.snapshot(),
    }


@router.post(
    "/index",
    status_code=202,
    summary="Index a library root again (in the background)",
    description="Only the absolute path of a folder indexed before (a library root, see /api/status) "
    "or of a folder inside one, links resolved. 409 while a run is going; progress shows in /api/status.",
)
async def index(web: Context, body: IndexRequest) -> dict[str, Any]:
    roots = await web.library.run(lambda library: library.roots())
    folder = await run_in_threadpool(_folder_in_roots, body.path, roots)  # links are resolved on disk
    if folder is None:
        shown = body.path if len(body.path) <= 200 else f"{body.path[:200]}…"
        raise HTTPException(
            403, f"{shown!r} is not a library root; index it once with `lucida index PATH`, "
            "then it can be reindexed from here",
        )
    if not web.job.launch(folder):
        raise HTTPException(409, "an index run is already going; see /api/status for its progress")
    return {"indexing": web.job.snapshot()}


def _in_query_words(problem: LucidaError) -> str:
    """parse_filter's message, which names the CLI's options ("--type 'x'"), in the query's
    parameters ("type='x'")."""
    return _CLI_OPTION.sub(lambda m: _QUERY_NAMES[m[1]] + ("=" if m[2] else ""), str(problem))


def _folder_in_roots(path: str, roots: list[str]) -> str | None:
    """The folder `path` names, spelled under the library root it is in; None unless `path` is
    absolute and, once links are resolved, a root or inside one. A relative path would be read
    against the server's working folder, and a link inside a root may lead anywhere: an index
    run there would make a new root of it."""
    if not path or "\0" in path or not os.path.isabs(path):
        return None
    try:
        real = os.path.realpath(path)
        real_roots = sorted(((os.path.realpath(r), r) for r in roots), key=lambda pair: len(pair[0]), reverse=True)
    except (OSError, ValueError):
        return None
    for real_root, root in real_roots:  # the innermost root first
        if under_any([real_root])(real):
            folder = root if real == real_root else os.path.join(root, os.path.relpath(real, real_root))
            return folder if os.path.isdir(folder) else None
    return None


def _decodes(web: WebContext) -> anyio.CapacityLimiter:
    """The app's limiter of full decodes (MAX_CONCURRENT_DECODES). Made on first use, on the
    app's event loop: an asyncio limiter belongs to the loop that made it."""
    if web.decodes is None:
        web.decodes = anyio.CapacityLimiter(MAX_CONCURRENT_DECODES)
    return web.decodes


def _no_photo(image_id: int) -> HTTPException:
    return HTTPException(404, f"no photo with id {image_id}")


def _no_face(face_id: int) -> HTTPException:
    return HTTPException(404, f"no face with id {face_id}")


def too_big_error() -> HTTPException:
    return HTTPException(413, f"the upload is over {MAX_UPLOAD_BYTES // 2**20} MB")


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)
