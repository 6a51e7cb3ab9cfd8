"""Plain HTTP endpoints beside GraphQL: liveness, readiness, Prometheus metrics."""

from __future__ import annotations

import logging

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
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
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
