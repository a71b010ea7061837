"""SmolVLM (Hugging Face): small chat VLMs (256M, 500M) built on Idefics3.

SmolVLM-256M/500M-Instruct are `idefics3` checkpoints and SmolVLM2 ones `smolvlm`; both run
through transformers' own classes, asked with the shared prompt library.
"""

from __future__ import annotations

from lucida.models.hf_captioner import ChatCaptioner


class SmolVLMCaptioner(ChatCaptioner):
    family = "SmolVLM"
    model_types = frozenset({"idefics3", "smolvlm"})
    input_side = 512  # one tile of its vision encoder

    def _load_model(self):
        from transformers import AutoModelForImageTextToText

        return self._pretrained(AutoModelForImageTextToText, dtype=self.dtype)


def build(entry, folder: str, options) -> SmolVLMCaptioner:
    """The registry's hook (lucida.models.registry.FAMILIES): the captioner for `entry`, from the
    local folder the registry found its weights in."""
    return SmolVLMCaptioner(entry.name, folder)
