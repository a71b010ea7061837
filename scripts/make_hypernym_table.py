"""Writes src/lucida/models/data/imagenet1k_hypernyms.tsv from WordNet 3.0's noun database.

Run once by hand (Debian's `wordnet-base` installs the database in /usr/share/wordnet):

    python scripts/make_hypernym_table.py /usr/share/wordnet/data.noun

For every ImageNet-1k class it lists the synset's hypernyms, nearest first, over every
hypernym path, leaving out the few at the top of the hierarchy that describe everything
("entity", "object", "whole") and so find nothing.
"""

from __future__ import annotations

import sys
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "src/lucida/models/data"
# At or near the root of WordNet's noun hierarchy: true of nearly every class, useless as words.
TOO_GENERAL = {
    "entity", "physical entity", "object", "whole", "abstraction", "matter", "causal agent",
    "unit", "living thing", "organism", "physical object", "artifact", "instrumentality",
    "group", "psychological feature", "attribute", "relation", "measure", "thing", "part",
}


def read_nouns(path: Path) -> dict[str, tuple[list[str], list[str]]]:
    """offset -> (lemmas, hypernym offsets) for every noun synset."""
    synsets = {}
    for line in path.read_text("utf-8").splitlines():
        if line.startswith(" "):
            continue  # the licence header
        fields = line.split(" | ")[0].split()
        offset, word_count = fields[0], int(fields[3], 16)
        lemmas = [fields[4 + 2 * i].replace("_", " ") for i in range(word_count)]
        rest = fields[4 + 2 * word_count :]
        pointer_count = int(rest[0])
        hypernyms = [
            rest[1 + 4 * i + 1]
            for i in range(pointer_count)
            if rest[1 + 4 * i] in ("@", "@i") and rest[1 + 4 * i + 2] == "n"
        ]
        synsets[offset] = ([_strip_marker(lemma) for lemma in lemmas], hypernyms)
    return synsets


def _strip_marker(lemma: str) -> str:
    # Adjective-position markers such as "(p)" appear only on adjectives, but be safe.
    return lemma.split("(")[0]


def hypernyms(offset: str, synsets: dict[str, tuple[list[str], list[str]]]) -> list[str]:
    """Names of every ancestor, breadth first (nearest first), each once."""
    names: list[str] = []
    seen = {offset}
    frontier = list(synsets[offset][1])
    while frontier:
        following = []
        for parent in frontier:
            if parent in seen:
                continue
            seen.add(parent)
            lemmas, grandparents = synsets[parent]
            if lemmas[0] not in TOO_GENERAL:
                names.append(", ".join(lemmas[:2]))
            following.extend(grandparents)
        frontier = following
    return names


def main(data_noun: str) -> None:
    synsets = read_nouns(Path(data_noun))
    classes = [
        line.split("\t")[0]
        for line in (DATA / "imagenet1k_classes.tsv").read_text("utf-8").splitlines()
        if line and not line.startswith("#")
    ]
    lines = [
        "# ImageNet-1k class -> WordNet 3.0 hypernyms, nearest first, '|' between synsets.",
        "# Made by scripts/make_hypernym_table.py from Debian wordnet-base; WordNet licence in NOTICE.md.",
    ]
    for synset in classes:
        lines.append(f"{synset}\t{'|'.join(hypernyms(synset[1:], synsets))}")
    (DATA / "imagenet1k_hypernyms.tsv").write_text("\n".join(lines) + "\n", "utf-8")


if __name__ == "__main__":
    main(sys.argv[1])
