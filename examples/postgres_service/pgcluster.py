"""A throwaway PostgreSQL server for a test session: ``initdb`` and ``pg_ctl`` on a
temporary directory and a free port, as pytest-postgresql's ``postgresql_proc`` does.

The binaries are the system's (Debian: ``apt-get install postgresql``), found on
PATH or under ``/usr/lib/postgresql/<version>/bin``, where Debian keeps them.
PostgreSQL refuses to run as root: as root, the server runs as the ``postgres``
user (made by the package), which owns the data directory.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path


def find_binary(name: str) -> str | None:
    """``name`` on PATH, else in the newest ``/usr/lib/postgresql/*/bin``."""
    found = shutil.which(name)
    if found:
        return found
    candidates = glob.glob(f"/usr/lib/postgresql/*/bin/{name}")
    return max(candidates, key=lambda path: int(Path(path).parts[-3]), default=None)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Cluster:
    """One server: ``start()`` returns the DSN of its ``postgres`` database."""

    def __init__(self) -> None:
        initdb, pg_ctl = find_binary("initdb"), find_binary("pg_ctl")
        if initdb is None or pg_ctl is None:
            raise RuntimeError(
                "PostgreSQL's initdb/pg_ctl not found (on PATH or /usr/lib/postgresql/*/bin);"
                " install it: apt-get install postgresql"
            )
        self.initdb, self.pg_ctl = initdb, pg_ctl
        self.directory = Path(tempfile.mkdtemp(prefix="shop-pg-"))
        self.data = self.directory / "data"
        self.port = 0
        self._as: list[str] = []
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self.directory, user.pw_uid, user.pw_gid)
            self._as = ["runuser", "-u", "postgres", "--"]

    def _run(self, *command: str) -> None:
        done = subprocess.run(
            [*self._as, *command], capture_output=True, text=True, cwd=self.directory
        )
        if done.returncode:
            raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout}{done.stderr}")

    def start(self) -> str:
        self._run(
            self.initdb, "-D", str(self.data), "-U", "postgres", "-A", "trust",
            "-E", "UTF8", "--locale=C", "--no-sync",
        )  # fmt: skip
        self.port = free_port()
        settings = (
            f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1"
            " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            " -c max_connections=300"
        )
        log = self.directory / "server.log"
        self._run(self.pg_ctl, "-D", str(self.data), "-o", settings, "-l", str(log), "-w", "start")
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self._run(self.pg_ctl, "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)
