"""The HTTP contract of ``/graphql``: GraphQL over HTTP, hostile bodies, batches, error texts.

Every test states status code, media type and body. ``application/graphql-response+json``
gets a 400 for a request that cannot run; ``application/json`` (legacy clients) a 200 with
the errors. A request that is not a GraphQL request at all is a 4xx with a JSON error body,
never a 500.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest
import strawberry

from server.graphql_http import GraphQLEndpoint, _dumps
from server.settings import Settings

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"

COUNT = "{ customers { totalCount } }"
CREATE = 'mutation { createCustomer(input: {name: "Mallory"}) { customer { id name } errors { code } } }'
SYNTAX_ERROR = "{ customers { totalCount "
VALIDATION_ERROR = "{ customerz { totalCount } }"
TWO_OPERATIONS = f"mutation Create {CREATE.removeprefix('mutation ')} query Count {COUNT}"


def media_type(response: httpx.Response) -> str:
    return response.headers["content-type"].split(";")[0].strip()


def request_error(response: httpx.Response) -> str:
    """The message of a request refused before any operation ran (a JSON error body)."""
    assert media_type(response) == JSON, response.text
    body = response.json()
    assert list(body) == ["errors"], body
    [error] = body["errors"]
    assert error["extensions"] == {"code": "BAD_REQUEST"}
    assert error["message"]
    return error["message"]


async def post(client: httpx.AsyncClient, query: str, accept: str | None = GRAPHQL_RESPONSE, **fields) -> httpx.Response:
    headers = {"accept": accept} if accept is not None else {}
    return await client.post("/graphql", json={"query": query, **fields}, headers=headers)


async def customer_count(client: httpx.AsyncClient) -> int:
    response = await post(client, COUNT)
    assert response.status_code == 200, response.text
    return response.json()["data"]["customers"]["totalCount"]


# --- media types and status codes ---------------------------------------------------------


async def test_post_accepting_graphql_response_json_is_answered_in_that_media_type(client):
    response = await post(client, COUNT)

    assert response.status_code == 200
    assert media_type(response) == GRAPHQL_RESPONSE
    body = response.json()
    assert body["data"] == {"customers": {"totalCount": 0}}
    assert "errors" not in body


@pytest.mark.parametrize(
    ("query", "code"),
    [(SYNTAX_ERROR, "GRAPHQL_PARSE_FAILED"), (VALIDATION_ERROR, "GRAPHQL_VALIDATION_FAILED")],
    ids=["syntax", "validation"],
)
async def test_a_document_that_cannot_run_is_a_400_under_graphql_response_json(client, query, code):
    response = await post(client, query)

    assert response.status_code == 400
    assert media_type(response) == GRAPHQL_RESPONSE
    body = response.json()
    assert "data" not in body  # nothing ran, so there is no data entry at all
    [error] = body["errors"]
    assert error["extensions"]["code"] == code
    assert "path" not in error


@pytest.mark.parametrize(
    ("query", "code"),
    [(SYNTAX_ERROR, "GRAPHQL_PARSE_FAILED"), (VALIDATION_ERROR, "GRAPHQL_VALIDATION_FAILED")],
    ids=["syntax", "validation"],
)
async def test_a_document_that_cannot_run_is_a_200_under_legacy_application_json(client, query, code):
    response = await post(client, query, accept=JSON)

    assert response.status_code == 200
    assert media_type(response) == JSON
    body = response.json()
    assert "data" not in body
    assert [error["extensions"]["code"] for error in body["errors"]] == [code]


async def test_a_request_without_accept_is_answered_as_application_json(client):
    request = client.build_request("POST", "/graphql", json={"query": COUNT})
    del request.headers["accept"]  # httpx sends */* unless told otherwise

    response = await client.send(request)

    assert "accept" not in response.request.headers
    assert response.status_code == 200
    assert media_type(response) == JSON
    assert response.json()["data"] == {"customers": {"totalCount": 0}}


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("*/*", JSON),
        ("application/*", JSON),
        (f"{GRAPHQL_RESPONSE}, {JSON};q=0.9", GRAPHQL_RESPONSE),
        (f"{GRAPHQL_RESPONSE};q=0.5, {JSON}", JSON),
        (f"text/html, {GRAPHQL_RESPONSE}", GRAPHQL_RESPONSE),
    ],
)
async def test_the_answer_takes_the_media_type_the_client_prefers(client, accept, expected):
    response = await post(client, COUNT, accept=accept)

    assert response.status_code == 200
    assert media_type(response) == expected
    assert response.json()["data"] == {"customers": {"totalCount": 0}}


@pytest.mark.parametrize("accept", ["text/plain", "text/html", f"{GRAPHQL_RESPONSE};q=0, {JSON};q=0"])
async def test_a_client_accepting_neither_json_type_is_refused_with_406(client, accept):
    response = await post(client, COUNT, accept=accept)

    assert response.status_code == 406
    assert GRAPHQL_RESPONSE in request_error(response)


async def test_a_request_in_text_plain_is_refused_with_415(client):
    response = await client.post(
        "/graphql", content=json.dumps({"query": COUNT}), headers={"content-type": "text/plain"}
    )

    assert response.status_code == 415
    assert "application/json" in request_error(response)


async def test_a_form_post_is_refused_with_415_and_writes_nothing(client):
    response = await client.post("/graphql", data={"query": CREATE})

    assert response.request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert response.status_code == 415
    request_error(response)
    assert await customer_count(client) == 0


async def test_json_with_a_charset_parameter_is_accepted(client):
    response = await client.post(
        "/graphql",
        content=json.dumps({"query": COUNT}).encode(),
        headers={"content-type": "application/json; charset=utf-8", "accept": GRAPHQL_RESPONSE},
    )

    assert response.status_code == 200
    assert media_type(response) == GRAPHQL_RESPONSE
    assert response.json()["data"] == {"customers": {"totalCount": 0}}


# --- GET ------------------------------------------------------------------------------------


async def test_get_with_a_query_string_runs_the_query(client):
    assert (await post(client, CREATE)).status_code == 200

    response = await client.get("/graphql", params={"query": COUNT}, headers={"accept": GRAPHQL_RESPONSE})

    assert response.status_code == 200
    assert media_type(response) == GRAPHQL_RESPONSE
    assert response.json()["data"] == {"customers": {"totalCount": 1}}


async def test_get_passes_variables_and_operation_name(client):
    response = await client.get(
        "/graphql",
        params={
            "query": "query Other { __typename } query Page($n: Int) { customers(first: $n) { edges { cursor } } }",
            "operationName": "Page",
            "variables": json.dumps({"n": 1}),
        },
    )

    assert response.status_code == 200
    assert media_type(response) == JSON
    assert response.json()["data"] == {"customers": {"edges": []}}


async def test_a_mutation_over_get_is_refused_with_405_and_writes_nothing(client):
    response = await client.get("/graphql", params={"query": CREATE}, headers={"accept": GRAPHQL_RESPONSE})

    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert "POST" in request_error(response)
    assert await customer_count(client) == 0


async def test_a_mutation_named_by_operation_name_over_get_is_refused_with_405(client):
    response = await client.get("/graphql", params={"query": TWO_OPERATIONS, "operationName": "Create"})

    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    request_error(response)
    assert await customer_count(client) == 0


async def test_get_with_variables_that_are_not_json_is_a_400(client):
    response = await client.get("/graphql", params={"query": COUNT, "variables": "{n: 1"})

    assert response.status_code == 400
    assert "variables" in request_error(response)


async def test_get_without_a_query_is_a_400(client):
    response = await client.get("/graphql", headers={"accept": JSON})

    assert response.status_code == 400
    assert "query" in request_error(response)


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
async def test_methods_other_than_get_and_post_are_refused_with_405(client, method):
    response = await client.request(method, "/graphql", json={"query": CREATE})

    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"
    request_error(response)
    assert await customer_count(client) == 0


# --- the request's fields -------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [{}, {"query": ""}, {"query": "   "}, {"query": None}, {"query": 42}, {"query": ["{ __typename }"]}, {"variables": {}}],
    ids=["empty", "blank", "spaces", "null", "number", "list", "variables-only"],
)
async def test_a_request_without_a_query_string_is_a_400(client, body):
    response = await client.post("/graphql", json=body, headers={"accept": GRAPHQL_RESPONSE})

    assert response.status_code == 400
    assert "query" in request_error(response)


@pytest.mark.parametrize("variables", [[1], "{}", 3, True], ids=["list", "string", "number", "bool"])
async def test_variables_that_are_not_an_object_are_a_400(client, variables):
    response = await post(client, COUNT, variables=variables)

    assert response.status_code == 400
    assert "variables" in request_error(response)


@pytest.mark.parametrize("field", ["operationName", "extensions"])
async def test_operation_name_and_extensions_of_the_wrong_type_are_a_400(client, field):
    response = await post(client, COUNT, **{field: ["x"]})

    assert response.status_code == 400
    assert field in request_error(response)


@pytest.mark.parametrize("accept", [GRAPHQL_RESPONSE, JSON])
async def test_several_operations_without_operation_name_are_a_400_and_none_runs(client, accept):
    response = await post(client, TWO_OPERATIONS, accept=accept)

    assert response.status_code == 400
    assert "operationName" in request_error(response)
    assert await customer_count(client) == 0  # Strawberry alone would have run the first: Create


async def test_operation_name_selects_one_of_several_operations(client):
    response = await post(client, TWO_OPERATIONS, operationName="Create")

    assert response.status_code == 200
    assert media_type(response) == GRAPHQL_RESPONSE
    assert response.json()["data"]["createCustomer"]["customer"]["name"] == "Mallory"

    response = await post(client, TWO_OPERATIONS, operationName="Count")

    assert response.status_code == 200
    assert response.json()["data"] == {"customers": {"totalCount": 1}}


async def test_an_operation_name_that_is_not_in_the_document_is_a_400(client):
    response = await post(client, TWO_OPERATIONS, operationName="Delete")

    assert response.status_code == 400
    assert request_error(response) == "The document has no operation named 'Delete'."
    assert await customer_count(client) == 0


async def test_a_single_anonymous_operation_runs_with_a_null_operation_name(client):
    response = await post(client, COUNT, operationName=None, variables=None, extensions=None)

    assert response.status_code == 200
    assert response.json()["data"] == {"customers": {"totalCount": 0}}


# --- hostile bodies (Strawberry's own view answers these with 500) ---------------------------


@pytest.mark.parametrize(
    ("raw", "status", "says"),
    [
        (b"1", 400, "JSON object"),
        (b'"{ customers { totalCount } }"', 400, "JSON object"),
        (b"null", 400, "JSON object"),
        (b"true", 400, "JSON object"),
        (b'{"query": "{ __typename }"', 400, "not valid JSON"),
        (b"", 400, "not valid JSON"),
        (b'{"query": "\xff\xfe"}', 400, "UTF-8"),
        (b"[" * 100_000, 400, "nested too deeply"),
        (b"[" * 100_000 + b"]" * 100_000, 400, "nested too deeply"),
        (b'{"query": "{ __typename }", "variables": ' + b'{"a": ' * 100_000 + b"1" + b"}" * 100_001, 400, "nested too deeply"),
        (b"[]", 400, "at least one"),
        (b"[1, 2]", 400, "JSON object"),
        (json.dumps([{"query": "{ __typename }"}] * 11).encode(), 413, "at most 10"),
        (b'{"query": "query($n: Float) { __typename }", "variables": {"n": NaN}}', 400, "not valid JSON"),
        (b'{"query": "query($n: Float) { __typename }", "variables": {"n": -Infinity}}', 400, "not valid JSON"),
        (b'{"query": "query($n: Float) { __typename }", "variables": {"n": 1e400}}', 400, "not valid JSON"),
    ],
    ids=[
        "number", "string", "null", "boolean", "truncated", "empty", "invalid-utf8", "deep-open",
        "deep-closed", "deep-variables", "empty-batch", "batch-of-numbers", "batch-over-limit",
        "nan", "infinity", "float-overflow",
    ],
)
async def test_a_hostile_body_is_a_4xx_with_a_json_error_never_a_500(client, raw, status, says):
    response = await client.post(
        "/graphql", content=raw, headers={"content-type": "application/json", "accept": GRAPHQL_RESPONSE}
    )

    assert response.status_code == status
    assert says in request_error(response)


def padded_body(size: int) -> bytes:
    """A valid request of exactly ``size`` bytes."""
    body = json.dumps({"query": "{ __typename }", "padding": ""}).encode()
    return body[:-2] + b"x" * (size - len(body)) + b'"}'


async def test_a_body_at_the_size_limit_is_accepted(client, settings):
    raw = padded_body(settings.max_body_bytes)
    assert len(raw) == settings.max_body_bytes

    response = await client.post("/graphql", content=raw, headers={"content-type": "application/json"})

    assert response.status_code == 200
    assert response.json()["data"] == {"__typename": "Query"}


async def test_a_body_over_the_size_limit_is_refused_with_413(client, settings):
    raw = padded_body(settings.max_body_bytes + 1)

    response = await client.post("/graphql", content=raw, headers={"content-type": "application/json"})

    assert response.request.headers["content-length"] == str(settings.max_body_bytes + 1)
    assert response.status_code == 413
    assert str(settings.max_body_bytes) in request_error(response)


async def test_a_chunked_body_over_the_size_limit_is_refused_with_413(client, settings):
    sent = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal sent
        yield b'{"query": "{ __typename }", "padding": "'
        while sent <= settings.max_body_bytes:
            sent += 65_536
            yield b"x" * 65_536
        yield b'"}'

    response = await client.post("/graphql", content=chunks(), headers={"content-type": "application/json"})

    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert response.status_code == 413
    assert str(settings.max_body_bytes) in request_error(response)


async def test_a_lying_content_length_does_not_let_a_large_body_through(client, settings):
    """A small declared length with a large chunked stream behind it is still cut at the limit."""

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(settings.max_body_bytes // 65_536 + 2):
            yield b" " * 65_536

    response = await client.post(
        "/graphql", content=chunks(), headers={"content-type": "application/json", "content-length": "10"}
    )

    assert response.status_code == 413
    request_error(response)


# --- batches --------------------------------------------------------------------------------


async def test_a_batch_of_two_operations_returns_a_list_of_two_results_in_order(client):
    response = await client.post(
        "/graphql", json=[{"query": CREATE}, {"query": COUNT}], headers={"accept": GRAPHQL_RESPONSE}
    )

    assert response.status_code == 200
    assert media_type(response) == GRAPHQL_RESPONSE
    first, second = response.json()
    assert first["data"]["createCustomer"]["customer"]["name"] == "Mallory"
    assert second["data"] == {"customers": {"totalCount": 1}}  # run one after the other


async def test_a_batch_at_the_limit_runs_every_operation(client, settings):
    batch = [{"query": "query($n: Int) { customers(first: $n) { totalCount } }", "variables": {"n": n}} for n in range(settings.max_batch)]

    response = await client.post("/graphql", json=batch)

    assert response.status_code == 200
    assert media_type(response) == JSON
    assert response.json() == [
        {"data": {"customers": {"totalCount": 0}}, "extensions": {"cost": {"requested": 1 + max(n, 1), "limit": settings.max_query_cost}}}
        for n in range(settings.max_batch)
    ]


async def test_a_batch_keeps_each_operations_errors_to_itself(client):
    response = await client.post("/graphql", json=[{"query": SYNTAX_ERROR}, {"query": COUNT}])

    assert response.status_code == 200
    broken, fine = response.json()
    assert "data" not in broken
    assert broken["errors"][0]["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"
    assert fine["data"] == {"customers": {"totalCount": 0}}


async def test_a_batch_with_a_malformed_entry_is_refused_whole_and_writes_nothing(client):
    response = await client.post("/graphql", json=[{"query": CREATE}, {"variables": {}}])

    assert response.status_code == 400
    assert "query" in request_error(response)
    assert await customer_count(client) == 0


# --- error texts ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "message", "suggestion"),
    [
        (
            "{ customers { edges { node { nam } } } }",
            "Cannot query field 'nam' on type 'Customer'.",
            "'name'",
        ),
        (
            "{ customers(firs: 1) { totalCount } }",
            "Unknown argument 'firs' on field 'Query.customers'.",
            "'first'",
        ),
        (
            "{ customers(orderBy: {field: NAMEE}) { totalCount } }",
            "Value 'NAMEE' does not exist in 'CustomerOrderField' enum.",
            "'NAME'",
        ),
        (
            "query($f: CustomerFilterInputt) { customers(filter: $f) { totalCount } }",
            "Unknown type 'CustomerFilterInputt'.",
            "'CustomerFilterInput'",
        ),
    ],
    ids=["field", "argument", "enum-value", "type"],
)
async def test_validation_errors_do_not_suggest_names(client, query, message, suggestion):
    response = await post(client, query)

    assert response.status_code == 400
    assert media_type(response) == GRAPHQL_RESPONSE
    [error] = response.json()["errors"]
    assert error["message"] == message
    assert "Did you mean" not in error["message"]
    assert suggestion not in error["message"]
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


async def test_an_unknown_input_field_does_not_suggest_the_real_one(client):
    response = await post(client, '{ customers(filter: {serch: "a"}) { totalCount } }')

    assert response.status_code == 400
    assert media_type(response) == GRAPHQL_RESPONSE
    [error] = response.json()["errors"]
    assert "serch" in error["message"]
    assert "Did you mean" not in error["message"]
    assert "'search'" not in error["message"]


async def test_the_request_id_sent_is_echoed_and_a_malformed_one_replaced(client):
    response = await client.post("/graphql", json={"query": COUNT}, headers={"x-request-id": "req-42.a_b"})
    assert response.status_code == 200
    assert response.headers["x-request-id"] == "req-42.a_b"

    response = await client.post("/graphql", json={"query": COUNT}, headers={"x-request-id": "bad id\twith spaces"})
    assert response.status_code == 200
    assert response.headers["x-request-id"] != "bad id\twith spaces"
    assert len(response.headers["x-request-id"]) == 32

    response = await client.post("/graphql", content=b"null", headers={"content-type": "application/json", "x-request-id": "r1"})
    assert response.status_code == 400
    assert response.headers["x-request-id"] == "r1"


@strawberry.type
class _Exploding:
    @strawberry.field
    def boom(self) -> int:
        raise RuntimeError('relation "customer_secret" does not exist at 10.0.0.7')


async def test_masking_replaces_an_unexpected_error_with_a_request_id(settings):
    """The real endpoint, which masks, over a schema whose only field raises.

    Not a mock of kehu's code: kehu's schema has no field left that raises unexpectedly,
    so a one-field schema stands in for "a bug" while everything that handles it is real.
    """
    schema = strawberry.Schema(query=_Exploding)
    app = GraphQLEndpoint(schema, settings)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://kehu.test") as http:
        response = await http.post(
            "/graphql", json={"query": "{ boom }"}, headers={"accept": GRAPHQL_RESPONSE, "x-request-id": "trace-7"}
        )

    assert response.status_code == 200  # execution started: a field error, not a request error
    assert media_type(response) == GRAPHQL_RESPONSE
    body = response.json()
    assert body["data"] is None
    assert body["errors"] == [
        {
            "message": "Internal server error.",
            "locations": [{"line": 1, "column": 3}],
            "path": ["boom"],
            "extensions": {"code": "INTERNAL_SERVER_ERROR", "requestId": "trace-7"},
        }
    ]
    assert "customer_secret" not in response.text and "10.0.0.7" not in response.text


def test_the_body_and_batch_limits_default_to_one_mebibyte_and_ten_operations():
    settings = Settings.from_env({})
    assert (settings.max_body_bytes, settings.max_batch) == (1_048_576, 10)


# --- the answer's encoding ----------------------------------------------------------------


async def test_answers_are_utf_8_json(client):
    created = await post(client, 'mutation { createCustomer(input: {name: "王芳"}) { customer { name } } }')
    assert created.status_code == 200, created.text
    assert '"name":"王芳"'.encode() in created.content  # UTF-8, not \\u escapes, and said so
    assert created.headers["content-type"] == f"{GRAPHQL_RESPONSE}; charset=utf-8"
    assert created.json()["data"]["createCustomer"]["customer"] == {"name": "王芳"}

    surrogate = await client.post(
        "/graphql", content='{"query": "{ customers(filter: {search: \\"\\ud800\\"}) { totalCount } }"}',
        headers={"content-type": JSON, "accept": GRAPHQL_RESPONSE},
    )
    assert media_type(surrogate) == GRAPHQL_RESPONSE
    assert surrogate.json()["errors"], surrogate.text


@pytest.mark.parametrize("body", [{"echo": "\ud800"}, {"n": 10**30}, [{"n": -(2**70)}]])
def test_what_the_fast_encoder_refuses_is_still_written_as_json(body):
    """Lone surrogates and integers beyond 64 bits can come in with JSON input."""
    assert json.loads(_dumps(body)) == body
