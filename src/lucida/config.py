"""The user's model choices in a TOML file, so they need not be repeated on every command.

    # ~/.config/lucida/config.toml (Linux; `lucida models list` prints where it is looked for)
    [index]                       # lucida index: the pass over every photo
    captioner = "efficientnet-lite0-imagenet"
    embedder = "all-mpnet-base-v2"
    faces = true                  # also find faces and group them into people (lucida.faces)

    [caption]                     # lucida caption: detailed captions filled in afterwards
    captioner = "gpt-4o-mini"
    prompt = "retrieval"
    api_base = "http://127.0.0.1:11434/v1"

    [roots]                       # library roots by name, for a catalog several machines share
    nas = "/Volumes/photos"       # (lucida.named_roots): each machine gives its own mount

Options on the command line win over the file. API keys never go here: they come only from
the environment (OPENAI_API_KEY), so a config file can be shared or committed safely.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from platformdirs import user_config_path

from lucida.errors import LucidaError
from lucida.named_roots import NamedRoots

# The tables and keys the file may hold; anything else is a typo worth reporting.
KEYS: dict[str, set[str]] = {
    "index": {"captioner", "prompt", "embedder", "api_base", "faces"},
    "caption": {"captioner", "prompt", "api_base"},
    "search": {"embedder", "api_base"},
}


# Keys that switch something on or off: true or false, not a string.
SWITCHES = {("index", "faces")}
# Tables whose keys the user names (each a non-empty string).
OPEN_TABLES = {"roots"}


def config_path() -> Path:
    """$LUCIDA_CONFIG, else config.toml in the user config folder."""
    override = os.environ.get("LUCIDA_CONFIG")
    return Path(override) if override else user_config_path("lucida", appauthor=False) / "config.toml"


class Config:
    """The choices in one config file (none when the file does not exist)."""

    def __init__(self, tables: dict[str, dict[str, str]], path: Path):
        self.tables = tables
        self.path = path

    @classmethod
    def load(cls, path: Path | None = None) -> Config:
        path = path or config_path()
        try:
            data = tomllib.loads(path.read_text("utf-8"))
        except FileNotFoundError:
            return cls({}, path)
        except (OSError, UnicodeDecodeError) as error:
            raise LucidaError(f"cannot read config file {path}: {error}") from error
        except tomllib.TOMLDecodeError as error:
            raise LucidaError(f"config file {path} is not valid TOML: {error}") from error
        return cls(_checked(data, path), path)

    def get(self, table: str, key: str) -> str | None:
        return self.tables.get(table, {}).get(key)

    def flag(self, table: str, key: str) -> bool:
        return self.tables.get(table, {}).get(key) is True

    def named_roots(self) -> NamedRoots:
        """This machine's named library roots ([roots]), checked."""
        try:
            return NamedRoots.of(self.tables.get("roots", {}))
        except LucidaError as error:
            raise LucidaError(f"config file {self.path}: [roots] {error}") from None

    def pick(self, given: str | None, table: str, key: str) -> str | None:
        """The command line's value when given, else the file's."""
        return given if given is not None else self.get(table, key)


def _checked(data: dict, path: Path) -> dict[str, dict[str, str]]:
    for table, values in data.items():
        if table not in KEYS.keys() | OPEN_TABLES or not isinstance(values, dict):
            known = [*KEYS, *sorted(OPEN_TABLES)]
            raise LucidaError(f"config file {path}: unknown table [{table}]; known: {', '.join(f'[{t}]' for t in known)}")
        for key, value in values.items():
            if "key" in key.lower() or "token" in key.lower():
                raise LucidaError(
                    f"config file {path}: [{table}] {key}: lucida takes API keys only from the environment "
                    "(OPENAI_API_KEY); remove it from the file"
                )
            if table in OPEN_TABLES:
                if not isinstance(value, str) or not value:
                    raise LucidaError(f"config file {path}: [{table}] {key} must be a non-empty string")
                continue
            if key not in KEYS[table]:
                raise LucidaError(f"config file {path}: unknown key {key} in [{table}]; known: {', '.join(sorted(KEYS[table]))}")
            if (table, key) in SWITCHES:
                if not isinstance(value, bool):
                    raise LucidaError(f"config file {path}: [{table}] {key} must be true or false")
            elif not isinstance(value, str) or not value:
                raise LucidaError(f"config file {path}: [{table}] {key} must be a non-empty string")
    return data
