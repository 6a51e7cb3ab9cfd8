"""Request metrics on /metrics: counts and latency by operation type and name, errors by code, and
a bounded number of operation names."""

from __future__ import annotations

import re

import httpx
from prometheus_client.parser import text_string_to_metric_families

from schema.operation_metrics import MAX_OPERATION_NAMES, OTHER, BoundedLabels

STORE = {"store": "default"}


async def _samples(http: httpx.AsyncClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = await http.get("/metrics")
    assert response.status_code == 200
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def _value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_requests_latency_and_errors_are_counted_by_operation(
    http: httpx.AsyncClient,
) -> None:
    # Given the metrics as they are
    before = await _samples(http)
    # When a named query runs twice, a mutation once, an anonymous query, a refused one and a
    # document that does not parse
    for _ in range(2):
        response = await http.post(
            "/graphql",
            json={"query": "query MetricsProbe { storeViews { code } }"},
            headers=STORE,
        )
        assert response.json()["data"]["storeViews"]
    await http.post(
        "/graphql",
        json={
            "query": 'mutation MetricsSignIn { generateCustomerToken(email: "a@b.example", '
            'password: "wrong-password") { userErrors { code } } }'
        },
        headers=STORE,
    )
    await http.post("/graphql", json={"query": "{ __typename }"}, headers=STORE)
    await http.post(
        "/graphql",
        json={"query": "query MetricsNoStore { __typename }"},
        headers={"store": "nowhere"},
    )
    await http.post("/graphql", json={"query": "query Broken {"}, headers=STORE)
    after = await _samples(http)

    # Then each is counted under its type and name (or "other"), and timed
    def moved(name: str, **labels: str) -> float:
        return _value(after, name, **labels) - _value(before, name, **labels)

    probe = {"type": "query", "operation": "MetricsProbe"}
    assert moved("invitations_graphql_requests_total", **probe) == 2
    assert moved("invitations_graphql_request_seconds_count", **probe) == 2
    assert moved("invitations_graphql_request_seconds_sum", **probe) > 0
    assert moved("invitations_graphql_request_seconds_bucket", **probe, le="+Inf") == 2
    sign_in = {"type": "mutation", "operation": "MetricsSignIn"}
    assert moved("invitations_graphql_requests_total", **sign_in) == 1
    # an operation refused whole before it ran still has its name: its document validated
    refused = {"type": "query", "operation": "MetricsNoStore"}
    assert moved("invitations_graphql_requests_total", **refused) == 1
    assert moved("invitations_graphql_requests_total", type="query", operation=OTHER) >= 1
    assert moved("invitations_graphql_requests_total", type="unknown", operation=OTHER) == 1
    # and the errors by their code (a syntax error has none)
    assert moved("invitations_graphql_errors_total", code="BAD_REQUEST") >= 1
    assert moved("invitations_graphql_errors_total", code="NONE") == 1
    # and what was there before stays
    assert ("invitations_mail_sent_total", ()) in after


async def test_at_most_a_hundred_operation_names_are_labels(http: httpx.AsyncClient) -> None:
    # When 1,000 operations come, each with a name of its own
    for i in range(1000):
        response = await http.post(
            "/graphql", json={"query": f"query Flood{i} {{ __typename }}"}, headers=STORE
        )
        assert response.json() == {"data": {"__typename": "Query"}}
    # Then /metrics names at most MAX_OPERATION_NAMES of all operations, the rest are "other"
    samples = await _samples(http)
    names = {
        dict(labels)["operation"]
        for name, labels in samples
        if name == "invitations_graphql_requests_total"
    }
    assert len(names - {OTHER}) <= MAX_OPERATION_NAMES
    assert OTHER in names
    flood = sum(
        value
        for (name, labels), value in samples.items()
        if name == "invitations_graphql_requests_total" and dict(labels)["operation"] == OTHER
    )
    named_floods = sum(1 for name in names if name.startswith("Flood"))
    assert named_floods <= MAX_OPERATION_NAMES
    assert flood >= 1000 - named_floods


def test_the_bound_keeps_the_first_names_and_refuses_what_is_not_a_name() -> None:
    # Given a fresh bound of 100 names
    labels = BoundedLabels(MAX_OPERATION_NAMES, re.compile(r"[_A-Za-z][_0-9A-Za-z]*"), OTHER)
    # When 1,000 distinct names come, then the first ones again
    first = [labels(f"Name{i}") for i in range(1000)]
    again = [labels(f"Name{i}") for i in range(MAX_OPERATION_NAMES)]
    # Then the first hundred are their own labels, every later one is "other"
    assert first[:MAX_OPERATION_NAMES] == [f"Name{i}" for i in range(MAX_OPERATION_NAMES)]
    assert set(first[MAX_OPERATION_NAMES:]) == {OTHER}
    assert again == first[:MAX_OPERATION_NAMES]
    assert len(labels.known) == MAX_OPERATION_NAMES
    # and none, nor what is not a GraphQL name or is too long, takes a place
    fresh = BoundedLabels(MAX_OPERATION_NAMES, re.compile(r"[_A-Za-z][_0-9A-Za-z]*"), OTHER)
    assert [fresh(None), fresh("not a name"), fresh("N" * 101)] == [OTHER, OTHER, OTHER]
    assert fresh.known == set()
