"""Subscriptions over WebSocket (graphql-transport-ws): who hears of which complaint, and when they stop.

In-process, the socket is driven by a small ASGI WebSocket client on the test's own event
loop (the database the session opened lives on that loop); across processes, by the
``websockets`` package against two real ``kehu serve`` workers sharing one PostgreSQL.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from datetime import UTC, datetime

import httpx
import pytest
import websockets

from models import db, live
from models.access import ApiToken, User
from models.customers import Customer
from models.scope import Scope
from models.staff import create_team
from schema import subscriptions
from schema.ids import from_global_id, to_global_id
from server import background
from server.app import create_app
from tests.browser import live_server
from tests.conftest import TEST_SECRET, staff

PROTOCOL = "graphql-transport-ws"
FILE = """
mutation($input: FileComplaintInput!) {
  fileComplaint(input: $input) { complaint { id reference } errors { field code message } }
}
"""
MOVE = """
mutation($id: ID!, $to: ComplaintStatus!) {
  transitionComplaint(input: {id: $id, to: $to}) { complaint { status } errors { code message } }
}
"""
CUSTOMER = "mutation($name: String!) { createCustomer(input: {name: $name}) { customer { id } } }"
QUEUE = "subscription($team: ID) { complaintsChanged(teamId: $team) { id reference status customer { name } } }"
ONE = "subscription($id: ID!) { complaintUpdated(id: $id) { reference status teamId } }"


class Closed(Exception):
    def __init__(self, code: int):
        super().__init__(f"closed with {code}")
        self.code = code


class Socket:
    """A WebSocket client of an ASGI app, in-process, on the caller's event loop."""

    def __init__(self, app, headers: dict[str, str] | None = None, subprotocols: tuple[str, ...] = (PROTOCOL,)):
        self.app = app
        self.headers = [(b"host", b"kehu.test")] + [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
        self.subprotocols = list(subprotocols)
        self.to_app: asyncio.Queue[dict] = asyncio.Queue()
        self.from_app: asyncio.Queue[dict] = asyncio.Queue()
        self.accepted = False
        self.close_code: int | None = None

    async def __aenter__(self) -> Socket:
        scope = {
            "type": "websocket", "asgi": {"version": "3.0"}, "http_version": "1.1", "scheme": "ws",
            "server": ("kehu.test", 80), "client": ("127.0.0.1", 50000), "root_path": "",
            "path": "/graphql", "raw_path": b"/graphql", "query_string": b"", "headers": self.headers,
            "subprotocols": self.subprotocols, "state": {},
        }
        self.task = asyncio.create_task(self.app(scope, self.to_app.get, self.from_app.put))
        await self.to_app.put({"type": "websocket.connect"})
        first = await asyncio.wait_for(self.from_app.get(), 5)
        if first["type"] == "websocket.accept":
            self.accepted = True
            self.subprotocol = first.get("subprotocol")
        else:
            assert first["type"] in ("websocket.close", "websocket.http.response.start"), first
            self.close_code = first.get("code", 403)
        return self

    async def __aexit__(self, *exc) -> None:
        await self.to_app.put({"type": "websocket.disconnect", "code": 1000})
        await asyncio.wait_for(self.task, 10)

    async def send(self, message: dict) -> None:
        await self.to_app.put({"type": "websocket.receive", "text": json.dumps(message)})

    async def receive(self, timeout: float = 10) -> dict:
        message = await asyncio.wait_for(self.from_app.get(), timeout)
        if message["type"] == "websocket.close":
            self.close_code = message["code"]
            await self.to_app.put({"type": "websocket.disconnect", "code": message["code"]})
            raise Closed(message["code"])
        return json.loads(message["text"])

    async def closed(self, timeout: float = 10) -> int:
        """The close code the app ends with (failing on any other message first)."""
        with pytest.raises(Closed) as closed:
            extra = await self.receive(timeout)
            pytest.fail(f"expected the socket to close, got {extra}")
        return closed.value.code

    async def init(self, authorization: str | None, key: str = "Authorization") -> None:
        await self.send({"type": "connection_init", "payload": {} if authorization is None else {key: authorization}})

    async def subscribe(self, operation_id: str, query: str, variables: dict | None = None) -> None:
        """Start a subscription and wait until it listens for changes."""
        before = live.hub.listeners
        await self.send({"id": operation_id, "type": "subscribe", "payload": {"query": query, "variables": variables or {}}})
        for _ in range(500):
            if live.hub.listeners > before:
                return
            await asyncio.sleep(0.01)
        pytest.fail(f"subscription {operation_id} did not start listening")


@pytest.fixture
async def listening(clean_db: str, settings):
    """On PostgreSQL, this process LISTENs as a worker does (server/background.py), so that the
    changes reach the hub through NOTIFY; on SQLite they reach it directly."""
    if not clean_db.startswith("postgres"):
        yield
        return
    async with background.running(replace(settings, sweep_seconds=0)):
        async with live.hub.listen() as probe:  # wait until LISTEN is in place
            for _ in range(200):
                await live.announce(db.connection(), 0, None)
                try:
                    await asyncio.wait_for(probe.get(), 0.1)
                    break
                except TimeoutError:
                    continue
            else:
                pytest.fail("the LISTEN connection never heard a NOTIFY")
        yield


@pytest.fixture
async def teams(gql) -> dict[str, int]:
    """Teams East and West, each with a customer of its own."""
    made = {}
    for name in ("East", "West"):
        team = (await create_team(Scope.of_system(), name))["id"]
        customer = (await gql.data(CUSTOMER, {"name": f"{name} customer"}))["createCustomer"]["customer"]["id"]
        await Customer.filter(id=from_global_id(customer, "id")[1]).update(team_id=team)
        made[name] = team
        made[f"{name} customer"] = customer
    return made


async def _file(gql, customer: str) -> dict:
    data = await gql.data(FILE, {"input": {
        "customerId": customer, "subject": "杯子碎了", "description": "快递到的时候就碎了", "channel": "WECHAT",
        "category": "delivery",
    }})
    assert data["fileComplaint"]["errors"] == []
    return data["fileComplaint"]["complaint"]


async def _move(gql, complaint: str, to: str) -> None:
    assert (await gql.data(MOVE, {"id": complaint, "to": to}))["transitionComplaint"]["errors"] == []


async def _acknowledged(socket: Socket) -> None:
    assert await socket.receive() == {"type": "connection_ack"}


async def test_a_subscriber_hears_of_complaints_they_may_see_and_never_of_others(gql, settings, teams, listening):
    east_staff = await staff("east@example.com", ["customer.read", "complaint.read"], "TEAM", teams["East"])
    async with Socket(create_app(settings)) as socket:
        assert socket.subprotocol == PROTOCOL
        await socket.init(east_staff["authorization"], key="authorization")
        await _acknowledged(socket)
        await socket.subscribe("queue", QUEUE)
        await socket.subscribe("west queue", QUEUE, {"team": to_global_id("Team", teams["West"])})

        # Given a West complaint filed and moved at the same time as an East one (each change is
        # read as it is when delivered: the test hears one round before making the next),
        received: dict[str, list] = {"queue": [], "one": []}

        async def hear(queue: int, one: int) -> None:
            while len(received["queue"]) < queue or len(received["one"]) < one:
                message = await socket.receive()
                assert message["type"] == "next", message
                assert message["id"] in received, message  # nothing ever arrives on "west queue"
                assert "errors" not in message["payload"], message
                received[message["id"]].append(message["payload"]["data"])

        west = await _file(gql, teams["West customer"])
        east = await _file(gql, teams["East customer"])
        await hear(1, 0)
        await socket.subscribe("one", ONE, {"id": east["id"]})
        await _move(gql, west["id"], "ACKNOWLEDGED")
        await _move(gql, east["id"], "ACKNOWLEDGED")
        await hear(2, 1)
        await _move(gql, west["id"], "IN_PROGRESS")
        await _move(gql, east["id"], "IN_PROGRESS")
        await hear(3, 2)

        # the East staff member hears of the East one, each change with its new status, in order;
        queue = [data["complaintsChanged"] for data in received["queue"]]
        assert queue == [
            {"id": east["id"], "reference": east["reference"], "status": status, "customer": {"name": "East customer"}}
            for status in ("NEW", "ACKNOWLEDGED", "IN_PROGRESS")
        ]
        assert [data["complaintUpdated"] for data in received["one"]] == [
            {"reference": east["reference"], "status": status, "teamId": to_global_id("Team", teams["East"])}
            for status in ("ACKNOWLEDGED", "IN_PROGRESS")
        ]
        # and of the West one nothing at all, not even its id.
        with pytest.raises(TimeoutError):
            await socket.receive(timeout=0.3)

        # Completing a subscription stops it; the others go on.
        listeners = live.hub.listeners
        await socket.send({"id": "queue", "type": "complete"})
        for _ in range(500):
            if live.hub.listeners < listeners:
                break
            await asyncio.sleep(0.01)
        await _move(gql, east["id"], "WAITING_ON_CUSTOMER")
        message = await socket.receive()
        assert message["id"] == "one" and message["payload"]["data"]["complaintUpdated"]["status"] == "WAITING_ON_CUSTOMER"
    assert live.hub.listeners == 0  # the closed socket listens no more


@pytest.mark.parametrize("authorization", [None, "Bearer kehu_not-a-token", "Basic a2VodTprZWh1", "kehu_no-scheme"])
async def test_a_missing_or_unknown_token_is_forbidden(clean_db, settings, authorization):
    async with Socket(create_app(settings)) as socket:
        await socket.init(authorization)
        assert await socket.closed() == 4403


async def test_a_token_without_complaint_read_is_forbidden(clean_db, settings):
    reader = await staff("reader@example.com", ["customer.read"], "ALL")
    async with Socket(create_app(settings)) as socket:
        await socket.init(reader["authorization"])
        assert await socket.closed() == 4403


async def _revoke(email: str, how: str) -> None:
    if how == "token revoked":
        await ApiToken.filter(user__email=email).update(revoked_at=datetime.now(UTC))
    else:
        await User.filter(email=email).update(is_active=False)


@pytest.mark.parametrize("how", ["token revoked", "user deactivated"])
async def test_a_subscriber_who_lost_access_is_closed_out_at_the_next_change(gql, settings, teams, listening, how):
    east_staff = await staff("east@example.com", ["customer.read", "complaint.read"], "TEAM", teams["East"])
    east = await _file(gql, teams["East customer"])
    async with Socket(create_app(settings)) as socket:
        await socket.init(east_staff["authorization"])
        await _acknowledged(socket)
        await socket.subscribe("one", ONE, {"id": east["id"]})
        await _move(gql, east["id"], "ACKNOWLEDGED")
        assert (await socket.receive())["payload"]["data"]["complaintUpdated"]["status"] == "ACKNOWLEDGED"

        await _revoke("east@example.com", how)
        await _move(gql, east["id"], "IN_PROGRESS")
        assert await socket.closed() == 4403


async def test_a_subscriber_who_lost_access_is_closed_out_while_nothing_changes(clean_db, settings, monkeypatch):
    monkeypatch.setattr(subscriptions, "RECHECK_SECONDS", 0.05)
    reader = await staff("reader@example.com", ["customer.read", "complaint.read"], "ALL")
    async with Socket(create_app(settings)) as socket:
        await socket.init(reader["authorization"])
        await _acknowledged(socket)
        await socket.subscribe("queue", QUEUE)
        await _revoke("reader@example.com", "token revoked")
        assert await socket.closed() == 4403


async def test_a_complaint_that_leaves_the_subscribers_sight_is_no_longer_sent(gql, settings, teams, listening):
    east_staff = await staff("east@example.com", ["customer.read", "complaint.read"], "TEAM", teams["East"])
    leaving = await _file(gql, teams["East customer"])
    staying_customer = (await gql.data(CUSTOMER, {"name": "another East customer"}))["createCustomer"]["customer"]["id"]
    await Customer.filter(id=from_global_id(staying_customer, "id")[1]).update(team_id=teams["East"])
    staying = await _file(gql, staying_customer)
    customer = from_global_id(teams["East customer"], "id")[1]
    async with Socket(create_app(settings)) as socket:
        await socket.init(east_staff["authorization"])
        await _acknowledged(socket)
        await socket.subscribe("queue", QUEUE)

        # The customer moves to West: their complaint's change is not sent to East (changes are
        # read in order, so the next change heard, of another complaint, comes after it was read).
        await Customer.filter(id=customer).update(team_id=teams["West"])
        await _move(gql, leaving["id"], "ACKNOWLEDGED")
        await _move(gql, staying["id"], "ACKNOWLEDGED")
        heard = (await socket.receive())["payload"]["data"]["complaintsChanged"]
        assert (heard["id"], heard["status"]) == (staying["id"], "ACKNOWLEDGED")

        # Back in East: its next change is sent, as it is now.
        await Customer.filter(id=customer).update(team_id=teams["East"])
        await _move(gql, leaving["id"], "IN_PROGRESS")
        heard = (await socket.receive())["payload"]["data"]["complaintsChanged"]
        assert (heard["id"], heard["status"]) == (leaving["id"], "IN_PROGRESS")


async def test_a_handshake_from_another_site_is_refused(clean_db, settings):
    async with Socket(create_app(settings), {"origin": "https://evil.example"}) as socket:
        assert not socket.accepted
    async with Socket(create_app(settings), {"origin": "http://kehu.test"}) as socket:
        assert socket.accepted


async def test_the_protocol_is_kept(gql, settings, teams):
    east_staff = await staff("east@example.com", ["customer.read", "complaint.read"], "TEAM", teams["East"])
    app = create_app(settings)
    async with Socket(app, subprotocols=("graphql-ws",)) as socket:  # the older, other protocol
        assert await socket.closed() == 4406
    async with Socket(app) as socket:  # subscribing before connection_init
        await socket.send({"id": "1", "type": "subscribe", "payload": {"query": QUEUE}})
        assert await socket.closed() == 4401
    async with Socket(app) as socket:
        await socket.init(east_staff["authorization"])
        await _acknowledged(socket)
        await socket.send({"type": "ping"})
        assert await socket.receive() == {"type": "pong"}
        # Queries go over HTTP; a bad ID, an unknown field: an `error` for that operation, the socket stays.
        await socket.send({"id": "q", "type": "subscribe", "payload": {"query": "{ me { id } }"}})
        assert (await socket.receive())["type"] == "error"
        await socket.send({"id": "f", "type": "subscribe", "payload": {"query": "subscription { nope }"}})
        error = await socket.receive()
        assert error["type"] == "error" and error["payload"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
        await socket.send({"id": "b", "type": "subscribe", "payload": {"query": ONE, "variables": {"id": "nope"}}})
        bad = await socket.receive()
        assert bad["type"] == "next" and bad["payload"]["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", bad
        assert await socket.receive() == {"id": "b", "type": "complete"}
        await socket.init(east_staff["authorization"])
        assert await socket.closed() == 4429


async def test_a_change_made_on_one_worker_reaches_a_subscriber_of_another(clean_db, gql, teams, tmp_path):
    if not clean_db.startswith("postgres"):
        pytest.skip("workers share changes through PostgreSQL's NOTIFY; SQLite runs one worker")
    east_staff = await staff("east@example.com", ["customer.read", "complaint.read"], "TEAM", teams["East"])
    admin = {"authorization": gql.http.headers["authorization"]}
    env = {"KEHU_DATABASE_URL": clean_db, "KEHU_SECRET_KEY": TEST_SECRET, "KEHU_SWEEP_SECONDS": "0"}
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with live_server(tmp_path / "a", env, migrate=False) as a, live_server(tmp_path / "b", env, migrate=False) as b:
        url = a.base_url.replace("http://", "ws://") + "/graphql"
        async with (
            websockets.connect(url, subprotocols=[PROTOCOL]) as socket,
            httpx.AsyncClient(base_url=b.base_url, headers=admin, timeout=10) as worker_b,
        ):
            await socket.send(json.dumps({"type": "connection_init", "payload": {"Authorization": east_staff["authorization"]}}))
            assert json.loads(await socket.recv()) == {"type": "connection_ack"}
            await socket.send(json.dumps({"id": "queue", "type": "subscribe", "payload": {"query": QUEUE}}))
            via_b = _Remote(worker_b)

            # A's subscription starts and A's LISTEN connects in their own time: file until one is heard.
            filed: dict[str, str] = {}
            heard = None
            for _ in range(40):
                await via_b.file(teams["West customer"])
                complaint = await via_b.file(teams["East customer"])
                filed[complaint["id"]] = complaint["reference"]
                try:
                    heard = json.loads(await asyncio.wait_for(socket.recv(), 0.5))
                    break
                except TimeoutError:
                    continue
            assert heard is not None, "worker A's subscriber heard nothing of worker B's changes"
            change = heard["payload"]["data"]["complaintsChanged"]
            assert change["id"] in filed and change["status"] == "NEW" and change["customer"] == {"name": "East customer"}

            await via_b.move(change["id"], "ACKNOWLEDGED")
            while True:  # complaints filed before the first was heard may follow; then the move
                message = json.loads(await asyncio.wait_for(socket.recv(), 10))
                got = message["payload"]["data"]["complaintsChanged"]
                assert got["id"] in filed and got["customer"] == {"name": "East customer"}, got
                if got["id"] == change["id"] and got["status"] == "ACKNOWLEDGED":
                    break
        assert "Traceback" not in a.log() + b.log()


class _Remote:
    """Complaint work through a live worker's HTTP API."""

    def __init__(self, http: httpx.AsyncClient):
        self.http = http

    async def _data(self, query: str, variables: dict) -> dict:
        body = (await self.http.post("/graphql", json={"query": query, "variables": variables})).json()
        assert "errors" not in body, body
        return body["data"]

    async def file(self, customer: str) -> dict:
        data = await self._data(FILE, {"input": {
            "customerId": customer, "subject": "没收到货", "description": "等了两周", "channel": "PHONE", "category": "delivery",
        }})
        assert data["fileComplaint"]["errors"] == [], data
        return data["fileComplaint"]["complaint"]

    async def move(self, complaint: str, to: str) -> None:
        data = await self._data(MOVE, {"id": complaint, "to": to})
        assert data["transitionComplaint"]["errors"] == [], data
