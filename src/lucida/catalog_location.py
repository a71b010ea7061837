"""Where a catalog is: a SQLite file's path, or a PostgreSQL database's URL. Outside the catalog
package so that the CLI reads `--db` without importing numpy and the storage code."""

from __future__ import annotations

import re
from pathlib import Path

DATABASE_SCHEMES = ("postgresql://", "postgres://")


def is_database_url(location: str | Path) -> bool:
    return isinstance(location, str) and location.startswith(DATABASE_SCHEMES)


def catalog_location(location: str | Path) -> str | Path:
    """A location as given, normalised: a database URL stays itself; a path becomes absolute."""
    if is_database_url(location):
        return str(location)
    return Path(location).expanduser().absolute()


def shown_url(url: str) -> str:
    """The URL without its password, for messages and `lucida status`."""
    return re.sub(r"(://[^/@:]*):[^/@]*@", r"\1@", url)
