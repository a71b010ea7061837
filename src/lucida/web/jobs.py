"""Index runs started from the web page: one at a time, in a thread with a catalog connection of
its own, with progress that /api/status reports."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

from lucida.errors import LucidaError
from lucida.indexer import IndexSummary
from lucida.library import Library, ModelSet

log = logging.getLogger("lucida.web")


class IndexJob:
    """One background index run at a time, with progress others can read (a Progress)."""

    def __init__(self, catalog_path: str | Path, models: ModelSet):
        self._catalog_path = catalog_path
        self._models = models
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
            with Library.open(self._catalog_path, models=self._models) as library:
                summary = library.index([folder], progress=self)
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

    # -- Progress: the index run reports to the job itself -----------------------------------------

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
