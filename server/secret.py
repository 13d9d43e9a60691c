"""The server secret: ``KEHU_SECRET_KEY``, or one made on first run and kept in ``var/secret_key``.

Derived values (survey links) stay valid across restarts only while the secret does: set
``KEHU_SECRET_KEY`` wherever several machines serve kehu, or the file is lost with the machine.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from models import secret
from server.settings import ROOT, Settings

__all__ = ["configure"]

KEPT = ROOT / "var" / "secret_key"


def _kept(path: Path) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    with os.fdopen(descriptor, "wb") as file:  # the first of several workers writes it; the others read it
        file.write(secrets.token_urlsafe(48).encode())
    return path.read_bytes().strip()


def configure(settings: Settings, path: Path = KEPT) -> None:
    secret.configure(settings.secret_key.encode() if settings.secret_key else _kept(path))
