"""create_app builds the service and nothing else: no process tuning, no piling up of log
filters. (`invitations serve` tunes its own process once start-up is done.)"""

from __future__ import annotations

import gc
import logging

from app import create_app
from cli.process import GC_YOUNG_THRESHOLD, tune_garbage_collector
from config import Settings
from schema.extensions import _StrawberryErrorLogFilter


async def test_the_lifespan_leaves_the_garbage_collector_alone(settings: Settings) -> None:
    threshold, frozen = gc.get_threshold(), gc.get_freeze_count()
    app = create_app(settings, manage_database=False)

    async with app.router.lifespan_context(app):
        assert gc.get_threshold() == threshold
        assert gc.get_freeze_count() == frozen


async def test_the_lifespan_calls_started_once_start_up_is_done(settings: Settings) -> None:
    calls: list[str] = []
    app = create_app(settings, manage_database=False, started=lambda: calls.append("started"))

    assert calls == []
    async with app.router.lifespan_context(app):
        assert calls == ["started"]
    assert calls == ["started"]


def test_serve_tunes_the_collector() -> None:
    threshold = gc.get_threshold()
    try:
        tune_garbage_collector()
        assert gc.get_threshold() == (GC_YOUNG_THRESHOLD, 10, 10)
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)


def test_the_log_filter_is_installed_once(settings: Settings) -> None:
    for _ in range(3):
        create_app(settings, manage_database=False)

    filters = logging.getLogger("strawberry.execution").filters
    assert sum(isinstance(f, _StrawberryErrorLogFilter) for f in filters) == 1
