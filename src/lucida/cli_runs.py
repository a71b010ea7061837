"""What the command line's long, resumable runs (`index`, `caption`, `faces`) share."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

import click


@contextmanager
def resumable_run() -> Iterator[None]:
    """Ctrl-C ends the run with exit status 130 and one line: the run commits batch by batch, so
    what it committed stays, and the same command continues from there."""
    try:
        yield
    except KeyboardInterrupt:
        click.echo("interrupted: every committed batch is kept; run the same command to resume", err=True)
        sys.exit(130)
