"""The catalog: one SQLite file holding photos, descriptions and embeddings.

This package owns every SQL statement in lucida; nothing else talks to SQLite.
"""

from lucida.catalog.store import Catalog, CatalogStatus, ImageRecord, SkippedFile, StoredEmbedding

__all__ = ["Catalog", "CatalogStatus", "ImageRecord", "SkippedFile", "StoredEmbedding"]
