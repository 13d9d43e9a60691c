"""Settings, read once from ``KEHU_*`` environment variables.

Every variable is listed in README.md; a value that does not parse stops start-up with a
message naming the variable, never a silent default.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from models.db import tortoise_config

__all__ = ["ROOT", "Settings", "SettingsError"]

ROOT = Path(__file__).resolve().parent.parent


class SettingsError(ValueError):
    """A ``KEHU_*`` variable holds a value kehu cannot use."""


def _int(env: dict[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, not {raw!r}") from None
    if not low <= value <= high:
        raise SettingsError(f"{name} must be between {low} and {high}, not {value}")
    return value


def _bool(env: dict[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise SettingsError(f"{name} must be true or false, not {raw!r}")


def _secret(env: dict[str, str]) -> str | None:
    raw = env.get("KEHU_SECRET_KEY") or None
    if raw is not None and len(raw.encode()) < 32:
        raise SettingsError("KEHU_SECRET_KEY must be at least 32 characters (make one: python -c 'import secrets; print(secrets.token_urlsafe(48))')")
    return raw


def _public_url(env: dict[str, str]) -> str | None:
    raw = (env.get("KEHU_PUBLIC_URL") or "").strip()
    if not raw:
        return None
    if not raw.startswith(("https://", "http://")) or any(c in raw for c in " \"'<>"):
        raise SettingsError(f"KEHU_PUBLIC_URL must be an http(s) URL such as https://crm.example.com/, not {raw!r}")
    return raw.rstrip("/") + "/"


DEFAULT_POOL_SIZE = max(4, 2 * (os.cpu_count() or 2))
"""Connections per worker: twice the cores, at least four. PostgreSQL runs as many statements at
once as it has cores; more connections only move the queue into the database, where they contend
(on two cores, one worker serves a fifth more pages at 32 clients with 4 connections than with 20)."""


@dataclass(frozen=True)
class Settings:
    database_url: str
    host: str
    port: int
    db_pool_size: int
    graphiql: bool
    introspection: bool
    max_body_bytes: int
    max_batch: int
    max_query_cost: int
    max_depth: int
    max_aliases: int
    max_tokens: int
    log_level: str
    admin_idle_minutes: int
    admin_session_hours: int
    secret_key: str | None = None
    """``KEHU_SECRET_KEY``; unset, server/secret.py makes one on first run and keeps it in var/."""
    sweep_seconds: int = 60
    public_url: str | None = None
    """``KEHU_PUBLIC_URL``: where customers reach this server (survey links); the request's own URL when unset."""
    compiled_reads: bool = True
    """``KEHU_COMPILED_READS``: answer the queries schema/compiler.py knows with one statement (PostgreSQL)."""

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite://")

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        database_url = env.get("KEHU_DATABASE_URL") or f"sqlite://{ROOT / 'var' / 'kehu.sqlite3'}"
        if not database_url.startswith(("sqlite://", "postgres://", "postgresql://")):
            raise SettingsError(
                "KEHU_DATABASE_URL must start with sqlite:// or postgres://, "
                f"not {database_url.split('://')[0]!r}"
            )
        try:
            if not database_url.startswith("sqlite://"):
                tortoise_config(database_url)  # checks the URL's options
        except ValueError as error:
            raise SettingsError(f"KEHU_DATABASE_URL: {error}") from None
        log_level = env.get("KEHU_LOG_LEVEL", "info").lower()
        if log_level not in {"debug", "info", "warning", "error"}:
            raise SettingsError(f"KEHU_LOG_LEVEL must be debug, info, warning or error, not {log_level!r}")
        return cls(
            database_url=database_url,
            host=env.get("KEHU_HOST") or "127.0.0.1",
            port=_int(env, "KEHU_PORT", 8000, 1, 65535),
            db_pool_size=_int(env, "KEHU_DB_POOL_SIZE", DEFAULT_POOL_SIZE, 1, 1000),
            graphiql=_bool(env, "KEHU_GRAPHIQL", True),
            introspection=_bool(env, "KEHU_INTROSPECTION", True),
            max_body_bytes=_int(env, "KEHU_MAX_BODY_BYTES", 1_048_576, 1024, 1_073_741_824),
            max_batch=_int(env, "KEHU_MAX_BATCH", 10, 1, 100),
            max_query_cost=_int(env, "KEHU_MAX_QUERY_COST", 50_000, 1, 10_000_000),
            max_depth=_int(env, "KEHU_MAX_DEPTH", 12, 2, 100),
            max_aliases=_int(env, "KEHU_MAX_ALIASES", 30, 1, 10_000),
            max_tokens=_int(env, "KEHU_MAX_TOKENS", 5_000, 100, 1_000_000),
            log_level=log_level,
            admin_idle_minutes=_int(env, "KEHU_ADMIN_IDLE_MINUTES", 30, 1, 24 * 60),
            admin_session_hours=_int(env, "KEHU_ADMIN_SESSION_HOURS", 12, 1, 24 * 30),
            secret_key=_secret(env),
            sweep_seconds=_int(env, "KEHU_SWEEP_SECONDS", 60, 0, 3600),
            public_url=_public_url(env),
            compiled_reads=_bool(env, "KEHU_COMPILED_READS", True),
        )
