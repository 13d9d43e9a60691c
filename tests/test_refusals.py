"""No oracle by volume: DUPLICATE and CYCLE tell something about other customers, so they are
limited, counted and audited, and say the same whoever holds the value."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from models import refusals
from models.audit import AuditEvent
from models.customers import Customer, create_customer
from models.graph import set_referrer
from models.scope import Scope
from models.staff import create_team
from schema.ids import to_global_id
from tests.conftest import ask, staff

SYSTEM = Scope.of_system()
SALES = ["customer.read", "customer.create", "customer.update"]
UPDATE = "a{n}: updateCustomer(input: {{id: $id, phone: \"{phone}\"}}) {{ customer {{ phone }} errors {{ code message }} }}"
CREATE = """mutation($phone: String!) { createCustomer(input: {name: "x", phone: $phone}) {
  customer { id } errors { field code message existingId } } }"""
REAL = "+8613800000002"
PROBES = ("user.refused_duplicate", "user.refused_cycle", "user.rate_limited")


def candidates(count: int) -> list[str]:
    """Numbers a guesser would try against +86138****0002, the real one seventh."""
    guesses = [f"+86138{n:04d}0002" for n in range(1, count + 1) if f"+86138{n:04d}0002" != REAL]
    guesses.insert(6, REAL)
    return guesses[:count]


@pytest.fixture
async def east(clean_db) -> dict:
    """Team East: a salesperson without customer.pii, their own customer, and a colleague's customer
    whose phone they see masked (+86138****0002)."""
    team = (await create_team(SYSTEM, "East"))["id"]
    headers = await staff("sales@example.com", SALES, "TEAM", team)
    own = await create_customer(SYSTEM, {"name": "自己的客户", "phone": "+8613900000001"})
    holder = await create_customer(SYSTEM, {"name": "同事的客户", "phone": REAL})
    await Customer.filter(id__in=[own["id"], holder["id"]]).update(team_id=team)
    return {"team": team, "headers": headers, "own": to_global_id("Customer", own["id"]), "own_pk": own["id"]}


async def test_many_tries_in_one_request_change_a_phone_once(east, as_user):
    sales = as_user(east["headers"])
    document = "mutation($id: ID!) {" + " ".join(UPDATE.format(n=n, phone=p) for n, p in enumerate(candidates(30))) + "}"

    body = await ask(sales, document, {"id": east["own"]})

    answers = [body["data"][f"a{n}"] for n in range(30)]
    assert answers[0]["errors"] == [] and answers[0]["customer"]["phone"] == "+86138****0002"
    assert all([e["code"] for e in a["errors"]] == ["RATE_LIMITED"] for a in answers[1:])
    assert "DUPLICATE" not in str(body)  # the real number, seventh, was never tried
    assert (await Customer.get(id=east["own_pk"])).phone == candidates(1)[0]


async def test_a_batch_is_one_request(east, as_user):
    sales = as_user(east["headers"])
    batch = [
        {"query": "mutation($id: ID!) { " + UPDATE.format(n=0, phone=phone) + " }", "variables": {"id": east["own"]}}
        for phone in candidates(10)
    ]
    answers = (await sales.post("/graphql", json=batch)).json()
    codes = [[e["code"] for e in answer["data"]["a0"]["errors"]] for answer in answers]
    assert codes == [[]] + [["RATE_LIMITED"]] * 9


async def test_duplicates_are_counted_then_refused_for_a_while_and_audited(east, as_user):
    # Given a phone held by a customer of another team
    west = (await create_team(SYSTEM, "West"))["id"]
    hidden = await create_customer(SYSTEM, {"name": "别队的客户", "phone": "+8613700000007"})
    await Customer.filter(id=hidden["id"]).update(team_id=west)
    sales = as_user(east["headers"])

    # When a guesser tries it, request after request
    refused = [await ask(sales, CREATE, {"phone": "+8613700000007"}) for _ in range(refusals.LIMIT)]
    over = await ask(sales, CREATE, {"phone": "+8613600000000"})  # a free number, even

    # Then the first few are DUPLICATE, and the next is RATE_LIMITED whatever its number
    assert all([e["code"] for e in r["data"]["createCustomer"]["errors"]] == ["DUPLICATE"] for r in refused)
    assert [e["code"] for e in over["data"]["createCustomer"]["errors"]] == ["RATE_LIMITED"]
    assert await Customer.filter(phone="+8613600000000").count() == 0
    actions = await AuditEvent.filter(action__in=PROBES).values_list("action", flat=True)
    assert sorted(actions) == ["user.rate_limited"] + ["user.refused_duplicate"] * refusals.LIMIT


async def test_the_limit_lasts_its_window(east, as_user, monkeypatch):
    sales = as_user(east["headers"])
    for _ in range(refusals.LIMIT):
        await ask(sales, CREATE, {"phone": REAL})
    assert [e["code"] for e in (await ask(sales, CREATE, {"phone": "+8613600000000"}))["data"]["createCustomer"]["errors"]] == ["RATE_LIMITED"]
    monkeypatch.setattr(refusals, "WINDOW", timedelta(0))  # the minute has passed
    assert (await ask(sales, CREATE, {"phone": "+8613600000000"}))["data"]["createCustomer"]["errors"] == []


async def test_the_refusal_says_the_same_whether_the_holder_is_visible_or_not(east, as_user):
    west = (await create_team(SYSTEM, "West"))["id"]
    hidden = await create_customer(SYSTEM, {"name": "别队的客户", "phone": "+8613700000007"})
    await Customer.filter(id=hidden["id"]).update(team_id=west)
    sales = as_user(east["headers"])

    seen = (await ask(sales, CREATE, {"phone": REAL}))["data"]["createCustomer"]["errors"]
    unseen = (await ask(sales, CREATE, {"phone": "+8613700000007"}))["data"]["createCustomer"]["errors"]

    assert seen == unseen == [
        {"field": "phone", "code": "DUPLICATE", "message": "another customer already has this phone.", "existingId": None}
    ]


async def test_who_may_look_the_holder_up_is_told_who_it_is_and_not_counted(east, as_user):
    sees_all = as_user(await staff("desk@example.com", [*SALES, "customer.pii"], "TEAM", east["team"]))
    for _ in range(refusals.LIMIT + 2):
        errors = (await ask(sees_all, CREATE, {"phone": REAL}))["data"]["createCustomer"]["errors"]
        assert [e["code"] for e in errors] == ["DUPLICATE"] and errors[0]["existingId"] is not None
    assert not await AuditEvent.filter(action__in=PROBES).exists()


async def test_a_loop_through_hidden_customers_is_counted(east, as_user):
    # Given A (East) referred B (West, hidden), who referred C (East)
    west = (await create_team(SYSTEM, "West"))["id"]
    a, b, c = [await create_customer(SYSTEM, {"name": name}) for name in ("A", "B", "C")]
    await Customer.filter(id__in=[a["id"], c["id"]]).update(team_id=east["team"])
    await Customer.filter(id=b["id"]).update(team_id=west)
    await set_referrer(SYSTEM, b["id"], a["id"])
    await set_referrer(SYSTEM, c["id"], b["id"])
    sales = as_user(east["headers"])
    refer = "mutation($c: ID!, $r: ID!) { setReferrer(input: {customerId: $c, referrerId: $r}) { errors { code message } } }"
    ids = {"c": to_global_id("Customer", a["id"]), "r": to_global_id("Customer", c["id"])}

    answers = [await ask(sales, refer, ids) for _ in range(refusals.LIMIT + 1)]

    codes = [[e["code"] for e in answer["data"]["setReferrer"]["errors"]] for answer in answers]
    assert codes == [["CYCLE"]] * refusals.LIMIT + [["RATE_LIMITED"]]
    assert await AuditEvent.filter(action="user.refused_cycle").count() == refusals.LIMIT
    assert (await Customer.get(id=a["id"])).referrer_id is None


async def test_a_refusal_under_an_idempotency_key_is_counted_once(east, as_user):
    sales = as_user(east["headers"])
    keyed = """mutation($phone: String!, $key: String!) { createCustomer(input: {name: "x", phone: $phone, idempotencyKey: $key}) {
      errors { code } } }"""
    answer = await ask(sales, keyed, {"phone": REAL, "key": "k-1"})
    assert [e["code"] for e in answer["data"]["createCustomer"]["errors"]] == ["DUPLICATE"]
    assert await AuditEvent.filter(action="user.refused_duplicate").count() == 1


async def test_without_pii_phones_and_emails_are_set_a_few_an_hour(east, as_user, monkeypatch):
    # Thirty customers of one's own test thirty numbers a request, each write that is not refused
    # saying "free": the writes are capped too, where the caller sees numbers only masked.
    monkeypatch.setattr(refusals, "PERSONAL_PER_HOUR", 3)
    sales = as_user(east["headers"])
    scratch = [to_global_id("Customer", (await create_customer(SYSTEM, {"name": f"s{n}"}))["id"]) for n in range(5)]
    await Customer.filter(name__startswith="s").update(team_id=east["team"])
    document = "mutation(" + ", ".join(f"$c{n}: ID!" for n in range(5)) + ") {" + " ".join(
        f'u{n}: updateCustomer(input: {{id: $c{n}, phone: "+86135{n:04d}0009"}}) {{ errors {{ code }} }}' for n in range(5)
    ) + "}"

    body = await ask(sales, document, {f"c{n}": customer for n, customer in enumerate(scratch)})

    assert [[e["code"] for e in body["data"][f"u{n}"]["errors"]] for n in range(5)] == [[], [], [], ["RATE_LIMITED"], ["RATE_LIMITED"]]
    assert (await ask(sales, CREATE, {"phone": "+8613600000000"}))["data"]["createCustomer"]["errors"][0]["code"] == "RATE_LIMITED"
    named = await ask(sales, 'mutation($id: ID!) { updateCustomer(input: {id: $id, name: "still fine"}) { errors { code } } }', {"id": scratch[4]})
    assert named["data"]["updateCustomer"]["errors"] == []  # other fields are not capped
    desk = as_user(await staff("desk@example.com", [*SALES, "customer.pii"], "TEAM", east["team"]))
    assert (await ask(desk, CREATE, {"phone": "+8613600000000"}))["data"]["createCustomer"]["errors"] == []


async def test_two_values_in_one_write_count_twice(east, as_user, monkeypatch):
    monkeypatch.setattr(refusals, "PERSONAL_PER_HOUR", 3)
    sales = as_user(east["headers"])
    both = 'mutation($id: ID!, $p: String!, $e: String!) { updateCustomer(input: {id: $id, phone: $p, email: $e}) { errors { code } } }'
    first = await ask(sales, both, {"id": east["own"], "p": "+8613500000009", "e": "a@example.com"})
    second = await ask(as_user(east["headers"]), both, {"id": east["own"], "p": "+8613500000010", "e": "b@example.com"})
    assert first["data"]["updateCustomer"]["errors"] == []
    assert [e["code"] for e in second["data"]["updateCustomer"]["errors"]] == ["RATE_LIMITED"]


async def test_parallel_requests_do_not_outrun_the_limits(east, as_user, monkeypatch):
    # Twenty requests at once, each on a connection of its own on PostgreSQL: each caller's such
    # writes wait for one another, and a refusal is on record before the next one reads.
    monkeypatch.setattr(refusals, "PERSONAL_PER_HOUR", 4)
    sales = as_user(east["headers"])
    free = await asyncio.gather(*(ask(sales, CREATE, {"phone": f"+86135{n:08d}"}) for n in range(20)))
    assert sorted(tuple(e["code"] for e in a["data"]["createCustomer"]["errors"]) for a in free) == [()] * 4 + [("RATE_LIMITED",)] * 16

    desk = as_user(await staff("desk@example.com", [*SALES, "customer.pii"], "TEAM", east["team"]))
    west = (await create_team(SYSTEM, "West"))["id"]
    hidden = await create_customer(SYSTEM, {"name": "别队的客户", "phone": "+8613700000007"})
    await Customer.filter(id=hidden["id"]).update(team_id=west)
    taken = await asyncio.gather(*(ask(desk, CREATE, {"phone": "+8613700000007"}) for _ in range(20)))
    codes = sorted(e["code"] for a in taken for e in a["data"]["createCustomer"]["errors"])
    assert codes == ["DUPLICATE"] * refusals.LIMIT + ["RATE_LIMITED"] * (20 - refusals.LIMIT)
    assert await AuditEvent.filter(action="user.refused_duplicate").count() == refusals.LIMIT
