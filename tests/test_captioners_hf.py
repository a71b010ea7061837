"""The Hugging Face captioners, run on tiny random checkpoints of each real architecture.

vlm_checkpoints builds every checkpoint from transformers' own config, model, processor and tokenizer
classes and saves it like a hub download, so loading, preprocessing, batched generation and
decoding all run exactly as they do for the real Florence-2, BLIP, SmolVLM and LLaVA-OneVision.
Random weights make the captions gibberish; these tests check what does not depend on the
weights: one string per photo, in order, from the photo and the prompt given.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import vlm_checkpoints
from PIL import Image

from lucida.errors import LucidaError
from lucida.models.device import pick_device, pick_dtype
from lucida.models.hf_captioner import HFCaptioner
from lucida.models.registry import load_describer

# Spec prefix -> builder of a tiny checkpoint of that architecture.
FAMILIES = {
    "florence2": vlm_checkpoints.build_florence2,
    "blip": vlm_checkpoints.build_blip,
    "smolvlm": vlm_checkpoints.build_smolvlm,
    "llava-onevision": vlm_checkpoints.build_llava_onevision,
}
# Two prompts each family takes, and a prompt it must refuse.
PROMPTS = {
    "florence2": ("<CAPTION>", "<MORE_DETAILED_CAPTION>", "<OD>"),
    "smolvlm": ("short", "retrieval", "write a poem"),
    "llava-onevision": ("short", "retrieval", "write a poem"),
}


@pytest.fixture(scope="session")
def tiny_checkpoints(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tiny-vlms")
    return {family: build(root / family) for family, build in FAMILIES.items()}


@pytest.fixture(scope="session", params=list(FAMILIES))
def captioner(request, tiny_checkpoints) -> HFCaptioner:
    """The captioner the registry builds for `<family>:<folder>`, as `lucida index --captioner` would."""
    family = request.param
    model = load_describer(f"{family}:{tiny_checkpoints[family]}")
    assert isinstance(model, HFCaptioner)
    model.batch_size = 4  # so that six photos take a full batch and a partial one
    return model


@pytest.fixture(scope="session")
def photos(sample_photos) -> list[Image.Image]:
    """Six real photos, small (the tiny models see 32-64 pixels), of different shapes: landscape,
    square, portrait and panorama give the tiling processors different numbers of image tokens,
    so batches are padded."""
    images = []
    for path in sorted(sample_photos.glob("*.jpg"))[:4]:
        with Image.open(path) as image:
            image.thumbnail((96, 96))
            images.append(image.convert("RGB"))
    landscape = next(image for image in images if image.width > image.height)
    images.append(landscape.transpose(Image.Transpose.ROTATE_90))  # portrait
    images.append(images[1].crop((0, 0, images[1].width, images[1].height // 3)))  # panorama
    assert len({image.size for image in images}) >= 3
    return images


def family_of(captioner: HFCaptioner) -> str:
    return captioner.name.split(":", 1)[0]


def texts(descriptions) -> list[str]:
    return [d.text for d in descriptions]


def test_one_caption_string_per_photo(captioner, photos):
    captions = texts(captioner.describe(photos))
    assert len(captions) == len(photos)
    assert all(isinstance(c, str) and c.strip() for c in captions)
    assert captioner.describe([]) == []


def test_batching_keeps_each_caption_with_its_photo(captioner, photos):
    batched = texts(captioner.describe(photos))
    one_by_one = [captioner.describe([photo])[0].text for photo in photos]
    assert batched == one_by_one
    # The captions come from the photos: different photos, different captions.
    assert len(set(batched)) >= len(photos) - 1


def test_the_prompt_reaches_the_model(captioner, photos):
    family = family_of(captioner)
    if family not in PROMPTS:
        pytest.skip(f"{family} takes no prompt")
    first, second, _ = PROMPTS[family]
    asked_first = captioner.with_prompt(first)
    asked_second = captioner.with_prompt(second)
    assert (asked_first.prompt, asked_second.prompt) == (first, second)
    assert asked_first._model is captioner._model  # a prompt is not a reload
    assert texts(asked_first.describe(photos[:3])) != texts(asked_second.describe(photos[:3]))


def test_a_prompt_the_family_does_not_take_is_refused(captioner):
    family = family_of(captioner)
    refused = PROMPTS[family][2] if family in PROMPTS else "a photograph of"
    with pytest.raises(LucidaError) as error:
        captioner.with_prompt(refused)
    assert refused in str(error.value)


def test_default_prompts(captioner):
    defaults = {"florence2": "<DETAILED_CAPTION>", "blip": "", "smolvlm": "retrieval", "llava-onevision": "retrieval"}
    assert captioner.prompt == defaults[family_of(captioner)]


def test_the_captioner_is_named_by_its_spec_and_knows_its_folder(captioner, tiny_checkpoints):
    folder = tiny_checkpoints[family_of(captioner)]
    assert captioner.name == f"{family_of(captioner)}:{folder}"
    assert captioner.local_path == folder


def test_the_model_runs_on_the_picked_device_and_dtype(captioner):
    parameter = next(captioner._model.parameters())
    assert (parameter.device.type, parameter.dtype) == (pick_device(), pick_dtype(pick_device()))


def test_a_registered_model_not_in_the_cache_says_how_to_get_it():
    with pytest.raises(LucidaError) as error:
        load_describer("smolvlm-256m")
    message = str(error.value)
    assert "\n" not in message
    assert "HuggingFaceTB/SmolVLM-256M-Instruct" in message
    assert "lucida models pull smolvlm-256m" in message and "HF_HOME" in message


def test_a_folder_that_is_not_there_is_named(tmp_path):
    missing = tmp_path / "no-such-model"
    with pytest.raises(LucidaError, match="there is no folder"):
        load_describer(f"florence2:{missing}")


def test_a_folder_without_a_model_is_named(tmp_path):
    with pytest.raises(LucidaError, match="does not hold a complete Florence-2 model"):
        load_describer(f"florence2:{tmp_path}")


def test_a_folder_of_another_family_is_refused(tiny_checkpoints):
    with pytest.raises(LucidaError, match="holds a 'blip' model, not Florence-2"):
        load_describer(f"florence2:{tiny_checkpoints['blip']}")


def test_a_prompt_given_at_load_time_is_used(tiny_checkpoints):
    captioner = load_describer(f"florence2:{tiny_checkpoints['florence2']}", prompt="<CAPTION>")
    assert captioner.prompt == "<CAPTION>"
