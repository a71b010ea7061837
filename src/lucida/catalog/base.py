"""What lucida needs from a catalog, as one protocol: the operations the library and the
pipelines call, so a second storage backend (PostgreSQL) can stand beside SQLite.

A backend owns its dialect: full-text search syntax, pragmas or pools, schema migrations. It
receives plain values (words, a PhotoFilter, numpy vectors) and returns the dataclasses of
lucida.catalog.store. The rule for which description stands for a photo is part of this
contract: `result_rows`, `image_record(...).preferred`, `search_vectors` and `photo_classes` all
answer with it (the SQLite backend writes it once, as _PREFERENCE_ORDER).

Faces and people are part of the contract too: the methods of lucida.catalog.faces.FaceStore,
with its rule for who a face shows (the SQLite backend's view face_people).
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from lucida.metadata import PhotoMetadata

if TYPE_CHECKING:
    from lucida.catalog.filter import PhotoFilter
    from lucida.catalog.store import (
        CaptionFailure, CatalogStatus, ImageRecord, ResultRow, StoredEmbedding, XmpWrite,
    )  # fmt: skip


class CatalogStore(Protocol):
    """One catalog, used from one thread."""

    path: Path  # what is derived from the catalog on this machine is kept beside it (lucida.search_index)

    @property
    def location(self) -> str:
        """What a person calls this catalog: its file, or its database URL without a password."""
        ...

    def transaction(self) -> AbstractContextManager[None]:
        """One atomic unit of work: everything inside commits together or not at all."""
        ...

    def close(self) -> None:
        ...

    def data_version(self) -> int:
        """Changes whenever another connection commits; cheap to poll."""
        ...

    def search_generation(self) -> int:
        """Advances on every write, by any process, to what a search is built from (files,
        descriptions, their vectors and class mixtures, class texts' vectors)."""
        ...

    def changed_since(self, generation: int) -> np.ndarray:
        """The ids of the images whose search data changed after this search generation (added,
        re-described, re-embedded, moved or removed), sorted."""
        ...

    def file_size_bytes(self) -> int:
        ...

    def get_setting(self, key: str) -> str | None:
        ...

    def set_setting(self, key: str, value: str) -> None:
        ...

    def delete_setting(self, key: str) -> None:
        ...

    def settings(self) -> dict[str, str]:
        ...

    def add_root(self, folder: str) -> None:
        """Remember a folder the user indexed (an absolute path)."""
        ...

    def roots(self) -> list[str]:
        ...

    def indexed_file_states(self) -> dict[str, tuple[int, int]]:
        """path -> (size, mtime_ns) of every indexed file."""
        ...

    def skipped_file_states(self) -> dict[str, tuple[int | None, int | None]]:
        ...

    def skipped_reasons(self) -> dict[str, str]:
        ...

    def image_id_for_hash(self, content_hash: str) -> int | None:
        ...

    def described_hashes(self, describer: str, prompt: str = "") -> set[str]:
        """Content hashes of images that already have a description by this describer and prompt."""
        ...

    def add_image(self, content_hash: str, width: int | None, height: int | None, taken_at: str | None) -> int:
        """Insert the image with this content, or refresh its facts; returns its id."""
        ...

    def put_file(self, path: str, size: int, mtime_ns: int, image_id: int) -> None:
        """Record an indexed file; it is no longer pending or skipped."""
        ...

    def put_skipped(self, path: str, size: int | None, mtime_ns: int | None, reason: str) -> None:
        """Record a file that could not be indexed. If it was indexed before, it leaves search."""
        ...

    def remove_paths(self, paths: Iterable[str]) -> int:
        """Forget files that no longer exist, and skip records for them. Returns files removed."""
        ...

    def prune_orphan_images(self) -> int:
        """Drop images no file points to any more (their descriptions and embeddings go too)."""
        ...

    def replace_pending(self, paths: Iterable[str]) -> None:
        ...

    def put_description(
        self,
        image_id: int,
        describer: str,
        prompt: str,
        text: str,
        details: dict | None = None,
        kind: str = "describer",
        revision: str | None = None,
    ) -> int:
        """Store (or replace) an image's description by one describer and prompt."""
        ...

    def images_to_caption(self, captioner: str, prompt: str) -> list[tuple[int, str]]:
        """(image id, one of its paths) of every filed image with no description by this captioner
        and prompt, failed ones included (they are retried)."""
        ...

    def record_caption_failure(self, image_id: int, captioner: str, prompt: str, error: str) -> None:
        ...

    def caption_failures(self) -> list[CaptionFailure]:
        """Images a captioner failed on (of those that still have a file), by path."""
        ...

    def put_embedding(self, description_id: int, embedder: str, vector: np.ndarray) -> None:
        ...

    def descriptions_without_embedding(self, embedder: str) -> list[tuple[int, str, dict | None]]:
        """(description id, text, details) of every description of a filed image not yet embedded."""
        ...

    def embedding_count(self, embedder: str) -> int:
        """How many descriptions have a vector from this embedder."""
        ...

    def embedded_descriptions(self, embedder: str, after: int = 0, limit: int = 2048) -> list[tuple[int, str, dict | None]]:
        """(description id, text, details) of the descriptions of filed images that have a
        vector from this embedder, by id from `after` on, at most `limit`."""
        ...

    def search_vectors(
        self, embedder: str, table: str = "embeddings", image_ids: np.ndarray | None = None
    ) -> StoredEmbedding:
        """One vector per image with a file: its preferred description's, or where that has none
        from `embedder` yet, the next description's in the same order. `table`: "embeddings", or
        "class_mixtures" for the descriptions' ConSE vectors. `image_ids`: only these images."""
        ...

    def descriptions_by(self, describer: str, prompt: str = "") -> dict[str, tuple[int, str, dict | None]]:
        """content hash -> (description id, text, details) of each image's description by this
        describer and prompt."""
        ...

    def vectors_of(self, description_ids: list[int], embedder: str) -> np.ndarray:
        """The embedder's vectors of these descriptions, in their order: (n, dim) float32."""
        ...

    def result_rows(self, image_ids: list[int]) -> dict[int, ResultRow]:
        """Path, caption and search text for each image: its first path by name, its preferred
        description (its display caption, lucida.display, and its text as stored)."""
        ...

    def image_record(self, image_id: int) -> ImageRecord | None:
        """The image with this id and its files and descriptions; None when no file shows it."""
        ...

    def descriptions_holding(self, words: list[str], every: bool) -> np.ndarray:
        """The ids of the descriptions that hold any of `words` (with `every`, all of them),
        unranked: which, not how well (int64, in no particular order)."""
        ...

    def description_images(self, image_ids: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(description ids, their image ids) of every description of an image with a file (of
        these images only, when given)."""
        ...

    def matched_words(self, image_ids: list[int], words: list[str]) -> dict[int, tuple[list[str], dict | None]]:
        """image id -> the words of its description that match any of `words`, as they appear in
        the text, and that description's fields (its details' "fields", None without): the
        first description in the order that chooses its preferred one (metadata text last) that
        holds any of them. Images none of whose descriptions hold one are left out."""
        ...

    def description_details(self, describer: str, prompt: str = "") -> dict[int, dict | None]:
        """image id -> the details of its description by this describer and prompt, for every image
        with a file that has one."""
        ...

    def filed_image_ids(self) -> list[int]:
        """Every image that has a file, by id."""
        ...

    def delete_description(self, image_id: int, describer: str, prompt: str = "") -> None:
        ...

    def photo_classes(self, image_ids: Iterable[int] | None = None) -> dict[int, list[dict]]:
        """image id -> the classifier's likeliest classes ({"synset", "label", "p"}) for the photo:
        from its preferred description, or where that has none, the next in the same order that has
        them. Every image with a file when `image_ids` is None."""
        ...

    def text_vectors(self, embedder: str, texts: list[str]) -> dict[str, np.ndarray]:
        """The stored vectors an embedder made of these texts (those it has made)."""
        ...

    def put_text_vectors(self, embedder: str, vectors: dict[str, np.ndarray]) -> None:
        ...

    def details_without_class_mixture(self, embedder: str) -> list[tuple[int, dict]]:
        """(description id, details) of every description of a filed image that has details and no
        class mixture (lucida.concepts) for `embedder`."""
        ...

    def put_class_mixture(self, description_id: int, embedder: str, vector: np.ndarray) -> None:
        ...

    def put_metadata(self, path: str, metadata: PhotoMetadata, sidecars: str) -> None:
        """Store what an indexed file's metadata says; `sidecars` is the sidecar_signature read."""
        ...

    def metadata_states(self) -> dict[str, str]:
        """path -> the sidecar signature read, of every file whose metadata is stored."""
        ...

    def file_metadata(self, path: str) -> PhotoMetadata | None:
        ...

    def image_metadata(self, image_ids: Iterable[int]) -> dict[int, PhotoMetadata]:
        """image id -> the metadata of its first file by path that has any stored."""
        ...

    def filtered_image_ids(self, photo_filter: PhotoFilter) -> list[int]:
        """Ids of the images with a file that passes every condition of the filter."""
        ...

    def capture_times(self) -> dict[int, str | None]:
        """image id -> its earliest capture time (ISO 8601 local) among its files, from metadata,
        else from decoding; None when neither knows. Every image with a file."""
        ...

    def image_files(self) -> list[tuple[int, str]]:
        """(image id, path) of every indexed file."""
        ...

    def files_under(self, roots: list[str] | None) -> list[tuple[str, int]]:
        """(path, image id) of every indexed file under one of `roots` (all when None), by path."""
        ...

    def xmp_write(self, target: str) -> XmpWrite | None:
        ...

    def xmp_writes(self) -> list[XmpWrite]:
        ...

    def put_xmp_write(self, write: XmpWrite) -> None:
        ...

    def delete_xmp_write(self, target: str) -> None:
        ...

    def status(self) -> CatalogStatus:
        ...
