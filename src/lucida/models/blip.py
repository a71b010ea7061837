"""BLIP (Salesforce) image captioning: a ViT encoder and a BERT decoder, short captions.

Runs through transformers' BlipForConditionalGeneration. BLIP captions without a prompt.
"""

from __future__ import annotations

from lucida.errors import LucidaError
from lucida.models.hf_captioner import HFCaptioner

_MAX_NEW_TOKENS = 40  # BLIP's captions are one short sentence


class BlipCaptioner(HFCaptioner):
    family = "BLIP"
    model_types = frozenset({"blip"})
    default_prompt = ""
    input_side = 384

    def _load(self):
        from transformers import BlipForConditionalGeneration, BlipProcessor

        return self._pretrained(BlipProcessor), self._pretrained(BlipForConditionalGeneration, dtype=self.dtype)

    def _check_prompt(self, prompt: str) -> str:
        if prompt:
            raise LucidaError(f"BLIP captions without a prompt; it cannot take {prompt!r}")
        return prompt

    def _max_new_tokens(self) -> int:
        return _MAX_NEW_TOKENS

    def _inputs(self, images):
        return self._processor(images=images, return_tensors="pt")

    def _decode(self, generated, inputs) -> list[str]:
        return self._processor.batch_decode(generated, skip_special_tokens=True)


def build(entry, folder: str, options) -> BlipCaptioner:
    """The registry's hook (lucida.models.registry.FAMILIES): the captioner for `entry`, from the
    local folder the registry found its weights in."""
    return BlipCaptioner(entry.name, folder)
