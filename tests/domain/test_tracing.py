"""Tracing's set-up (domain/tracing.py): off unless the standard OTEL_* variables ask, and then
as the specification reads them; off, no provider, no span, and a NULL traceparent."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from tortoise.backends.sqlite.client import SqliteClient

from config import Settings
from domain import tracing
from models.invitation import Invitation
from tests.helpers import TEST_SECRET, GraphQLClient, customer_token, make_customer

ROOT = Path(__file__).resolve().parents[2]
# Tortoise's own, as collected (before any test turns tracing on).
TORTOISE_EXECUTE = SqliteClient.__dict__["execute_query"]
SEND = """
mutation Send($input: SendInvitationsInput!) {
  sendInvitations(input: $input) { userErrors { code } }
}
"""
# The app's lifespan in a fresh interpreter, as `serve` runs it; then a span where a request's
# would be, and what the process ended up with.
IN_A_FRESH_PROCESS = """
import asyncio, sys
from opentelemetry import trace
from app import create_app
from config import Settings
from domain import tracing

async def main():
    app = create_app(Settings(database_url=sys.argv[1], secret_key=sys.argv[2]),
                     manage_database=False)
    async with app.router.lifespan_context(app):
        print("provider:", type(trace.get_tracer_provider()).__name__)
        running = tracing.tracer()
        print("tracer:", running is not None)
        if running is not None:
            with running.start_as_current_span("lifespan-check"):
                print("traceparent:", tracing.current_traceparent())

asyncio.run(main())
"""
GRPC = {"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}


def run_fresh(settings: Settings, **environ: str) -> str:
    clean = {name: value for name, value in os.environ.items() if not name.startswith("OTEL_")}
    done = subprocess.run(
        [sys.executable, "-c", IN_A_FRESH_PROCESS, settings.database_url, TEST_SECRET],
        cwd=ROOT,
        env={**clean, **environ},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize(
    ("environ", "names"),
    [
        ({}, []),
        ({"OTEL_SERVICE_NAME": "invitations"}, []),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, ["otlp_proto_http"]),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/traces"}, ["otlp_proto_http"]),
        ({"OTEL_TRACES_EXPORTER": "otlp"}, ["otlp_proto_http"]),
        ({"OTEL_TRACES_EXPORTER": "console"}, ["console"]),
        ({"OTEL_TRACES_EXPORTER": "console, otlp"}, ["console", "otlp_proto_http"]),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, []),
        ({"OTEL_TRACES_EXPORTER": "console", "OTEL_SDK_DISABLED": "true"}, []),
        (
            {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
            ["otlp_proto_grpc"],
        ),
    ],
)
def test_the_variables_name_the_exporters(environ: dict[str, str], names: list[str]) -> None:
    assert tracing.exporter_names(environ) == names


@pytest.mark.parametrize(
    ("environ", "says"),
    [
        ({"OTEL_TRACES_EXPORTER": "zipkin"}, "'zipkin', which no installed package provides"),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317", **GRPC}, "otlp_proto_grpc"),
        ({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}, "http/json"),
    ],
)
def test_an_exporter_this_installation_lacks_is_refused_clearly(
    environ: dict[str, str], says: str
) -> None:
    with pytest.raises(tracing.TracingConfigurationError, match=says):
        tracing.set_up(environ)
    assert tracing.tracer() is None


async def test_off_no_span_and_no_traceparent_are_made(gql: GraphQLClient) -> None:
    token = await customer_token(await make_customer("alice@example.com"))

    body = await gql(SEND, {"input": {"emails": ["bob@example.com"]}}, token=token)

    assert body["data"]["sendInvitations"]["userErrors"] == []
    assert tracing.tracer() is None
    assert SqliteClient.__dict__["execute_query"] is TORTOISE_EXECUTE  # no database hook either
    row = await Invitation.get(email="bob@example.com")
    assert row.traceparent is None


def test_off_by_default_the_process_installs_no_provider(settings: Settings) -> None:
    out = run_fresh(settings)

    assert "provider: ProxyTracerProvider" in out
    assert "tracer: False" in out


def test_the_console_exporter_prints_the_spans(settings: Settings) -> None:
    out = run_fresh(settings, OTEL_TRACES_EXPORTER="console", OTEL_SERVICE_NAME="invitations-t")

    assert "provider: TracerProvider" in out
    assert "tracer: True" in out
    assert '"name": "lifespan-check"' in out  # exported at shutdown, by the lifespan's end
    assert '"service.name": "invitations-t"' in out


def test_none_keeps_tracing_off_even_with_an_endpoint() -> None:
    environ = {"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9"}

    assert tracing.set_up(environ) is None
    assert tracing.tracer() is None


def test_set_up_twice_keeps_one_provider_and_shut_down_unhooks_the_database() -> None:
    first = tracing.set_up({}, exporter=InMemorySpanExporter())
    try:
        assert tracing.set_up({}, exporter=InMemorySpanExporter()) is first
        assert SqliteClient.__dict__["execute_query"] is not TORTOISE_EXECUTE
    finally:
        tracing.shut_down()
    assert tracing.tracer() is None
    assert SqliteClient.__dict__["execute_query"] is TORTOISE_EXECUTE
