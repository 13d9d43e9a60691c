"""The admin's event stream obeys the scope rule: a change is sent only to whoever may see the complaint."""

from __future__ import annotations

import base64
import re
import threading
from collections.abc import Iterator

import httpx
import pytest

from tests.browser import LiveServer, create_admin, live_server

PASSWORD = "event stream passphrase"



def _login(server: LiveServer, email: str) -> str:
    query = 'mutation($e: String!, $p: String!) { login(input: {email: $e, password: $p}) { token } }'
    return server.graphql(query, variables={"e": email, "p": PASSWORD})["login"]["token"]


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("events"), env={"KEHU_SECRET_KEY": "e" * 40}) as live:
        create_admin(live, PASSWORD)
        yield live


def _member(server: LiveServer, admin: str, email: str, team: str, role: str) -> str:
    made = server.graphql('mutation($e: String!, $t: ID!, $r: ID!, $p: String!) { createUser(input: {email: $e, displayName: $e,'
                    ' password: $p, teamId: $t, roleIds: [$r]}) { user { id } errors { message } } }',
                    admin, {"e": email, "t": team, "r": role, "p": PASSWORD})
    assert made["createUser"]["user"], made
    return _login(server, email)


def test_the_event_stream_sends_only_complaints_the_reader_sees(server):
    admin = _login(server, "admin@example.com")
    east = server.graphql('mutation { createTeam(input: {name: "East"}) { team { id } } }', admin)["createTeam"]["team"]["id"]
    west = server.graphql('mutation { createTeam(input: {name: "West"}) { team { id } } }', admin)["createTeam"]["team"]["id"]
    role = server.graphql('mutation { createRole(input: {name: "Desk", dataScope: TEAM, permissions: ["customer.read",'
                    ' "customer.create", "complaint.read"]}) { role { id } } }', admin)["createRole"]["role"]["id"]
    east_token = _member(server, admin, "east@example.com", east, role)
    west_token = _member(server, admin, "west@example.com", west, role)
    create = 'mutation($n: String!) { createCustomer(input: {name: $n}) { customer { id } } }'
    east_customer = server.graphql(create, east_token, {"n": "East customer"})["createCustomer"]["customer"]["id"]
    west_customer = server.graphql(create, west_token, {"n": "West customer"})["createCustomer"]["customer"]["id"]

    browser = httpx.Client(base_url=server.url(""), timeout=30)
    form = browser.get("/admin/login").text
    token = re.search(r'name="login_token" value="([^"]*)"', form).group(1)
    signed_in = browser.post("/admin/login", data={"login_token": token, "email": "east@example.com", "password": PASSWORD, "next": "/admin/"})
    assert signed_in.status_code == 303
    received: list[str] = []
    opened = threading.Event()

    def listen() -> None:
        with browser.stream("GET", "/admin/complaints/events", timeout=httpx.Timeout(30, read=30)) as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            for line in stream.iter_lines():
                opened.set()
                if line.startswith("data: "):
                    received.append(line.removeprefix("data: "))
                    if len(received) >= 3:
                        return

    reader = threading.Thread(target=listen, daemon=True)
    reader.start()
    assert opened.wait(10), "the stream did not open"
    file = ('mutation($c: ID!) { fileComplaint(input: {customerId: $c, subject: "s", description: "d", channel: APP,'
            ' category: "other"}) { complaint { id } errors { code } } }')
    hidden = server.graphql(file, admin, {"c": west_customer})["fileComplaint"]["complaint"]["id"]
    seen = server.graphql(file, admin, {"c": east_customer})["fileComplaint"]["complaint"]["id"]
    move = 'mutation($id: ID!) { transitionComplaint(input: {id: $id, to: CANCELLED}) { errors { code } } }'
    server.graphql(move, admin, {"id": hidden})
    server.graphql(move, admin, {"id": seen})
    reader.join(15)
    pk = {value: base64.b64decode(value).decode().split(":")[1] for value in (hidden, seen)}
    assert received == ["listening", pk[seen], pk[seen]]  # ready; filed and cancelled; nothing of West's

    anonymous = httpx.get(server.url("/admin/complaints/events"), timeout=10)
    assert anonymous.status_code == 401
