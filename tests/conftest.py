"""Fixtures: every test runs on SQLite and on PostgreSQL, through HTTP like a client.

PostgreSQL comes from KEHU_TEST_POSTGRES_URL (default: the local server as user postgres);
a fresh database is made for the session and dropped after. Without a reachable server the
PostgreSQL half skips and says why; with CI set it fails instead.
"""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from tortoise import Tortoise
from tortoise.backends.base.executor import EXECUTOR_CACHE

from models import db, secret
from models.access import User
from models.db import tortoise_config
from models.scope import Scope
from models.staff import create_role, create_user
from models.throttle import sign_ins
from models.tokens import create_api_token
from server.app import create_app
from server.settings import Settings

POSTGRES_URL = os.environ.get("KEHU_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
TEST_SECRET = "a test secret of at least thirty-two characters"
TABLES = (
    "notification", "survey_answer", "complaint", "complaint_sequence", "complaint_category", "sla_policy",
    "calendar_day", "working_hours", "loyalty_sweep", "level_change", "membership", "setting", "pool_claim", "saved_segment", "follow_up", "churn_alert", "segment_change", "customer_segment", "exchange_rate", "customer_link", "customer_tag", "interaction", "order_line", "orders", "customer",
    "idempotency_key", "admin_session", "api_token", "user_role", "staff_user", "role", "team",
)


async def _postgres_database() -> str:
    """Create a scratch database on the test server and return its URL."""
    name = f"kehu_test_{uuid.uuid4().hex[:10]}"
    connection = await asyncpg.connect(POSTGRES_URL.replace("postgres://", "postgresql://", 1), timeout=5)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    base = POSTGRES_URL.rsplit("/", 1)[0]
    return f"{base}/{name}"


async def _drop_postgres_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    connection = await asyncpg.connect(POSTGRES_URL.replace("postgres://", "postgresql://", 1), timeout=5)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


async def migrate(url: str, target: str | None = None) -> None:
    """Apply the migrations to ``url`` (up to ``target``, ``models.NNNN_name``, when given)."""
    from tortoise.migrations.api import migrate as run_migrations

    await run_migrations(config=tortoise_config(url), target=target)
    await Tortoise.close_connections()


def _postgres_or_skip() -> str:
    try:
        return asyncio.run(_postgres_database())
    except (TimeoutError, OSError, asyncpg.PostgresError) as error:
        message = f"PostgreSQL at {POSTGRES_URL} is not reachable ({error.__class__.__name__}: {error})"
        if os.environ.get("CI"):
            pytest.fail(message + "; under CI the PostgreSQL tests are required.")
        pytest.skip(message)


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def database_url(request, tmp_path_factory) -> Iterator[str]:
    """A migrated, empty database of each kind, for the whole session."""
    if request.param == "sqlite":
        url = f"sqlite://{tmp_path_factory.mktemp('sqlite') / 'kehu.sqlite3'}"
        asyncio.run(migrate(url))
        yield url
        return
    url = _postgres_or_skip()
    asyncio.run(migrate(url))
    yield url
    asyncio.run(_drop_postgres_database(url))


@pytest.fixture(scope="session")
async def database(database_url: str) -> AsyncIterator[str]:
    # Tortoise caches insert statements by connection name, not by dialect: the session
    # switches from SQLite to PostgreSQL under the same name, so start the cache afresh.
    EXECUTOR_CACHE.clear()
    await db.init(database_url, pool_size=10)
    secret.configure(TEST_SECRET.encode())
    yield database_url
    await db.close()


@pytest.fixture
async def clean_db(database: str) -> str:
    """The session's database, emptied before the test."""
    await empty_database()
    return database


async def empty_database() -> None:
    """Delete every row; self-references first, or a sub-team (ON DELETE RESTRICT) stops the DELETE."""
    connection = db.connection()
    for table in ("audit_event", "complaint_event", "points_entry"):
        await _empty_append_only(connection, table)
    await connection.execute_script("UPDATE customer SET referrer_id = NULL")
    await connection.execute_script("UPDATE team SET parent_id = NULL, lead_id = NULL")
    for table in TABLES:
        await connection.execute_script(f"DELETE FROM {table}")


async def _empty_append_only(connection, table: str) -> None:
    """The audit log and timelines refuse deletes (by trigger); tests step around that, as only an owner could."""
    if connection.capabilities.dialect == "postgres":
        await connection.execute_script(f"TRUNCATE {table}")
        return
    triggers = await connection.execute_query_dict(
        f"SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = '{table}'"
    )
    for trigger in triggers:
        await connection.execute_script(f"DROP TRIGGER {trigger['name']}")
    await connection.execute_script(f"DELETE FROM {table}")
    for trigger in triggers:
        await connection.execute_script(trigger["sql"])


@pytest.fixture(autouse=True)
def _fresh_sign_in_throttle() -> None:
    """Every test starts with no sign-in attempts counted against its (shared) client address."""
    sign_ins.reset()


@pytest.fixture
def settings(database: str) -> Settings:
    return Settings.from_env({"KEHU_DATABASE_URL": database, "KEHU_SECRET_KEY": TEST_SECRET})


async def bearer_for(email: str, **user: Any) -> dict[str, str]:
    """An ``Authorization`` header for a new staff user (no password: it cannot sign in)."""
    made = await User.create(email=email, display_name=email.split("@")[0], password_hash="!", **user)
    _, secret = await create_api_token(Scope.of_system(), made.id, "tests")
    return {"authorization": f"Bearer {secret}"}


PASSWORD = "correct horse battery staple"


async def bearer_for_user(user_id: int) -> dict[str, str]:
    """An ``Authorization`` header with a new token of an existing user."""
    _, secret = await create_api_token(Scope.of_system(), user_id, "tests")
    return {"authorization": f"Bearer {secret}"}


async def staff_member(email: str, permissions: list[str], scope: str = "ALL", team_id: int | None = None) -> dict:
    """A staff member (password ``PASSWORD``) with one role, "role of <email>": ``permissions`` and data ``scope``."""
    role = await create_role(Scope.of_system(), f"role of {email}", permissions, scope)
    return await create_user(Scope.of_system(), email, email.split("@")[0], PASSWORD, team_id, [role["id"]])


async def staff(email: str, permissions: list[str], scope: str, team_id: int | None = None) -> dict[str, str]:
    """``staff_member``'s bearer header."""
    return await bearer_for_user((await staff_member(email, permissions, scope, team_id))["id"])


async def ask(http: httpx.AsyncClient, query: str, variables: dict | None = None) -> dict:
    """The decoded answer to one operation."""
    return (await http.post("/graphql", json={"query": query, "variables": variables or {}})).json()


@pytest.fixture
async def as_user(settings):
    """``as_user(headers)``: an HTTP client of the app acting with those headers."""
    clients: list[httpx.AsyncClient] = []

    def make(headers: dict[str, str] | None = None) -> httpx.AsyncClient:
        http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(settings)), base_url="http://kehu.test", headers=headers or {}
        )
        clients.append(http)
        return http

    yield make
    for http in clients:
        await http.aclose()


@pytest.fixture
async def admin_headers(clean_db: str) -> dict[str, str]:
    """A superuser's bearer header: every permission, every customer."""
    return await bearer_for("admin@kehu.test", is_superuser=True)


@pytest.fixture
async def client(clean_db: str, settings: Settings, admin_headers) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client speaking to the app in-process as a superuser (the database is already open)."""
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://kehu.test", headers=admin_headers) as http:
        yield http


class GraphQLClient:
    """Posts operations to /graphql and returns the decoded answer."""

    def __init__(self, http: httpx.AsyncClient):
        self.http = http

    async def __call__(self, query: str, variables: dict[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
        response = await self.http.post("/graphql", json={"query": query, "variables": variables or {}}, **kwargs)
        assert response.headers["content-type"].startswith("application/"), response.text
        return response.json()

    async def data(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """The ``data`` of an operation that must succeed without errors."""
        body = await self(query, variables)
        assert "errors" not in body, body["errors"]
        return body["data"]


@pytest.fixture
def gql(client: httpx.AsyncClient) -> GraphQLClient:
    return GraphQLClient(client)


class StatementCounter(logging.Handler):
    """Counts the SQL statements Tortoise runs (it logs each one at DEBUG)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.statements: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.msg == "%s: %s" and record.args:
            self.statements.append(str(record.args[0]))


@pytest.fixture
def count_statements() -> Iterator[StatementCounter]:
    logger = logging.getLogger("tortoise.db_client")
    counter = StatementCounter()
    previous = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(counter)
    yield counter
    logger.removeHandler(counter)
    logger.setLevel(previous)


ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
async def browser(clean_db, settings):
    """``browser(base_url)``: a cookie-keeping client of the app, like a browser (no redirects followed),
    asking for English pages (tests/test_i18n.py covers the Chinese ones)."""
    clients: list[httpx.AsyncClient] = []

    def make(base_url: str = "http://kehu.test") -> httpx.AsyncClient:
        http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(settings)), base_url=base_url, headers={"accept-language": "en"}
        )
        clients.append(http)
        return http

    yield make
    for http in clients:
        await http.aclose()
