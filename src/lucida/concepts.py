"""A photo's class probabilities as one vector: the convex combination of class embeddings.

Norouzi et al., "Zero-Shot Learning by Convex Combination of Semantic Embeddings" (ConSE,
ICLR 2014): embed every class's text once (name, lemmas, WordNet definition), and place a photo
at Σ p_c · e_c over its likeliest classes, weighted by the classifier's probabilities. A
query's cosine with that vector is its similarity to every class the photo might show, not only
to the few words its description names, so a photo the classifier was unsure of still matches
queries near any of its likely classes.

The vectors are stored per description and embedder (the catalog's class mixtures); search
mixes them into the descriptions' own vectors (lucida.search).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from functools import cache
from pathlib import Path

import numpy as np

from lucida.catalog import Catalog
from lucida.models.base import Embedder
from lucida.progress import Progress, SilentProgress

# Norouzi et al. combine the top T = 10 classes; a photo's details keep 25, and the rest add
# little but noise from classes the photo does not show.
TOP_CLASSES = 10

# Class text vectors already made in this process, by embedder name: tests and the web app make
# many catalogs and would otherwise embed the 1,000 class texts into each.
_made: dict[str, dict[str, np.ndarray]] = {}


# What the vectors of a catalog's descriptions were made of, per embedder (its setting
# f"{EMBEDDED_TEXT_SETTING}:{embedder}"): "2" is embedded_text's form. A catalog whose vectors
# were made of the whole text (before 2026-12-01) has them made again by its next index run.
EMBEDDED_TEXT_SETTING = "embedded_text"
EMBEDDED_TEXT_FORM = "2"


def embedded_text(text: str, details: dict | None) -> str:
    """What of a description its vector is made of: the text without the WordNet definitions
    the classifier describer writes after each class ("Egyptian cat (a domestic cat of Egypt).
    tabby, ..." -> "Egyptian cat. tabby, ..."). BM25 and the detail view still read the whole
    text; the vector reads the names, the categories and the pixels' words. Half the tokens (99
    -> 48 on average), so indexing spends half as long embedding, and search finds about as well
    (docs/benchmarks.md, issue 18: R@10 0.80 -> 0.83 on the held-out half, 0.78 -> 0.76 on dev).
    Any other text (a caption) is embedded whole."""
    classes = (details or {}).get("classes")
    if not classes or not isinstance(classes, list):
        return text
    definitions = _definitions()
    for listed in classes:
        definition = definitions.get(listed.get("synset")) if isinstance(listed, dict) else None
        if definition:
            text = text.replace(f" ({definition})", "", 1)
    return text


@cache
def _definitions() -> dict[str, str]:
    from lucida.models.imagenet_classes import load_imagenet_classes

    return {c.synset: c.definition for c in load_imagenet_classes()}


def class_text(lemmas: list[str], definition: str) -> str:
    return f"{', '.join(lemmas[:3])}: {definition}"


def class_vectors(catalog: Catalog, embedder: Embedder) -> dict[str, np.ndarray]:
    """synset -> the embedder's vector of that ImageNet class's text; embedded once per
    embedder and kept in the catalog."""
    from lucida.models.imagenet_classes import load_imagenet_classes

    classes = load_imagenet_classes()
    texts = {c.synset: class_text(c.lemmas, c.definition) for c in classes}
    known = _made.setdefault(embedder.name, {})
    missing = [t for t in texts.values() if t not in known]
    if missing:
        known.update(catalog.text_vectors(embedder.name, missing))
        missing = [t for t in missing if t not in known]
    if missing:
        made = dict(zip(missing, _embedded_on_this_machine(embedder, list(texts.values()), missing)))
        with catalog.transaction():
            catalog.put_text_vectors(embedder.name, made)
        known.update(made)
    return {synset: known[text] for synset, text in texts.items()}


def _embedded_on_this_machine(embedder: Embedder, every: list[str], missing: list[str]) -> np.ndarray:
    """The vectors of `missing` (some of the class texts `every`), from the embedder's cache
    folder when an earlier catalog made them on this machine: a new catalog's first index run
    used to spend 5 CPU-seconds embedding the 1,000 class texts (docs/benchmarks.md, issue 18)."""
    folder = getattr(embedder, "vectors_cache", None)
    if folder is None:
        return embedder.embed_documents(missing)
    path = Path(folder) / f"class-vectors-{hashlib.sha256(chr(10).join(every).encode()).hexdigest()[:16]}.npy"
    try:
        matrix = np.load(path)
    except (OSError, ValueError):  # none yet, or damaged
        matrix = None
    if matrix is None or matrix.shape[0] != len(every) or matrix.dtype != np.float32:
        matrix = embedder.embed_documents(every)
        part = path.with_name(f"{path.name}.{os.getpid()}.part")
        try:
            with open(part, "wb") as handle:
                np.save(handle, matrix)
            os.replace(part, path)
        except OSError:  # a read-only cache: the next new catalog spends the same seconds
            with contextlib.suppress(OSError):
                part.unlink(missing_ok=True)
    row = {text: i for i, text in enumerate(every)}
    return matrix[[row[text] for text in missing]]


def conse_vector(classes: list[dict], vectors: dict[str, np.ndarray]) -> np.ndarray | None:
    """Σ p_c · e_c over a description's top classes ({"synset", "p"}), L2-normalised; None when
    none of them has a vector."""
    chosen = [(c["p"], vectors[c["synset"]]) for c in classes[:TOP_CLASSES] if c["synset"] in vectors]
    if not chosen:
        return None
    combined = np.sum([p * v for p, v in chosen], axis=0)
    norm = float(np.linalg.norm(combined))
    return (combined / norm).astype(np.float32) if norm > 0 else None


def add_conse_vectors(catalog: Catalog, embedder: Embedder, progress: Progress | None = None) -> int:
    """Store a ConSE vector for every description with class probabilities that lacks one.
    Returns how many it stored."""
    progress = progress or SilentProgress()
    rows = [
        (d, details["classes"])
        for d, details in catalog.details_without_class_mixture(embedder.name)
        if details.get("classes")
    ]
    if not rows:
        return 0
    vectors = class_vectors(catalog, embedder)
    progress.start("combining class vectors", len(rows))
    try:
        with catalog.transaction():
            for description_id, classes in rows:
                vector = conse_vector(classes, vectors)
                if vector is not None:
                    catalog.put_class_mixture(description_id, embedder.name, vector)
        progress.advance(len(rows))
    finally:
        progress.finish()
    return len(rows)


# A query names few classes: its likeliest 5, weighted by how far above the rest its similarity
# to each stands (z-scores, so embedders whose cosines all sit near 0.8, like E5, work too).
QUERY_CLASSES = 5
_SHARPNESS = 2.0


def query_class_weights(query_vector: np.ndarray, class_matrix: np.ndarray) -> np.ndarray:
    """A weight per class (len(class_matrix),), non-zero for the classes the query most likely
    names: the query's side of matching it to photos through class probabilities."""
    similarity = class_matrix @ query_vector
    z = (similarity - similarity.mean()) / (similarity.std() + 1e-6)
    top = np.argsort(-z)[:QUERY_CLASSES]
    weights = np.zeros(len(class_matrix), dtype=np.float32)
    exp = np.exp(_SHARPNESS * (z[top] - z[top].max()))
    weights[top] = exp / exp.sum()
    return weights
