"""The ASGI application: routes, and a lifespan that opens the database and runs the mailer."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import timedelta

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import Route, WebSocketRoute
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from tortoise.contrib.starlette import RegisterTortoise

import events
from api import health
from api.body_limit import BodySizeLimit
from api.graphiql import GraphiQLFiles
from api.outage import OutageGuard, ServiceOutage
from api.request_id import RequestId
from api.schema import build_schema
from api.tracing import TracedRequests
from api.view import GraphQLView
from config import Settings
from domain import tracing
from domain.outage import quiet_pool_reconnects
from mailer.service import mailer_in_background
from schema.extensions import quiet_expected_errors


def create_app(
    settings: Settings | None = None,
    *,
    manage_database: bool = True,
    run_mailer: bool | None = None,
    started: Callable[[], object] | None = None,
    stopped: Callable[[], object] | None = None,
) -> Starlette:
    """The service. With `manage_database=False` the caller has opened Tortoise (tests, bench).

    The mailer runs in the process when settings ask for it, except (unless `run_mailer=True`)
    under a caller that manages the database: tests then decide when mail goes out. `started`
    is called once start-up is done (`serve` tunes its process there), `stopped` once shut-down
    is (a worker of `serve --workers N` retires its metrics there).
    """
    settings = settings or Settings()
    if run_mailer is None:
        run_mailer = manage_database and settings.mailer_in_process
    quiet_expected_errors()
    quiet_pool_reconnects()
    outage = ServiceOutage()
    graphiql = None if settings.is_production else GraphiQLFiles()
    graphql = GraphQLView(
        build_schema(settings),
        settings=settings,
        outage=outage,
        graphiql=graphiql,
        # GET takes persisted queries only (api.persisted_queries); mutations never.
        allow_queries_via_get=True,
        subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
        max_subscriptions_per_connection=settings.subscriptions_per_connection,
        connection_init_wait_timeout=timedelta(seconds=settings.ws_init_timeout_seconds),
        # Checked at each WebSocket handshake (no Origin, or the same origin, always passes).
        allowed_origins=settings.cors_origins,
    )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            # Off unless the standard OTEL_* variables ask (docs/operations.md, "Traces").
            stack.enter_context(tracing.traced(os.environ))
            if stopped is not None:
                stack.callback(stopped)
            if manage_database:
                await stack.enter_async_context(
                    RegisterTortoise(app, config=settings.tortoise_config(), generate_schemas=False)
                )
            await stack.enter_async_context(events.running(settings.database_url))
            stack.push_async_callback(outage.aclose)
            if run_mailer:
                await stack.enter_async_context(mailer_in_background(settings))
            if started is not None:
                started()
            yield

    service = Starlette(
        routes=[
            # Every method: the view answers those it refuses in JSON (405), as the rest.
            Route("/graphql", TracedRequests(OutageGuard(graphql, outage), route="/graphql")),
            WebSocketRoute("/graphql", graphql),
            Route("/healthz", health.healthz),
            Route("/readyz", health.readyz),
            Route("/metrics", health.metrics),
            *([graphiql.route] if graphiql else []),
        ],
        middleware=[
            # First: its header is on every answer, CORS's and the size limit's refusals too.
            Middleware(RequestId),
            Middleware(
                CORSMiddleware,
                allow_origins=settings.cors_origins,
                allow_methods=["GET", "POST"],
                allow_headers=["Authorization", "Content-Type", "Store", "X-Request-ID"],
                expose_headers=["X-Request-ID"],
                max_age=600,
            ),
            Middleware(BodySizeLimit, max_bytes=settings.max_body_bytes),
        ],
        lifespan=lifespan,
    )
    service.state.outage = outage  # for /readyz
    return service
