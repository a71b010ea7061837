"""The caption a person reads (lucida.display), from descriptions the real describer stored for
the real sample photos, from every ImageNet class's definition, and from a captioner's caption."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lucida.catalog import Catalog
from lucida.display import display_caption
from lucida.indexer import index_paths
from lucida.models import DEFAULT_DESCRIBER
from lucida.models.imagenet import describe_classes, load_imagenet_classes


@pytest.fixture(scope="module")
def stored(tmp_path_factory, sample_photos, describer, embedder) -> dict[str, object]:
    """photo name -> (its stored description, its ResultRow), indexed by the real models."""
    db = tmp_path_factory.mktemp("display") / "catalog.db"
    with Catalog.open(db) as catalog:
        index_paths(catalog, [str(sample_photos)], describer, embedder)
        found = {}
        for path, image_id in catalog.files_under(None):
            (description,) = catalog.image_record(image_id).descriptions
            found[Path(path).stem] = (description, catalog.result_rows([image_id])[image_id])
    return found


def test_every_stored_description_reads_as_a_short_caption_of_class_names(stored):
    assert len(stored) == 17
    for name, (description, row) in stored.items():
        caption = description.display
        assert description.describer == DEFAULT_DESCRIBER and description.kind == "describer"
        assert "(" not in caption and ")" not in caption, (name, caption)
        assert len(caption) <= 100, (name, caption)
        # The likeliest classes by their first name, in the classifier's order, at most three.
        names = caption.split(" — ")[0].split(", ")
        assert 1 <= len(names) <= 3
        assert names == [c["label"] for c in description.details["classes"][: len(names)]], (name, caption)
        # What the pixels showed, in short words: colours, or black and white.
        colours = description.details["fields"]["colours"]
        if colours.startswith("colours: "):
            assert colours.removeprefix("colours: ") in caption
        else:
            assert caption.endswith("black and white") or "black and white;" in caption
        # The search text is stored as the describer wrote it: definitions, categories and all.
        assert row.search_text == description.text and "(" in description.text
        assert row.caption == caption


def test_a_cat_reads_as_its_classes_a_broad_category_and_its_colours(stored):
    description, _ = stored["chelsea"]
    assert description.text.startswith("Egyptian cat (a domestic cat of Egypt).")
    assert "a kind of vertebrate, craniate; chordate; animal, animate being" in description.text
    names, rest = description.display.split(" — ")
    assert names.startswith("Egyptian cat")
    # "animal", and not "cat" again: the names say it already.
    assert rest.split("; ")[0] == "animal"
    assert rest.split("; ")[1] == description.details["fields"]["colours"].removeprefix("colours: ")


def test_without_fields_the_definitions_are_taken_out_of_the_text(stored):
    # An older catalog's description, or the bare classifier's: the text, glosses removed.
    for name, (description, _) in stored.items():
        caption = display_caption(description.text, None, "describer")
        assert "(" not in caption and ")" not in caption, (name, caption)
        assert caption.startswith(description.details["classes"][0]["label"])
        assert "  " not in caption and " ." not in caption and ".." not in caption


def test_every_imagenet_class_reads_as_its_first_name(describer):
    # Definitions with nested parentheses ("a sports implement (usually consisting of a handle
    # ...) used to strike a ball (or shuttlecock) ...") and names with dots ("R.V.") included.
    classes = load_imagenet_classes()
    for index, cls in enumerate(classes):
        probabilities = np.zeros(len(classes), dtype=np.float32)
        probabilities[index] = 1.0
        text = describe_classes(probabilities, classes).text
        assert display_caption(text, {"fields": {"classes": text}}, "describer") == cls.label
        bare = display_caption(text, None, "describer")
        assert "(" not in bare and ")" not in bare and bare.startswith(cls.label), (text, bare)


def test_an_unclosed_or_stray_parenthesis_never_shows():
    assert display_caption("tripod (a three-legged rack used", None, "describer") == "tripod"
    assert display_caption("tripod) stand.", None, "describer") == "tripod stand."


def test_people_and_text_in_the_photo_are_kept_briefly():
    fields = {
        "classes": "street sign (a sign visible from the street). traffic light, traffic signal, stoplight (a "
        "visual signal to control the flow of traffic).",
        "people": "two people, a couple, faces",
        "colours": "colours: grey, red",
        "light": "dim light, dusk or indoors",
        "focus": "blurry, out of focus",
        "shape": "landscape format",
        "text": "text in the photo: OPEN DAILY FROM NINE TO FIVE EXCEPT ON SUNDAYS AND HOLIDAYS",
    }
    caption = display_caption(" ".join(fields.values()), {"fields": fields}, "describer")
    assert caption == (
        "street sign, traffic light — two people; grey, red; dim light; blurry; "
        "text in the photo: OPEN DAILY FROM NINE TO FIVE EXCEPT ON…"
    )


def test_a_captioners_caption_is_shown_as_written_and_searched_as_stored(tmp_path):
    caption = "A tabby cat (Chelsea)\n  asleep on a\tgrey rug. "
    assert display_caption(caption, None, "captioner") == "A tabby cat (Chelsea) asleep on a grey rug."
    with Catalog.open(tmp_path / "c.db") as catalog:
        with catalog.transaction():
            image_id = catalog.add_image("h1", 10, 20, None)
            catalog.put_description(image_id, "blip-base", "", caption, None, "captioner")
            catalog.put_file("/p/a.jpg", 1, 1, image_id)
        row = catalog.result_rows([image_id])[image_id]
        assert row.caption == "A tabby cat (Chelsea) asleep on a grey rug." and row.search_text == caption
        assert catalog.image_record(image_id).preferred.display == row.caption

