"""Writes src/lucida/data/cldr_names.tsv: month, weekday and country names in the
languages lucida.languages reads, each with the English words lucida's metadata text uses for it.

Run by hand after upgrading babel (tests/test_languages.py checks the table against babel, or
says that babel's CLDR is newer than the table's):

    python scripts/make_language_table.py

The names are the Unicode CLDR's, as babel ships them. Reading them from babel at search time
costs about 80 ms (seven locales unpickled), so the table is written once here; lucida.languages
reads it in about 20 ms, on the first query. The English side is what lucida.metadata_text writes: its month and weekday
names, and pycountry's country names. CLDR's city names (of time zones) are left out: they
include islands and regions ("Canary", "Easter"), and exonyms of one city that are another
city's own name (Spanish "Belén" for Belém, "Granada" for Grenada).
"""

from __future__ import annotations

from pathlib import Path

TABLE = Path(__file__).resolve().parents[1] / "src/lucida/data/cldr_names.tsv"


def table_text() -> str:
    import babel
    import pycountry
    from babel import Locale

    from lucida.languages import LANGUAGES, fold
    from lucida.metadata_text import _MONTHS, _WEEKDAYS, _country

    english_names = Locale.parse("en").territories
    rows = []
    for language in LANGUAGES:
        locale = Locale.parse(language)
        names = []
        for key in ("format", "stand-alone"):
            names += [("month", name, _MONTHS[i - 1]) for i, name in locale.months[key]["wide"].items()]
            # babel numbers weekdays from Monday = 0, as Python does.
            names += [("weekday", name, _WEEKDAYS[i]) for i, name in locale.days[key]["wide"].items()]
        for code, name in sorted(locale.territories.items()):
            # Not a name that is English's own too ("Russia" in Italian, for Russian Federation).
            if len(code) == 2 and pycountry.countries.get(alpha_2=code) and fold(name) != fold(english_names[code]):
                names.append(("country", name, _country(code)))
        for kind, name, english in names:
            if fold(name) != fold(english):
                rows.append(f"{language}\t{kind}\t{name}\t{english}")
    header = [
        f"# Unicode CLDR {babel.core.get_cldr_version()} names (babel {babel.__version__}), Unicode License v3;",
        "# made by scripts/make_language_table.py. language, kind, name, English words.",
    ]
    return "\n".join([*header, *dict.fromkeys(rows)]) + "\n"


def main() -> None:
    TABLE.parent.mkdir(exist_ok=True)
    TABLE.write_text(table_text(), "utf-8")


if __name__ == "__main__":
    main()
