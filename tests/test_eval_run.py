"""`lucida eval` on the committed data set, with the real offline models: the four output files,
the caption cache across runs, --limit, and one-line errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from lucida.catalog import Catalog
from lucida.cli import cli
from lucida.evaluate import runner
from lucida.evaluate.datasets import load_dataset
from lucida.evaluate.metrics import caption_metrics
from lucida.evaluate.report import write_report
from lucida.evaluate.runner import CACHE_NAME
from lucida.models.base import Description
from lucida.models.imagenet import ImageNetDescriber
from lucida.models.registry import DEFAULT_DESCRIBER, DEFAULT_EMBEDDER

DATASET = Path(__file__).resolve().parent.parent / "data" / "eval" / "lucida-samples"
PHOTOS, CAPTIONS = DATASET / "photos", DATASET / "captions.jsonl"
METRICS = {"BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4", "ROUGE-L", "CIDEr", "R@1", "R@5", "R@10", "MRR@10", "nDCG@10"}


def lucida_eval(*args: str, images: Path = PHOTOS, captions: Path = CAPTIONS, expect: int = 0):
    result = CliRunner().invoke(cli, ["eval", "--images", str(images), "--jsonl", str(captions), "-q", *args])
    assert result.exit_code == expect, result.output
    return result


def description_times(out: Path) -> dict[tuple[int, str], float]:
    """(image id, describer) -> created_at of every description in the cache."""
    times = {}
    with Catalog.open(out / CACHE_NAME, create=False) as catalog:
        for image_id in range(1, 100):
            record = catalog.image_record(image_id)
            for d in record.descriptions if record else []:
                times[(image_id, d.describer)] = d.created_at
    return times


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory, tiny_embedder_folder):
    """The defaults first; then the same folder again with a second embedder, counting how
    many images the describer is asked to caption."""
    out = tmp_path_factory.mktemp("eval") / "out"
    lucida_eval("--out", str(out))
    first = {
        "results": json.loads((out / "results.json").read_text()),
        "descriptions": description_times(out),
    }
    captioned = []
    original = ImageNetDescriber.describe

    def counting(self, images):
        captioned.extend(images)
        return original(self, images)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ImageNetDescriber, "describe", counting)
        tiny = f"st:{tiny_embedder_folder}"
        lucida_eval("--embedder", DEFAULT_EMBEDDER, "--embedder", tiny, "--out", str(out))
    return out, first, captioned, tiny


def test_the_four_files_agree_with_each_other(two_runs):
    out, _, _, tiny = two_runs
    items = load_dataset("jsonl", CAPTIONS)
    rows = json.loads((out / "results.json").read_text())
    assert [(r["captioner"], r["prompt"], r["embedder"]) for r in rows] == [
        (DEFAULT_DESCRIBER, "", DEFAULT_EMBEDDER),
        (DEFAULT_DESCRIBER, "", tiny),
    ]
    for row in rows:
        assert set(row["metrics"]) == METRICS
        assert all(0 <= row["metrics"][m] <= 1 for m in ("R@1", "R@5", "R@10", "MRR@10", "nDCG@10"))
        assert row["metrics"]["R@1"] <= row["metrics"]["R@5"] <= row["metrics"]["R@10"]
        cost = row["cost"]
        assert cost["seconds_per_photo"] > 0 and cost["photos_timed"] == len(items)
        assert cost["ms_per_query"] > 0 and cost["peak_rss_mb"] > 100
        assert cost["captioner_bytes"] > 1_000_000 and cost["embedder_bytes"] > 10_000

    # One caption per image and (captioner, prompt): this run has a single captioner.
    lines = [json.loads(line) for line in (out / "captions.jsonl").read_text().splitlines()]
    assert len(lines) == len(items) == 17
    assert {line["image"] for line in lines} == {item.image for item in items}
    assert all(line["captioner"] == DEFAULT_DESCRIBER and line["prompt"] == "" and line["caption"] for line in lines)
    # The captions as lucida shows them (lucida.display), which the caption metrics score: class
    # names, no WordNet definitions. The vectors behind the retrieval metrics are the search text's.
    assert not any("(" in line["caption"] or ")" in line["caption"] for line in lines)
    assert any(line["caption"].startswith("Egyptian cat") for line in lines)
    recomputed = caption_metrics(
        {line["image"]: line["caption"] for line in lines}, {item.image: list(item.captions) for item in items}
    )
    for row in rows:
        for metric in ("BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4", "ROUGE-L", "CIDEr"):
            assert row["metrics"][metric] == pytest.approx(recomputed[metric])

    # The ranking behind the metrics is real: the trained embedder beats random weights.
    assert rows[0]["metrics"]["R@10"] > rows[1]["metrics"]["R@10"]

    report = (out / "report.md").read_text()
    table = [line for line in report.splitlines() if line.startswith("| ") and DEFAULT_DESCRIBER in line]
    assert len(table) == 2
    assert table[0].split(" | ")[3] == f"`{DEFAULT_EMBEDDER}`"  # best R@10 first
    assert "17 images" in report and "Machine:" in report

    png = out / "pareto.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(png) as image:
        assert image.width > 300 and image.height > 200


def test_a_second_embedder_does_not_caption_again(two_runs):
    out, first, captioned, _ = two_runs
    assert captioned == []
    assert description_times(out) == first["descriptions"]
    assert len(first["descriptions"]) == 17
    rows = json.loads((out / "results.json").read_text())
    # The captioning time is the one measured in the first run, not re-measured.
    assert rows[0]["cost"]["seconds_per_photo"] == first["results"][0]["cost"]["seconds_per_photo"]
    assert rows[0]["metrics"] == pytest.approx(first["results"][0]["metrics"])


def test_limit_takes_the_first_items(tmp_path):
    out = tmp_path / "out"
    lucida_eval("--limit", "5", "--out", str(out))
    first_five = [item.image for item in load_dataset("jsonl", CAPTIONS)[:5]]
    lines = [json.loads(line) for line in (out / "captions.jsonl").read_text().splitlines()]
    assert [line["image"] for line in lines] == first_five
    report = (out / "report.md").read_text()
    assert "5 images" in report and "first 5 items" in report


def one_line_error(result) -> str:
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    return lines[0]


def test_a_missing_images_folder_is_one_line(tmp_path):
    result = lucida_eval("--out", str(tmp_path / "out"), images=tmp_path / "nowhere", expect=1)
    assert "nowhere does not exist" in one_line_error(result)


def test_an_image_missing_on_disk_is_an_error_that_names_it(tmp_path):
    photos = tmp_path / "photos"
    shutil.copytree(PHOTOS, photos)
    (photos / "coffee.jpg").unlink()
    result = lucida_eval("--out", str(tmp_path / "out"), images=photos, expect=1)
    assert "1 of 17 images" in one_line_error(result) and "coffee.jpg" in result.output


def test_a_prompt_the_captioner_cannot_take_is_one_line(tmp_path):
    result = lucida_eval("--prompt", "a photo of", "--out", str(tmp_path / "out"), expect=1)
    assert "takes no prompt" in one_line_error(result)


def test_a_broken_captions_file_is_one_line(tmp_path):
    broken = tmp_path / "captions.jsonl"
    broken.write_text('{"image": "coffee.jpg", "captions": [\n')
    result = lucida_eval("--out", str(tmp_path / "out"), captions=broken, expect=1)
    one_line_error(result)


def test_exactly_one_captions_source(tmp_path):
    result = CliRunner().invoke(cli, ["eval", "--images", str(PHOTOS), "--out", str(tmp_path)])
    assert result.exit_code == 2 and "exactly one of" in result.output


class PromptedDescriber:
    """The real default describer behind a prompt: the prompt leads each caption, as a
    captioning VLM's prompt steers its answer."""

    def __init__(self, model, prompt: str = ""):
        self.model, self.prompt = model, prompt
        self.name, self.input_side = "prompted", model.input_side

    def with_prompt(self, prompt: str) -> PromptedDescriber:
        return PromptedDescriber(self.model, prompt)

    def describe(self, images):
        return [Description(f"{self.prompt} {d.text}".strip()) for d in self.model.describe(images)]


def test_every_prompt_is_a_combination(tmp_path, monkeypatch, describer, embedder):
    monkeypatch.setattr(runner, "load_describer", lambda spec, **options: PromptedDescriber(describer))
    monkeypatch.setattr(runner, "load_embedder", lambda spec, api_base=None: embedder)
    items = load_dataset("jsonl", CAPTIONS)[:4]
    evaluation = runner.evaluate(items, PHOTOS, tmp_path, ["prompted"], ["a photo of", "a picture of"])
    write_report(evaluation, tmp_path)
    rows = json.loads((tmp_path / "results.json").read_text())
    assert [(r["captioner"], r["prompt"]) for r in rows] == [("prompted", "a photo of"), ("prompted", "a picture of")]
    lines = [json.loads(line) for line in (tmp_path / "captions.jsonl").read_text().splitlines()]
    assert len(lines) == 2 * len(items)
    assert all(line["caption"].startswith(line["prompt"] + " ") for line in lines)
    report = (tmp_path / "report.md").read_text()
    assert "`a photo of`" in report and "`a picture of`" in report


def test_an_interrupted_run_resumes_where_it_stopped(tmp_path, monkeypatch):
    items = load_dataset("jsonl", CAPTIONS)
    captioned = []
    original = ImageNetDescriber.describe

    def stop_after_one_batch(self, images):
        if captioned:
            raise KeyboardInterrupt
        captioned.extend(images)
        return original(self, images)

    monkeypatch.setattr(ImageNetDescriber, "describe", stop_after_one_batch)
    with pytest.raises(KeyboardInterrupt):
        runner.evaluate(items, PHOTOS, tmp_path, batch_size=4)
    assert len(description_times(tmp_path)) == 4

    def counting(self, images):
        captioned.extend(images)
        return original(self, images)

    monkeypatch.setattr(ImageNetDescriber, "describe", counting)
    evaluation = runner.evaluate(items, PHOTOS, tmp_path, batch_size=4)
    assert len(captioned) == len(items)  # 4 before the stop, 13 after it
    assert evaluation.rows[0].cost["photos_timed"] == len(items)


def test_karpathy_split_files_work_through_the_command(tmp_path):
    items = load_dataset("jsonl", CAPTIONS)
    images = [
        {"filepath": "photos", "filename": item.image, "split": "test" if i < 3 else "train",
         "sentences": [{"raw": c} for c in item.captions]}
        for i, item in enumerate(items)
    ]
    split_file = tmp_path / "dataset_samples.json"
    split_file.write_text(json.dumps({"images": images}))
    out = tmp_path / "out"
    args = ["eval", "-q", "--images", str(DATASET), "--karpathy", str(split_file), "--out", str(out)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2 and "--split" in result.output
    result = CliRunner().invoke(cli, [*args, "--split", "test"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in (out / "captions.jsonl").read_text().splitlines()]
    assert [line["image"] for line in lines] == [f"photos/{item.image}" for item in items[:3]]


def test_an_openai_compatible_captioner_and_embedder_are_evaluated_over_http(tmp_path, monkeypatch):
    from openai_loopback import OpenAILoopback

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    out = tmp_path / "out"
    with OpenAILoopback(lambda image: "a photo") as server:
        lucida_eval(
            "--limit", "3", "--captioner", "openai:vlm", "--prompt", "short", "--embedder", "openai:emb@16",
            "--api-base", server.api_base, "--out", str(out),
        )
    assert {r.path for r in server.requests} == {"/v1/chat/completions", "/v1/embeddings"}
    [row] = json.loads((out / "results.json").read_text())
    assert (row["captioner"], row["prompt"], row["embedder"]) == ("openai:vlm", "short", "openai:emb@16")


def test_a_team_shares_one_cache_in_postgresql(postgres, tmp_path):
    from lucida.catalog import open_catalog

    url = postgres.new_database()
    lucida_eval("--limit", "3", "--out", str(tmp_path / "first"), "--cache", url)
    assert not (tmp_path / "first" / CACHE_NAME).exists()

    def written() -> dict:
        with open_catalog(url, create=False) as cache:
            return {i: [d.created_at for d in cache.image_record(i).descriptions] for i, _ in cache.image_files()}

    before = written()
    assert len(before) == 3
    lucida_eval("--limit", "3", "--out", str(tmp_path / "second"), "--cache", url)  # another member, same cache
    assert written() == before  # nothing captioned again
    first, second = (json.loads((tmp_path / run / "results.json").read_text()) for run in ("first", "second"))
    assert [row["metrics"] for row in first] == [row["metrics"] for row in second]
