"""Plain HTTP endpoints beside GraphQL: liveness, readiness, Prometheus metrics."""

from __future__ import annotations

import logging
import os

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from tortoise import connections

from domain.outage import Outage, is_database_unavailable

logger = logging.getLogger("invitations.health")


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    outage: Outage | None = getattr(request.app.state, "outage", None)
    try:
        await connections.get("default").execute_query("SELECT 1")
    except Exception as error:  # any failure means "not ready"
        if outage is not None and is_database_unavailable(error):
            outage.begin(error)  # logged once per outage (api.outage), not per check
        else:
            logger.warning("database not ready", exc_info=True)
        return JSONResponse({"status": "unavailable"}, status_code=503)
    return JSONResponse({"status": "ok"})


async def metrics(request: Request) -> Response:
    return Response(generate_latest(_registry()), media_type=CONTENT_TYPE_LATEST)


def _registry() -> CollectorRegistry:
    """This process's metrics; under `serve --workers N`, those of every worker, summed.

    prometheus-client runs in multiprocess mode when PROMETHEUS_MULTIPROC_DIR is set (`serve`
    sets it for its workers, cli/serve.py): each worker writes its values to files there, and
    any worker's scrape reads them all. Gauges say how to combine (`multiprocess_mode`). The
    process_* metrics are per process and are left out in that mode.
    """
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return REGISTRY
    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    return registry
