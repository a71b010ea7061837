"""Progress output: plain lines with rate and ETA off a terminal, nothing with --quiet."""

from __future__ import annotations

import io

from lucida.progress import LogProgress, RichProgress, SilentProgress, progress_for


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_plain_lines_say_phase_counts_rate_and_eta():
    stream = io.StringIO()
    progress = LogProgress(stream, every_s=0.0)
    progress.start("indexing", 4)
    progress.advance(1)
    progress.note("skipped /p/x.jpg: file is empty")
    progress.advance(3)
    progress.finish()
    lines = stream.getvalue().splitlines()
    assert lines[0] == "indexing: 4 to do"
    assert lines[1].startswith("indexing: 1/4 (") and "/s, ETA " in lines[1]
    assert lines[2] == "skipped /p/x.jpg: file is empty"
    assert lines[-1].startswith("indexing: 4/4 (") and lines[-1].endswith("ETA 0s)")


def test_choice_of_reporter():
    assert isinstance(progress_for(quiet=True, stream=FakeTerminal()), SilentProgress)
    assert isinstance(progress_for(quiet=False, stream=io.StringIO()), LogProgress)
    assert isinstance(progress_for(quiet=False, stream=FakeTerminal()), RichProgress)
