"""The Hugging Face captioners, run on tiny random checkpoints of each real architecture.

vlm_checkpoints builds every checkpoint from transformers' own config, model, processor and tokenizer
classes and saves it like a hub download, so loading, preprocessing, batched generation and
decoding all run exactly as they do for the real Florence-2, BLIP, SmolVLM and LLaVA-OneVision.
Random weights make the captions gibberish, and which gibberish depends on the CPU (a CPU with
native bf16 runs the models in bf16, another in fp32), so these tests check only what does not
depend on the weights: one string per photo, in order, from the photo and the prompt given.
`GenerateSpy` watches what each row of a batch hands the model, and makes each caption start
with a letter naming the photo its row holds, so captions of different photos provably differ.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import torch
import vlm_checkpoints
from PIL import Image
from transformers import LogitsProcessor, LogitsProcessorList

from lucida.errors import LucidaError
from lucida.models.device import pick_device, pick_dtype
from lucida.models.hf_captioner import HFCaptioner
from lucida.models.prompts import FLORENCE_TASKS, caption_prompt
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


# What GenerateSpy makes a caption start with: the n-th photo it sees gets the n-th letter. Each is
# one token in every tiny tokenizer (vlm_checkpoints trains BLIP's on a corpus without a "j").
LETTERS = "abcdefghiklmnoprstu"


def _row_keys(inputs: dict) -> list[str]:
    """A key per row of a generate call naming what that row holds: its pixels and its prompt,
    without the padding a batch adds (all-zero tiles after a photo's own, masked tokens)."""
    pixels, ids, mask = inputs["pixel_values"], inputs.get("input_ids"), inputs.get("attention_mask")
    keys = []
    for row in range(len(pixels)):
        image = pixels[row].float().cpu()
        if image.dim() == 4:  # tiles; a normalised photo tile is never all zeros
            image = image[image.flatten(1).any(dim=1)]
        digest = hashlib.sha256(repr(tuple(image.shape)).encode() + image.numpy().tobytes())
        if ids is not None:
            tokens = ids[row] if mask is None else ids[row][mask[row].bool()]
            digest.update(repr(tokens.tolist()).encode())
        keys.append(digest.hexdigest())
    return keys


class _ForceFirstTokens(LogitsProcessor):
    """Makes row i's first generated token `tokens[i]`; later tokens are the model's own."""

    def __init__(self, tokens: list[int]):
        self.tokens, self.first = tokens, True

    def __call__(self, input_ids, scores):
        if not self.first:
            return scores
        self.first = False
        forced = torch.full_like(scores, float("-inf"))
        rows = torch.arange(len(self.tokens), device=scores.device)
        forced[rows, torch.tensor(self.tokens, device=scores.device)] = 0.0
        return forced


class GenerateSpy:
    """Stands in for the captioner's `model.generate`. It runs the real generate, notes for each
    call which photo each row holds (photos are numbered in the order the spy first sees them)
    and the kwargs the model got, and makes each row's answer start with the letter of its photo:
    whatever the random weights say next, captions of different photos differ, and a caption
    names the photo whose row it was decoded from."""

    def __init__(self, captioner: HFCaptioner):
        self._generate = captioner._model.generate
        self._tokenizer = captioner._processor.tokenizer
        self._letter_tokens = [self._tokenizer.convert_tokens_to_ids(letter) for letter in LETTERS]
        for letter, token in zip(LETTERS, self._letter_tokens):
            assert self._tokenizer.decode([token]) == letter, f"{letter!r} is not one token"
        self._seen: dict[str, int] = {}
        self.rows: list[list[int]] = []  # per generate call, the photo each row held
        self.calls: list[dict] = []  # per generate call, its kwargs

    def __call__(self, **kwargs):
        photos = [self._seen.setdefault(key, len(self._seen)) for key in _row_keys(kwargs)]
        self.rows.append(photos)
        self.calls.append(kwargs)
        force = _ForceFirstTokens([self._letter_tokens[photo] for photo in photos])
        return self._generate(**kwargs, logits_processor=LogitsProcessorList([force]))

    def prompt_tokens(self, call: int = -1) -> list[list[int]]:
        """The unpadded prompt tokens of each row of a call."""
        inputs = self.calls[call]
        return [ids[mask.bool()].tolist() for ids, mask in zip(inputs["input_ids"], inputs["attention_mask"])]

    def prompt_text(self, call: int = -1) -> list[str]:
        return [self._tokenizer.decode(tokens) for tokens in self.prompt_tokens(call)]


@pytest.fixture
def spy(captioner, monkeypatch) -> GenerateSpy:
    spy = GenerateSpy(captioner)
    monkeypatch.setattr(captioner._model, "generate", spy)  # with_prompt copies share the model
    return spy


def family_of(captioner: HFCaptioner) -> str:
    return captioner.name.split(":", 1)[0]


def texts(descriptions) -> list[str]:
    return [d.text for d in descriptions]


def test_one_caption_string_per_photo(captioner, photos, spy):
    captions = texts(captioner.describe(photos))
    assert len(captions) == len(photos)
    assert all(isinstance(c, str) for c in captions)
    # Every answer starts with a letter (the spy's): the decoded caption keeps the answer.
    assert [c[:1] for c in captions] == list(LETTERS[: len(photos)])
    assert captioner.describe([]) == []


def test_batching_keeps_each_caption_with_its_photo(captioner, photos, spy):
    # One by one first, so that the spy numbers photo i as i and starts its caption with LETTERS[i]:
    # the six captions provably differ, whatever the weights.
    one_by_one = [captioner.describe([photo])[0].text for photo in photos]
    assert spy.rows == [[i] for i in range(len(photos))]
    assert [c[:1] for c in one_by_one] == list(LETTERS[: len(photos)])

    # Six photos in batches of four: a full batch and a partial one, each photo in its own row,
    # in order, the model given exactly what it gets for that photo alone (padding aside).
    batched = texts(captioner.describe(photos))
    assert spy.rows[-2:] == [[0, 1, 2, 3], [4, 5]]
    # Each caption starts with its photo's letter. Whole captions are not compared: that batched
    # and single rows round alike is a property of a CPU's kernels, not of lucida's code.
    assert [c[:1] for c in batched] == [c[:1] for c in one_by_one]

    # The same photos in other orders: each caption follows its photo across and within batches.
    for order in ([5, 4, 3, 2, 1, 0], [4, 1, 5, 0, 3, 2]):
        assert [c[:1] for c in texts(captioner.describe([photos[i] for i in order]))] == [LETTERS[i] for i in order]
        assert spy.rows[-2:] == [order[:4], order[4:]]


def test_the_prompt_reaches_the_model(captioner, photos, spy):
    family = family_of(captioner)
    if family not in PROMPTS:
        pytest.skip(f"{family} takes no prompt")
    first, second, _ = PROMPTS[family]
    asked_first = captioner.with_prompt(first)
    asked_second = captioner.with_prompt(second)
    assert (asked_first.prompt, asked_second.prompt) == (first, second)
    assert asked_first._model is captioner._model  # a prompt is not a reload
    # What the model is given, not what random weights make of it (two prompts may well get the
    # same gibberish): each prompt's own tokens in every row, and its own token budget.
    given = {}
    for name, asked in ((first, asked_first), (second, asked_second)):
        assert len(asked.describe(photos[:3])) == 3
        if family == "florence2":  # the processor words the task token as a question
            budget = FLORENCE_TASKS[name]
        else:
            budget = caption_prompt(name).max_new_tokens
            assert all(caption_prompt(name).text in text for text in spy.prompt_text())
        assert spy.calls[-1]["max_new_tokens"] == budget
        given[name] = spy.prompt_tokens()
    assert given[first] != given[second]


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
