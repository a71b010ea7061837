"""Reference datasets: COCO, Karpathy and JSONL files, their errors, and the committed lucida-samples set."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from lucida.errors import LucidaError
from lucida.evaluate.datasets import (
    EvalItem,
    EvalQuery,
    load_dataset,
    load_queries,
    retrieval_queries,
)
from lucida.samples import SAMPLE_PHOTOS

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "eval" / "lucida-samples"


def write_json(path: Path, data) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def write_lines(path: Path, records: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records), encoding="utf-8")
    return path


COCO = {
    "images": [{"id": 7, "file_name": "b.jpg"}, {"id": 3, "file_name": "a.jpg"}],
    "annotations": [
        {"image_id": 3, "id": 1, "caption": "A cat on a mat. "},
        {"image_id": 7, "id": 2, "caption": "A dog in a park."},
        {"image_id": 3, "id": 3, "caption": "A tabby cat."},
    ],
}


def test_coco_captions_in_file_order(tmp_path):
    items = load_dataset("coco", write_json(tmp_path / "captions.json", COCO))
    assert items == [
        EvalItem("b.jpg", ("A dog in a park.",)),
        EvalItem("a.jpg", ("A cat on a mat.", "A tabby cat.")),
    ]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.pop("annotations"), r"captions.json: missing key 'annotations'"),
        (lambda d: d["images"][1].pop("file_name"), r"captions.json: images\[1\]: missing key 'file_name'"),
        (lambda d: d["images"][0].update(id="7"), r"images\[0\]: key 'id' must be an integer, found a string"),
        (lambda d: d["annotations"][1].update(image_id=99), r"annotations\[1\]: image_id 99 is not the id of any"),
        (lambda d: d["annotations"][2].update(caption="  "), r"annotations\[2\]: a caption must be a non-empty"),
        (lambda d: d["images"].append({"id": 8, "file_name": "a.jpg"}), r"images\[2\]: duplicate image 'a.jpg'"),
        (lambda d: d["images"].append({"id": 9, "file_name": "c.jpg"}), r"image 'c.jpg' has no captions"),
    ],
)
def test_coco_errors_name_the_key(tmp_path, change, message):
    data = json.loads(json.dumps(COCO))
    change(data)
    with pytest.raises(LucidaError, match=message):
        load_dataset("coco", write_json(tmp_path / "captions.json", data))


def test_bad_json_names_the_line(tmp_path):
    path = tmp_path / "captions.json"
    path.write_text('{"images": [\n  {"id": 1,}\n]}', encoding="utf-8")
    with pytest.raises(LucidaError, match=r"captions.json: not valid JSON at line 2"):
        load_dataset("coco", path)


KARPATHY = {
    "images": [
        {
            "filepath": "val2014",
            "filename": "x.jpg",
            "split": "test",
            "sentences": [{"raw": "A boat."}, {"raw": "A ship."}],
        },
        {"filepath": "train2014", "filename": "y.jpg", "split": "train", "sentences": [{"raw": "A tree."}]},
        {"filename": "z.jpg", "split": "test", "sentences": [{"raw": "A house.", "tokens": ["a", "house"]}]},
        {"filepath": "val2014", "filename": "w.jpg", "split": "restval", "sentences": [{"raw": "A bird."}]},
    ]
}


def test_karpathy_split_with_file_paths(tmp_path):
    path = write_json(tmp_path / "dataset_coco.json", KARPATHY)
    assert load_dataset("karpathy", path, split="test") == [
        EvalItem("val2014/x.jpg", ("A boat.", "A ship.")),
        EvalItem("z.jpg", ("A house.",)),
    ]
    assert [item.image for item in load_dataset("karpathy", path, split="restval")] == ["val2014/w.jpg"]


def test_karpathy_needs_a_known_split(tmp_path):
    path = write_json(tmp_path / "dataset_coco.json", KARPATHY)
    with pytest.raises(LucidaError, match="needs a split: one of train, restval, val, test"):
        load_dataset("karpathy", path)
    with pytest.raises(LucidaError, match="needs a split"):
        load_dataset("karpathy", path, split="testing")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["images"][2].pop("split"), r"images\[2\]: missing key 'split'"),
        (lambda d: d["images"][0]["sentences"][1].pop("raw"), r"images\[0\].sentences\[1\]: missing key 'raw'"),
        (lambda d: d["images"][2].update(sentences=[]), r"image 'z.jpg' has no captions"),
        (lambda d: d["images"].append(dict(d["images"][0])), r"images\[4\]: duplicate image 'val2014/x.jpg'"),
        (
            lambda d: d["images"][0].update(filepath=5),
            r"images\[0\]: key 'filepath' must be a string, found an integer",
        ),
    ],
)
def test_karpathy_errors_name_the_key(tmp_path, change, message):
    data = json.loads(json.dumps(KARPATHY))
    change(data)
    with pytest.raises(LucidaError, match=message):
        load_dataset("karpathy", write_json(tmp_path / "dataset.json", data), split="test")


def test_karpathy_split_with_no_images(tmp_path):
    path = write_json(tmp_path / "dataset.json", KARPATHY)
    with pytest.raises(LucidaError, match="no images in split 'val'"):
        load_dataset("karpathy", path, split="val")


def test_jsonl_with_queries_of_both_forms(tmp_path):
    path = write_lines(
        tmp_path / "captions.jsonl",
        [
            {"image": "a.jpg", "captions": ["A cat.", "A tabby cat."], "queries": ["kitty"]},
            "",
            {"image": "b.jpg", "captions": ["A dog."], "queries": [{"text": "pets", "relevant": ["a.jpg", "b.jpg"]}]},
            {"image": "c.jpg", "captions": ["A car."]},
        ],
    )
    items = load_dataset("jsonl", path)
    assert items == [
        EvalItem("a.jpg", ("A cat.", "A tabby cat."), (("kitty", ("a.jpg",)),)),
        EvalItem("b.jpg", ("A dog.",), (("pets", ("a.jpg", "b.jpg")),)),
        EvalItem("c.jpg", ("A car.",)),
    ]
    assert retrieval_queries(items) == [
        ("A cat.", frozenset({"a.jpg"})),
        ("A tabby cat.", frozenset({"a.jpg"})),
        ("kitty", frozenset({"a.jpg"})),
        ("A dog.", frozenset({"b.jpg"})),
        ("pets", frozenset({"a.jpg", "b.jpg"})),
        ("A car.", frozenset({"c.jpg"})),
    ]


@pytest.mark.parametrize(
    ("bad_line", "message"),
    [
        ('{"image": "b.jpg", "captions": ["x"]', r"line 2: not valid JSON"),
        ('["b.jpg"]', r"line 2: expected a JSON object, found a list"),
        ({"captions": ["x"]}, r"line 2: missing key 'image'"),
        ({"image": "b.jpg"}, r"line 2: missing key 'captions'"),
        ({"image": "b.jpg", "captions": "a dog"}, r"line 2: key 'captions' must be a list, found a string"),
        ({"image": "b.jpg", "captions": []}, r"line 2: key 'captions' is empty"),
        ({"image": "b.jpg", "captions": ["a dog", 3]}, r"line 2: captions\[1\]: a caption must be a non-empty string"),
        ({"image": "a.jpg", "captions": ["again"]}, r"line 2: duplicate image 'a.jpg' \(first on line 1\)"),
        ({"image": "b.jpg", "captions": ["x"], "queries": "dogs"}, r"line 2: key 'queries' must be a list"),
        (
            {"image": "b.jpg", "captions": ["x"], "queries": [{"text": "dogs"}]},
            r"line 2: queries\[0\]: missing key 'relevant'",
        ),
        (
            {"image": "b.jpg", "captions": ["x"], "queries": [{"text": "dogs", "relevant": []}]},
            r"line 2: queries\[0\]: key 'relevant' must be a non-empty list",
        ),
        (
            {"image": "b.jpg", "captions": ["x"], "queries": [{"text": "dogs", "relevant": ["q.jpg"]}]},
            r"line 2: query 'dogs' names image 'q.jpg', which no line of the file has",
        ),
    ],
)
def test_jsonl_errors_name_the_line(tmp_path, bad_line, message):
    path = write_lines(tmp_path / "captions.jsonl", [{"image": "a.jpg", "captions": ["A cat."]}, bad_line])
    with pytest.raises(LucidaError, match=r"captions.jsonl: " + message):
        load_dataset("jsonl", path)


def test_unknown_kind_missing_file_and_stray_split(tmp_path):
    with pytest.raises(LucidaError, match="unknown dataset kind 'flickr'"):
        load_dataset("flickr", tmp_path / "x.json")
    with pytest.raises(LucidaError, match="no such dataset file"):
        load_dataset("coco", tmp_path / "missing.json")
    with pytest.raises(LucidaError, match="a jsonl dataset has no splits"):
        load_dataset("jsonl", tmp_path / "x.jsonl", split="test")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n", encoding="utf-8")
    with pytest.raises(LucidaError, match="no photos in the file"):
        load_dataset("jsonl", empty)


def test_the_committed_sample_set_loads():
    items = load_dataset("jsonl", SAMPLES / "captions.jsonl")
    assert sorted(item.image for item in items) == sorted(f"{photo.name}.jpg" for photo in SAMPLE_PHOTOS)
    assert len(items) == 17
    for item in items:
        assert 3 <= len(item.captions) <= 5, item.image
        assert item.queries, item.image
        with Image.open(SAMPLES / "photos" / item.image) as image:
            image.verify()
    queries = retrieval_queries(items)
    assert len(queries) > 17 * 4
    assert ("American flag", frozenset({"astronaut.jpg", "grace_hopper.jpg"})) in queries


# ---- query sets (load_queries) ----


def test_query_set_in_file_order_with_labels(tmp_path):
    path = write_lines(
        tmp_path / "queries.jsonl",
        [
            {"id": "q1", "text": " a cat ", "relevant": ["a.jpg"], "type": "object", "split": "dev"},
            "",
            {"id": "q2", "text": "un chat", "relevant": ["a.jpg", "b.jpg"], "type": "non-english", "split": "test",
             "lang": "fr", "en": "a cat", "about": "object"},
            {"id": "q3", "text": "a dog", "relevant": ["b.jpg"], "tags": ["context"]},
        ],
    )
    assert load_queries(path) == [
        EvalQuery("q1", "a cat", frozenset({"a.jpg"}), "object", "dev"),
        EvalQuery("q2", "un chat", frozenset({"a.jpg", "b.jpg"}), "non-english", "test", "fr", "a cat"),
        EvalQuery("q3", "a dog", frozenset({"b.jpg"}), "", "", tags=frozenset({"context"})),
    ]


@pytest.mark.parametrize(
    ("records", "message"),
    [
        ([{"text": "a cat", "relevant": ["a.jpg"]}], r"line 1: missing key 'id'"),
        ([{"id": "q1", "text": "a", "relevant": ["a.jpg"]}, {"id": "q1", "text": "b", "relevant": ["a.jpg"]}],
         r"line 2: duplicate query id 'q1' \(first on line 1\)"),
        ([{"id": "q1", "text": "a", "relevant": []}], r"line 1: key 'relevant' must be a non-empty list"),
        ([{"id": "q1", "text": " ", "relevant": ["a.jpg"]}], r"line 1: a caption must be a non-empty string"),
        ([{"id": "q1", "text": "a", "relevant": ["a.jpg"], "split": "train"}], r"split must be one of dev, test, not 'train'"),
        ([{"id": "q1", "text": "a", "relevant": ["a.jpg"], "type": 3}], r"key 'type' must be a string, found an integer"),
        ([{"id": "q1", "text": "a", "relevant": ["a.jpg"], "tags": [""]}], r"'tags' must be a list of non-empty strings"),
        (["{not json"], r"line 1: not valid JSON"),
        ([""], r"no queries in the file"),
    ],
)
def test_query_set_errors_name_the_line(tmp_path, records, message):
    with pytest.raises(LucidaError, match=message):
        load_queries(write_lines(tmp_path / "queries.jsonl", records))


def test_query_set_file_must_exist(tmp_path):
    with pytest.raises(LucidaError, match="no such query file"):
        load_queries(tmp_path / "absent.jsonl")
