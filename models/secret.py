"""The server secret: what a value shown again later (a survey link) is derived from.

Set once at start-up (server/secret.py reads ``KEHU_SECRET_KEY``, or makes and keeps one on
first run); a derived value is an HMAC of the secret, so the database holds only its hash.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

__all__ = ["configure", "derive", "digest"]

_key: bytes | None = None


def configure(key: bytes) -> None:
    global _key
    if len(key) < 32:
        raise ValueError("the secret key must be at least 32 bytes")
    _key = key


def derive(purpose: str, message: str, length: int = 32) -> str:
    """An unguessable URL-safe value for ``message``, the same each time for the same secret."""
    if _key is None:
        raise RuntimeError("the secret key is not configured (models.secret.configure)")
    mac = hmac.new(_key, f"{purpose}\x00{message}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")[:length]


def digest(value: str) -> str:
    """How a derived value is kept and looked up: its SHA-256."""
    return hashlib.sha256(value.encode()).hexdigest()
