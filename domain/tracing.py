"""Traces (OpenTelemetry): set up from the standard OTEL_* variables, off unless they ask.

Tracing is on when `OTEL_TRACES_EXPORTER` or `OTEL_EXPORTER_OTLP_ENDPOINT` (or its
`..._TRACES_ENDPOINT`) is set, unless `OTEL_TRACES_EXPORTER=none` or `OTEL_SDK_DISABLED=true`.
The SDK reads the rest itself: the resource (`OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`),
the sampler (`OTEL_TRACES_SAMPLER[_ARG]`), the batching (`OTEL_BSP_*`), the OTLP endpoint,
headers, timeout and compression, and the propagators of incoming headers (`OTEL_PROPAGATORS`).

Off, `tracer()` is None: every place that would start a span checks it first, so a request
creates no span object, and the trace context stored with a queued invitation is NULL.

The trace of a request continues in the mailer: `current_traceparent()` is the W3C traceparent
stored with the row the request queued, `context_of()` that context again for the send's spans.
Database spans come from a thin wrapper around Tortoise's clients (both dialects alike), made
only under a span already current: the workers' polling makes no traces of its own.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine, Iterator, Mapping
from contextlib import contextmanager
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter

# The SDK, its exporters and Tortoise's driver clients are imported only once tracing is set up:
# off, a process starts as fast as without them.

INSTRUMENTATION = "invitations"
_W3C = TraceContextTextMapPropagator()
_provider: TracerProvider | None = None
_tracer: Tracer | None = None


class TracingConfigurationError(ValueError):
    """The OTEL_* variables ask for an exporter this installation cannot give."""


def tracer() -> Tracer | None:
    """The service's tracer while tracing is on, else None."""
    return _tracer


def exporter_names(environ: Mapping[str, str]) -> list[str]:
    """The exporters the variables ask for, as the SDK's entry points name them; [] when off."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return []
    listed = environ.get("OTEL_TRACES_EXPORTER", "").strip()
    endpoint = environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or environ.get(
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
    )
    if not listed and not endpoint:
        return []
    names = [name.strip().lower() for name in (listed or "otlp").split(",") if name.strip()]
    if "none" in names:  # the specification: no exporter at all
        return []
    protocol = (
        environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        or environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        or "http/protobuf"  # the specification's default
    ).strip()
    flavour = {"http/protobuf": "otlp_proto_http", "grpc": "otlp_proto_grpc"}.get(protocol)
    if flavour is None:
        raise TracingConfigurationError(
            f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol!r}: this service sends http/protobuf"
            " (or grpc with opentelemetry-exporter-otlp-proto-grpc installed)."
        )
    return [flavour if name == "otlp" else name for name in dict.fromkeys(names)]


def check(environ: Mapping[str, str]) -> None:
    """Raise TracingConfigurationError for an exporter the variables ask for and nothing provides
    (a command refuses to start, as for a bad setting)."""
    for name in exporter_names(environ):
        _exporter_entry_point(name)


def _exporter_entry_point(name: str) -> EntryPoint:
    found = entry_points(group="opentelemetry_traces_exporter", name=name)
    if not found:
        raise TracingConfigurationError(
            f"OTEL_TRACES_EXPORTER asks for {name!r}, which no installed package provides"
            " (this service ships `otlp` over http/protobuf and `console`)."
        )
    return next(iter(found))


def _exporter(name: str) -> SpanExporter:
    exporter_class = _exporter_entry_point(name).load()
    return exporter_class()  # reads its own OTEL_* variables


def set_up(
    environ: Mapping[str, str], *, exporter: SpanExporter | None = None
) -> TracerProvider | None:
    """Start tracing as the variables ask (or into `exporter`, at once: tests); None when off.

    Once per process: a second call returns the provider already running. The provider is also
    the global one (OpenTelemetry's `trace.get_tracer_provider()`), for other instrumentation.
    """
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import (
        BatchSpanProcessor,
        SimpleSpanProcessor,
        SpanProcessor,
    )

    global _provider, _tracer
    if _provider is not None:
        return _provider
    processors: list[SpanProcessor]
    if exporter is not None:
        processors = [SimpleSpanProcessor(exporter)]
    else:
        processors = [BatchSpanProcessor(_exporter(name)) for name in exporter_names(environ)]
        if not processors:
            return None
    provider = TracerProvider()  # resource and sampler from the variables
    for processor in processors:
        provider.add_span_processor(processor)
    if isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        trace.set_tracer_provider(provider)  # allowed once per process
    _provider, _tracer = provider, provider.get_tracer(INSTRUMENTATION)
    _wrap_database_clients()
    return provider


def shut_down() -> None:
    """Export what is pending and stop tracing (set_up may start it again)."""
    global _provider, _tracer
    if _provider is None:
        return
    provider, _provider, _tracer = _provider, None, None
    _unwrap_database_clients()
    provider.shutdown()


@contextmanager
def traced(environ: Mapping[str, str]) -> Iterator[TracerProvider | None]:
    """Tracing as the variables ask, for the block; a provider already running is left running.

    The API's lifespan and `invitations worker` run in it: each process its own provider (its
    batch exporter's thread does not survive a fork).
    """
    if _provider is not None:
        yield _provider
        return
    provider = set_up(environ)
    try:
        yield provider
    finally:
        if provider is not None:
            shut_down()


# ---------------------------------------------------------------- the request's context


def current_traceparent() -> str | None:
    """The W3C traceparent of the span now current, if tracing and a span is (to store)."""
    if _tracer is None:
        return None
    carrier: dict[str, str] = {}
    _W3C.inject(carrier)
    return carrier.get("traceparent")


def context_of(traceparent: str | None) -> Context | None:
    """The trace context a stored traceparent names (None: a new trace)."""
    if not traceparent:
        return None
    return _W3C.extract({"traceparent": traceparent})


# ---------------------------------------------------------------- database spans

_DB_METHODS = ("execute_query", "execute_query_dict", "execute_insert", "execute_many")
_wrapped: list[tuple[type, str, Any]] = []

Execute = Callable[..., Coroutine[Any, Any, Any]]


def _traced(method: Execute, system: str) -> Execute:
    @functools.wraps(method)
    async def execute(client: Any, query: str, *args: Any, **kwargs: Any) -> Any:
        running = _tracer
        if running is None or not trace.get_current_span().is_recording():
            return await method(client, query, *args, **kwargs)
        operation = query.lstrip().split(None, 1)[0].upper() if query.strip() else "SQL"
        attributes = {"db.system.name": system, "db.operation.name": operation}
        attributes["db.query.text"] = query  # parameters are never in it: values travel apart
        # The kind of failure, never its words: PostgreSQL's quote the values of a conflict.
        with running.start_as_current_span(
            operation,
            kind=SpanKind.CLIENT,
            attributes=attributes,
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            try:
                return await method(client, query, *args, **kwargs)
            except Exception as error:
                span.set_attribute("error.type", type(error).__name__)
                span.set_status(Status(StatusCode.ERROR))
                raise

    return execute


def _database_clients() -> tuple[tuple[type, str], ...]:
    """Each client class of Tortoise's two dialects, by its database's name; each class's own
    methods are wrapped (the transaction wrappers override some of their client's)."""
    from tortoise.backends.asyncpg.client import AsyncpgDBClient
    from tortoise.backends.asyncpg.client import TransactionWrapper as AsyncpgTransaction
    from tortoise.backends.sqlite.client import SqliteClient, SqliteTransactionWrapper

    return (
        (SqliteClient, "sqlite"),
        (SqliteTransactionWrapper, "sqlite"),
        (AsyncpgDBClient, "postgresql"),
        (AsyncpgTransaction, "postgresql"),
    )


def _wrap_database_clients() -> None:
    for client_class, system in _database_clients():
        for name in _DB_METHODS:
            original = client_class.__dict__.get(name)
            if original is not None:
                _wrapped.append((client_class, name, original))
                setattr(client_class, name, _traced(original, system))


def _unwrap_database_clients() -> None:
    while _wrapped:
        client_class, name, original = _wrapped.pop()
        setattr(client_class, name, original)
