"""Sentence-transformers text models through ONNX Runtime: the same vectors as
sentence-transformers, without importing torch or transformers to embed a query.

A CLI search used to spend 13-16 s importing torch, transformers and sentence-transformers to
embed a few words (docs/benchmarks.md, "Issue 13"). Here a model is exported once, the first
time it is loaded, from its own weights into lucida's cache folder (lucida.models.onnx_export):
the whole pipeline
(transformer, pooling, L2 normalisation) as one ONNX graph with attention and layer norms fused
by ONNX Runtime's transformer optimizer, and the model's own fast tokenizer as `tokenizer.json`,
truncating where sentence-transformers does. The export is kept only when its vectors match
sentence-transformers' on a set of probe texts to cosine >= MIN_COSINE, so catalogs indexed
before keep working; otherwise (or when exporting fails) the registry keeps sentence-transformers.

Loading an export takes onnxruntime, tokenizers and numpy: about 0.2 s, against 10 s or more.
"""

from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path

import numpy as np

from lucida.models.onnx_export import META, ExportFailed, load_or_export, session, weights_apart
from lucida.models.onnx_export import export_folder as _export_folder

log = logging.getLogger(__name__)

# Bump when what an export holds changes: exports of an older format are then made again.
EXPORT_FORMAT = 2
MIN_COSINE = 0.9999
# Texts the export is checked on, against sentence-transformers: short and long, padded in a
# batch and alone, accents, CJK, punctuation, blanks around, and longer than the model's limit.
PROBE_TEXTS = [
    "a",
    "a red car",
    "  kids on a beach at sunset  ",
    "raindrops on leaves, close up",
    "Égyptian cat; tabby — animal. brown, orange (a cat with a grey or tawny coat)",
    "東京の夜景と雨",
    "la plage en été sans personne",
    "query: a dog in the snow",
    "Egyptian cat, tabby, a domestic cat of Egypt, a kind of vertebrate, mammal, animal " * 40,
]
# The files of a model folder whose change makes an export stale.
SOURCE_FILES = (
    "model.safetensors", "pytorch_model.bin", "config.json", "tokenizer.json", "tokenizer_config.json",
    "modules.json", "sentence_bert_config.json", "1_Pooling/config.json",
)
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def export_folder(name: str, weights: str | Path) -> Path:
    """The folder this model's export has (or will have) in the cache."""
    return _export_folder(name, weights, SOURCE_FILES, EXPORT_FORMAT)


class OnnxTextEmbedder:
    """An Embedder over an export (see export_model). `convention` holds the prefixes the model
    wants on queries and passages (lucida.models.sentence.Convention)."""

    def __init__(self, name: str, folder: str | Path, convention, weights: str | Path | None = None, batch_size: int = 16):
        from tokenizers import Tokenizer

        self.name = name
        self.folder = Path(folder)
        # The weights it was exported from (`lucida eval` reports their size), else the export.
        self.local_path = Path(weights) if weights else self.folder
        self.convention = convention
        self.batch_size = batch_size  # at most, of texts with the same number of tokens
        # Vectors of fixed texts (the ImageNet class texts, lucida.concepts) may be kept here: the
        # folder is keyed by the weights and the export format, so its vectors never change.
        self.vectors_cache = self.folder
        what = f"embedder {name}"
        try:
            meta = json.loads((self.folder / META).read_text())
            self.inputs: list[str] = meta["inputs"]
            self.dimensions: int = meta["dimensions"]
            self._tokenizer = Tokenizer.from_file(str(self.folder / "tokenizer.json"))
        except Exception as error:  # a damaged cache: exported again
            raise ExportFailed(f"{what}: its export in {self.folder} cannot be loaded ({error})") from error
        # Queries on one thread: a query is a dozen tokens, and a second thread only adds its
        # wake-ups between the model's small operations. At a million photos a search takes as
        # long (p50 8.4 ms) and 1.2 ms less CPU, which a busy server lacks (docs/benchmarks.md,
        # issue 15). Documents, made in batches of long texts, use every core: a session of its
        # own, made on first use, so a search process loads the model once.
        self._session = session(self.folder / "model.onnx", what, threads=1)
        self._documents_session = None
        self._what = what

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        if self._documents_session is None:
            self._documents_session = session(self.folder / "model.onnx", self._what)
        return self._encode([self.convention.passage + t for t in texts], self._documents_session)

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self._encode([self.convention.query + t for t in texts], self._session)

    def _encode(self, texts: list[str], on) -> np.ndarray:
        vectors = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        if not texts:
            return vectors
        encodings = self._tokenizer.encode_batch(texts)
        # A batch holds texts of one length only, so nothing is padded. Padded to the longest of
        # 16 length-sorted texts, the describer's texts (28-231 tokens) cost a third more CPU
        # (docs/benchmarks.md, issue 18), and with no padding a text's vector does not depend on
        # the texts beside it.
        by_length: dict[int, list[int]] = {}
        for i, encoding in enumerate(encodings):
            by_length.setdefault(len(encoding.ids), []).append(i)
        for same_length in by_length.values():
            for start in range(0, len(same_length), self.batch_size):
                chosen = same_length[start : start + self.batch_size]
                feeds = {
                    name: np.array([getattr(encodings[i], _ENCODING_FIELD[name]) for i in chosen], dtype=np.int64)
                    for name in self.inputs
                }
                vectors[chosen] = on.run(None, feeds)[0]
        return vectors


_ENCODING_FIELD = {"input_ids": "ids", "attention_mask": "attention_mask", "token_type_ids": "type_ids"}


def onnx_embedder(name: str, weights: str | Path, convention) -> OnnxTextEmbedder | None:
    """The model through ONNX Runtime, exported first when this is its first load; None when it
    cannot be exported or its export does not match (the caller then uses sentence-transformers)."""
    return load_or_export(
        f"embedder {name}",
        export_folder(name, weights),
        lambda work: _export_into(name, Path(weights), work),
        lambda folder: OnnxTextEmbedder(name, folder, convention, weights),
    )


def _export_into(name: str, weights: Path, work: Path) -> dict:
    import torch
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    transformers_logging.set_verbosity_error()
    try:
        # Eager attention: ONNX Runtime's optimizer fuses its pattern into one Attention op.
        model = SentenceTransformer(
            str(weights), device="cpu", local_files_only=True, model_kwargs={"attn_implementation": "eager"}
        )
    except (TypeError, ValueError):
        model = SentenceTransformer(str(weights), device="cpu", local_files_only=True)
    model.eval()
    # `preprocess` since sentence-transformers 6, `tokenize` before.
    features = getattr(model, "preprocess", None) or model.tokenize
    features = features(PROBE_TEXTS[:2])
    inputs = [n for n in _INPUTS if n in features]

    class Pipeline(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, *tensors):
            out = self.model(dict(zip(inputs, tensors)))["sentence_embedding"]
            return torch.nn.functional.normalize(out, p=2, dim=1)

    raw = work / "raw.onnx"
    axes = {n: {0: "batch", 1: "tokens"} for n in inputs} | {"embedding": {0: "batch"}}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        # The TorchScript exporter: the torch.export one needs onnxscript's dynamic shapes for
        # what this traces in 2 s. The probes below check the result either way.
        torch.onnx.export(
            Pipeline().eval(), tuple(features[n] for n in inputs), str(raw),
            input_names=inputs, output_names=["embedding"], dynamic_axes=axes, opset_version=17, dynamo=False,
        )
    graph = work / "graph.onnx"
    fused = _fuse(raw, graph, model)
    if not fused:
        raw.rename(graph)
    raw.unlink(missing_ok=True)
    weights_apart(graph, work / "model.onnx")
    graph.unlink()

    tokenizer = model.tokenizer.backend_tokenizer
    tokenizer.enable_truncation(int(model.max_seq_length))
    tokenizer.no_padding()
    tokenizer.save(str(work / "tokenizer.json"))

    meta = {
        "format": EXPORT_FORMAT,
        "name": name,
        "weights": str(weights.resolve()),
        "inputs": inputs,
        "dimensions": int((getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension)()),
        "max_tokens": int(model.max_seq_length),
        "fused": fused,
    }
    (work / META).write_text(json.dumps(meta))
    from lucida.models.sentence import NO_PREFIXES

    reference = model.encode(PROBE_TEXTS, normalize_embeddings=True, convert_to_numpy=True, batch_size=4)
    candidate = OnnxTextEmbedder(name, work, NO_PREFIXES, batch_size=4)
    # Both sessions: documents together, queries one at a time.
    together = candidate.embed_documents(PROBE_TEXTS)
    alone = np.concatenate([candidate.embed_queries([t]) for t in PROBE_TEXTS])
    cosine = float(min((together * reference).sum(axis=1).min(), (alone * reference).sum(axis=1).min()))
    if cosine < MIN_COSINE:
        raise ExportFailed(
            f"embedder {name}: its ONNX export gives other vectors than sentence-transformers "
            f"(cosine {cosine:.6f} < {MIN_COSINE})"
        )
    meta["probe_cosine_min"] = round(cosine, 7)
    return meta


def _fuse(raw: Path, out: Path, model) -> bool:
    """Attention, layer norms and GELU fused into ONNX Runtime's own ops (about 30% faster on
    a CPU); False when the optimizer does not know the architecture."""
    try:
        from onnxruntime.transformers.optimizer import optimize_model

        config = model[0].auto_model.config
        optimized = optimize_model(
            str(raw), model_type="bert", num_heads=int(config.num_attention_heads),
            hidden_size=int(config.hidden_size), opt_level=0,
        )
        optimized.save_model_to_file(str(out))
        return True
    except Exception as error:  # noqa: BLE001 - the unfused graph is correct, only slower
        log.info("ONNX fusion skipped: %s", error)
        return False
