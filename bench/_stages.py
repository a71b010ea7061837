"""Where an index run's time goes, stage by stage, without changing lucida: wrappers around the
functions each stage runs, installed by bench/index_throughput.py --stages.

Stages on the main thread (the models, the catalog) are timed by the wall clock, which includes
the intra-op threads torch and ONNX Runtime start for them. Stages on the decode threads (read,
hash, decode) and the ExifTool thread are timed by that thread's CPU clock: they run beside the
main thread, so their wall time would count waiting for a core.
"""

from __future__ import annotations

import functools
import threading
import time
from contextlib import contextmanager

MAIN, THREAD = "wall", "thread CPU"


class StageClock:
    def __init__(self):
        self.seconds: dict[str, float] = {}
        self.tokens = 0
        self.texts = 0
        self._lock = threading.Lock()

    def add(self, stage: str, seconds: float) -> None:
        with self._lock:
            self.seconds[stage] = self.seconds.get(stage, 0.0) + seconds

    def reset(self) -> None:
        with self._lock:
            self.seconds.clear()
            self.tokens = self.texts = 0

    def report(self, photos: int, wall_s: float, cpu_s: float, child_s: float) -> list[tuple[str, str, float]]:
        """(stage, clock, ms per photo) rows, derived stages included."""
        s = dict(self.seconds)
        imagenet = s.pop("_imagenet describe", 0.0)
        derived = {
            "describer: text from classes": imagenet - s.get("describer: forward pass", 0.0),
            "describer: signals (hypernyms, pixels)": s.pop("_signal describe", 0.0) - imagenet,
            "read + hash": s.pop("_prepare", 0.0) - s.get("decode (draft mode)", 0.0),
        }
        measured = {**s, **derived}
        names = [n for n in ORDER if n in measured] + sorted(n for n in measured if n not in ORDER)
        rows = [(name, CLOCKS.get(name, MAIN), measured[name] * 1000 / photos) for name in names]
        main = sum(ms for name, clock, ms in rows if clock == MAIN)
        rows.append(("main thread: everything else (waiting for decode, batching)", MAIN, wall_s * 1000 / photos - main))
        rows.append(("run: wall", "", wall_s * 1000 / photos))
        rows.append(("run: process CPU (utilisation = CPU / wall)", f"{cpu_s / wall_s:.2f} cores", cpu_s * 1000 / photos))
        rows.append(("ExifTool process CPU", "child CPU", child_s * 1000 / photos))
        return rows


# In the order a photo meets them.
ORDER = (
    "read + hash", "decode (draft mode)", "describer: forward pass", "describer: text from classes",
    "describer: signals (hypernyms, pixels)", "embedding", "ExifTool: parse its answer",
    "catalog writes (rows, FTS5 and search triggers)", "catalog commits (fsync)",
    "embedding texts left (none on a first index)", "ConSE mixing (and the class texts' vectors)", "metadata words",
)
CLOCKS = {"decode (draft mode)": THREAD, "read + hash": THREAD, "ExifTool: parse its answer": THREAD}


def install(clock: StageClock) -> None:
    """Wrap the stages' functions; every index run after this is timed into `clock`."""
    import lucida.indexer as indexer
    from lucida.catalog import Catalog
    from lucida.models.imagenet import ImageNetDescriber
    from lucida.models.signals import SignalDescriber

    def timed(stage: str, function, thread_clock: bool = False):
        now = time.thread_time if thread_clock else time.perf_counter

        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            began = now()
            try:
                return function(*args, **kwargs)
            finally:
                clock.add(stage, now() - began)

        return wrapper

    indexer.decode_photo = timed("decode (draft mode)", indexer.decode_photo, thread_clock=True)
    # _describe_files calls prepare_file through the module, so the wrapper is what it runs.
    indexer.prepare_file = timed("_prepare", indexer.prepare_file, thread_clock=True)
    ImageNetDescriber.class_probabilities = timed("describer: forward pass", ImageNetDescriber.class_probabilities)
    ImageNetDescriber.describe = timed("_imagenet describe", ImageNetDescriber.describe)
    SignalDescriber.describe = timed("_signal describe", SignalDescriber.describe)
    real_embed = indexer._embed_texts

    def embed_texts(embedder, texts, known):
        tokenizer = getattr(getattr(embedder, "model", embedder), "_tokenizer", None)
        fresh = [t for t in dict.fromkeys(texts) if t not in known]
        if tokenizer is not None and fresh:
            clock.tokens += sum(len(e.ids) for e in tokenizer.encode_batch(fresh))
            clock.texts += len(fresh)
        began = time.perf_counter()
        try:
            return real_embed(embedder, texts, known)
        finally:
            clock.add("embedding", time.perf_counter() - began)

    indexer._embed_texts = embed_texts
    indexer.add_conse_vectors = timed("ConSE mixing (and the class texts' vectors)", indexer.add_conse_vectors)
    indexer.update_metadata_descriptions = timed("metadata words", indexer.update_metadata_descriptions)
    indexer.embed_missing = timed("embedding texts left (none on a first index)", indexer.embed_missing)
    indexer.MetadataReader.read = timed("ExifTool: parse its answer", indexer.MetadataReader.read, thread_clock=True)
    for name in ("add_image", "put_description", "put_embedding", "put_file", "put_metadata", "put_skipped"):
        setattr(Catalog, name, timed("catalog writes (rows, FTS5 and search triggers)", getattr(Catalog, name)))
    real_transaction = Catalog.transaction

    @contextmanager
    def transaction(self):
        with real_transaction(self):
            yield
            began = time.perf_counter()
        clock.add("catalog commits (fsync)", time.perf_counter() - began)

    Catalog.transaction = transaction
