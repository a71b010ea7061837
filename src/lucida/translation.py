"""A query in French, German, Spanish, Italian, Portuguese, Dutch or Japanese, in English words:
"une grenouille" -> "frog", "un phare sur une falaise" -> "lighthouse cliff", "野原の馬" ->
"field horse". The descriptions lucida searches are English (the describer's
WordNet words, a captioner's captions), and so is the default embedder; a query in English
words finds what its English twin finds.

Word by word, from the FreeDict bilingual dictionaries that Debian ships
(`dict-freedict-fra-eng` and the others, `make system-deps`), read where dictd keeps them. They
are compiled once per machine into a small SQLite file in lucida's cache, so a search looks its
words up in a millisecond. Without the dictionaries a query is searched as typed, as before.

- **Which language.** A query is translated only when more of its words are that language's than
  English (articles and prepositions count double), so "a cat", "pizza" and "chat room" stay
  English and "un chat" is French. Kana or kanji make it Japanese.
- **Which sense.** A word has several ("Hund": a mine car, a dog). A translation that is a word
  the describer writes (an ImageNet class or one of its WordNet categories) wins, else the
  dictionary's first (JMdict's common words first); see _best.
- **Names stay**: lucida.languages' colours, months and countries ("rote" is red, not a
  communist), a query whose words are all capitalised in a language that writes nouns in
  lower case ("Picos de Europa"), numbers, and any word no dictionary has. Articles and
  prepositions are dropped.
- Word by word, it misses idioms and inflections a dictionary lacks: "coucher de soleil"
  becomes "put to bed sun", German "Blättern" (leaves) the verb "scroll".
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import os
import re
import sqlite3
import threading
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from lucida.languages import english_equivalents, english_name, fold, is_japanese

log = logging.getLogger(__name__)

# ISO 639-3 (FreeDict's file names) -> the two-letter codes lucida.languages uses.
DICTIONARIES = {"fra": "fr", "deu": "de", "spa": "es", "ita": "it", "por": "pt", "nld": "nl", "jpn": "ja"}
DICTD_FOLDERS = ("/usr/share/dictd", "/usr/local/share/dictd")
# Bump when the compiled form changes: an old cache file is then compiled again.
_FORMAT = 1
# Translations kept per headword (in order of preference).
_PER_WORD = 8
# Headwords whose translations must hold an English word for it to count as a common one.
_COMMON_ENGLISH = 3

# Words that say which language a query is in: articles, prepositions, conjunctions.
FUNCTION_WORDS = {
    "en": "a an the of on in at to for from with without by and or over under near into through",
    "fr": "un une des le la les de du d l au aux sur sous dans en et avec sans par pour entre parmi près",
    "de": "ein eine einen einem einer der die das den dem des im am auf über unter mit ohne und von vom"
    " aus bei beim zum zur ins an in",
    "es": "un una unos unas el la los las de del en sobre con sin y por para entre junto al",
    "it": "un una uno il lo la i gli le di del della dei delle in su sul sulla con senza e per tra fra al",
    "pt": "um uma o a os as de do da dos das em no na nos nas sobre com sem e por para",
    "nl": "een de het van in op onder met zonder en bij aan uit over",
}
_FUNCTION = {language: frozenset(words.split()) for language, words in FUNCTION_WORDS.items()}
# Japanese particles and other grammar a query may hold: never translated, never words.
_JAPANESE_GRAMMAR = frozenset("の に を が は で と へ や から まで より も な た".split())
_WORD = re.compile(r"[^\W_]+(?:-[^\W_]+)*", re.UNICODE)
_ELISION = re.compile(r"\b(d|l|qu|j|n|s|c|dell|dall|nell|sull|all|un)['’]", re.IGNORECASE)


@dataclass(frozen=True)
class Translation:
    language: str  # the query's language ("fr"), or "en" when it was not translated
    text: str  # the query in English words (the query itself when not translated)


def translate_query(query: str, holds: Callable[[str], bool] | None = None, language: str | None = None) -> Translation:
    """The query in English words when it is in one of DICTIONARIES' languages; else itself.
    `holds(word)`: whether the catalog's words (descriptions, metadata) have this lower-case
    word. A query whose words the catalog has is searched as typed: a place ("Picos de
    Europa"), a keyword in the photographer's own language, a name. `language`: the query's,
    when known (an excluded word is in its query's language: "un animal sans chat")."""
    words = _words(query)
    if holds is not None and _held(query, words, holds):
        return Translation("en", query)
    dictionary = _available()
    if dictionary is None or not words:
        return Translation("en", query)
    if is_japanese(query):
        english = dictionary.japanese(query)
        return Translation("ja", " ".join(english)) if english else Translation("en", query)
    if language is None or language not in dictionary.languages | {"en"}:
        language = dictionary.language_of(words)
    if language == "en" or _a_name(words, language):
        return Translation("en", query)
    return Translation(language, " ".join(dictionary.translated(words, language)) or query)


def prepare() -> None:
    """Compile the dictionaries now if they need it (the server does it as it starts, not on a
    visitor's first query in another language)."""
    _dictionary()


def dictionaries_installed() -> bool:
    """Whether any of the FreeDict dictionaries is where lucida looks for them."""
    return bool(_installed_sources())


def query_language(query: str) -> str:
    """The language a query is in, as translate_query reads it: "en" for English, and for a
    query it cannot tell (no dictionaries, a tie with English)."""
    dictionary = _available()
    words = _words(query)
    if dictionary is None or not words:
        return "en"
    return "ja" if is_japanese(query) else dictionary.language_of(words)


def _a_name(words: list[str], language: str) -> bool:
    """Whether the query is a name: two words or more, each capitalised, in a language that
    writes its nouns in lower case ("Picos de Europa", "Café de Flore"; German capitalises
    every noun, so "Fotos aus Spanien" says nothing)."""
    content = [w for w in words if len(w) > 1 and w.casefold() not in _FUNCTION[language]]
    return language not in ("de", "ja") and len(content) >= 2 and all(w[0].isupper() for w in content)


def _held(query: str, words: list[str], holds: Callable[[str], bool]) -> bool:
    """Whether the catalog has every word of the query that is not an article or preposition."""
    if is_japanese(query):
        return holds(unicodedata.normalize("NFKC", query).casefold().strip())
    content = [
        w.casefold()
        for w in words
        if len(w) > 1 and not _numeric(w) and not any(w.casefold() in f for f in _FUNCTION.values())
    ]
    return bool(content) and all(holds(word) for word in content)


def _words(text: str) -> list[str]:
    return _WORD.findall(_ELISION.sub(lambda m: m.group(1) + " ", unicodedata.normalize("NFKC", text)))


class Dictionary:
    """The compiled dictionaries: (language, folded headword) -> English translations."""

    def __init__(self, path: Path):
        self._path = path
        self._local = threading.local()
        # Reads both tables, so a damaged file shows here rather than in a search.
        self.languages = frozenset(
            row[0] for row in self._db().execute("SELECT DISTINCT language FROM translations")
        )
        self._db().execute("SELECT count(*) FROM english").fetchone()

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = sqlite3.connect(f"file:{self._path}?mode=ro", uri=True, check_same_thread=False)
        return db

    def lookup(self, language: str, word: str) -> list[list[str]]:
        """The word's entries (senses), each its translations in order; [] when it has none."""
        row = self._db().execute(
            "SELECT english FROM translations WHERE language = ? AND word = ?", (language, word)
        ).fetchone()
        return [entry.split("|") for entry in row[0].split("\t")] if row else []

    def common_english(self, words: list[str]) -> set[str]:
        """Those of the (lower-case) words that are common English ones: in the translations of
        several headwords (a rare one, "rouge" or "fleur", is more likely the other language's)."""
        folded = {word: fold(word) for word in words}
        common = self._present("SELECT word FROM english WHERE uses >= ?", _COMMON_ENGLISH, folded.values())
        return {word for word, key in folded.items() if key in common}

    def language_of(self, words: list[str]) -> str:
        """The language most of the words are in; "en" on a tie with English. Numbers say
        nothing. A language that could not beat English even if the dictionary had every word
        is not looked up, so an English query costs one lookup of its words."""
        lowered = [w.casefold() for w in words if not _numeric(w)]
        if not lowered:
            return "en"
        english = self.common_english(lowered)
        scores = {"en": sum(2 if w in _FUNCTION["en"] else int(w in english) for w in lowered)}
        for language in sorted(self.languages - {"ja"}):
            function = _FUNCTION[language]
            if sum(2 if w in function else 1 for w in lowered) <= scores["en"]:
                continue
            known = self._known(language, [w for w in lowered if w not in function])
            scores[language] = sum(2 if w in function else int(w in known) for w in lowered)
        best = max(scores.values())
        return "en" if scores["en"] == best else max(scores, key=scores.get)

    def _known(self, language: str, words: list[str]) -> set[str]:
        """Those of the (lower-case) words the language's dictionary has, as _found reads them,
        in one lookup."""
        forms = {word: _forms(word, language) for word in words}
        every = {form for found in forms.values() for form in found}
        present = self._present("SELECT word FROM translations WHERE language = ?", language, every)
        return {word for word, found in forms.items() if any(form in present for form in found)}

    def _present(self, select: str, parameter: object, words: Iterable[str]) -> set[str]:
        """Those of `words` that `select` (a query of one parameter) finds, in one lookup."""
        keys = sorted(set(words))
        if not keys:
            return set()
        marks = ",".join("?" * len(keys))
        return {word for (word,) in self._db().execute(f"{select} AND word IN ({marks})", (parameter, *keys))}

    def translated(self, words: list[str], language: str) -> list[str]:
        """The words in English: the names lucida.languages knows (colours, months, places) by
        their English words, each phrase the dictionary has (longest first) by its best
        translation, articles and prepositions dropped, a word no dictionary has as it is."""
        english: list[str] = []
        i = 0
        while i < len(words):
            for n in range(min(4, len(words) - i), 0, -1):
                phrase = " ".join(words[i : i + n]).casefold()
                if n == 1 and phrase in _FUNCTION[language]:
                    i += 1
                    break
                named = english_name(phrase) if n == 1 else []
                # "rote" is red here, not "die Rote" (a communist)
                found = [[" ".join(named)]] if named else self._found(language, phrase)
                if n == 1 and not found and (named := english_equivalents(phrase)):
                    found = [[" ".join(named)]]  # Schwarzweißfotos
                if found:
                    english.append(_best(found))
                    i += n
                    break
            else:
                parts = words[i].split("-")
                if len(parts) > 1:  # "au-dessus", "E-Gitarre": the parts the dictionary has
                    entries = [self._found(language, part.casefold()) for part in parts]
                    english += [_best(found) for found in entries if found]
                else:
                    english.append(words[i])
                i += 1
        return english

    def japanese(self, text: str) -> list[str]:
        """A Japanese query's words in English: the longest headword at each place."""
        text = _hiragana(unicodedata.normalize("NFKC", text).casefold())
        english: list[str] = []
        i = 0
        while i < len(text):
            if not text[i].strip():
                i += 1
                continue
            for n in range(min(12, len(text) - i), 0, -1):
                piece = text[i : i + n]
                if n == 1 and piece in _JAPANESE_GRAMMAR:
                    i += 1
                    break
                found = self.lookup("ja", piece)
                if found:
                    english.append(_best(found))
                    i += n
                    break
            else:
                i += 1  # a character no word starts with
        return english

    def _found(self, language: str, word: str) -> list[list[str]]:
        """The entries of the first of a (lower-case) word's forms (_forms) the dictionary has."""
        for form in _forms(word, language):
            if found := self.lookup(language, form):
                return found
        return []


def _numeric(word: str) -> bool:
    """Whether a word holds a digit ("2019", "70-200mm"): no evidence of any language, nor a
    word a catalog must hold for the query to stay as typed."""
    return any(char.isdigit() for char in word)


def _forms(word: str, language: str) -> list[str]:
    """The headwords a (lower-case) word may be under, most likely first: itself, its dictionary
    form (a plural, an adjective's ending), itself without accents. A phrase only as it is."""
    return [word] if " " in word else [word, *_dictionary_forms(word, language), fold(word)]


def _hiragana(text: str) -> str:
    """Katakana as hiragana: JMdict's index has ラクダ's word under らくだ only."""
    return "".join(chr(ord(c) - 0x60) if "\u30a1" <= c <= "\u30f6" else c for c in text)


def _dictionary_forms(word: str, language: str) -> list[str]:
    """Candidate base forms of an inflected word, most likely first."""
    forms: list[str] = []
    if len(word) < 4:
        return forms
    if language in ("fr", "es", "pt", "nl"):
        if word.endswith("aux") and language == "fr":
            forms.append(word[:-3] + "al")
        if word.endswith("x") and language == "fr":
            forms.append(word[:-1])
        if word.endswith("es"):
            forms.append(word[:-2])
        if word.endswith("s"):
            forms.append(word[:-1])
        if language == "nl" and word.endswith("en"):
            forms += [word[:-2], word[:-1]]
        if word.endswith(("e", "a")) and language in ("fr", "es", "pt"):  # feminine adjectives
            forms += [word[:-1], word[:-1] + "o"]
    elif language == "it":
        if word.endswith("i"):
            forms += [word[:-1] + "o", word[:-1] + "e"]
        if word.endswith("e"):
            forms += [word[:-1] + "a", word[:-1] + "o"]
        if word.endswith("a"):
            forms.append(word[:-1] + "o")
    elif language == "de":
        for ending in ("en", "er", "es", "em", "n", "e", "s"):
            if word.endswith(ending):
                forms.append(word[: -len(ending)])
    return [form for form in forms if len(form) >= 3]


def _best(entries: list[list[str]]) -> str:
    """A word's most likely translation for a photo search: the first entry (sense) whose first
    translation names something the describer writes ("Hund" is first a mine car, then a dog),
    else the first such word in any entry ("fleur": bloom, flower -> flower; "feuille": leaf,
    sheet -> sheet, the price of the rule), else the first translation."""
    vocabulary = _describer_vocabulary()

    def named(english: str) -> bool:
        english = english.lower()
        return english in vocabulary or english.removesuffix("s") in vocabulary

    for translations in entries:
        if named(translations[0]):
            return translations[0]
    for translations in entries:
        for english in translations:
            if named(english):
                return english
    return entries[0][0]


@cache
def _describer_vocabulary() -> frozenset[str]:
    """Every lemma of the ImageNet classes and their WordNet categories, lower case."""
    from lucida.models.imagenet_classes import load_imagenet_classes, load_imagenet_hypernyms

    lemmas = {lemma.lower() for c in load_imagenet_classes() for lemma in c.lemmas}
    for names in load_imagenet_hypernyms():
        lemmas.update(lemma.strip().lower() for name in names for lemma in name.split(","))
    return frozenset(lemmas)


_lock = threading.Lock()
# Set while a thread compiles the dictionaries (lucida serve's, as it starts).
_compiling = threading.Event()


def _available() -> Dictionary | None:
    """The dictionaries for a query: None while another thread is compiling them, so that a
    server's first searches are answered as typed rather than after a 15-30 s wait (a new CLI
    process compiles them itself, once)."""
    if _compiling.is_set():
        return None
    return _dictionary()


@cache
def _dictionary() -> Dictionary | None:
    """The compiled dictionaries, compiled now if the installed ones changed; None without any."""
    sources = _installed_sources()
    if not sources:
        return None
    from lucida.models.packaged import cache_root

    stamp = ";".join(
        f"{language}:{os.stat(index).st_size}:{os.stat(data).st_size}:{int(os.stat(data).st_mtime)}"
        for language, (index, data) in sorted(sources.items())
    )
    key = hashlib.sha256(f"{_FORMAT}:{stamp}".encode()).hexdigest()[:16]
    path = cache_root() / "dictionaries" / f"freedict-{key}.sqlite"
    with _lock:
        for attempt in (1, 2):
            try:
                if not path.exists():
                    log.warning("queries in other languages: preparing the dictionaries, once (10-30 s)")
                    _compiling.set()
                    try:
                        _compile(sources, path)
                    finally:
                        _compiling.clear()
                    _remove_older(path)
                return Dictionary(path)
            except sqlite3.DatabaseError as error:  # a damaged compiled file: made again, once
                if attempt == 2 or not path.exists():
                    problem: Exception = error
                    break
                log.warning("the compiled dictionaries are damaged (%s); making them again", error)
                path.unlink(missing_ok=True)
            except (OSError, sqlite3.Error, ValueError, KeyError) as error:  # a read-only cache, unreadable sources
                problem = error
                break
    log.warning("queries in other languages are searched as typed: the dictionaries: %s", problem)
    return None


def _remove_older(path: Path) -> None:
    """Other compiled dictionaries in the folder (of packages since upgraded): 65 MB each."""
    for older in path.parent.glob("freedict-*.sqlite"):
        if older != path:
            older.unlink(missing_ok=True)


def _installed_sources() -> dict[str, tuple[str, str]]:
    """language -> (index file, data file) of each FreeDict dictionary installed."""
    found: dict[str, tuple[str, str]] = {}
    folders = [os.environ["LUCIDA_DICTIONARIES"]] if os.environ.get("LUCIDA_DICTIONARIES") else list(DICTD_FOLDERS)
    for folder in folders:
        for code, language in DICTIONARIES.items():
            index = os.path.join(folder, f"freedict-{code}-eng.index")
            data = os.path.join(folder, f"freedict-{code}-eng.dict.dz")
            if language not in found and os.path.exists(index) and os.path.exists(data):
                found[language] = (index, data)
    return found


def _compile(sources: dict[str, tuple[str, str]], path: Path) -> None:
    """Write the dictionaries' headwords and translations into an SQLite file (atomically)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    partial.unlink(missing_ok=True)
    db = sqlite3.connect(partial)
    db.execute("CREATE TABLE translations (language TEXT, word TEXT, english TEXT, PRIMARY KEY (language, word))")
    db.execute("CREATE TABLE english (word TEXT PRIMARY KEY, uses INTEGER)")
    uses: dict[str, int] = {}
    for language, (index, data) in sources.items():
        entries = _read_dictionary(index, data, language)
        rows = {word: "\t".join("|".join(entry) for entry in found) for word, found in entries.items()}
        db.executemany("INSERT INTO translations VALUES (?, ?, ?)", ((language, w, e) for w, e in rows.items()))
        # Without accents too ("ecureuil"), where that is no other word ("Blattern" is not Blättern).
        folded = {fold(w): e for w, e in rows.items() if fold(w) != w and fold(w) not in rows}
        db.executemany("INSERT OR IGNORE INTO translations VALUES (?, ?, ?)", ((language, w, e) for w, e in folded.items()))
        for found in entries.values():
            for word in {fold(w) for entry in found for english in entry for w in english.split()}:
                uses[word] = uses.get(word, 0) + 1
    db.executemany("INSERT INTO english VALUES (?, ?)", uses.items())
    db.commit()
    db.close()
    os.replace(partial, path)


_B64 = {c: i for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")}


def _number(text: str) -> int:
    """A dictd index's base-64 offset or length."""
    value = 0
    for char in text:
        value = value * 64 + _B64[char]
    return value


# JMdict's marks of a common word, on an entry's first line.
_COMMON = re.compile(r"\[(ichi1|news1|spec1|gai1|spec2|news2|ichi2|gai2)\]")


def _read_dictionary(index: str, data: str, language: str) -> dict[str, list[list[str]]]:
    """Lower-case headword -> its entries (senses), each its English translations, the most
    likely entry first (in Japanese a common word's; otherwise the dictionary's order)."""
    with gzip.open(data) as handle:  # dictzip is gzip with an index of its chunks
        text = handle.read()
    candidates: dict[str, list[tuple[int, int, list[str]]]] = {}
    with open(index, encoding="utf-8") as lines:
        for order, line in enumerate(lines):
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 3 or parts[0].startswith("00database"):
                continue
            word, offset, length = parts
            start = _number(offset)
            entry = text[start : start + _number(length)].decode("utf-8", "replace")
            translations = _japanese_senses(entry) if language == "ja" else _senses(entry)
            if not translations:
                continue
            rare = 0 if language != "ja" or _COMMON.search(entry.split("\n", 1)[0]) else 1
            if language == "ja":
                key = _hiragana(unicodedata.normalize("NFKC", word).casefold())
            else:
                key = " ".join(_words(word.casefold()))
            candidates.setdefault(key, []).append((rare, order, translations[:_PER_WORD]))
    return {key: [t for _, _, t in sorted(found, key=lambda c: (c[0], c[1]))] for key, found in candidates.items()}


_BRACKETS = re.compile(r"\[[^\]]*\]|<[^>]*>|\{[^}]*\}")
_PARENTHESES = re.compile(r"\([^()]*\)")
_NUMBERED = re.compile(r"^\d+\.\s*")
# JMdict's notes that FreeDict's conversion runs into the gloss after them.
_JMDICT_NOTES = re.compile(
    r"^Note:\s*((word usually written using kana alone|usually written using kana alone|abbreviation|"
    r"colloquial(ism)?|onomatopoeic or mimetic word|archaism|derogatory|familiar language|slang|"
    r"rare term|obsolete term|dated term|historical term|poetical term|children's language|"
    r"female term or language|male term or language|jocular, humorous term|sensitive|"
    r"vulgar expression or word|idiomatic expression|proverb|yojijukugo)\s*)+"
)


def _senses(entry: str) -> list[str]:
    """The English translations of a FreeDict entry (the lines after its headword)."""
    found: list[str] = []
    for line in entry.split("\n")[1:]:
        line = _NUMBERED.sub("", line.strip())
        if not line or line.startswith(('"', "Note:", "Synonym", "see:", "{", "(")):
            continue
        found += _items(line)
    return found


def _japanese_senses(entry: str) -> list[str]:
    """JMdict's glosses in a FreeDict entry, leaving out particles and other grammar."""
    found: list[str] = []
    grammar = False
    for line in entry.split("\n")[1:]:
        line = _NUMBERED.sub("", line.strip())
        if line.startswith("("):
            grammar = any(kind in line for kind in ("particle", "auxiliary", "suffix", "prefix", "counter", "conjunction"))
            continue
        line = _JMDICT_NOTES.sub("", line)
        if not line or grammar or line.startswith(("Note:", "see:")):
            continue
        found += _items(line)
    return found


def _items(line: str) -> list[str]:
    """The translations a line lists: "[zool.] dog <n>, dawg <n>" -> dog, dawg."""
    line = _BRACKETS.sub("", line)
    while _PARENTHESES.search(line):
        line = _PARENTHESES.sub("", line)
    items = []
    for item in re.split(r"[,;|]", line):
        item = " ".join(item.split()).strip(" .-")
        if item.startswith("to "):
            item = item[3:]
        if item and len(item.split()) <= 3 and re.fullmatch(r"[A-Za-z][A-Za-z' -]*", item):
            items.append(item)
    return items
