"""How the web app runs the library: the catalog on one thread of its own, models shared by
requests and the index thread one call at a time, and the queries of concurrent searches
embedded together."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from fastapi.concurrency import run_in_threadpool

from lucida.library import Library, ModelSet
from lucida.models.base import Embedder
from lucida.search import RecentQueryVectors, check_query

T = TypeVar("T")


class OneAtATime:
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


class QueryEmbedder:
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


class LibraryThread:
    """A Library whose catalog connection is used only from its own thread: every call that
    touches the catalog runs there through `run`."""

    def __init__(self, catalog_path: str | Path, models: ModelSet, exports: str | None = None):
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="catalog")
        self.library: Library

        def open_() -> None:
            self.library = Library.open(catalog_path, models=models, exports=exports, serving=True)

        self._executor.submit(open_).result()

    async def run(self, work: Callable[[Library], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, work, self.library)

    def close(self) -> None:
        self._executor.submit(self.library.close).result()
        self._executor.shutdown()
