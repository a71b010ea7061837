"""LLaVA-OneVision (Qwen2 language model with a SigLIP vision tower), the `llava-hf` checkpoints.

Runs through transformers' LlavaOnevisionForConditionalGeneration, asked with the shared prompt
library. It tiles a photo into 384-pixel crops ("anyres"): decoding photos at 384 pixels keeps
that to a few crops, which is most of its cost.
"""

from __future__ import annotations

from lucida.models.hf_captioner import ChatCaptioner


def _image_only_processor_class():
    """LlavaOnevisionProcessor without its video processor.

    transformers' video processors need torchvision, which lucida does not install (it pins its
    own torch), so the stock processor cannot even be built. Photos need only the image half.
    """
    from transformers import AutoImageProcessor, AutoTokenizer, LlavaOnevisionProcessor

    class ImageOnlyLlavaOnevisionProcessor(LlavaOnevisionProcessor):
        def check_argument_for_proper_class(self, argument_name, argument):
            if argument_name == "video_processor" and argument is None:
                return None
            return super().check_argument_for_proper_class(argument_name, argument)

        @classmethod
        def _get_arguments_from_pretrained(cls, pretrained_model_name_or_path, processor_dict=None, **kwargs):
            kwargs.pop("subfolder", None)
            return [
                AutoImageProcessor.from_pretrained(pretrained_model_name_or_path, **kwargs),
                AutoTokenizer.from_pretrained(pretrained_model_name_or_path, **kwargs),
                None,
            ]

    return ImageOnlyLlavaOnevisionProcessor


class LlavaOnevisionCaptioner(ChatCaptioner):
    family = "LLaVA-OneVision"
    model_types = frozenset({"llava_onevision"})
    input_side = 384

    def _load_processor(self):
        return self._pretrained(_image_only_processor_class())

    def _load_model(self):
        from transformers import LlavaOnevisionForConditionalGeneration

        return self._pretrained(LlavaOnevisionForConditionalGeneration, dtype=self.dtype)


def build(entry, folder: str, options) -> LlavaOnevisionCaptioner:
    """The registry's hook (lucida.models.registry.FAMILIES): the captioner for `entry`, from the
    local folder the registry found its weights in."""
    return LlavaOnevisionCaptioner(entry.name, folder)
