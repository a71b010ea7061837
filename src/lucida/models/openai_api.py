"""Captions and embeddings from an OpenAI-compatible HTTP API: OpenAI itself, or a local server
(Ollama, vLLM, LM Studio) with `--api-base`.

The `openai` SDK does the HTTP: it retries 408, 409, 429 and 5xx answers, timeouts and dropped
connections with exponential backoff and jitter, and waits as long as a Retry-After header asks
(up to two minutes). On top of it this module adds what a photo library needs: images downscaled
and sent inline as base64 data URLs, a bounded number of requests in flight, a photo that still
fails reported as failed (never captioned with ""), and one clear line for errors no retry fixes
(a refused key, an unknown model, a server that cannot be reached).

The API key comes from OPENAI_API_KEY in the environment and is never stored.
"""

from __future__ import annotations

import base64
import io
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from PIL import Image

from lucida.errors import LucidaError
from lucida.models.base import DescribeFailures, Description

OPENAI_API_BASE = "https://api.openai.com/v1"
DEFAULT_LONG_SIDE = 1024  # pixels; GPT-4o's high-detail mode tiles at 512 within 2048x768
DEFAULT_CONCURRENCY = 4
DEFAULT_TIMEOUT_S = 60.0
DEFAULT_MAX_RETRIES = 5
EMBED_BATCH = 256  # inputs per /v1/embeddings request


def make_client(name: str, api_base: str, timeout: float, max_retries: int):
    """An SDK client for `api_base`. OpenAI itself needs OPENAI_API_KEY; a local server usually
    takes none, so a placeholder key is sent there when none is set."""
    from openai import OpenAI

    key = os.environ.get("OPENAI_API_KEY")
    if not key:
        if _is_openai(api_base):
            raise LucidaError(
                f"{name} needs an API key: set OPENAI_API_KEY in the environment "
                "(lucida never stores keys), or use --api-base for a local OpenAI-compatible server"
            )
        key = "no-key"
    return OpenAI(api_key=key, base_url=api_base, timeout=timeout, max_retries=max_retries)


def _is_openai(api_base: str) -> bool:
    return api_base.rstrip("/").startswith("https://api.openai.com")


def fatal_error(name: str, api_base: str, error: Exception) -> LucidaError | None:
    """A LucidaError for failures no photo could get past (so the run stops), else None."""
    import openai

    if isinstance(error, openai.AuthenticationError):
        return LucidaError(
            f"{name}: {api_base} refused the API key (401); check OPENAI_API_KEY in the environment"
        )
    if isinstance(error, openai.PermissionDeniedError):
        return LucidaError(f"{name}: {api_base} denied access (403): {_short(error)}")
    if isinstance(error, openai.NotFoundError):
        return LucidaError(f"{name}: {api_base} has no such model or endpoint (404): {_short(error)}")
    if isinstance(error, openai.APIConnectionError) and not isinstance(error, openai.APITimeoutError):
        return LucidaError(f"{name}: cannot reach {api_base}: {_short(error.__cause__ or error)}")
    return None


def _short(error: BaseException) -> str:
    message = getattr(error, "message", None) or str(error) or type(error).__name__
    return message.strip().splitlines()[0][:300]


def image_data_url(image: Image.Image, long_side: int = DEFAULT_LONG_SIDE) -> str:
    """The image as a JPEG data URL, its long side at most `long_side` pixels."""
    image = image.convert("RGB")
    if max(image.size) > long_side:
        image = image.copy()
        image.thumbnail((long_side, long_side), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


class OpenAICaptioner:
    """Captions photos with a chat-completions vision model."""

    def __init__(
        self,
        name: str,
        model: str,
        api_base: str | None = None,
        prompt: str | None = None,
        long_side: int = DEFAULT_LONG_SIDE,
        concurrency: int = DEFAULT_CONCURRENCY,
        timeout: float = DEFAULT_TIMEOUT_S,
        max_retries: int = DEFAULT_MAX_RETRIES,
    ):
        from lucida.models.prompts import DEFAULT_CHAT_PROMPT, caption_prompt

        self.name = name
        self.model = model
        self.api_base = api_base or OPENAI_API_BASE
        self._prompt = caption_prompt(prompt or DEFAULT_CHAT_PROMPT)
        self.prompt = self._prompt.name  # the catalog records the library name
        self.long_side = long_side
        # Decoded at least this large on the shorter side; image_data_url then bounds the long side.
        self.input_side = long_side
        self.concurrency = concurrency
        self._settings = (timeout, max_retries)
        self._client = make_client(name, self.api_base, timeout, max_retries)

    def with_prompt(self, prompt: str) -> OpenAICaptioner:
        """The same model asked with another prompt of the library (lucida.models.prompts)."""
        timeout, max_retries = self._settings
        return OpenAICaptioner(
            self.name, self.model, self.api_base, prompt, self.long_side, self.concurrency, timeout, max_retries
        )

    def describe(self, images: list[Image.Image]) -> list[Description]:
        """One caption per image. Raises DescribeFailures when some photos failed after every
        retry (it carries the others' captions), a LucidaError when no photo can succeed."""
        if not images:
            return []
        pool = ThreadPoolExecutor(min(self.concurrency, len(images)), thread_name_prefix="caption")
        futures = [pool.submit(self._caption, image) for image in images]
        outcomes: list[Description | Exception] = []
        try:
            for future in futures:
                try:
                    outcomes.append(future.result())
                except Exception as error:  # noqa: BLE001 - sorted out below, per photo
                    fatal = fatal_error(self.name, self.api_base, error)
                    if fatal is not None:
                        raise fatal from error
                    outcomes.append(error)
        finally:
            # After a fatal error or Ctrl-C, requests not yet sent are dropped, not sent.
            pool.shutdown(wait=False, cancel_futures=True)
        errors = {i: _describe_error(o) for i, o in enumerate(outcomes) if isinstance(o, Exception)}
        if errors:
            raise DescribeFailures([o if isinstance(o, Description) else None for o in outcomes], errors)
        return outcomes  # type: ignore[return-value]

    def _caption(self, image: Image.Image) -> Description:
        response = self._client.chat.completions.create(
            model=self.model,
            max_tokens=self._prompt.max_new_tokens,
            messages=[
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": self._prompt.text},
                        {"type": "image_url", "image_url": {"url": image_data_url(image, self.long_side)}},
                    ],
                }
            ],
        )
        text = (response.choices[0].message.content or "").strip() if response.choices else ""
        if not text:
            raise EmptyCaption(f"{self.name} answered with no caption")
        return Description(text)


class EmptyCaption(Exception):
    """The server answered, but with no text."""


def _describe_error(error: Exception) -> str:
    import openai

    if isinstance(error, openai.APITimeoutError):
        return "request timed out after every retry"
    if isinstance(error, openai.APIStatusError):
        return f"HTTP {error.status_code} after every retry: {_short(error)}"
    return _short(error)


class OpenAIEmbedder:
    """Embeds text with /v1/embeddings. `model@N` asks text-embedding-3 models for N dimensions."""

    def __init__(
        self,
        name: str,
        model: str,
        api_base: str | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
        max_retries: int = DEFAULT_MAX_RETRIES,
    ):
        self.name = name
        self.api_base = api_base or OPENAI_API_BASE
        self.model, at, dimensions = model.partition("@")
        if at and not dimensions.isdigit():
            raise LucidaError(f"embedder {name}: the part after @ must be a number of dimensions, e.g. {self.model}@1024")
        self.dimensions = int(dimensions) if at else None
        self._client = make_client(name, self.api_base, timeout, max_retries)

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        return self._embed(texts)

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self._embed(texts)

    def _embed(self, texts: list[str]) -> np.ndarray:
        parts = [self._embed_batch(texts[i : i + EMBED_BATCH]) for i in range(0, len(texts), EMBED_BATCH)]
        if not parts:
            return np.zeros((0, self.dimensions or 0), dtype=np.float32)
        vectors = np.concatenate(parts).astype(np.float32)
        # OpenAI's vectors are unit length already; other servers' need not be.
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-12)

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        extra = {"dimensions": self.dimensions} if self.dimensions else {}
        try:
            response = self._client.embeddings.create(model=self.model, input=texts, encoding_format="float", **extra)
        except Exception as error:
            fatal = fatal_error(self.name, self.api_base, error)
            raise (fatal or LucidaError(f"{self.name}: embedding failed: {_describe_error(error)}")) from error
        rows = sorted(response.data, key=lambda item: item.index)
        if len(rows) != len(texts):
            raise LucidaError(f"{self.name}: {self.api_base} returned {len(rows)} vectors for {len(texts)} texts")
        return np.array([row.embedding for row in rows], dtype=np.float32)
