"""The OpenAI-compatible captioner and embedder against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import time

import numpy as np
import pytest
from PIL import Image

from lucida.errors import LucidaError
from lucida.models.base import DescribeFailures
from lucida.models.openai_api import OpenAICaptioner, OpenAIEmbedder
from lucida.models.prompts import caption_prompt
from lucida.models.registry import load_describer, load_embedder
from openai_loopback import OpenAILoopback, text_vector


@pytest.fixture
def photos(sample_photos) -> list[Image.Image]:
    return [Image.open(sample_photos / f"{name}.jpg").convert("RGB") for name in ("chelsea", "coffee", "rocket")]


@pytest.fixture(autouse=True)
def api_key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")


def test_captions_each_photo_with_a_downscaled_data_url_and_the_library_prompt(photos):
    big = photos[0].resize((2000, 1500))
    with OpenAILoopback(lambda image: f"a photo {image.width}x{image.height}", api_key="sk-test") as server:
        captioner = load_describer("openai:llava", prompt="short", api_base=server.api_base)
        descriptions = captioner.describe([big, *photos[1:]])
    assert [d.text for d in descriptions] == [
        "a photo 1024x768",
        *(f"a photo {im.width}x{im.height}" for im in photos[1:]),  # already under 1024: not resized
    ]
    assert captioner.name == "openai:llava" and captioner.prompt == "short"
    first = server.requests[0]
    assert first.path == "/v1/chat/completions"
    assert first.body["model"] == "llava"
    assert first.body["messages"][0]["content"][0]["text"] == caption_prompt("short").text
    assert first.headers["authorization"] == "Bearer sk-test"


def test_429_is_retried_after_the_delay_retry_after_asks_for(photos):
    with OpenAILoopback() as server:
        server.fail(429, headers={"Retry-After": "2"})
        captioner = OpenAICaptioner("openai:m", "m", server.api_base)
        [description] = captioner.describe(photos[:1])
    assert description.text == "a photo"
    assert len(server.requests) == 2
    waited = server.requests[1].at - server.requests[0].at
    assert waited >= 1.9  # the SDK's own backoff would have waited under a second


def test_500s_are_retried_with_backoff_until_one_succeeds(photos):
    with OpenAILoopback() as server:
        server.fail(500, times=2)
        [description] = OpenAICaptioner("openai:m", "m", server.api_base).describe(photos[:1])
    assert description.text == "a photo"
    assert len(server.requests) == 3
    gaps = np.diff([r.at for r in server.requests])
    assert gaps[1] > gaps[0] * 1.2  # exponential: the second wait is longer


def test_a_photo_that_keeps_failing_is_reported_failed_and_the_others_kept(photos):
    coffee = photos[1]
    with OpenAILoopback(lambda image: "captioned") as server:
        server.fail(503, times=10, only_for=lambda image: image.size == coffee.size)
        captioner = OpenAICaptioner("openai:m", "m", server.api_base, max_retries=2)
        with pytest.raises(DescribeFailures) as failure:
            captioner.describe(photos)
    assert [d.text if d else None for d in failure.value.descriptions] == ["captioned", None, "captioned"]
    assert list(failure.value.errors) == [1]
    assert "HTTP 503" in failure.value.errors[1]
    assert "1 of 3 photos" in str(failure.value)


def test_a_timeout_fails_only_that_photo(photos):
    with OpenAILoopback() as server:
        server.stall(3.0, times=2, only_for=lambda image: image.size == photos[0].size)
        captioner = OpenAICaptioner("openai:m", "m", server.api_base, timeout=0.5, max_retries=1)
        started = time.monotonic()
        with pytest.raises(DescribeFailures) as failure:
            captioner.describe(photos[:2])
    assert failure.value.errors == {0: "request timed out after every retry"}
    assert failure.value.descriptions[1].text == "a photo"
    assert time.monotonic() - started < 3.0  # it did not wait for the stalled answers


def test_401_stops_with_one_clear_line(photos, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-wrong")
    with OpenAILoopback(api_key="sk-right") as server:
        captioner = OpenAICaptioner("gpt-4o", "gpt-4o", server.api_base)
        with pytest.raises(LucidaError) as error:
            captioner.describe(photos)
    message = str(error.value)
    assert "401" in message and "OPENAI_API_KEY" in message and "\n" not in message
    assert not isinstance(error.value, DescribeFailures)


def test_no_key_for_the_openai_api_fails_before_any_request(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY")
    with pytest.raises(LucidaError, match="OPENAI_API_KEY"):
        load_describer("gpt-4o-mini")


def test_a_local_server_needs_no_key(photos, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY")
    with OpenAILoopback() as server:
        [description] = load_describer("openai:llava:7b", api_base=server.api_base).describe(photos[:1])
    assert description.text == "a photo"
    assert server.requests[0].body["model"] == "llava:7b"


def test_requests_in_flight_stay_within_the_bound(photos):
    with OpenAILoopback() as server:
        server.stall(0.3, times=8)
        captioner = OpenAICaptioner("openai:m", "m", server.api_base, concurrency=2)
        descriptions = captioner.describe(photos * 3)
    assert len(descriptions) == 9
    assert server.max_in_flight == 2


def test_unreachable_server_is_one_line_not_a_failed_photo(photos):
    captioner = OpenAICaptioner("openai:m", "m", "http://127.0.0.1:9/v1", max_retries=0)
    with pytest.raises(LucidaError, match="cannot reach http://127.0.0.1:9/v1") as error:
        captioner.describe(photos[:1])
    assert not isinstance(error.value, DescribeFailures)


def test_embeddings_come_back_unit_length_in_input_order_with_dimensions():
    texts = ["a cat on a sofa", "a rocket", "coffee"]
    with OpenAILoopback() as server:
        embedder = load_embedder("openai:text-embedding-3-small@16", api_base=server.api_base)
        documents = embedder.embed_documents(texts)
        query = embedder.embed_queries(["a rocket"])
    assert server.requests[0].path == "/v1/embeddings"
    assert server.requests[0].body["dimensions"] == 16
    assert server.requests[0].body["model"] == "text-embedding-3-small"
    assert documents.shape == (3, 16) and documents.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(documents, axis=1), 1.0, rtol=1e-5)
    expected = np.array(text_vector("a rocket", 16))
    np.testing.assert_allclose(documents[1], expected / np.linalg.norm(expected), rtol=1e-5)
    np.testing.assert_allclose(query[0], documents[1], rtol=1e-6)


def test_embeddings_retry_a_429_and_stop_on_401(monkeypatch):
    with OpenAILoopback(api_key="sk-test") as server:
        server.fail(429, headers={"Retry-After": "1"})
        vectors = OpenAIEmbedder("openai:e", "e", server.api_base).embed_documents(["x"])
        assert vectors.shape == (1, 8) and len(server.requests) == 2
        monkeypatch.setenv("OPENAI_API_KEY", "sk-bad")
        with pytest.raises(LucidaError, match="401"):
            OpenAIEmbedder("openai:e", "e", server.api_base).embed_documents(["x"])


def test_dimensions_must_be_a_number():
    with pytest.raises(LucidaError, match="number of dimensions"):
        load_embedder("openai:text-embedding-3-large@many", api_base="http://127.0.0.1:9/v1")
