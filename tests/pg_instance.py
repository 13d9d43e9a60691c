"""A PostgreSQL server of the tests' own, to stop, restart and kill without touching the
shared one: initdb into a temporary directory, run as the ``postgres`` system user.

Needs the server binaries (Debian's postgresql package) and root, to act as ``postgres``;
without them the tests that use it skip, saying why, and fail under CI.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tests.browser import free_port, require

__all__ = ["PgInstance", "pg_instance"]

_BIN = next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)), None)


@dataclass
class PgInstance:
    directory: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def _ctl(self, *args: str) -> None:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", str(_BIN / "pg_ctl"), "-D", str(self.directory / "data"), "-w", *args],
            check=True, capture_output=True, timeout=60,
        )

    def start(self) -> None:
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=on"
        self._ctl("-l", str(self.directory / "log"), "-o", options, "start")

    def stop(self, mode: str = "fast") -> None:
        self._ctl("-m", mode, "stop")

    def restart(self, mode: str = "fast") -> None:
        self.stop(mode)
        self.start()


def pg_instance() -> PgInstance:
    """A fresh, started server; call ``stop`` and ``remove`` when done."""
    require(_BIN is not None and (_BIN / "initdb").exists(), "no PostgreSQL server binaries under /usr/lib/postgresql")
    require(os.geteuid() == 0 and shutil.which("runuser") is not None, "running a private PostgreSQL needs root and runuser")
    directory = Path(tempfile.mkdtemp(prefix="kehu-pg-"))
    shutil.chown(directory, "postgres")
    subprocess.run(
        ["runuser", "-u", "postgres", "--", str(_BIN / "initdb"), "-D", str(directory / "data"), "-U", "postgres",
         "--auth=trust", "--no-sync"],
        check=True, capture_output=True, timeout=120,
    )
    instance = PgInstance(directory, free_port())
    instance.start()
    return instance


def remove(instance: PgInstance) -> None:
    try:
        instance.stop("immediate")
    except subprocess.CalledProcessError:
        pass  # already stopped
    shutil.rmtree(instance.directory, ignore_errors=True)
