"""Bad input of any kind answers a clear error, changes nothing, and never a 500."""

from __future__ import annotations

import base64
import json

import pytest

from models.customers import Customer

CREATE = """
mutation($input: CreateCustomerInput!) {
  createCustomer(input: $input) { customer { id phone updatedAt } errors { field code message } }
}
"""
LIST_BY_NAME = """
query($after: String, $before: String) {
  customers(first: 2, after: $after, before: $before, orderBy: {field: NAME}) { edges { node { name } } }
}
"""


def cursor(*parts) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(parts)).encode()).decode().rstrip("=")


async def post_raw(client, body: str):
    return await client.post("/graphql", content=body.encode(), headers={"content-type": "application/json"})


@pytest.mark.parametrize(
    "body",
    [
        '{"query":"query($k:[InteractionKind!]){customers(first:1){edges{node{interactions(kinds:$k){totalCount}}}}}","variables":{"k":["\\ud800"]}}',
        '{"query":"mutation($i:CreateCustomerInput!){createCustomer(input:$i){errors{code}}}","variables":{"i":{"name":"a","\\ud800":1}}}',
        '{"query":"mutation($i:CreateCustomerInput!){createCustomer(input:$i){errors{code message}}}","variables":{"i":{"name":"\\ud800"}}}',
    ],
)
async def test_lone_surrogates_are_answered_as_valid_json(client, body):
    response = await post_raw(client, body)
    assert response.status_code in (200, 400)
    answer = response.json()
    assert answer.get("errors") or answer["data"]["createCustomer"]["errors"]
    assert await Customer.all().count() == 0


@pytest.mark.parametrize(
    "forged",
    [
        cursor("c.name", "\ud800", 1),
        cursor("c.name", "a\u0000", 1),
        cursor("c.name", "x" * 1000, 1),
        cursor("c.name", 5, 1),
        cursor("c.name", "a", 0),
    ],
)
async def test_forged_text_cursors_are_bad_input(gql, forged):
    body = await gql(LIST_BY_NAME, {"after": forged})
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "2026-01-01T00:00:00"])
async def test_forged_time_cursors_are_bad_input(gql, moment):
    body = await gql("query($a: String) { customers(after: $a) { totalCount } }", {"a": cursor("c.created_at", moment, 1)})
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_after_and_before_together_are_refused(gql):
    body = await gql(LIST_BY_NAME, {"after": cursor("c.name", "a", 1), "before": cursor("c.name", "b", 2)})
    assert body["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": "before"}


async def test_a_huge_list_of_enum_values_is_answered(gql):
    body = await gql(
        "query($s: [CustomerSource!]) { customers(filter: {source: $s}) { totalCount } }", {"s": ["WECHAT"] * 40000}
    )
    assert body == {"data": {"customers": {"totalCount": 0}}, "extensions": body["extensions"]}


@pytest.mark.parametrize("phone", ["137０００01234", "13700001٢٣٤"])
async def test_phones_in_other_scripts_digits_are_refused(gql, phone):
    result = (await gql(CREATE, {"input": {"name": "A", "phone": phone}}))["data"]["createCustomer"]
    assert result["errors"][0]["field"] == "phone"
    assert result["errors"][0]["code"] == "INVALID"
    assert await Customer.all().count() == 0


@pytest.mark.parametrize(
    ("phone", "stored"),
    [("+86 755 1234 5678", "+8675512345678"), ("+86 10 1234 5678", "+861012345678")],
)
async def test_chinese_landlines_with_the_country_code_are_accepted(gql, phone, stored):
    result = (await gql(CREATE, {"input": {"name": "A", "phone": phone}}))["data"]["createCustomer"]
    assert result["errors"] == []
    assert result["customer"]["phone"] == stored


async def test_a_too_long_chinese_number_is_refused(gql):
    result = (await gql(CREATE, {"input": {"name": "A", "phone": "+86 1381234567890"}}))["data"]["createCustomer"]
    assert result["errors"][0]["code"] == "INVALID"


async def test_an_empty_referrer_id_is_invalid_not_a_clear(gql):
    a = (await gql(CREATE, {"input": {"name": "A"}}))["data"]["createCustomer"]["customer"]["id"]
    b = (await gql(CREATE, {"input": {"name": "B", "referrerId": a}}))["data"]["createCustomer"]["customer"]["id"]
    result = await gql(
        "mutation($c: ID!) { setReferrer(input: {customerId: $c, referrerId: \"\"}) { errors { field code } } }",
        {"c": b},
    )
    assert result["data"]["setReferrer"]["errors"] == [{"field": "referrerId", "code": "INVALID"}]
    assert (await Customer.get(name="B")).referrer_id == (await Customer.get(name="A")).id
    created = (await gql(CREATE, {"input": {"name": "C", "referrerId": ""}}))["data"]["createCustomer"]
    assert created["errors"][0]["code"] == "INVALID"


async def test_a_global_id_with_trailing_newline_is_not_the_same_object(gql):
    await gql(CREATE, {"input": {"name": "A"}})
    body = await gql("query($id: ID!) { node(id: $id) { id } }", {"id": base64.b64encode(b"Customer:1\n").decode()})
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_changing_only_tags_moves_updated_at(gql):
    created = (await gql(CREATE, {"input": {"name": "A"}}))["data"]["createCustomer"]["customer"]
    updated = await gql.data(
        "mutation($id: ID!) { updateCustomer(input: {id: $id, tags: [\"new\"]}) { customer { updatedAt tags } } }",
        {"id": created["id"]},
    )
    assert updated["updateCustomer"]["customer"]["tags"] == ["new"]
    assert updated["updateCustomer"]["customer"]["updatedAt"] > created["updatedAt"]


async def test_whole_number_floats_count_at_their_value_in_the_cost(gql):
    query = "query($n:Int,$m:Int){customers(first:$n){edges{node{referrals(first:$m){edges{node{referrals(first:$m){edges{node{id}}}}}}}}}}"
    body = await gql(query, {"n": 100.0, "m": 100.0})
    assert body["errors"][0]["extensions"]["code"] == "QUERY_TOO_COSTLY"


async def test_a_subscription_and_an_unknown_operation_name_are_400_with_their_reason(client):
    subscription = await client.post("/graphql", json={"query": "subscription { __typename }"})
    assert subscription.status_code == 400
    assert subscription.json()["errors"][0]["message"] == "kehu has no subscriptions over HTTP."
    unknown = await client.post("/graphql", json={"query": "query A { __typename }", "operationName": "Nope"})
    assert unknown.status_code == 400
    assert unknown.json()["errors"][0]["message"] == "The document has no operation named 'Nope'."


async def test_several_errors_of_an_order_come_back_together(gql):
    customer = (await gql(CREATE, {"input": {"name": "A"}}))["data"]["createCustomer"]["customer"]["id"]
    result = await gql(
        "mutation($c: ID!) { recordOrder(input: {customerId: $c, amount: \"-1\", currency: \"CNY\", channel: \"%s\","
        " paidAt: \"2999-01-01T00:00:00Z\", status: PAID}) { errors { field code } } }" % ("x" * 65),
        {"c": customer},
    )
    fields = {e["field"] for e in result["data"]["recordOrder"]["errors"]}
    assert fields == {"channel", "amount", "paidAt"}
