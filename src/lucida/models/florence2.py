"""Florence-2 (Microsoft): a small sequence-to-sequence VLM that captions through task tokens.

Runs through transformers' own Florence2ForConditionalGeneration (the `florence-community`
checkpoints), with no remote code. The captioning tasks are `<CAPTION>`, `<DETAILED_CAPTION>`
and `<MORE_DETAILED_CAPTION>`.
"""

from __future__ import annotations

from lucida.models.hf_captioner import HFCaptioner
from lucida.models.prompts import DEFAULT_FLORENCE_TASK, FLORENCE_TASKS, florence_task


class Florence2Captioner(HFCaptioner):
    family = "Florence-2"
    model_types = frozenset({"florence2"})
    default_prompt = DEFAULT_FLORENCE_TASK
    input_side = 768  # the processor squeezes every photo to 768 x 768

    def _load(self):
        from transformers import AutoProcessor, Florence2ForConditionalGeneration

        return self._pretrained(AutoProcessor), self._pretrained(Florence2ForConditionalGeneration, dtype=self.dtype)

    def _check_prompt(self, prompt: str) -> str:
        return florence_task(prompt)

    def _max_new_tokens(self) -> int:
        return FLORENCE_TASKS[self.prompt]

    def _inputs(self, images):
        return self._processor(text=[self.prompt] * len(images), images=images, return_tensors="pt")

    def _decode(self, generated, inputs) -> list[str]:
        # An encoder-decoder model returns only the answer.
        return self._processor.batch_decode(generated, skip_special_tokens=True)


def build(entry, folder: str, options) -> Florence2Captioner:
    """The registry's hook (lucida.models.registry.FAMILIES): the captioner for `entry`, from the
    local folder the registry found its weights in."""
    return Florence2Captioner(entry.name, folder)
