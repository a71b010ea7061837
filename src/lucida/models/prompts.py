"""The prompt library for chat captioners (SmolVLM, LLaVA-OneVision, OpenAI-compatible APIs).

One place, so that every chat model is asked the same thing and captions from different
models can be compared. The catalog records a prompt by its name; the text may be refined, and
a refined text gets a new name so that captions stay traceable to what produced them.

Florence-2 is not a chat model: it takes task tokens (`FLORENCE_TASKS`) instead.
"""

from __future__ import annotations

from dataclasses import dataclass

from lucida.errors import LucidaError


@dataclass(frozen=True)
class CaptionPrompt:
    name: str
    text: str
    max_new_tokens: int  # a bound on runaway generation; a caption normally ends well before it


CAPTION_PROMPTS: dict[str, CaptionPrompt] = {
    p.name: p
    for p in [
        CaptionPrompt("short", "Write a one-sentence caption for this photo.", 48),
        CaptionPrompt(
            "detailed",
            "Describe this photo in detail in a short paragraph: what it shows, where, and how it looks.",
            160,
        ),
        # The study lucida grows from found detailed captions from tailored prompts retrieve best:
        # this one asks for the facts people search their photos by.
        CaptionPrompt(
            "retrieval",
            "Describe this photo so that someone could find it later by searching for it in plain words. "
            "Say who or what the main subjects are and how many of each, what they are doing, the setting "
            "(the kind of place, indoors or outdoors), the time of day and the light, the main colours, any "
            "visible text quoted exactly, the mood, and the photographic style (for example close-up, "
            "portrait, landscape, aerial, macro, black-and-white). Write plain sentences, not a list, and "
            "do not guess what you cannot see.",
            256,
        ),
    ]
}

DEFAULT_CHAT_PROMPT = "retrieval"

# Florence-2's captioning task tokens and the output budget each needs.
FLORENCE_TASKS: dict[str, int] = {
    "<CAPTION>": 48,
    "<DETAILED_CAPTION>": 128,
    "<MORE_DETAILED_CAPTION>": 256,
}

DEFAULT_FLORENCE_TASK = "<DETAILED_CAPTION>"


def caption_prompt(name: str) -> CaptionPrompt:
    """The library prompt called `name`; a LucidaError naming the choices when there is none."""
    prompt = CAPTION_PROMPTS.get(name)
    if prompt is None:
        raise LucidaError(f"unknown caption prompt {name!r}; choose one of: {', '.join(CAPTION_PROMPTS)}")
    return prompt


def florence_task(name: str) -> str:
    """`name` when it is a Florence-2 captioning task token; else a LucidaError naming the choices."""
    if name not in FLORENCE_TASKS:
        raise LucidaError(f"Florence-2 takes one of the task prompts {', '.join(FLORENCE_TASKS)}, not {name!r}")
    return name
