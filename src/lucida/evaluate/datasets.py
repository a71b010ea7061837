"""Reference datasets for evaluation: photos with human captions, read from COCO, Karpathy or JSONL files.

Every loader returns `EvalItem`s in file order and raises `LucidaError` naming the file and the
line or key that is wrong, so a broken dataset is fixed from the message alone.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from lucida.errors import LucidaError

DATASET_KINDS = ("coco", "karpathy", "jsonl")
KARPATHY_SPLITS = ("train", "restval", "val", "test")


@dataclass(frozen=True)
class EvalItem:
    image: str  # file name relative to the images folder
    captions: tuple[str, ...]  # reference captions
    # extra queries carried by a JSONL dataset: (query text, relevant image file names)
    queries: tuple[tuple[str, tuple[str, ...]], ...] = ()


def load_dataset(kind: str, path: str | Path, split: str | None = None) -> list[EvalItem]:
    """Read a reference dataset of kind "coco", "karpathy" or "jsonl" (see the loaders for the formats).

    `split` picks the Karpathy split ("train", "restval", "val" or "test") and is required for it;
    the other kinds have no splits.
    """
    path = Path(path)
    if kind not in DATASET_KINDS:
        raise LucidaError(f"unknown dataset kind {kind!r}: use one of {', '.join(DATASET_KINDS)}")
    if kind == "karpathy":
        if split not in KARPATHY_SPLITS:
            raise LucidaError(f"{path}: a karpathy dataset needs a split: one of {', '.join(KARPATHY_SPLITS)}")
    elif split is not None:
        raise LucidaError(f"{path}: a {kind} dataset has no splits; leave out the split ({split!r})")
    if not path.is_file():
        raise LucidaError(f"{path}: no such dataset file")
    if kind == "coco":
        return _load_coco(path)
    if kind == "karpathy":
        return _load_karpathy(path, split)
    return _load_jsonl(path)


def retrieval_queries(items: list[EvalItem]) -> list[tuple[str, frozenset[str]]]:
    """Text-to-image queries with their relevant images, in dataset order.

    The standard COCO/Flickr30k protocol: every reference caption is a query whose one relevant
    image is the photo it describes. Each item's extra queries follow its captions.
    """
    queries = []
    for item in items:
        queries.extend((caption, frozenset([item.image])) for caption in item.captions)
        queries.extend((text, frozenset(relevant)) for text, relevant in item.queries)
    return queries



def _json_lines(path: Path) -> Iterator[tuple[int, str, Any]]:
    """(line number, "file: line N" for messages, parsed record) of each non-blank line."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as error:
        raise LucidaError(f"{path}: not UTF-8 text ({error.reason} at byte {error.start})") from error
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}: line {number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise LucidaError(f"{where}: not valid JSON: {error.msg}") from error
        yield number, where, record

def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise LucidaError(f"{path}: not valid JSON at line {error.lineno}: {error.msg}") from error
    except UnicodeDecodeError as error:
        raise LucidaError(f"{path}: not UTF-8 text ({error.reason} at byte {error.start})") from error


def _get(obj: Any, key: str, kind: type, where: str) -> Any:
    """obj[key], checked to exist and to be of `kind`; `where` names the place for the message."""
    if not isinstance(obj, dict):
        raise LucidaError(f"{where}: expected a JSON object, found {_json_name(obj)}")
    if key not in obj:
        raise LucidaError(f"{where}: missing key {key!r}")
    value = obj[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise LucidaError(f"{where}: key {key!r} must be {_JSON_NAMES[kind]}, found {_json_name(value)}")
    return value


_JSON_NAMES = {str: "a string", int: "an integer", list: "a list", dict: "an object"}


def _json_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return _JSON_NAMES.get(type(value), type(value).__name__)


def _caption(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise LucidaError(f"{where}: a caption must be a non-empty string, found {value!r}")
    return value.strip()


def _finish(items: dict[str, list[str]], path: Path) -> list[EvalItem]:
    empty = [image for image, captions in items.items() if not captions]
    if empty:
        raise LucidaError(f"{path}: image {empty[0]!r} has no captions ({len(empty)} images have none)")
    return [EvalItem(image, tuple(captions)) for image, captions in items.items()]


def _load_coco(path: Path) -> list[EvalItem]:
    """COCO captions JSON: {"images": [{"id", "file_name"}], "annotations": [{"image_id", "caption"}]}."""
    data = _read_json(path)
    images = _get(data, "images", list, str(path))
    annotations = _get(data, "annotations", list, str(path))
    file_names: dict[int, str] = {}
    captions: dict[str, list[str]] = {}
    for index, image in enumerate(images):
        where = f"{path}: images[{index}]"
        image_id = _get(image, "id", int, where)
        file_name = _get(image, "file_name", str, where)
        if image_id in file_names:
            raise LucidaError(f"{where}: duplicate image id {image_id}")
        if file_name in captions:
            raise LucidaError(f"{where}: duplicate image {file_name!r}")
        file_names[image_id] = file_name
        captions[file_name] = []
    for index, annotation in enumerate(annotations):
        where = f"{path}: annotations[{index}]"
        image_id = _get(annotation, "image_id", int, where)
        caption = _caption(_get(annotation, "caption", str, where), where)
        if image_id not in file_names:
            raise LucidaError(f"{where}: image_id {image_id} is not the id of any entry in 'images'")
        captions[file_names[image_id]].append(caption)
    return _finish(captions, path)


def _load_karpathy(path: Path, split: str) -> list[EvalItem]:
    """Karpathy split JSON: {"images": [{"filepath"?, "filename", "split", "sentences": [{"raw"}]}]}.

    "restval" is its own split here, as in the file; Karpathy's "train" for COCO is train + restval.
    """
    data = _read_json(path)
    images = _get(data, "images", list, str(path))
    captions: dict[str, list[str]] = {}
    for index, image in enumerate(images):
        where = f"{path}: images[{index}]"
        file_name = _get(image, "filename", str, where)
        if "filepath" in image:
            file_name = str(PurePosixPath(_get(image, "filepath", str, where)) / file_name)
        image_split = _get(image, "split", str, where)
        sentences = _get(image, "sentences", list, where)
        if image_split != split:
            continue
        if file_name in captions:
            raise LucidaError(f"{where}: duplicate image {file_name!r}")
        captions[file_name] = [
            _caption(_get(sentence, "raw", str, f"{where}.sentences[{n}]"), f"{where}.sentences[{n}]")
            for n, sentence in enumerate(sentences)
        ]
    if not captions:
        raise LucidaError(f"{path}: no images in split {split!r}")
    return _finish(captions, path)


def _load_jsonl(path: Path) -> list[EvalItem]:
    """JSONL, one photo a line: {"image": str, "captions": [str], "queries": [str | {"text", "relevant"}]}.

    A query given as a string is relevant to its line's image; as an object, to the images it lists.
    Blank lines are skipped.
    """
    items: list[EvalItem] = []
    seen: dict[str, int] = {}
    for number, where, record in _json_lines(path):
        image = _get(record, "image", str, where)
        if image in seen:
            raise LucidaError(f"{where}: duplicate image {image!r} (first on line {seen[image]})")
        seen[image] = number
        captions = _get(record, "captions", list, where)
        if not captions:
            raise LucidaError(f"{where}: key 'captions' is empty; give at least one reference caption")
        captions = tuple(_caption(caption, f"{where}: captions[{n}]") for n, caption in enumerate(captions))
        queries = _get(record, "queries", list, where) if "queries" in record else []
        queries = tuple(_query(query, image, f"{where}: queries[{n}]") for n, query in enumerate(queries))
        items.append(EvalItem(image, captions, queries))
    if not items:
        raise LucidaError(f"{path}: no photos in the file")
    known = set(seen)
    for item in items:
        for text, relevant in item.queries:
            unknown = [name for name in relevant if name not in known]
            if unknown:
                raise LucidaError(
                    f"{path}: line {seen[item.image]}: query {text!r} names image {unknown[0]!r},"
                    " which no line of the file has"
                )
    return items


def _query(query: Any, image: str, where: str, unanswerable: bool = False) -> tuple[str, tuple[str, ...]]:
    """A query's text and the images that answer it; `unanswerable` queries (NO_ANSWER) have none."""
    if isinstance(query, str):
        return _caption(query, where), (image,)
    text = _caption(_get(query, "text", str, where), where)
    relevant = _get(query, "relevant", list, where)
    if unanswerable:
        if relevant:
            raise LucidaError(f"{where}: a {NO_ANSWER!r} query must have an empty 'relevant' list")
        return text, ()
    if not relevant or not all(isinstance(name, str) and name for name in relevant):
        raise LucidaError(f"{where}: key 'relevant' must be a non-empty list of image file names")
    return text, tuple(relevant)


QUERY_SPLITS = ("dev", "test")
# The type (or, for a translation, the "about") of a query that no image answers: what a relevance
# cutoff should answer with nothing.
NO_ANSWER = "none"


@dataclass(frozen=True)
class EvalQuery:
    """One query of a query set: its words, the images that answer it, and labels to report by."""

    id: str
    text: str
    relevant: frozenset[str]  # image file names
    type: str  # what the query asks for, e.g. "object", "scene", "date"; "" when unlabelled
    split: str  # "dev" (tune on it) or "test" (held out); "" when the set has no split
    lang: str = "en"
    english: str | None = None  # for a translated query, the English query it translates
    tags: frozenset[str] = frozenset()  # finer labels to report by, e.g. "context"

    @property
    def answerable(self) -> bool:
        """False for a no-answer query (type or "about" NO_ANSWER): no image answers it."""
        return bool(self.relevant)


def load_queries(path: str | Path) -> list[EvalQuery]:
    """A query set in JSONL, one query a line, in file order:
    {"id": str, "text": str, "relevant": [image file names], "type"?: str, "split"?: "dev" | "test",
     "lang"?: str (default "en"), "en"?: the English query a translation renders, "tags"?: [str],
     "about"?: a translation's type}. A no-answer query (type or about NO_ANSWER) has "relevant": [].

    Blank lines are skipped; ids must be unique. Other keys are kept in the file for people and
    ignored here.
    """
    path = Path(path)
    if not path.is_file():
        raise LucidaError(f"{path}: no such query file")
    queries: list[EvalQuery] = []
    seen: dict[str, int] = {}
    for number, where, record in _json_lines(path):
        query_id = _get(record, "id", str, where)
        if query_id in seen:
            raise LucidaError(f"{where}: duplicate query id {query_id!r} (first on line {seen[query_id]})")
        seen[query_id] = number
        unanswerable = NO_ANSWER in (record.get("type"), record.get("about"))
        text, relevant = _query(record, "", where, unanswerable)
        split = _get(record, "split", str, where) if "split" in record else ""
        if split and split not in QUERY_SPLITS:
            raise LucidaError(f"{where}: split must be one of {', '.join(QUERY_SPLITS)}, not {split!r}")
        english = _caption(_get(record, "en", str, where), where) if "en" in record else None
        tags = _get(record, "tags", list, where) if "tags" in record else []
        if not all(isinstance(tag, str) and tag for tag in tags):
            raise LucidaError(f"{where}: key 'tags' must be a list of non-empty strings")
        queries.append(
            EvalQuery(
                query_id,
                text,
                frozenset(relevant),
                _get(record, "type", str, where) if "type" in record else "",
                split,
                _get(record, "lang", str, where) if "lang" in record else "en",
                english,
                frozenset(tags),
            )
        )
    if not queries:
        raise LucidaError(f"{path}: no queries in the file")
    return queries
