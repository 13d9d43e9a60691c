"""The database: Tortoise configuration from a URL, start-up, shut-down, dialect, and the one
connection a request holds (``one_connection``)."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from tortoise import Tortoise, connections
from tortoise.backends.asyncpg.client import AsyncpgDBClient

__all__ = [
    "MODEL_MODULES", "SSL_MODES", "close", "connection", "dialect", "generic_plans", "init", "one_connection", "parallel_reads",
    "tortoise_config", "unavailable",
]

SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
MODEL_MODULES = [
    "models.customers",
    "models.graph",
    "models.interactions",
    "models.orders",
    "models.access",
    "models.audit",
    "models.idempotency",
    "models.service_levels",
    "models.complaints",
    "models.timeline",
    "models.notifications",
    "models.surveys",
    "models.follow_ups",
    "models.segments",
    "models.churn",
    "models.settings",
    "models.pool",
    "models.saved_segments",
    "models.loyalty",
]


class _Held:
    """A request's one pool connection, lent to one statement (or transaction) at a time."""

    __slots__ = ("connection", "lock", "pool")

    def __init__(self) -> None:
        self.connection = None
        self.pool: _TimedPool | None = None
        self.lock = asyncio.Lock()


_held: ContextVar[_Held | None] = ContextVar("kehu_held_connection", default=None)


@asynccontextmanager
async def one_connection() -> AsyncIterator[None]:
    """Run every statement of this context on one pool connection: taken at the first statement,
    given back at the end. A request then costs one acquire and one release, whatever it reads;
    its statements (and transactions) take turns on the connection."""
    held = _Held()
    token = _held.set(held)
    try:
        yield
    finally:
        _held.reset(token)
        if held.connection is not None:
            await held.pool.release_held(held.connection)


class _Setting:
    """A session setting that some statements want and the others must not run under. Each pool
    connection remembers whether it has it; a statement's connection is switched (one round trip)
    only when it differs from what the statement wants, so a run of statements that want the same
    pays for no SET at all."""

    def __init__(self, name: str, on: str, off: str) -> None:
        self.wanted: ContextVar[bool] = ContextVar(f"kehu_{name}", default=False)
        self.holding = weakref.WeakSet()
        self.on, self.off = on, off

    @asynccontextmanager
    async def wanting(self) -> AsyncIterator[None]:
        token = self.wanted.set(True)
        try:
            yield
        finally:
            self.wanted.reset(token)


# Every connection plans each statement for its values (force_custom_plan): a search must, or it
# walks the team instead of its trigram index. A compiled read without a filter plans the same for
# any values, and planning its statement would cost more than running it.
_GENERIC_PLANS = _Setting("generic_plans", "SET plan_cache_mode = auto", "SET plan_cache_mode = force_custom_plan")
# Requests run side by side, one core each; a report reads a year of a table once, and a second
# core halves its wait. PostgreSQL's default costs keep such reads serial at this size.
_PARALLEL_READS = _Setting(
    "parallel_reads", "SET parallel_setup_cost = 100; SET parallel_tuple_cost = 0.01", "RESET parallel_setup_cost; RESET parallel_tuple_cost",
)
_SETTINGS = (_GENERIC_PLANS, _PARALLEL_READS)


def generic_plans():
    """Let the statements of this context run on the plan PostgreSQL keeps for a prepared
    statement whatever its values (``_GENERIC_PLANS``)."""
    return _GENERIC_PLANS.wanting()


def parallel_reads():
    """Let the statements of this context use parallel workers where PostgreSQL finds them worth
    less than it does by default (``_PARALLEL_READS``): for reports over whole tables."""
    return _PARALLEL_READS.wanting()


async def _plan_mode(connection) -> None:
    raw = getattr(connection, "_con", connection)
    changes = [(setting, wanted) for setting in _SETTINGS if (raw in setting.holding) != (wanted := setting.wanted.get())]
    if changes:
        await connection.execute("; ".join(setting.on if wanted else setting.off for setting, wanted in changes))
        for setting, wanted in changes:
            (setting.holding.add if wanted else setting.holding.discard)(raw)


async def _reset(connection) -> None:
    """What asyncpg does to a connection given back, cut to what kehu can leave behind: kehu sets
    no session state (settings are per connection, advisory locks per transaction), so the four
    statements of asyncpg's reset are only a round trip; a transaction left open is rolled back."""
    if connection.is_in_transaction():
        await connection.execute("ROLLBACK")


class _TimedPool:
    """asyncpg's pool with a bound on the wait for a free connection (asyncpg has none by default),
    lending a request's held connection (``one_connection``) instead of another one."""

    def __init__(self, pool, timeout: float) -> None:
        self._pool = pool
        self._timeout = timeout

    async def acquire(self):
        held = _held.get()
        if held is None:
            connection = await self._pool.acquire(timeout=self._timeout)
            try:
                await _plan_mode(connection)
            except BaseException:
                await self._pool.release(connection)
                raise
            return connection
        await held.lock.acquire()
        try:
            if held.connection is None:
                held.connection = await self._pool.acquire(timeout=self._timeout)
                held.pool = self
            await _plan_mode(held.connection)
        except BaseException:
            held.lock.release()
            raise
        return held.connection

    async def release(self, connection, *args: Any, **kwargs: Any) -> None:
        held = _held.get()
        if held is not None and connection is held.connection:
            held.lock.release()  # still the request's, for its next statement
            return
        await self._pool.release(connection, *args, **kwargs)

    async def release_held(self, connection) -> None:
        await self._pool.release(connection)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pool, name)


class PostgresClient(AsyncpgDBClient):
    """Tortoise's asyncpg client, its pool waits bounded: a request that cannot get a
    connection in time fails (as UNAVAILABLE) instead of queueing without end."""

    def __init__(self, acquire_timeout: float = 5.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.acquire_timeout = acquire_timeout

    async def create_pool(self, **kwargs: Any):
        return _TimedPool(await super().create_pool(reset=_reset, **kwargs), self.acquire_timeout)


client_class = PostgresClient  # this module is the engine Tortoise loads for PostgreSQL


def _credentials(url: str, pool_size: int, statement_timeout_ms: int, acquire_timeout: float) -> tuple[str, dict[str, Any]]:
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
    return "models.db", {
        "host": parts.hostname or "127.0.0.1",
        "port": parts.port or 5432,
        "user": unquote(parts.username or "postgres"),
        "password": unquote(parts.password or ""),
        "database": parts.path.lstrip("/") or "postgres",
        "minsize": 1,
        "maxsize": pool_size,
        "acquire_timeout": acquire_timeout,
        "server_settings": {
            "application_name": "kehu",
            "statement_timeout": str(statement_timeout_ms),
            # A transaction left open (a bug, a stalled client) must not hold locks for ever.
            "idle_in_transaction_session_timeout": str(max(statement_timeout_ms * 4, 60_000)),
            # asyncpg prepares every statement, and after five runs PostgreSQL may switch to a
            # generic plan that does not know the values: a search for '%3812345%' then walks
            # the whole team by date instead of the trigram index (30 ms instead of 1 ms).
            "plan_cache_mode": "force_custom_plan",
            # JIT compiles a statement whose estimated cost is high, such as a dashboard figure
            # over a year of orders: 1.6 s of compiling for 0.2 s of running. kehu's statements
            # are short, so they are never worth it.
            "jit": "off",
        },
        **options,
    }


def tortoise_config(
    url: str, pool_size: int = 20, statement_timeout_ms: int = 15_000, acquire_timeout: float = 5.0
) -> dict[str, Any]:
    engine, credentials = _credentials(url, pool_size, statement_timeout_ms, acquire_timeout)
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


async def init(url: str, pool_size: int = 20, statement_timeout_ms: int = 15_000, acquire_timeout: float = 5.0) -> None:
    # Global fallback: requests run in tasks that did not inherit the lifespan's context.
    config = tortoise_config(url, pool_size, statement_timeout_ms, acquire_timeout)
    await Tortoise.init(config=config, _enable_global_fallback=True)


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
        asyncpg.QueryCanceledError,  # the statement timeout: the database is too busy to answer in time
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
