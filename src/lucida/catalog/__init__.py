"""The catalog: photos, their files, descriptions, vectors and metadata.

`base.CatalogStore` is what lucida needs from storage; `store.Catalog` implements it in one
SQLite file. This package owns every SQL statement in lucida; nothing else talks to SQLite.
"""

from lucida.catalog.base import CatalogStore
from lucida.catalog.filter import PhotoFilter
from lucida.catalog.store import Catalog, CatalogStatus, ImageRecord, SkippedFile, StoredEmbedding

__all__ = ["Catalog", "CatalogStatus", "CatalogStore", "ImageRecord", "PhotoFilter", "SkippedFile", "StoredEmbedding"]
