"""Whatever reaches /graphql that is not a GraphQL request: a 4xx with a JSON error, whatever its
shape, and nothing in the log."""

from __future__ import annotations

import logging

import httpx
import pytest

from api.view import MAX_JSON_DEPTH

JSON = {"Content-Type": "application/json"}


def _nested(depth: int, opening: str = "[", closing: str = "]") -> str:
    return opening * depth + closing * depth


def _variables(value: str) -> bytes:
    return ('{"query": "{ __typename }", "variables": {"v": ' + value + "}}").encode()


NOT_REQUESTS = {
    "null": b"null",
    "true": b"true",
    "number": b"123",
    "float": b"1.5",
    "string": b'"abc"',
    "array": b"[1]",
    "empty": b"",
    "50,000 nested arrays in variables": _variables(_nested(50_000)),
    "200,000 nested objects": (
        _nested(200_000, '{"a":', "}")[:-200_000] + "1" + "}" * 200_000
    ).encode(),
    "nesting one past the bound": _variables(_nested(MAX_JSON_DEPTH - 1)),
    "lone surrogate": b'{"query": "{ __typename }", "variables": {"v": "\\ud800"}}',
    "invalid UTF-8": b'{"query": "\xff"}',
    "operationName not a string": b'{"query": "{ __typename }", "operationName": 5}',
}


@pytest.mark.parametrize("body", NOT_REQUESTS.values(), ids=NOT_REQUESTS.keys())
async def test_a_body_that_is_not_a_graphql_request_is_a_400_with_a_json_error(
    http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture, body: bytes
) -> None:
    with caplog.at_level(logging.WARNING):
        response = await http.post("/graphql", content=body, headers=JSON)

    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/json")
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "BAD_REQUEST"
    assert error["message"]
    assert caplog.records == []


async def test_nesting_within_the_bound_is_taken(http: httpx.AsyncClient) -> None:
    # The body (1), variables (2) and v (3) hold MAX_JSON_DEPTH - 2 more levels of arrays.
    body = _variables(_nested(MAX_JSON_DEPTH - 2))

    response = await http.post("/graphql", content=body, headers=JSON)

    # An unused variable of no declared type is left alone: the request runs.
    assert response.status_code == 200
    assert response.json() == {"data": {"__typename": "Query"}}


@pytest.mark.parametrize(
    ("method", "content_type", "body", "status"),
    [
        ("POST", "text/plain", b"{ __typename }", 400),
        ("POST", "application/x-www-form-urlencoded", b"query=%7B__typename%7D", 400),
        ("POST", None, b'{"query": "{ __typename }"}', 400),
        ("GET", None, None, 400),
        ("PUT", "application/json", b'{"query": "{ __typename }"}', 405),
        ("DELETE", None, None, 405),
    ],
)
async def test_refused_methods_and_content_types_answer_in_json(
    http: httpx.AsyncClient, method: str, content_type: str | None, body: bytes | None, status: int
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    params = {"query": "{ __typename }"} if method == "GET" else None

    response = await http.request(method, "/graphql", content=body, headers=headers, params=params)

    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    if status == 405:
        assert response.headers["allow"] == "GET, POST"


async def test_a_body_over_the_limit_is_a_413_in_json(http: httpx.AsyncClient) -> None:
    body = b'{"query": "{ __typename }", "pad": "' + b"x" * (3 * 1024 * 1024) + b'"}'

    response = await http.post("/graphql", content=body, headers=JSON)

    assert response.status_code == 413
    assert "at most" in response.json()["errors"][0]["message"]
