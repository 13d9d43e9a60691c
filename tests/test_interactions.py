"""Interactions: logging touches and reading a customer's timeline."""

from __future__ import annotations

from models.interactions import Interaction

CREATE = 'mutation { createCustomer(input: {name: "A"}) { customer { id } } }'
LOG = """
mutation($input: LogInteractionInput!) {
  logInteraction(input: $input) {
    interaction { id kind direction channel occurredAt summary outcome customer { id } }
    errors { field code message }
  }
}
"""
TIMELINE = """
query($id: ID!, $first: Int, $after: String, $kinds: [InteractionKind!]) {
  customer(id: $id) {
    interactions(first: $first, after: $after, kinds: $kinds) {
      totalCount pageInfo { hasNextPage endCursor } edges { node { kind summary occurredAt } }
    }
  }
}
"""


async def new_customer(gql) -> str:
    return (await gql.data(CREATE))["createCustomer"]["customer"]["id"]


async def test_log_an_interaction(gql):
    customer = await new_customer(gql)
    result = (
        await gql(
            LOG,
            {
                "input": {
                    "customerId": customer,
                    "kind": "WECHAT",
                    "direction": "INBOUND",
                    "channel": "service account",
                    "occurredAt": "2026-03-01T08:30:00+08:00",
                    "summary": "asked about delivery\nand returns",
                    "outcome": "sent the tracking number",
                }
            },
        )
    )["data"]["logInteraction"]
    assert result["errors"] == []
    assert result["interaction"]["occurredAt"] == "2026-03-01T00:30:00Z"
    assert result["interaction"]["customer"] == {"id": customer}
    stored = await Interaction.get()
    assert stored.kind.value == "wechat" and stored.direction.value == "inbound"
    assert stored.summary == "asked about delivery\nand returns"


async def test_invalid_interactions_are_refused(gql):
    customer = await new_customer(gql)
    base = {"customerId": customer, "kind": "CALL", "direction": "OUTBOUND", "summary": "hi"}
    cases = [
        ({"summary": "  "}, "summary", "REQUIRED"),
        ({"occurredAt": "2999-01-01T00:00:00Z"}, "occurredAt", "INVALID"),
        ({"channel": "x" * 65}, "channel", "TOO_LONG"),
        ({"customerId": "Q3VzdG9tZXI6OTk5OQ=="}, "customerId", "NOT_FOUND"),
    ]
    for change, field, code in cases:
        result = (await gql(LOG, {"input": {**base, **change}}))["data"]["logInteraction"]
        assert result["interaction"] is None
        assert [(e["field"], e["code"]) for e in result["errors"]] == [(field, code)]
    assert await Interaction.all().count() == 0


async def test_timeline_is_newest_first_filters_by_kind_and_pages(gql):
    customer = await new_customer(gql)
    for day, kind in [(1, "CALL"), (3, "EMAIL"), (2, "CALL"), (5, "VISIT"), (4, "CALL")]:
        await gql(
            LOG,
            {
                "input": {
                    "customerId": customer,
                    "kind": kind,
                    "direction": "OUTBOUND",
                    "summary": f"day {day}",
                    "occurredAt": f"2026-01-0{day}T10:00:00Z",
                }
            },
        )
    page = (await gql.data(TIMELINE, {"id": customer, "first": 2}))["customer"]["interactions"]
    assert [e["node"]["summary"] for e in page["edges"]] == ["day 5", "day 4"]
    assert page["totalCount"] == 5 and page["pageInfo"]["hasNextPage"] is True
    rest = await gql.data(TIMELINE, {"id": customer, "first": 10, "after": page["pageInfo"]["endCursor"]})
    assert [e["node"]["summary"] for e in rest["customer"]["interactions"]["edges"]] == ["day 3", "day 2", "day 1"]

    calls = (await gql.data(TIMELINE, {"id": customer, "kinds": ["CALL"]}))["customer"]["interactions"]
    assert [e["node"]["summary"] for e in calls["edges"]] == ["day 4", "day 2", "day 1"]
    assert calls["totalCount"] == 3
