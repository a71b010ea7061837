"""The catalog: photos, their files, descriptions, vectors and metadata.

`base.CatalogStore` is what lucida needs from storage; `store.Catalog` implements it in one
SQLite file, the zero-setup default, and `postgres.PostgresCatalog` in a PostgreSQL database
that several machines share. This package owns every SQL statement in lucida; nothing else
talks to a database.
"""

from pathlib import Path

from lucida.catalog.base import CatalogStore
from lucida.catalog.filter import PhotoFilter
from lucida.catalog.store import Catalog, CatalogStatus, ImageRecord, SkippedFile, StoredEmbedding
from lucida.catalog_location import catalog_location, is_database_url
from lucida.named_roots import NamedRoots


def open_catalog(location: str | Path, create: bool = True, roots: NamedRoots | None = None) -> CatalogStore:
    """The catalog at `location` (lucida.catalog_location): a postgresql:// URL, else a SQLite file.
    `roots`: this machine's named library roots (lucida.named_roots)."""
    if is_database_url(location):
        from lucida.catalog.postgres import PostgresCatalog

        return PostgresCatalog.open(str(location), create=create, roots=roots)
    return Catalog.open(location, create=create, roots=roots)


__all__ = ["catalog_location", "open_catalog", "Catalog", "CatalogStatus", "CatalogStore", "ImageRecord", "PhotoFilter", "SkippedFile", "StoredEmbedding"]
