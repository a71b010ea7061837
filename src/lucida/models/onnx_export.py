"""Models exported once to ONNX, kept in lucida's cache and run by ONNX Runtime.

The default offline models ship as PyTorch weights. Run through torch, a CLI search spent 13-16 s
importing it to embed a few words, and an index run spent 40 ms a photo in the classifier's forward
pass where ONNX Runtime takes 8 (docs/benchmarks.md, issues 13 and 18). So the first load of such
a model exports it from its own weights into the cache folder, checks that the export computes what
the original does, and every later load takes ONNX Runtime alone. A model that cannot be exported
(or whose export does not match) keeps its torch path, and that is remembered; LUCIDA_RUNTIME=torch
chooses the torch path for every model.

Each model's module says how to export it and what "the same" means (lucida.models.onnx_text for
sentence-transformers embedders, lucida.models.imagenet for the classifier); this one keeps the
cache: where an export lives, when it is stale, making it atomically, remembering failures.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

from lucida.errors import LucidaError

log = logging.getLogger(__name__)

META = "lucida-export.json"  # written last: a folder without it is no export
RUNTIME_VARIABLE = "LUCIDA_RUNTIME"  # "torch": every model through torch, none exported
T = TypeVar("T")


class ExportFailed(LucidaError):
    """The model could not be exported, or its export does not compute what the original does."""


def onnx_wanted() -> bool:
    return os.environ.get(RUNTIME_VARIABLE, "onnx") != "torch"


def exports_root() -> Path:
    """Where exports are kept: $LUCIDA_CACHE/onnx, else the user cache folder's."""
    from lucida.models.packaged import cache_root

    return cache_root() / "onnx"


def export_folder(name: str, weights: str | Path, files: Iterable[str], export_format: int) -> Path:
    """The folder a model's export has (or will have): named after the model, keyed by the export
    format and the weights' files (`files`, relative to a weights folder; a weights file stands for
    itself) with their size and modification time, so changed or moved weights are exported again."""
    weights = Path(weights).resolve()
    stamp: list = [export_format, str(weights)]
    paths = [(weights.name, weights)] if weights.is_file() else [(f, weights / f) for f in files]
    for relative, path in paths:
        if path.is_file():
            info = path.stat()
            stamp.append([relative, info.st_size, info.st_mtime_ns])
    key = hashlib.sha256(json.dumps(stamp).encode()).hexdigest()[:16]
    safe_name = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
    return exports_root() / f"{safe_name}-{key}"


def failure_note(folder: Path) -> Path:
    return folder.with_name(folder.name + ".failed")


def load_or_export(
    what: str, folder: Path, export_into: Callable[[Path], dict], load: Callable[[Path], T]
) -> T | None:
    """`load(folder)` of the export in `folder`, made first with `export_into(work folder) -> meta`
    when there is none (or it is damaged); None when it cannot be made or does not match, which
    is remembered. `what` names the model in the one line said while exporting."""
    if (folder / META).is_file():
        try:
            return load(folder)
        except ExportFailed as error:  # a damaged cache
            log.warning("%s; exporting it again", error)
            shutil.rmtree(folder, ignore_errors=True)
    failed = failure_note(folder)
    if failed.is_file():
        return None
    if not _writable(folder.parent):
        # Nowhere to keep an export (a read-only home): exporting on every load would cost each
        # command 10-30 s and leave nothing behind.
        log.info("%s: %s cannot be written to; it runs through torch", what, folder.parent)
        return None
    # The only time this model's use pays for torch: said, since it takes seconds.
    log.warning("%s: preparing it for ONNX Runtime, once (10-30 s)", what)
    try:
        _export(what, folder, export_into)
        return load(folder)
    except ExportFailed as error:
        log.warning("%s; it runs through torch instead", error)
        try:
            failed.write_text(str(error) + "\n")
        except OSError:
            pass
        return None


def _writable(folder: Path) -> bool:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return os.access(folder, os.W_OK)


def _export(what: str, target: Path, export_into: Callable[[Path], dict]) -> None:
    """Make the export in a new folder beside `target`, then move it in whole."""
    work = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
        meta = export_into(work)
        (work / META).write_text(json.dumps(meta, indent=1))
        try:
            os.rename(work, target)
        except OSError:
            if not (target / META).is_file():  # not another process's export
                raise
    except ExportFailed:
        raise
    except Exception as error:  # a model the exporter cannot trace, a read-only cache: all one line
        raise ExportFailed(f"{what}: cannot export to ONNX ({type(error).__name__}: {error})") from error
    finally:
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)


def session(model_file: Path, what: str, threads: int | None = None):
    """An ONNX Runtime session on the CPU (`threads`: its intra-op threads; None: one per core);
    ExportFailed when the file cannot be loaded."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    if threads is not None:
        options.intra_op_num_threads = threads
    # Threads that spin between operations take the CPU from the decoders, the search and the
    # web server's other requests on a small machine.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    try:
        return onnxruntime.InferenceSession(str(model_file), options, providers=["CPUExecutionProvider"])
    except Exception as error:
        raise ExportFailed(f"{what}: its export {model_file} cannot be loaded ({error})") from error


def weights_apart(source: Path, target: Path) -> None:
    """The graph in `target` and its weights raw beside it (`model.weights`): ONNX Runtime then
    reads them without parsing them out of the protobuf, and a session starts in 45 ms instead of
    190 (MiniLM, docs/benchmarks.md)."""
    import onnx

    graph = onnx.load(str(source))
    onnx.save_model(
        graph, str(target), save_as_external_data=True, all_tensors_to_one_file=True,
        location="model.weights", size_threshold=1024,
    )  # fmt: skip
