"""Library roots by name, so that machines which mount one share at different places see the same
photos in one shared catalog (lucida.catalog.postgres).

Each machine names the folders in its config file (lucida.config):

    [roots]
    nas = "/Volumes/photos"          # on the Mac
    # nas = "/mnt/photos"            # on the Linux workstation: the same name, its own mount

The catalog then keeps a file under a named root as "@nas/2024/IMG_0001.jpg" and gives it to
each machine at that machine's mount. Files under no named root keep their absolute paths, so a
catalog without named roots is what it always was; a file under a root this machine has not
named is shown as stored ("@studio-b/…") and is never taken for deleted (lucida.indexer keeps
files it cannot reach).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lucida.errors import LucidaError

MARK = "@"  # never the start of an absolute path
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


@dataclass(frozen=True)
class NamedRoots:
    folders: tuple[tuple[str, str], ...] = ()  # (name, absolute folder), the longest folder first

    @classmethod
    def of(cls, roots: dict[str, str]) -> NamedRoots:
        """From the config file's [roots] table (name -> this machine's folder)."""
        checked = []
        for name, folder in roots.items():
            if not _NAME.fullmatch(name):
                raise LucidaError(f"root name {name!r}: use letters, digits, '.', '_' and '-'")
            if not folder.startswith("/"):
                raise LucidaError(f"root {name}: {folder!r} is not an absolute folder")
            checked.append((name, folder.rstrip("/") or "/"))
        return cls(tuple(sorted(checked, key=lambda pair: -len(pair[1]))))

    def stored(self, path: str) -> str:
        """How the catalog keeps a path of this machine."""
        for name, folder in self.folders:
            if path == folder or path.startswith(folder + "/"):
                return f"{MARK}{name}{path[len(folder):]}"
        return path

    def local(self, stored: str) -> str:
        """The path on this machine of what the catalog keeps (as kept, for a root it has not named)."""
        if not stored.startswith(MARK):
            return stored
        name, slash, rest = stored[1:].partition("/")
        for known, folder in self.folders:
            if known == name:
                return folder + slash + rest if folder != "/" else "/" + rest
        return stored
