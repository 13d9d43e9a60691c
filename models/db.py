"""The database: Tortoise configuration from a URL, start-up, shut-down, dialect."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from tortoise import Tortoise, connections

__all__ = ["MODEL_MODULES", "SSL_MODES", "close", "connection", "dialect", "init", "tortoise_config", "unavailable"]

SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
MODEL_MODULES = [
    "models.customers",
    "models.graph",
    "models.interactions",
    "models.orders",
    "models.access",
    "models.audit",
    "models.idempotency",
]


def _credentials(url: str, pool_size: int) -> tuple[str, dict[str, Any]]:
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        path = unquote(url[len("sqlite://"):])
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # WAL with synchronous=FULL: a commit is on disk before it is acknowledged.
        return "tortoise.backends.sqlite", {
            "file_path": path,
            "journal_mode": "WAL",
            "synchronous": "FULL",
            "foreign_keys": "ON",
            "busy_timeout": 5000,
        }
    options = dict(parse_qsl(parts.query))
    unknown = set(options) - {"sslmode"}
    if unknown:
        raise ValueError(f"unsupported database URL option(s): {', '.join(sorted(unknown))} (kehu takes sslmode)")
    if "sslmode" in options:
        if options["sslmode"] not in SSL_MODES:
            raise ValueError(f"sslmode must be one of {', '.join(SSL_MODES)}")
        options = {"ssl": options["sslmode"]}
    return "tortoise.backends.asyncpg", {
        "host": parts.hostname or "127.0.0.1",
        "port": parts.port or 5432,
        "user": unquote(parts.username or "postgres"),
        "password": unquote(parts.password or ""),
        "database": parts.path.lstrip("/") or "postgres",
        "minsize": 1,
        "maxsize": pool_size,
        **options,
    }


def tortoise_config(url: str, pool_size: int = 20) -> dict[str, Any]:
    engine, credentials = _credentials(url, pool_size)
    return {
        "connections": {"default": {"engine": engine, "credentials": credentials}},
        "apps": {
            "models": {
                "models": MODEL_MODULES,
                "default_connection": "default",
                "migrations": "models.migrations",
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


async def init(url: str, pool_size: int = 20) -> None:
    # Global fallback: requests run in tasks that did not inherit the lifespan's context.
    await Tortoise.init(config=tortoise_config(url, pool_size), _enable_global_fallback=True)


async def close() -> None:
    await Tortoise.close_connections()


def unavailable(error: BaseException) -> bool:
    """Whether ``error`` (or what caused it) means the database cannot be reached right now.

    asyncpg reports this in several ways, not all of them PostgreSQL error classes: a refused
    or reset connection (OSError), "cannot connect now" while the server starts, a connection
    that no longer exists, an administrator's shutdown, the pool's reset failing on release
    (InternalClientError), or a timed-out acquire. SQLite's "database is locked" is the same
    thing for a file: try again shortly.
    """
    import sqlite3

    import asyncpg
    from tortoise.exceptions import DBConnectionError

    transient = (
        OSError, TimeoutError, DBConnectionError,
        asyncpg.CannotConnectNowError, asyncpg.ConnectionDoesNotExistError, asyncpg.InterfaceError,
        asyncpg.InternalClientError, asyncpg.PostgresConnectionError, asyncpg.AdminShutdownError,
        asyncpg.CrashShutdownError, asyncpg.TooManyConnectionsError,
    )
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, transient):
            return True
        if isinstance(current, sqlite3.OperationalError) and "locked" in str(current):
            return True
        # Tortoise wraps driver errors as OperationalError(original), sometimes without chaining.
        wrapped = next((arg for arg in current.args if isinstance(arg, BaseException)), None)
        current = current.__cause__ or wrapped or current.__context__
    return False


def connection():
    return connections.get("default")


def dialect() -> str:
    """``sqlite`` or ``postgres``: the few statements that differ ask this."""
    return "sqlite" if connection().capabilities.dialect == "sqlite" else "postgres"
