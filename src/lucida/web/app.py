"""The web app: the JSON API (lucida.web.api) over a Library, and the static page that uses it.

The catalog's SQLite connection lives on one thread of its own, which runs every library call
that touches it (lucida.web.runtime); decoding (thumbnails, uploads) and the models run in the
worker thread pool, and an index run in a background thread with a connection of its own
(lucida.web.jobs). This module wires them together and guards access: the Host check, the token,
upload sizes and error shapes.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from starlette.exceptions import HTTPException

from lucida.errors import LucidaError
from lucida.library import ModelSet
from lucida.models.base import Describer, Embedder
from lucida.web.api import MAX_UPLOAD_BYTES, WebContext, router, too_big_error
from lucida.web.jobs import IndexJob
from lucida.web.runtime import LibraryThread, OneAtATime, QueryEmbedder

log = logging.getLogger("lucida.web")

STATIC_DIR = Path(__file__).parent / "static"


def create_app(
    catalog_path: str | Path,
    describer: Describer,
    embedder: Embedder,
    token: str | None = None,
    cache_dir: str | Path | None = None,
    exports: str | None = None,
) -> FastAPI:
    """The web app over one catalog, with models already loaded (`lucida serve` chooses them
    through Library.serve_models). Thumbnails are cached in `cache_dir` (default: a folder beside
    the catalog, <catalog>.cache). `exports` names exported JPEGs ("{stem}_DxO") so that they join
    their RAW's search hit (see lucida.pairs)."""
    catalog_path = Path(catalog_path).expanduser().absolute()
    # Requests and the index thread share the models, one call at a time.
    models = ModelSet(OneAtATime(describer), OneAtATime(embedder))  # type: ignore[arg-type]
    if token:
        logging.getLogger("uvicorn.access").addFilter(_HideToken(token))
    web = WebContext(
        catalog_path=catalog_path,
        library=LibraryThread(catalog_path, models, exports),
        query_embedder=QueryEmbedder(models.given_embedder),  # type: ignore[arg-type]
        job=IndexJob(catalog_path, models),
        thumbs_dir=Path(cache_dir or f"{catalog_path}.cache") / "thumbs",
        token=token,
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        yield
        web.job.wait(timeout=5)
        web.library.close()

    # FastAPIOffline serves /docs with Swagger UI's files from the package, not from a CDN: the
    # API's own documentation must work on a machine with no network, like the page.
    app = FastAPIOffline(
        title="lucida",
        summary="Semantic photo search: find photos from plain language.",
        version=_version(),
        lifespan=lifespan,
    )
    app.state.lucida = web
    app.state.index_job = web.job

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
            return JSONResponse({"error": too_big_error().detail}, 413)
        return await call_next(request)

    app.include_router(router)
    app.mount("/", StaticFiles(directory=STATIC_DIR, html=True), name="static")
    return app


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


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("lucida")
    except PackageNotFoundError:
        return "0"

