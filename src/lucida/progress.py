"""Progress reporting for long runs: a rich bar on a terminal, plain log lines otherwise."""

from __future__ import annotations

import sys
import time
from typing import Protocol, TextIO


class Progress(Protocol):
    def start(self, phase: str, total: int) -> None: ...
    def advance(self, count: int = 1) -> None: ...
    def finish(self) -> None: ...
    def note(self, message: str) -> None:
        """A one-line message worth seeing now (e.g. a skipped file and why)."""
        ...


class SilentProgress:
    """For --quiet and for library use."""

    def start(self, phase: str, total: int) -> None:
        pass

    def advance(self, count: int = 1) -> None:
        pass

    def finish(self) -> None:
        pass

    def note(self, message: str) -> None:
        pass


class LogProgress:
    """Plain lines for logs and pipes: one every `every_s` seconds, with rate and ETA."""

    def __init__(self, stream: TextIO = sys.stderr, every_s: float = 5.0):
        self.stream = stream
        self.every_s = every_s
        self._phase = ""
        self._total = 0
        self._done = 0
        self._started = 0.0
        self._last = 0.0

    def start(self, phase: str, total: int) -> None:
        self._phase, self._total, self._done = phase, total, 0
        self._started = self._last = time.monotonic()
        self._print(f"{phase}: {total} to do")

    def advance(self, count: int = 1) -> None:
        self._done += count
        now = time.monotonic()
        if now - self._last >= self.every_s:
            self._last = now
            self._print(self._line(now))

    def finish(self) -> None:
        if self._total:
            self._print(self._line(time.monotonic()))

    def note(self, message: str) -> None:
        self._print(message)

    def _line(self, now: float) -> str:
        elapsed = max(now - self._started, 1e-9)
        rate = self._done / elapsed
        left = (self._total - self._done) / rate if rate > 0 else float("inf")
        eta = f"{left:.0f}s" if left != float("inf") else "?"
        return f"{self._phase}: {self._done}/{self._total} ({rate:.1f}/s, ETA {eta})"

    def _print(self, line: str) -> None:
        print(line, file=self.stream, flush=True)


class RichProgress:
    """A live bar with rate and ETA, for interactive terminals."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            TaskProgressColumn,
            TextColumn,
            TimeRemainingColumn,
        )
        from rich.progress import Progress as Bar

        self._console = Console(stderr=True)
        self._bar = Bar(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeRemainingColumn(),
            console=self._console,
        )
        self._task = None
        self._started = 0.0
        self._done = 0

    def start(self, phase: str, total: int) -> None:
        self.finish()
        self._bar.start()
        self._started, self._done = time.monotonic(), 0
        self._task = self._bar.add_task(phase, total=total, rate="")

    def advance(self, count: int = 1) -> None:
        if self._task is None:
            return
        self._done += count
        rate = self._done / max(time.monotonic() - self._started, 1e-9)
        self._bar.update(self._task, advance=count, rate=f"{rate:.1f}/s")

    def finish(self) -> None:
        if self._task is not None:
            self._bar.stop()
            self._task = None

    def note(self, message: str) -> None:
        self._console.print(message, markup=False, highlight=False)


def progress_for(quiet: bool, stream: TextIO = sys.stderr) -> Progress:
    if quiet:
        return SilentProgress()
    if stream.isatty():
        return RichProgress()
    return LogProgress(stream)
