"""The English words a query names in another language, so that BM25 finds them in a photo's
English words: "Fotos vom Dezember" names December, "photos d'Espagne" Spain, "冬" winter,
"rote Blume" red.

Only the fixed vocabulary lucida writes is translated: the months, weekdays, seasons and parts
of the day of metadata_text, the countries of its places, and the colours of pixels. Month,
weekday and country names are the Unicode CLDR's (data/cldr_names.tsv, written from babel by
scripts/make_language_table.py); CLDR has no seasons, parts of the day or colours, so those few
are typed below. Languages: French, German, Spanish, Italian, Portuguese, Dutch, Japanese.

A query in English gets nothing: a name that is also an English word ("mars", "rose",
"estate") is never translated, nor is a word of fewer than three letters ("mar", "re").
Reading the table costs about 20 ms, once, on the first query.
"""

from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import dataclass
from functools import cache

LANGUAGES = ("fr", "de", "es", "it", "pt", "nl", "ja")

# English words (as metadata_text and pixels write them): their forms in fr | de | es | it | pt |
# nl | ja, as CLDR has no seasons, parts of the day or colours. A trailing ~ stands for the
# language's regular adjective endings (_inflections); _ joins the words of one name.
_TYPED = {
    # Meteorological seasons.
    "winter": "hiver | | invierno | inverno | inverno | | 冬",
    "spring": "printemps | frühling frühjahr | primavera | primavera | primavera | lente voorjaar | 春",
    "summer": "été | sommer | verano | | verão | zomer | 夏",
    "autumn": "automne | herbst | otoño | autunno | outono | herfst najaar | 秋",
    # Parts of the day (time_words; pixels calls a dark photo "at night").
    "morning": "matin matinée | morgen morgens vormittag vormittags | mañana | mattina mattino | manhã"
    " | ochtend morgen | 朝 午前",
    "afternoon": "après-midi | nachmittag nachmittags | tarde | pomeriggio | tarde | middag | 午後",
    "evening": "soir soirée | abend abends | | sera | | avond | 夕方 晩",
    "night": "nuit | nacht nachts | noche | notte | noite | nacht | 夜",
    # The eleven colour names of pixels.COLOUR_NAMES, and its black and white.
    "black": "noir~ | schwarz~ | negro~ | nero~ | preto~ | zwart zwarte | 黒",
    "grey": "gris grise grises | grau~ | gris grises | grigio grigia grigi grigie | cinza cinzento~"
    " | grijs grijze | 灰色 グレー",
    "white": "blanc blancs blanche blanches | weiß~ | blanco~ | bianco bianca bianchi bianche | branco~"
    " | wit witte | 白",
    "red": "rouge~ | rot~ | rojo~ | rosso~ | vermelho~ | rood rode | 赤",
    "orange": "| orangefarben~ | naranja | arancione~ arancio | laranja | oranje | オレンジ 橙",
    "yellow": "jaune~ | gelb~ | amarillo~ | giallo~ | amarelo~ | geel gele | 黄",
    "green": "vert~ | grün~ | verde~ | verde~ | verde~ | groen groene | 緑",
    "blue": "bleu~ | blau~ | azul~ | blu azzurro~ | azul azuis | blauw blauwe | 青",
    "purple": "violette violettes | lila violett~ | morado~ violeta púrpura | violetto~ porpora"
    " | roxo~ púrpura | paars paarse | 紫",
    "pink": "| rosa | rosa | rosa | rosa | roze | ピンク 桃色",
    "brown": "marron~ brun~ | braun~ | marrón~ | marrone~ | marrom castanho~ | bruin bruine | 茶色",
    "black white monochrome": "noir_et_blanc | schwarzweiß schwarz-weiß | blanco_y_negro | bianco_e_nero"
    " | preto_e_branco | zwart-wit zwartwit | 白黒 モノクロ",
    # What CLDR names only in full: アメリカ合衆国 and the like.
    "united states": "| | | | | | アメリカ 米国",
    "united kingdom": "| | | | | | 英国",
}
# Names that are English words too, as typed ("rose" is pink in French, "mars" March, "rode"
# red in Dutch): an English query with them must get nothing. With its accents a name is plain
# French ("soirée", "março"), without them it may be English ("soiree") or a name ("Marco").
# Also names that are people's or places' more often (Maurice, Dominique, Granada), and other
# words spelt the same (Spanish "será", will be, is not Italian "sera", evening).
_NOT_TRANSLATED = frozenset(
    """mars rose roses mauve violet violets viola estate wit rot rode mayo chili island
    grenade matinee soiree sera será franca suede oma ira marco marcos maurice dominique
    mauricio granada guadalupe""".split()
)
# Names holding a name that they do not mean: Rio de Janeiro is not January, 赤ちゃん (a baby)
# is not red, 面白い (interesting) not white.
_NOT_NAMES = ("rio de janeiro", "santo domingo", "mardi gras", "赤ちゃん", "赤ん坊", "面白")
# Modifiers of a German or Dutch colour that make one word with it: hellblau, sattgrün.
_COLOUR_MODIFIERS = ("hell", "dunkel", "satt", "blass", "tief", "knall", "zart", "licht", "donker", "fel")
# pixels.COLOUR_NAMES, without importing numpy and Pillow.
_COLOURS = ("black", "grey", "white", "red", "orange", "yellow", "green", "blue", "purple", "pink", "brown")

_WORD = re.compile(r"\w+")
_LATIN_MARKS = re.compile("[\u0300-\u036f]")  # not the Japanese (han)dakuten of ジ and パ


def english_equivalents(query: str) -> list[str]:
    """The English metadata words the query names in another language, lower case, each once:
    "photos d'hiver en Espagne" -> ["winter", "spain"]. Empty for an English query."""
    table = _table()
    typed = _WORD.findall(unicodedata.normalize("NFKC", query).casefold())
    folded = [fold(word) for word in typed]
    found: list[str] = []
    if not query.isascii() and is_japanese(query):
        found += _japanese_names(fold(query), table)
    i = 0
    while i < len(folded):
        for n in range(min(table.longest, len(folded) - i), 0, -1):
            name = " ".join(folded[i : i + n])
            if n == 1 and (len(name) < 3 or typed[i] in _NOT_TRANSLATED):
                continue
            if name in table.names:
                found += table.names[name]
                i += n
                break
        else:
            found += _inflected(typed[i], folded[i], table)
            i += 1
    return list(dict.fromkeys(found))


def english_name(word: str) -> list[str]:
    """The English words of one name in the table ("rote" -> red, "Spanien" -> spain); [] for
    any other word (no compounds or endings: see english_equivalents), and for a name that is
    an English word too or shorter than three letters ("mars", "mar")."""
    if len(word) < 3 or word.casefold() in _NOT_TRANSLATED:
        return []
    return _table().names.get(fold(word), [])


def fold(text: str) -> str:
    """Case and accents away, widths unified: "Décembre" and "decembre", "１２月" and "12月"."""
    text = unicodedata.normalize("NFD", unicodedata.normalize("NFKC", text).casefold())
    return unicodedata.normalize("NFC", _LATIN_MARKS.sub("", text))


def _inflected(typed: str, word: str, table: _Table) -> list[str]:
    """A word that is a name with an ending or in a compound: German genitives (Spaniens,
    Dezembers), German and Dutch compounds (Herbstlaub, Schwarzweißfotos, sattgrünes)."""
    if len(word) < 4 or typed in _NOT_TRANSLATED or typed[:-1] in _NOT_TRANSLATED or word in table.english:
        return []
    if word.endswith("s") and len(word) >= 5 and word[:-1] in table.names:
        return table.names[word[:-1]]
    for prefix in _COLOUR_MODIFIERS:
        if word.startswith(prefix) and word[len(prefix) :] in table.colour_of:
            return [table.colour_of[word[len(prefix) :]]]
    for length in range(len(word) - 3, 4, -1):
        if word[:length] in table.compound_heads:
            return table.names[word[:length]]
    return []


@dataclass(frozen=True)
class _Table:
    names: dict[str, list[str]]  # folded name (its words joined by one space) -> English words
    longest: int  # words in the longest name
    japanese: dict[str, list[str]]  # Japanese names, written without spaces
    japanese_longest: int
    english: frozenset[str]  # every English word the names stand for
    colour_of: dict[str, str]  # German and Dutch colour words -> the English colour
    compound_heads: frozenset[str]  # German and Dutch words that begin compounds: Herbst(laub)


@cache
def _table() -> _Table:
    names: dict[str, list[str]] = {}
    japanese: dict[str, list[str]] = {}
    colour_of, heads = {}, set()
    for language, name, english, base in _cldr_rows() + _typed_rows():
        words = _WORD.findall(english.lower())
        if language == "ja":
            japanese.setdefault(fold(name), words)
            continue
        key = " ".join(_WORD.findall(fold(name)))
        if set(key.split()) <= set(_WORD.findall(fold(english))):
            continue  # the English name, or a part of it: Norfolk for Norfolk Island
        names.setdefault(key, [])
        names[key] += [w for w in words if w not in names[key]]
        if language in ("de", "nl") and english in _COLOURS:
            colour_of[key] = english
        if language in ("de", "nl") and base and len(key) >= 5 and " " not in key:
            heads.add(key)
    # An English name in another language's words ("Mexico" for Mexico City in French) is the
    # query's own word; only a part of one ("verde" of Cabo Verde) may still be translated.
    english_names = {" ".join(words) for words in [*names.values(), *japanese.values()]}
    names = {k: v for k, v in names.items() if k not in english_names}
    english = frozenset(w for name in english_names for w in name.split())
    # An English name of several words is read whole: "Cabo Verde" is not green.
    names.update((name, []) for name in english_names if " " in name and name not in names)
    for name in _NOT_NAMES:
        (japanese if is_japanese(name) else names)[fold(name)] = []
    return _Table(
        names=names,
        longest=max(k.count(" ") + 1 for k in names),
        japanese=japanese,
        japanese_longest=max(map(len, japanese)),
        english=english,
        colour_of=colour_of,
        compound_heads=frozenset(heads & names.keys()),
    )


def _japanese_names(text: str, table: _Table) -> list[str]:
    """The English words of the Japanese names in a text, which has no spaces between words:
    the longest name at each place, a katakana name only as a whole katakana word (タイ,
    Thailand, is not in ネクタイ), a numbered month not inside a number (2月 is not in 12月)."""
    found: list[str] = []
    i = 0
    while i < len(text):
        for n in range(min(table.japanese_longest, len(text) - i), 0, -1):
            name = text[i : i + n]
            if name in table.japanese and not (
                (_is_katakana(name[0]) and i > 0 and _is_katakana(text[i - 1]))
                or (_is_katakana(name[-1]) and i + n < len(text) and _is_katakana(text[i + n]))
                or (name[0].isdigit() and i > 0 and text[i - 1].isdigit())
            ):
                found += table.japanese[name]
                i += n
                break
        else:
            i += 1
    return found


def is_japanese(text: str) -> bool:
    """Whether the text has kana or kanji (a regular expression of them takes ms to compile)."""
    return any("\u3040" <= char <= "\u30ff" or "\u3400" <= char <= "\u9fff" for char in text)


def _is_katakana(char: str) -> bool:
    return "\u30a0" <= char <= "\u30ff"


def _cldr_rows() -> list[tuple[str, str, str, bool]]:
    """(language, name, English, False) from data/cldr_names.tsv: names of no compounds."""
    with open(os.path.join(os.path.dirname(__file__), "data", "cldr_names.tsv"), encoding="utf-8") as table:
        text = table.read()
    return [
        (fields[0], fields[2], fields[3], False)
        for fields in (line.split("\t") for line in text.splitlines() if line and not line.startswith("#"))
    ]


def _typed_rows() -> list[tuple[str, str, str, bool]]:
    """(language, name, English, whether it is a base form) from _TYPED, adjective endings
    spelt out. A base form is none of the others with an ending: zwart, not zwarte."""
    rows = []
    for english, forms in _TYPED.items():
        for language, names in zip(LANGUAGES, forms.split("|")):
            bases: list[str] = []
            for name in names.split():
                for form in _inflections(language, name):
                    base = not any(form.startswith(b) for b in bases)
                    bases += [form] if base else []
                    rows.append((language, form.replace("_", " "), english, base))
    return rows


def _inflections(language: str, name: str) -> list[str]:
    """A colour adjective with its gender and number endings: "vert~" -> vert, verte, verts,
    vertes. Only the regular ones; the irregular are typed out in _TYPED."""
    if not name.endswith("~"):
        return [name]
    stem = name[:-1]
    if language == "fr":
        return [stem, stem + "s"] if stem.endswith("e") else [stem, stem + "e", stem + "s", stem + "es"]
    if language == "de":
        return [stem] + [stem + ending for ending in ("e", "er", "es", "en", "em")]
    if language in ("es", "pt", "it") and stem.endswith("o"):
        endings = ("a", "i", "e") if language == "it" else ("a", "os", "as")
        return [stem] + [stem[:-1] + ending for ending in endings]
    if language == "it":  # verde, verdi
        return [stem, stem[:-1] + "i"]
    return [stem, stem + ("s" if stem[-1] in "aeiou" else "es")]  # verdes, azules
