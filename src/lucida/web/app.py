"""The web app: the JSON API (lucida.web.api) over a Library, and the static page that uses it.

The catalog's SQLite connection lives on one thread of its own, which runs every library call
that touches it (lucida.web.runtime); decoding (thumbnails, uploads) and the models run in the
worker thread pool, and an index run in a background thread with a connection of its own
(lucida.web.jobs). This module wires them together and guards access: the Host check, the token,
the Origin of changes, upload sizes and error shapes.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import re
import threading
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import quote, quote_plus, unquote, unquote_plus, urlsplit

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lucida import translation
from lucida.catalog_location import catalog_location
from lucida.errors import LucidaError
from lucida.library import ModelSet
from lucida.models.base import Describer, Embedder
from lucida.web.api import MAX_UPLOAD_BYTES, WebContext, router, too_big_error
from lucida.web.jobs import IndexJob
from lucida.web.renditions import default_thumbs_dir
from lucida.web.runtime import LibraryThread, OneAtATime, QueryEmbedder

log = logging.getLogger("lucida.web")

STATIC_DIR = Path(__file__).parent / "static"
# The shortest token `lucida serve` accepts on an address other machines can reach.
MIN_TOKEN_LENGTH = 16


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
    catalog_path = catalog_location(catalog_path)
    # Requests and the index thread share the models, one call at a time.
    models = ModelSet(OneAtATime(describer), OneAtATime(embedder))  # type: ignore[arg-type]
    if token:
        logging.getLogger("uvicorn.access").addFilter(_HideToken(token))
    library = LibraryThread(catalog_path, models, exports)
    web = WebContext(
        catalog_path=catalog_path,
        library=library,
        query_embedder=QueryEmbedder(models.given_embedder),  # type: ignore[arg-type]
        job=IndexJob(catalog_path, models),
        thumbs_dir=Path(cache_dir) / "thumbs" if cache_dir else default_thumbs_dir(library.library.path),
        token=token,
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        # Compiling the dictionaries of other languages takes seconds, once per machine.
        threading.Thread(target=translation.prepare, name="dictionaries", daemon=True).start()
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

    # Added before the guard, so inside it: a request the guard refuses is never counted.
    app.add_middleware(_BodyLimit, limit=MAX_UPLOAD_BYTES + 65536)

    # Outermost: a request it refuses goes no further. An ASGI middleware, not a Starlette
    # BaseHTTPMiddleware: that one runs each request in a task of its own and streams its
    # response through a queue, which cost a busy server a tenth of its time.
    app.add_middleware(_Guard, token=token)

    app.include_router(router)
    app.mount("/", StaticFiles(directory=STATIC_DIR, html=True), name="static")
    return app


class _Guard:
    """Access: without a token, this machine only and changes only from the server's own page;
    with one, the API only for requests that carry it. A declared body past the limit is refused
    before a byte is read (a chunked one is counted as it streams, by _BodyLimit)."""

    def __init__(self, app: ASGIApp, token: str | None):
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        refusal = _refusal(Request(scope), self.token) if scope["type"] == "http" else None
        if refusal is not None:
            await refusal(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def _refusal(request: Request, token: str | None) -> JSONResponse | None:
    """The answer that refuses this request, or None to let it through."""
    if not token and not is_loopback(_host_name(request.headers.get("host", ""))):
        # Without a token the server is for this machine only. A web page whose name is made
        # to resolve to 127.0.0.1 (DNS rebinding) would send its own name: refused.
        return JSONResponse({"error": "this server answers only to localhost; serve with --token to share it"}, 403)
    if not token and request.method not in ("GET", "HEAD") and not _same_origin(request):
        # Any web site may make the browser send a form or a bodiless POST to 127.0.0.1 (no
        # preflight); without a token to tell the page from another, its Origin does.
        return JSONResponse({"error": "this server takes changes only from its own page"}, 403)
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
    return None


class _BodyTooBig(HTTPException):
    """Raised from `receive` when a request body passes the limit: FastAPI lets an HTTPException
    out of its body parsing, so the app's handler answers 413 JSON as for any other error."""

    def __init__(self) -> None:
        # Connection: close: the rest of the body is not read, not even to discard it.
        super().__init__(413, too_big_error().detail, headers={"Connection": "close"})


class _BodyLimit:
    """Counts request body bytes as they arrive, whatever the framing (Content-Length or chunked),
    and stops the request past `limit`: the app reads no further, so nothing larger is spooled to
    the temp folder. (The guard refuses a declared Content-Length before a byte is read.)"""

    def __init__(self, app: ASGIApp, limit: int):
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise _BodyTooBig()
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except Exception as error:
            # Normally the app's handler has answered already; this is for a reader that let it
            # through (or wrapped it in a group) before anything was sent.
            if started or not _only_too_big(error):
                raise
            too_big = _BodyTooBig()
            await JSONResponse({"error": too_big.detail}, 413, headers=too_big.headers)(scope, receive, send)


def _only_too_big(error: BaseException) -> bool:
    if isinstance(error, BaseExceptionGroup):
        return all(_only_too_big(e) for e in error.exceptions)
    return isinstance(error, _BodyTooBig)


class _HideToken(logging.Filter):
    """Keeps the token out of access logs: <img> URLs carry it as ?token=, and a URL may carry it
    percent-encoded in any of several ways (or by hand, in any case of hex)."""

    _QUERY_VALUE = re.compile(r"(?<=[?&;=])[^?&;=#\s]+")

    def __init__(self, token: str):
        super().__init__()
        self._token = token
        # As sent by Python (urlencode, quote), browsers (encodeURIComponent, URLSearchParams)
        # and uvicorn itself, which logs the path re-quoted.
        spellings = {token}
        for encode in (quote, quote_plus):
            for safe in ("", "/", "!'()*~"):
                spellings.add(encode(token, safe=safe))
        spellings |= {_lower_hex(s) for s in spellings}
        self._spellings = sorted(spellings, key=len, reverse=True)  # longest first: no partial masks

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(self._hide(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.msg, str):
            record.msg = self._hide(record.msg)
        return True

    def _hide(self, text: str) -> str:
        for spelling in self._spellings:
            text = text.replace(spelling, "***")
        # Any other encoding of a query value: decoded, it shows the token.
        return self._QUERY_VALUE.sub(
            lambda m: "***" if self._token in unquote(m[0]) or self._token in unquote_plus(m[0]) else m[0], text
        )


def _lower_hex(text: str) -> str:
    return re.sub(r"%[0-9A-F]{2}", lambda m: m[0].lower(), text)


def is_loopback(host: str) -> bool:
    """Whether a host name or address means this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # any other name may resolve to another machine
        return False


def _host_name(header: str) -> str:
    """The name in a Host header, without its port: "[::1]:8765" -> "::1". "" for a header that
    is not a host and a port of digits ("127.0.0.1:80@evil.example", "localhost:abc"): a browser
    never sends one, and another parser may read another host in it."""
    if "@" in header:
        return ""
    if header.startswith("["):
        name, _, port = header[1:].partition("]")
    elif header.count(":") == 1:
        name, _, port = header.partition(":")
        port = ":" + port
    else:
        return header  # no port; or a bare IPv6 address, which is_loopback judges whole
    return name if port == "" or re.fullmatch(r":[0-9]{1,5}", port) else ""


def _same_origin(request: Request) -> bool:
    """Whether a request came from this server's own page, or from no page at all: browsers send
    Origin with every POST, other clients none."""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    parts = urlsplit(origin)
    return parts.scheme in ("http", "https") and parts.netloc.lower() == request.headers.get("host", "").lower()


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

