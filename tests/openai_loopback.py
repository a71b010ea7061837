"""A real HTTP server on 127.0.0.1 speaking the OpenAI protocol (chat completions with images,
embeddings), for testing lucida's OpenAI-compatible captioner and embedder without the network.

Tests script its misbehaviour: queue answers (`fail(status, headers, times)`, `stall(seconds)`)
that the next requests get before it answers normally again.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
from PIL import Image


@dataclass
class Answer:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering (longer than a client's timeout: a timeout)
    only_for: Callable[[Image.Image], bool] | None = None  # applies to requests with such an image


@dataclass
class Seen:
    path: str
    body: dict
    headers: dict[str, str]
    at: float
    images: list[Image.Image]


class OpenAILoopback:
    """Start with `with OpenAILoopback(caption_for) as server:`; `server.api_base` is its /v1 URL."""

    def __init__(self, caption_for: Callable[[Image.Image], str] = lambda image: "a photo", api_key: str | None = None):
        self.caption_for = caption_for
        self.api_key = api_key  # when set, other keys get 401
        self.requests: list[Seen] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._answers: deque[Answer] = deque()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> OpenAILoopback:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def fail(self, status: int, times: int = 1, headers: dict[str, str] | None = None, only_for=None) -> None:
        """The next `times` matching requests get this HTTP error."""
        for _ in range(times):
            self._answers.append(Answer(status, headers or {}, only_for=only_for))

    def stall(self, seconds: float, times: int = 1, only_for=None) -> None:
        """The next `times` matching requests are answered only after `seconds`."""
        for _ in range(times):
            self._answers.append(Answer(200, delay=seconds, only_for=only_for))

    def _next_answer(self, images: list[Image.Image]) -> Answer:
        with self._lock:
            for answer in list(self._answers):
                if answer.only_for is None or any(answer.only_for(im) for im in images):
                    self._answers.remove(answer)
                    return answer
        return Answer()

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # keep pytest output clean
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                images = _images_in(body)
                with server._lock:
                    server.requests.append(Seen(self.path, body, {k.lower(): v for k, v in self.headers.items()}, time.monotonic(), images))
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                try:
                    self._answer(body, images)
                finally:
                    with server._lock:
                        server.in_flight -= 1

            def _answer(self, body: dict, images: list[Image.Image]) -> None:
                if server.api_key and self.headers.get("Authorization") != f"Bearer {server.api_key}":
                    return self._send(401, {"error": {"message": "Incorrect API key provided", "type": "invalid_request_error", "code": "invalid_api_key"}})
                answer = server._next_answer(images)
                if answer.delay:
                    time.sleep(answer.delay)
                if answer.status != 200:
                    return self._send(answer.status, {"error": {"message": f"scripted {answer.status}", "type": "server_error"}}, answer.headers)
                if self.path.endswith("/chat/completions"):
                    text = server.caption_for(images[0]) if images else "no image"
                    return self._send(200, _chat_completion(body["model"], text))
                if self.path.endswith("/embeddings"):
                    return self._send(200, _embeddings(body))
                return self._send(404, {"error": {"message": f"no route {self.path}", "type": "invalid_request_error"}})

            def _send(self, status: int, payload: dict, headers: dict[str, str] | None = None) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                try:
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (its timeout)
                    pass

        return Handler


def _images_in(body: dict) -> list[Image.Image]:
    images = []
    for message in body.get("messages", []):
        content = message.get("content")
        for part in content if isinstance(content, list) else []:
            if part.get("type") == "image_url":
                url = part["image_url"]["url"]
                header, _, data = url.partition(",")
                assert header == "data:image/jpeg;base64", header
                images.append(Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB"))
    return images


def _chat_completion(model: str, text: str) -> dict:
    return {
        "id": "chatcmpl-loopback",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


def text_vector(text: str, dimensions: int) -> list[float]:
    """A deterministic, not unit-length vector per text (lucida must normalise it)."""
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
    return (np.random.default_rng(seed).normal(size=dimensions) * 3).tolist()


def _embeddings(body: dict) -> dict:
    texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
    dimensions = body.get("dimensions", 8)
    data = [{"object": "embedding", "index": i, "embedding": text_vector(t, dimensions)} for i, t in enumerate(texts)]
    data.reverse()  # servers may answer out of order; the index field says which is which
    return {"object": "list", "data": data, "model": body["model"], "usage": {"prompt_tokens": 1, "total_tokens": 1}}


def fingerprint(image: Image.Image) -> np.ndarray:
    """8x8 grey thumbnail: tells the sample photos apart after any resize or re-encode."""
    return np.asarray(image.convert("L").resize((8, 8), Image.Resampling.BOX), dtype=np.float32).ravel()


def nearest(image: Image.Image, references: dict[str, np.ndarray]) -> str:
    """The name of the reference fingerprint closest to the image's."""
    print_ = fingerprint(image)
    return min(references, key=lambda name: float(np.sum((references[name] - print_) ** 2)))
