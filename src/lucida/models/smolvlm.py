"""SmolVLM (Hugging Face): small chat VLMs (256M, 500M) built on Idefics3.

SmolVLM-256M/500M-Instruct are `idefics3` checkpoints and SmolVLM2 ones `smolvlm`; both run
through transformers' own classes, asked with the shared prompt library.
"""

from __future__ import annotations

from lucida.models.hf_captioner import ChatCaptioner


class SmolVLMCaptioner(ChatCaptioner):
    family = "SmolVLM"
    model_types = frozenset({"idefics3", "smolvlm"})
    # Its processor resizes every photo to a long side of 4 x 512 = 2048 pixels (upscaling if need
    # be) and cuts that into 512-pixel tiles; 1536 is the short side of a 4:3 photo at that size,
    # so the tiles hold real pixels rather than an upscaled thumbnail.
    input_side = 1536

    def _load_model(self):
        from transformers import AutoModelForImageTextToText

        return self._pretrained(AutoModelForImageTextToText, dtype=self.dtype)


def build(entry, folder: str, options) -> SmolVLMCaptioner:
    """The registry's hook (lucida.models.registry.FAMILIES): the captioner for `entry`, from the
    local folder the registry found its weights in."""
    return SmolVLMCaptioner(entry.name, folder)
