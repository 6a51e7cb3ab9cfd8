"""Starting the mailer: its transport (the real server, or the development sink) and its loop."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from config import Settings
from mailer.bulk_worker import BulkWorker
from mailer.sink import HOST, mail_sink
from mailer.transport import SmtpConfig, SmtpTransport
from mailer.webhooks import WebhookSender
from mailer.worker import Mailer

logger = logging.getLogger("invitations.mailer")


@asynccontextmanager
async def smtp_transport(settings: Settings) -> AsyncIterator[SmtpTransport]:
    """The configured server; without one (development only), an embedded sink in mail_dir."""
    async with AsyncExitStack() as stack:
        if settings.smtp_url:
            config = SmtpConfig.from_url(settings.smtp_url)
        else:
            port = await stack.enter_async_context(mail_sink(settings.mail_dir))
            logger.warning("No INVITATIONS_SMTP_URL: e-mails are written to %s/", settings.mail_dir)
            config = SmtpConfig(HOST, port)
        transport = SmtpTransport(config, connections=settings.mailer_connections)
        stack.push_async_callback(transport.close)
        yield transport


@asynccontextmanager
async def mailer_in_background(settings: Settings) -> AsyncIterator[Mailer]:
    """A mailer (and a bulk worker and a webhook sender) running beside the caller (the API's
    lifespan) until the block ends."""
    async with smtp_transport(settings) as transport:
        mailer = Mailer(settings, transport)
        bulk_worker = BulkWorker(
            poll_seconds=settings.mailer_poll_seconds, pause_ratio=settings.bulk_pause_ratio
        )
        task = asyncio.create_task(mailer.run(), name="invitations-mailer")
        bulk_task = asyncio.create_task(bulk_worker.run(), name="invitations-bulk")
        webhook_sender = WebhookSender(settings)
        webhook_task = asyncio.create_task(webhook_sender.run(), name="invitations-webhooks")
        try:
            yield mailer
        finally:
            mailer.stop()
            bulk_worker.stop()
            webhook_sender.stop()
            await task
            await bulk_task
            await webhook_task
