"""A description as a person reads it: the caption lucida shows and exports.

A describer's text is written for search: every likely class with its WordNet definition, a
dozen categories, the pixel facts as synonyms ("Egyptian cat (a domestic cat of Egypt). tabby,
tabby cat (a cat with a grey or tawny coat ...). a kind of vertebrate, craniate; chordate; ...").
BM25 reads that text as it is stored, and the search vectors are made of it without its
definitions (concepts.embedded_text). A person reads a short
caption made from the same description: its class names, a category word or two and what the
pixels show ("Egyptian cat, tabby — animal; brown, orange"). `display_caption` is the one place
that rule lives: the search results, the web page, `export-xmp` and `lucida eval`'s
captions.jsonl all call it.
"""

from __future__ import annotations

import re

# The likeliest classes a caption names, in the order the description names them.
_MOST_CLASSES = 3
# OCR words past this many characters are cut: the caption says there is text, the search
# text keeps all of it.
_MOST_TEXT_CHARACTERS = 40

# The WordNet categories (as the hypernyms signal names them) a caption may name: at most one
# kind of thing a photographer would call it ("dog", "coffee"), and one broad word ("animal"). Others ("placental",
# "covering", "conveyance, transport") say little to a person. Named by their first lemma.
_KINDS = frozenset(
    {
        "dog, domestic dog", "cat, true cat", "bird", "fish", "shark", "whale", "seal", "insect", "butterfly",
        "spider", "crab", "snake, serpent", "lizard", "turtle", "frog, toad", "monkey", "ape", "bear",
        "horse, Equus caballus", "sheep", "cattle, cows", "rodent, gnawer", "rabbit, coney",
        "flower", "fungus", "edible fruit", "vegetable, veggie",
        "beverage, drink", "coffee, java", "dish", "bread, breadstuff", "dessert, sweet", "sandwich",
        "car, auto", "truck, motortruck", "bus, autobus", "train, railroad train", "locomotive, engine",
        "bicycle, bike", "motorcycle, bike", "boat", "ship", "aircraft",
        "house", "shop, store", "bridge, span", "mountain, mount", "shore",
        "furniture, piece of furniture", "seat", "lamp", "clock", "timepiece, timekeeper",
        "computer, computing machine", "telephone, phone", "camera, photographic camera",
        "home appliance, household appliance", "footwear, footgear", "hat, chapeau", "bag", "bottle",
        "ball", "tool", "weapon, arm",
    }
)  # fmt: skip
_BROAD = frozenset(
    {
        "animal, animate being", "plant, flora", "food, nutrient", "food, solid food", "vehicle",
        "building, edifice", "musical instrument, instrument", "clothing, article of clothing",
    }
)  # fmt: skip


def display_caption(text: str, details: dict | None, kind: str) -> str:
    """The caption a person reads for a stored description (`text`, `details` and `kind` as the
    catalog keeps them; kind "captioner" or "describer").

    - a captioner's caption: itself, whitespace normalised (with pixel signals added, the
      caption without them);
    - a describer's description with fields (lucida.models.signals): its likeliest class names
      (at most three, no definitions), one kind and one broad category word when the
      description names them and the names do not already say them, then the photo's
      people, colours, light, focus and text in short words:
      "Egyptian cat, tabby — animal; brown, orange";
    - any other description: its text without anything in parentheses (the WordNet
      definitions), its punctuation tidied.
    """
    fields = (details or {}).get("fields")
    fields = fields if isinstance(fields, dict) else {}
    if kind == "captioner":
        return " ".join(str(fields.get("classes") or text).split())
    names = _class_names(str(fields.get("classes") or ""))
    if not names:
        return _without_glosses(text)
    shown_words = _words(" ".join(names))
    categories = []
    for word in _category_words(str(fields.get("categories") or "")):
        if not _words(word) <= shown_words:
            categories.append(word)
            shown_words |= _words(word)
    tail = [", ".join(categories)] if categories else []
    tail += [_first_phrase(fields.get(name)) for name in ("people", "colours", "light", "focus")]
    tail.append(_photo_text(fields.get("text")))
    tail = [part for part in tail if part]
    head = ", ".join(names)
    return f"{head} — {'; '.join(tail)}" if tail else head


def _outside_parentheses(text: str) -> list[str]:
    """The runs of `text` outside parentheses, nested ones included. A ')' with no '(' is
    dropped; an unclosed '(' hides the rest (a definition cut short)."""
    runs, current, depth, start = [], [], 0, 0
    # From parenthesis to parenthesis rather than character by character: a page of twenty
    # describer texts costs 0.3 ms instead of 3.
    for match in _PARENTHESIS.finditer(text):
        at = match.start()
        if depth == 0:
            current.append(text[start:at])
        if text[at] == "(":
            if depth == 0:
                runs.append("".join(current))
                current = []
            depth += 1
        else:
            depth = max(depth - 1, 0)
        start = at + 1
    if depth == 0:
        current.append(text[start:])
    runs.append("".join(current))
    return runs


_PARENTHESIS = re.compile(r"[()]")


def _without_glosses(text: str) -> str:
    tidy = " ".join("".join(_outside_parentheses(text)).split())
    tidy = re.sub(r"\s+([.,;:!?])", r"\1", tidy)  # "cat ." -> "cat."
    tidy = re.sub(r"([.,;:])(?:\s*[.,;:])+", r"\1", tidy)  # "cat.." or "cat, ." -> "cat."
    return tidy.strip(" ,;:")


def _class_names(classes: str) -> list[str]:
    """The first name of each class the classes field lists ("Egyptian cat (a domestic cat of
    Egypt). tabby, tabby cat (a cat ...)." -> Egyptian cat, tabby), the likeliest first."""
    names: dict[str, str] = {}
    for run in _outside_parentheses(classes):
        name = run.strip(" .").split(",")[0].strip()
        if name:
            names.setdefault(name.lower(), name)
    return list(names.values())[:_MOST_CLASSES]


def _category_words(categories: str) -> list[str]:
    """One kind and one broad word from the categories field ("a kind of vertebrate, craniate;
    ...; cat, true cat; ..."). The field names the categories that hold the most probability
    first, so a broader one before a narrower: the kind is the last named, the broad word the
    first."""
    named = [c.strip() for c in categories.removeprefix("a kind of ").split(";")]
    kind = next((c for c in reversed(named) if c in _KINDS), None)
    broad = next((c for c in named if c in _BROAD), None)
    words = [c.split(",")[0] for c in (kind, broad) if c]
    return list(dict.fromkeys(words))


def _first_phrase(field: object) -> str:
    """A signal's words, shortened: "colours: grey, black" -> "grey, black"; "black and white
    photo, monochrome, greyscale" -> "black and white"; "dim light, dusk or indoors" -> "dim light"."""
    if not field:
        return ""
    words = str(field)
    if words.startswith("colours:"):
        return words.removeprefix("colours:").strip()
    return words.split(",")[0].removesuffix(" photo").strip()


def _photo_text(field: object) -> str:
    """"text in the photo: OPEN DAILY", cut to a few words when there are many."""
    if not field:
        return ""
    words = " ".join(str(field).split())
    if len(words) > len("text in the photo: ") + _MOST_TEXT_CHARACTERS:
        words = words[: len("text in the photo: ") + _MOST_TEXT_CHARACTERS].rsplit(" ", 1)[0] + "…"
    return _without_glosses(words)


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", text.lower()))
