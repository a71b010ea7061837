"""What the Hugging Face captioners (Florence-2, BLIP, SmolVLM, LLaVA-OneVision) share.

The registry finds the weights (a folder the user named, or the Hugging Face cache snapshot at
the entry's pinned revision) and says how to get them when they are missing; a captioner loads
from that folder only, never from the network. Each family module says how to load its classes,
build its inputs and read its outputs; this one picks the device and dtype and runs batched
greedy generation.
"""

from __future__ import annotations

import contextlib
import copy
from pathlib import Path
from typing import ClassVar

from PIL import Image

from lucida.errors import LucidaError
from lucida.models.base import Description
from lucida.models.device import pick_device, pick_dtype
from lucida.models.prompts import DEFAULT_CHAT_PROMPT, caption_prompt


@contextlib.contextmanager
def _quiet_transformers():
    """Loading prints a progress bar and, without torchvision, a warning that transformers falls
    back to its PIL image processors (which is what lucida wants): noise on a CLI."""
    from transformers.utils import logging as transformers_logging

    level = transformers_logging.get_verbosity()
    transformers_logging.set_verbosity_error()
    transformers_logging.disable_progress_bar()
    try:
        yield
    finally:
        transformers_logging.set_verbosity(level)


class HFCaptioner:
    """A captioner over one transformers vision-language model. Subclasses set the class
    attributes and implement `_load`, `_inputs` and `_decode`."""

    family = ""  # the human name, for messages ("Florence-2")
    model_types: frozenset[str] = frozenset()  # config.model_type values this family can run
    default_prompt = ""
    input_side = 384
    batch_sizes: ClassVar[dict[str, int]] = {"cpu": 4, "cuda": 8, "mps": 4}  # images per generate call

    def __init__(self, name: str, folder: str | Path, prompt: str | None = None):
        self.name = name
        self.local_path = Path(folder)  # the weights on disk
        self.prompt = self._check_prompt(self.default_prompt if prompt is None else prompt)
        self.device = pick_device()
        self.dtype = pick_dtype(self.device)
        self.batch_size = self.batch_sizes.get(self.device, 4)
        with _quiet_transformers():
            self._check_config()
            self._processor, model = self._load()
        self._model = model.to(self.device).eval()

    # -- loading ---------------------------------------------------------------------------

    def _pretrained(self, cls, **kwargs):
        """`cls.from_pretrained` on this captioner's folder, never downloading."""
        try:
            return cls.from_pretrained(self.local_path, local_files_only=True, **kwargs)
        except (OSError, ValueError) as error:  # ValueError: a config.json transformers cannot read
            raise LucidaError(
                f"{self.name}: the folder {self.local_path} does not hold a complete {self.family} model "
                f"({_first_line(error)})"
            ) from error

    def _check_config(self) -> None:
        from transformers import AutoConfig

        model_type = self._pretrained(AutoConfig).model_type
        if model_type not in self.model_types:
            raise LucidaError(
                f"{self.name}: the folder {self.local_path} holds a {model_type!r} model, not {self.family} "
                f"({', '.join(sorted(self.model_types))})"
            )

    def _load(self):
        """(processor, model) for this family, loaded with `_pretrained`."""
        raise NotImplementedError

    # -- prompts ---------------------------------------------------------------------------

    def _check_prompt(self, prompt: str) -> str:
        """`prompt` if this family takes it, else a LucidaError naming what it takes."""
        raise NotImplementedError

    def _max_new_tokens(self) -> int:
        raise NotImplementedError

    def with_prompt(self, prompt: str) -> HFCaptioner:
        """The same loaded model asked with another prompt."""
        other = copy.copy(self)
        other.prompt = self._check_prompt(prompt)
        return other

    # -- captioning ------------------------------------------------------------------------

    def describe(self, images: list[Image.Image]) -> list[Description]:
        descriptions: list[Description] = []
        for start in range(0, len(images), self.batch_size):
            chunk = [image.convert("RGB") for image in images[start : start + self.batch_size]]
            descriptions.extend(Description(text) for text in self._generate(chunk))
        return descriptions

    def _generate(self, images: list[Image.Image]) -> list[str]:
        import torch

        inputs = self._inputs(images).to(self.device, dtype=self.dtype)
        with torch.inference_mode():
            generated = self._model.generate(
                **inputs, max_new_tokens=self._max_new_tokens(), do_sample=False, num_beams=1
            )
        return [text.strip() for text in self._decode(generated, inputs)]

    def _inputs(self, images: list[Image.Image]):
        """The processor's BatchFeature for `images` and this captioner's prompt."""
        raise NotImplementedError

    def _decode(self, generated, inputs) -> list[str]:
        raise NotImplementedError


class ChatCaptioner(HFCaptioner):
    """A decoder-only chat VLM asked with a prompt from the prompt library (lucida.models.prompts)."""

    default_prompt = DEFAULT_CHAT_PROMPT

    def _check_prompt(self, prompt: str) -> str:
        return caption_prompt(prompt).name

    def _max_new_tokens(self) -> int:
        return caption_prompt(self.prompt).max_new_tokens

    def _load(self):
        processor = self._load_processor()
        # Batched generation appends to the right end of every row, so prompts are padded on the left.
        processor.tokenizer.padding_side = "left"
        return processor, self._load_model()

    def _load_processor(self):
        from transformers import AutoProcessor

        return self._pretrained(AutoProcessor)

    def _load_model(self):
        raise NotImplementedError

    def _inputs(self, images: list[Image.Image]):
        messages = [
            {
                "role": "user",
                "content": [{"type": "image"}, {"type": "text", "text": caption_prompt(self.prompt).text}],
            }
        ]
        text = self._processor.apply_chat_template(messages, add_generation_prompt=True)
        return self._processor(
            text=[text] * len(images), images=[[image] for image in images], padding=True, return_tensors="pt"
        )

    def _decode(self, generated, inputs) -> list[str]:
        # generate returns the prompt followed by the answer; keep the answer.
        answers = generated[:, inputs["input_ids"].shape[1] :]
        return self._processor.batch_decode(answers, skip_special_tokens=True)


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
