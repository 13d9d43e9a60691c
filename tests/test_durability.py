"""Durability: 503 while the database is away, nothing acknowledged lost to restarts, dropped connections or kill -9."""

from __future__ import annotations

import asyncio
import itertools
import json
import signal
import socket
import sqlite3
import time

import asyncpg
import httpx
import pytest

from models import db
from models.db import PostgresClient, tortoise_config
from tests.browser import create_admin, free_port, live_server
from tests.conftest import _drop_postgres_database, _postgres_or_skip
from tests.pg_instance import pg_instance, remove


@pytest.fixture(scope="module")
def server_without_database(tmp_path_factory):
    dead = f"postgres://postgres@127.0.0.1:{free_port()}/kehu"  # nothing listens there
    with live_server(tmp_path_factory.mktemp("down"), {"KEHU_DATABASE_URL": dead}, migrate=False) as server:
        yield server


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        ({"authorization": "Bearer kehu_" + "x" * 43}, {"query": "{ customers { totalCount } }"}),
        ({}, {"query": 'mutation { login(input: {email: "a@example.com", password: "x"}) { token errors { code } } }'}),
    ],
    ids=["signed-in query", "login"],
)
def test_graphql_answers_503_while_the_database_is_down(server_without_database, headers, body):
    response = httpx.post(server_without_database.url("/graphql"), json=body, headers=headers, timeout=10)
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert response.json() == {
        "errors": [{"message": "The database is unavailable; retry shortly.", "extensions": {"code": "UNAVAILABLE"}}]
    }
    assert "Connect call failed" not in response.text and "Traceback" not in server_without_database.log()


def test_health_says_alive_and_readiness_says_not_ready(server_without_database):
    assert httpx.get(server_without_database.url("/healthz")).status_code == 200
    ready = httpx.get(server_without_database.url("/readyz"))
    assert ready.status_code == 503 and ready.headers["retry-after"]


@pytest.fixture(scope="module")
def private_pg():
    instance = pg_instance()
    yield instance
    remove(instance)


@pytest.fixture(scope="module")
def server_on_private_pg(private_pg, tmp_path_factory):
    env = {"KEHU_DATABASE_URL": private_pg.url, "KEHU_DB_POOL_SIZE": "5"}
    with live_server(tmp_path_factory.mktemp("pg"), env) as server:
        create_admin(server, PASSWORD, "ops@example.com")
        login = httpx.post(server.url("/graphql"), json={"query": LOGIN}, timeout=30).json()
        server.env["TOKEN"] = login["data"]["login"]["token"]
        yield server


PASSWORD = "durable passphrase for tests"
LOGIN = f'mutation {{ login(input: {{email: "ops@example.com", password: "{PASSWORD}"}}) {{ token }} }}'
CREATE = "mutation($name: String!) { createCustomer(input: {name: $name}) { customer { id } errors { code } } }"


async def _terminate_connections(url: str) -> None:
    connection = await asyncpg.connect(url)
    try:
        await connection.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND backend_type = 'client backend'"
        )
    finally:
        await connection.close()


async def test_no_acknowledged_write_is_lost_when_postgres_restarts_or_drops_connections(server_on_private_pg, private_pg):
    server = server_on_private_pg
    headers = {"authorization": f"Bearer {server.env['TOKEN']}"}
    acknowledged: list[tuple[float, str]] = []
    statuses: dict[int, int] = {}
    stop = asyncio.Event()

    async def writer(n: int) -> None:
        async with httpx.AsyncClient(base_url=server.base_url, headers=headers, timeout=10) as http:
            for i in itertools.count():
                if stop.is_set():
                    return
                name = f"w{n}-{i}"
                try:
                    response = await http.post("/graphql", json={"query": CREATE, "variables": {"name": name}})
                except httpx.TransportError:
                    continue
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                if response.status_code == 200 and response.json()["data"]["createCustomer"]["customer"]:
                    acknowledged.append((time.monotonic(), name))
                elif response.status_code == 503:
                    await asyncio.sleep(0.05)

    async def back_within(seconds: float, since: float) -> float:
        deadline = since + seconds
        while time.monotonic() < deadline + 2:
            if any(at > since for at, _ in acknowledged):
                return min(at for at, _ in acknowledged if at > since) - since
            await asyncio.sleep(0.02)
        return float("inf")

    writers = [asyncio.create_task(writer(n)) for n in range(6)]
    try:
        await asyncio.sleep(1)
        recoveries = {}
        for disruption in ("terminate", "fast", "immediate"):
            if disruption == "terminate":
                await _terminate_connections(private_pg.url)
            else:
                await asyncio.to_thread(private_pg.restart, disruption)
            accepting = time.monotonic()  # pg_ctl -w returns once the server accepts connections
            recoveries[disruption] = await back_within(1.0, accepting)
            await asyncio.sleep(0.5)
    finally:
        stop.set()
        await asyncio.gather(*writers)

    assert 500 not in statuses, statuses
    assert all(seconds <= 1.0 for seconds in recoveries.values()), recoveries
    names = [name for _, name in acknowledged]
    connection = await asyncpg.connect(private_pg.url)
    try:
        rows = await connection.fetch("SELECT name, COUNT(*) AS n FROM customer WHERE name = ANY($1) GROUP BY name", names)
    finally:
        await connection.close()
    stored = {row["name"]: row["n"] for row in rows}
    assert len(names) > 50
    assert all(stored.get(name) == 1 for name in names), [n for n in names if stored.get(n) != 1][:10]


async def test_a_killed_server_on_sqlite_loses_no_acknowledged_write(tmp_path):
    with live_server(tmp_path) as server:
        create_admin(server, PASSWORD, "ops@example.com")
        token = httpx.post(server.url("/graphql"), json={"query": LOGIN}, timeout=30).json()["data"]["login"]["token"]
        acknowledged: list[str] = []

        async def writer(n: int) -> None:
            async with httpx.AsyncClient(base_url=server.base_url, headers={"authorization": f"Bearer {token}"}) as http:
                for i in itertools.count():
                    try:
                        response = await http.post("/graphql", json={"query": CREATE, "variables": {"name": f"k{n}-{i}"}})
                    except httpx.TransportError:
                        return  # the server is gone
                    if response.status_code == 200 and response.json()["data"]["createCustomer"]["customer"]:
                        acknowledged.append(f"k{n}-{i}")

        writers = [asyncio.create_task(writer(n)) for n in range(4)]
        for _ in range(300):  # writes in full flow, however slow the disk
            if len(acknowledged) > 20:
                break
            await asyncio.sleep(0.1)
        server.process.kill()  # SIGKILL: no shutdown, no checkpoint
        await asyncio.gather(*writers)

    database = tmp_path / "t.sqlite3"
    connection = sqlite3.connect(database)
    try:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        counts = dict(connection.execute("SELECT name, COUNT(*) FROM customer GROUP BY name").fetchall())
    finally:
        connection.close()
    assert len(acknowledged) > 20
    assert all(counts.get(name) == 1 for name in acknowledged), [n for n in acknowledged if counts.get(n) != 1][:10]


@pytest.fixture
async def tight_postgres():
    """A client of kehu's own engine on the test server: one connection, short timeouts."""
    url = await asyncio.to_thread(_postgres_or_skip)
    _, credentials = tortoise_config(url, pool_size=1, statement_timeout_ms=200, acquire_timeout=0.3)["connections"]["default"].values()
    client = PostgresClient(connection_name="tight", **credentials)
    yield client
    await client.close()
    await _drop_postgres_database(url)


async def test_a_slow_statement_and_a_full_pool_fail_fast_as_unavailable(tight_postgres):
    with pytest.raises(Exception) as slow:
        await tight_postgres.execute_query("SELECT pg_sleep(2)")
    assert db.unavailable(slow.value)

    async with tight_postgres.acquire_connection():
        started = time.monotonic()
        with pytest.raises(Exception) as waiting:
            async with tight_postgres.acquire_connection():
                pass
        assert time.monotonic() - started < 2
    assert db.unavailable(waiting.value)
    assert (await tight_postgres.execute_query_dict("SELECT current_setting('application_name') AS name"))[0]["name"] == "kehu"


def test_sigterm_lets_a_request_in_flight_finish_then_exits(tmp_path):
    with live_server(tmp_path) as server:
        host, port = server.base_url.removeprefix("http://").split(":")
        body = b'{"query": "{ __typename }"}'
        with socket.create_connection((host, int(port)), timeout=10) as connection:
            connection.sendall(
                b"POST /graphql HTTP/1.1\r\nhost: kehu\r\ncontent-type: application/json\r\n"
                + f"content-length: {len(body)}\r\n\r\n".encode() + body[:10]
            )
            time.sleep(0.3)  # the request is in flight: its body is half sent
            server.process.send_signal(signal.SIGTERM)
            for _ in range(100):  # no new connections while draining, once the signal has been handled
                try:
                    socket.create_connection((host, int(port)), timeout=2).close()
                except OSError:
                    break
                time.sleep(0.1)
            else:
                pytest.fail("the server still took new connections 10 s after SIGTERM")
            connection.sendall(body[10:])
            answer = b""
            while chunk := connection.recv(65536):  # the server closes the connection after answering
                answer += chunk
            answer = answer.decode()
        head, _, body = answer.partition("\r\n\r\n")
        assert head.startswith("HTTP/1.1 200") and "connection: close" in head
        assert json.loads(body)["data"] == {"__typename": "Query"}
        # uvicorn finishes its shutdown, then exits by the signal it got, as Unix programs do
        assert server.process.wait(timeout=25) in (0, -signal.SIGTERM)
        assert "Finished server process" in server.log()
