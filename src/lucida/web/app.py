"""The web app: a JSON API over the library (search, photos, similar photos, search by photo,
indexing) and the static page that uses it.

The catalog's SQLite connection lives on one thread of its own, which runs every catalog and
Searcher call; decoding (thumbnails, uploads) and the models run in the worker thread pool, and an
index run in a background thread with a connection of its own. Photos are addressed by catalog id
only: no request names a file path that is then read.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import urlencode

import numpy as np
from fastapi import FastAPI, File, Query, Request, UploadFile
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from lucida.catalog import Catalog, ImageRecord
from lucida.errors import LucidaError
from lucida.filters import Sort, in_order, parse_filter, passing_ids
from lucida.indexer import IndexSummary, index_paths
from lucida.media import SUPPORTED_EXTENSIONS, UnreadablePhoto, decode_for_models, decode_for_screen
from lucida.models.base import Describer, Embedder
from lucida.scan import under_any
from lucida.search import RecentQueryVectors, Searcher, SearchResult, check_query

log = logging.getLogger("lucida.web")

STATIC_DIR = Path(__file__).parent / "static"
MAX_UPLOAD_BYTES = 30 * 1024 * 1024
THUMBNAIL_SIDES = (64, 1024)  # requested sizes are clamped into this range
DEFAULT_THUMBNAIL_SIDE = 256
PREVIEW_SIDE = 1600
RENDITION_TYPES = {"jpeg": "image/jpeg", "webp": "image/webp"}

# Catalog ids are SQLite integers: positive and 64-bit. Anything else is refused before a query.
ImageId = Annotated[int, PathParam(ge=1, le=2**63 - 1, description="The photo's catalog id")]
PageSize = Annotated[int, Query(ge=1, le=500, description="How many results")]
Offset = Annotated[int, Query(ge=0, le=1_000_000, description="How many best results to skip (paging)")]
Format = Annotated[Literal["jpeg", "webp"] | None, Query(description="Image format; else by Accept, else JPEG")]

T = TypeVar("T")


class SearchHit(BaseModel):
    id: int
    path: str
    score: float
    caption: str
    thumbnail_url: str
    taken_at: str | None
    width: int | None
    height: int | None
    files: list[str]  # every file of the photo: a RAW+JPEG pair is one hit with two
    # Why it matched a text query: similarity, ranks, matched words by field, likeliest classes.
    why: dict[str, Any] | None = None


class SearchPage(BaseModel):
    query: str
    took_ms: float
    total: int  # candidates ranked: the photos in the catalog that pass the filters, a pair counted once
    results: list[SearchHit]


class IndexRequest(BaseModel):
    path: str


class _OneAtATime:
    """A model whose calls run one at a time. Requests and the index thread share the models, and
    Hugging Face fast tokenizers fail ("Already borrowed") when two threads use one at once."""

    def __init__(self, model: Any):
        self._model = model
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._model, name)
        if not callable(attribute):
            return attribute

        def call(*args, **kwargs):
            with self._lock:
                return attribute(*args, **kwargs)

        return call


class _QueryEmbedder:
    """Embeds the queries of concurrent searches together: one model call for every query that
    arrived while the previous call ran. On 2 cores MiniLM takes 7 ms for one query and 30 ms for
    twenty, so under load this multiplies how many searches a second the server answers."""

    def __init__(self, embedder: Embedder):
        self._embedder = embedder
        self._recent = RecentQueryVectors()
        self._waiting: list[tuple[str, asyncio.Future]] = []
        self._drain_task: asyncio.Task | None = None

    async def vector(self, query: str) -> np.ndarray:
        check_query(query)
        cached = self._recent.get(query)
        if cached is not None:
            return cached
        future = asyncio.get_running_loop().create_future()
        self._waiting.append((query, future))
        if self._drain_task is None or self._drain_task.done():
            self._drain_task = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            texts = list(dict.fromkeys(query for query, _ in batch))
            try:
                vectors = dict(zip(texts, await run_in_threadpool(self._embedder.embed_queries, texts)))
            except Exception as error:  # every waiting search gets the error, then the next batch
                for _, future in batch:
                    if not future.done():
                        future.set_exception(error)
                continue
            for text, vector in vectors.items():
                self._recent.put(text, vector)
            for query, future in batch:
                if not future.done():  # a search whose client went away was cancelled
                    future.set_result(vectors[query])


class _CatalogThread:
    """The catalog connection and the Searcher over it, used only from their own thread."""

    def __init__(self, catalog_path: Path, embedder: Embedder, exports: str | None = None):
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="catalog")
        self.catalog: Catalog
        self.searcher: Searcher

        def open_() -> None:
            self.catalog = Catalog.open(catalog_path, create=False)
            self.searcher = Searcher(self.catalog, embedder, exports)

        self._executor.submit(open_).result()

    async def run(self, work: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, work)

    def close(self) -> None:
        self._executor.submit(self.catalog.close).result()
        self._executor.shutdown()


class IndexJob:
    """One background index run at a time, with progress others can read (a Progress)."""

    def __init__(self, catalog_path: Path, describer: Describer, embedder: Embedder):
        self._catalog_path = catalog_path
        self._describer = describer
        self._embedder = embedder
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._state: dict[str, Any] = {"running": False}

    def launch(self, folder: str) -> bool:
        """Start indexing `folder` in the background; False when a run is already going."""
        with self._lock:
            if self._state["running"]:
                return False
            self._state = {
                "running": True, "path": folder, "phase": "scanning", "done": 0, "total": None,
                "started_at": time.time(), "finished_at": None, "summary": None, "error": None,
            }
            self._thread = threading.Thread(target=self._run, args=(folder,), name="index", daemon=True)
            self._thread.start()
        return True

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return dict(self._state)

    def wait(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self, folder: str) -> None:
        summary: IndexSummary | None = None
        error = None
        try:
            with Catalog.open(self._catalog_path, create=False) as catalog:
                summary = index_paths(catalog, [folder], self._describer, self._embedder, progress=self)
        except LucidaError as problem:
            error = str(problem)
        except Exception as problem:  # a bug: keep the trace in the log, say so in the status
            log.exception("index run over %s failed", folder)
            error = f"indexing failed: {type(problem).__name__}: {problem}"
        with self._lock:
            self._state.update(running=False, phase="done" if error is None else "failed",
                               finished_at=time.time(), error=error)
            if summary is not None:
                self._state["summary"] = {
                    "found": summary.found, "unchanged": summary.unchanged, "described": summary.described,
                    "reused": summary.reused, "skipped": len(summary.skipped) + summary.skipped_before,
                    "removed": summary.removed, "embedded": summary.embedded,
                    "seconds": round(summary.seconds, 3),
                }

    # -- Progress: index_paths reports to the job itself -----------------------------------------

    def start(self, phase: str, total: int) -> None:
        with self._lock:
            self._state.update(phase=phase, total=total, done=0)

    def advance(self, count: int = 1) -> None:
        with self._lock:
            self._state["done"] += count

    def finish(self) -> None:
        pass

    def note(self, message: str) -> None:
        log.info("%s", message)


def create_app(
    catalog_path: str | Path,
    describer: Describer,
    embedder: Embedder,
    token: str | None = None,
    cache_dir: str | Path | None = None,
    exports: str | None = None,
) -> FastAPI:
    """The web app over one catalog, with models already loaded. Thumbnails are cached in
    `cache_dir` (default: a folder beside the catalog, <catalog>.cache). `exports` names exported
    JPEGs ("{stem}_DxO") so that they join their RAW's search hit (see lucida.pairs)."""
    catalog_path = Path(catalog_path).expanduser().absolute()
    thumbs_dir = Path(cache_dir or f"{catalog_path}.cache") / "thumbs"
    describer = _OneAtATime(describer)  # type: ignore[assignment]
    embedder = _OneAtATime(embedder)  # type: ignore[assignment]
    if token:
        logging.getLogger("uvicorn.access").addFilter(_HideToken(token))
    library = _CatalogThread(catalog_path, embedder, exports)
    query_embedder = _QueryEmbedder(embedder)
    job = IndexJob(catalog_path, describer, embedder)

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        yield
        job.wait(timeout=5)
        library.close()

    # FastAPIOffline serves /docs with Swagger UI's files from the package, not from a CDN: the
    # API's own documentation must work on a machine with no network, like the page.
    app = FastAPIOffline(
        title="lucida",
        summary="Semantic photo search: find photos from plain language.",
        version=_version(),
        lifespan=lifespan,
    )
    app.state.index_job = job

    def image_url(image_id: int, kind: str, **params: Any) -> str:
        if token:
            params["token"] = token
        query = f"?{urlencode(params)}" if params else ""
        return f"/api/images/{image_id}/{kind}{query}"

    def hits(results: list[SearchResult]) -> list[SearchHit]:
        return [
            SearchHit(
                id=r.image_id, path=r.path, score=round(r.score, 6), caption=r.caption,
                thumbnail_url=image_url(r.image_id, "thumbnail", size=DEFAULT_THUMBNAIL_SIDE),
                taken_at=r.taken_at, width=r.width, height=r.height, files=list(r.files), why=r.why or None,
            )
            for r in results
        ]

    async def nearest(vector: np.ndarray, k: int, offset: int) -> tuple[list[SearchResult], int]:
        """The photos nearest a query vector, and how many photos were ranked."""
        return await library.run(lambda: (library.searcher.search_vector(vector, k, offset), library.searcher.candidates()))

    # -- errors: always {"error": message}, never a stack trace --------------------------------

    @app.exception_handler(HTTPException)
    async def http_error(_request: Request, error: HTTPException) -> JSONResponse:
        return JSONResponse({"error": str(error.detail)}, error.status_code, headers=error.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, error: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{' '.join(str(part) for part in e.get('loc', ()))}: {e.get('msg', 'invalid')}" for e in error.errors()
        )
        return JSONResponse({"error": problems or "invalid request"}, 422)

    @app.exception_handler(LucidaError)
    async def user_error(_request: Request, error: LucidaError) -> JSONResponse:
        return JSONResponse({"error": str(error)}, 400)

    @app.exception_handler(Exception)
    async def bug(request: Request, error: Exception) -> JSONResponse:
        log.error("%s %s failed", request.method, request.url.path, exc_info=error)
        return JSONResponse({"error": "internal error; the server log has the details"}, 500)

    # -- access: a token when one is set; uploads refused early when too big -------------------

    @app.middleware("http")
    async def guard(request: Request, call_next):
        if not token and not is_loopback(_host_name(request.headers.get("host", ""))):
            # Without a token the server is for this machine only. A web page whose name is made
            # to resolve to 127.0.0.1 (DNS rebinding) would send its own name: refused.
            return JSONResponse({"error": "this server answers only to localhost; serve with --token to share it"}, 403)
        path = request.url.path
        if token and (path == "/api" or path.startswith("/api/")) and not _has_token(request, token):
            return JSONResponse(
                {"error": "this server needs its token: send 'Authorization: Bearer TOKEN' or add ?token=TOKEN"},
                401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        length = request.headers.get("content-length", "")
        if request.method == "POST" and length.isdigit() and int(length) > MAX_UPLOAD_BYTES + 65536:
            return _too_big()
        return await call_next(request)

    # -- search --------------------------------------------------------------------------------

    @app.get("/api/search", response_model=SearchPage, summary="Photos matching words, best first")
    async def search(
        q: Annotated[str, Query(min_length=1, max_length=1000, description="What the photo shows")],
        k: PageSize = 20,
        offset: Offset = 0,
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
    ) -> SearchPage:
        started = time.perf_counter()
        photo_filter = parse_filter(taken_from, taken_to, camera, lens, focal, min_rating, label, folder, types, has_gps)
        vector = await query_embedder.vector(q)

        def work() -> tuple[list[SearchResult], int]:
            only = passing_ids(library.catalog, photo_filter)
            return library.searcher.search_with_vector(q, vector, k, offset, only), library.searcher.candidates(only)

        results, total = await library.run(work)
        return SearchPage(query=q, took_ms=_ms_since(started), total=total, results=hits(in_order(results, sort)))

    @app.get("/api/similar/{image_id}", response_model=SearchPage, summary="More like this photo")
    async def similar(image_id: ImageId, k: PageSize = 20, offset: Offset = 0) -> SearchPage:
        started = time.perf_counter()

        def work():
            searcher = library.searcher
            return searcher.similar(image_id, k, offset), searcher.size, library.catalog.image_record(image_id)

        results, total, record = await library.run(work)
        if results is None or record is None:
            raise _no_photo(image_id)
        query = _preferred(record, library.searcher.describer_name)
        return SearchPage(
            query=query.text if query else f"photo {image_id}",
            took_ms=_ms_since(started), total=max(total - 1, 0), results=hits(results),
        )

    @app.post(
        "/api/search/image",
        response_model=SearchPage,
        summary="Photos like an uploaded photo",
        description=f"Multipart upload in the field `file`, at most {MAX_UPLOAD_BYTES // 2**20} MB. The photo is "
        "described and the description searched for; it is kept in memory only.",
    )
    async def search_by_photo(
        file: Annotated[UploadFile, File(description="A photo")],
        k: PageSize = 20,
        offset: Offset = 0,
    ) -> SearchPage:
        started = time.perf_counter()
        data = await file.read(MAX_UPLOAD_BYTES + 1)
        await file.close()
        if len(data) > MAX_UPLOAD_BYTES:
            raise _too_big_error()
        if not data:
            raise HTTPException(400, "the uploaded file is empty")
        extension = Path(file.filename or "").suffix.lower()
        extension = extension if extension in SUPPORTED_EXTENSIONS else ""

        def describe_and_embed():
            try:
                photo = decode_for_models(data, extension, describer.input_side)
            except UnreadablePhoto as problem:
                raise HTTPException(415, f"not a photo lucida can read: {problem}") from None
            description = describer.describe([photo.image])[0]
            return description.text, embedder.embed_documents([description.text])[0]

        text, vector = await run_in_threadpool(describe_and_embed)
        results, total = await nearest(vector, k, offset)
        return SearchPage(query=text, took_ms=_ms_since(started), total=total, results=hits(results))

    # -- photos --------------------------------------------------------------------------------

    async def record_of(image_id: int) -> ImageRecord:
        record = await library.run(lambda: library.catalog.image_record(image_id))
        if record is None:
            raise _no_photo(image_id)
        return record

    @app.get("/api/images/{image_id}", summary="Everything the catalog knows about a photo")
    async def image(
        image_id: ImageId,
        q: Annotated[str | None, Query(max_length=1000, description="A query: adds why the photo matched it")] = None,
    ) -> dict[str, Any]:
        record = await record_of(image_id)
        preferred = _preferred(record, library.searcher.describer_name)
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
            "caption": preferred.text if preferred else None,
            "thumbnail_url": image_url(image_id, "thumbnail", size=DEFAULT_THUMBNAIL_SIDE),
            "preview_url": image_url(image_id, "preview"),
            "descriptions": [
                {"describer": d.describer, "prompt": d.prompt, "text": d.text, "details": d.details,
                 "created_at": d.created_at, "used_for_search": d is preferred}
                for d in record.descriptions
            ],
        }
        if q and q.strip():
            # Through the query embedder, not Searcher.score: the page has just searched these
            # words, so their vector is cached there, and no model runs on the catalog thread.
            vector = await query_embedder.vector(q)
            score = await library.run(lambda: library.searcher.score_vector(vector, image_id))
            classes = (preferred.details or {}).get("classes", []) if preferred else []
            payload["why"] = {
                "query": q,
                "score": None if score is None else round(score, 6),
                "description": preferred.text if preferred else None,
                "top_classes": classes[:5],
            }
        return payload

    @app.get(
        "/api/images/{image_id}/thumbnail",
        response_class=FileResponse,
        summary="A small upright rendition of the photo",
        responses={200: {"content": {"image/jpeg": {}, "image/webp": {}}}},
    )
    async def thumbnail(
        request: Request,
        image_id: ImageId,
        size: Annotated[int, Query(description=f"Longer side in pixels, clamped to {THUMBNAIL_SIDES}")] = (
            DEFAULT_THUMBNAIL_SIDE
        ),
        format: Format = None,
    ) -> FileResponse:
        side = min(max(size, THUMBNAIL_SIDES[0]), THUMBNAIL_SIDES[1])
        return await rendition(request, image_id, side, format)

    @app.get(
        "/api/images/{image_id}/preview",
        response_class=FileResponse,
        summary=f"A screen-sized upright rendition (longer side {PREVIEW_SIDE} px)",
        responses={200: {"content": {"image/jpeg": {}, "image/webp": {}}}},
    )
    async def preview(request: Request, image_id: ImageId, format: Format = None) -> FileResponse:
        return await rendition(request, image_id, PREVIEW_SIDE, format)

    async def rendition(request: Request, image_id: int, side: int, format: str | None) -> FileResponse:
        record = await record_of(image_id)
        if format is None:
            format = "webp" if "image/webp" in request.headers.get("accept", "") else "jpeg"
        # Keyed by content: a photo indexed anew after it changed has a new hash, so new renditions.
        target = thumbs_dir / record.content_hash[:2] / f"{record.content_hash}-{side}.{format}"
        cached = target.exists()
        if not cached:
            await run_in_threadpool(_render, record, side, format, target)
        return FileResponse(
            target,
            media_type=RENDITION_TYPES[format],
            headers={
                "Cache-Control": "private, max-age=86400",
                "Vary": "Accept",
                "X-Cache": "hit" if cached else "miss",
            },
        )

    # -- status and indexing -------------------------------------------------------------------

    @app.get("/api/status", summary="Photos indexed, models, library roots, indexing progress")
    async def status() -> dict[str, Any]:
        def work():
            st = library.catalog.status()
            return st, library.catalog.roots(), library.catalog.file_size_bytes()

        st, roots, size = await library.run(work)
        return {
            "catalog": str(catalog_path),
            "catalog_bytes": size,
            "indexed": st.files,
            "images": st.images,
            "pending": st.pending,
            "unembedded": st.unembedded,
            "skipped": len(st.skipped),
            "models": {"describer": describer.name, "embedder": embedder.name},
            "roots": roots,
            "indexing": job.snapshot(),
        }

    @app.post(
        "/api/index",
        status_code=202,
        summary="Index a library root again (in the background)",
        description="Only a folder indexed before (a library root, see /api/status) or a folder "
        "inside one. 409 while a run is going; progress shows in /api/status.",
    )
    async def index(body: IndexRequest) -> dict[str, Any]:
        folder = os.path.abspath(body.path) if body.path and "\0" not in body.path else ""
        roots = await library.run(library.catalog.roots)
        if not folder or not under_any(roots)(folder) or not os.path.isdir(folder):
            raise HTTPException(
                403, f"{body.path!r} is not a library root; index it once with `lucida index PATH`, "
                "then it can be reindexed from here",
            )
        if not job.launch(folder):
            raise HTTPException(409, "an index run is already going; see /api/status for its progress")
        return {"indexing": job.snapshot()}

    app.mount("/", StaticFiles(directory=STATIC_DIR, html=True), name="static")
    return app


def _render(record: ImageRecord, side: int, format: str, target: Path) -> None:
    """Write a rendition of the photo from the first of its files that can be read."""
    problems = []
    for stored in record.files:
        try:
            with open(stored.path, "rb") as handle:
                data = handle.read()
            image = decode_for_screen(data, Path(stored.path).suffix.lower(), side)
        except OSError as error:
            problems.append(f"{stored.path}: {error.strerror or error}")
            continue
        except UnreadablePhoto as problem:
            problems.append(f"{stored.path}: {problem}")
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        # Written aside and renamed into place, so a reader never sees half a file.
        handle, temporary = tempfile.mkstemp(dir=target.parent, suffix=".part")
        try:
            with os.fdopen(handle, "wb") as out:
                if format == "webp":
                    image.save(out, "WEBP", quality=80, method=4)
                else:
                    image.save(out, "JPEG", quality=85, optimize=True, progressive=True)
            os.replace(temporary, target)
        except BaseException:
            os.unlink(temporary)
            raise
        return
    raise HTTPException(
        404, f"no file of photo {record.image_id} can be read now ({'; '.join(problems)}); run `lucida index` again"
    )


class _HideToken(logging.Filter):
    """Keeps the token out of access logs: <img> URLs carry it as ?token=."""

    def __init__(self, token: str):
        super().__init__()
        self._token = token

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                a.replace(self._token, "***") if isinstance(a, str) else a for a in record.args
            )
        return True


def _preferred(record: ImageRecord, describer: str):
    """The description search uses: the active describer's, else the most recent."""
    chosen = [d for d in record.descriptions if d.describer == describer] or record.descriptions
    return max(chosen, key=lambda d: d.created_at) if chosen else None


def is_loopback(host: str) -> bool:
    """Whether a host name or address means this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # any other name may resolve to another machine
        return False


def _host_name(header: str) -> str:
    """The name in a Host header, without its port: "[::1]:8765" -> "::1"."""
    if header.startswith("["):
        return header[1:].split("]", 1)[0]
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def _has_token(request: Request, token: str) -> bool:
    header = request.headers.get("authorization", "")
    given = header[7:] if header.lower().startswith("bearer ") else request.query_params.get("token", "")
    return hmac.compare_digest(given.encode(), token.encode())


def _no_photo(image_id: int) -> HTTPException:
    return HTTPException(404, f"no photo with id {image_id}")


def _too_big_error() -> HTTPException:
    return HTTPException(413, f"the upload is over {MAX_UPLOAD_BYTES // 2**20} MB")


def _too_big() -> JSONResponse:
    return JSONResponse({"error": _too_big_error().detail}, 413)


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("lucida")
    except PackageNotFoundError:
        return "0"

