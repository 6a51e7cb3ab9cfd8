"""The development mail sink: a loopback SMTP server that files each mail as an .eml file."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

HOST = "127.0.0.1"


def free_port(host: str = HOST) -> int:
    """A port nobody listens on now (aiosmtpd cannot bind port 0 itself)."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


class FileSink:
    """An aiosmtpd handler that writes every message it accepts to a directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%f")
        target = self.directory / f"{stamp}-{uuid.uuid4().hex[:8]}.eml"
        await asyncio.to_thread(target.write_bytes, envelope.original_content or envelope.content)
        return "250 Message accepted for delivery"


@asynccontextmanager
async def mail_sink(directory: str | Path) -> AsyncIterator[int]:
    """Run the sink on a free loopback port while the block runs; yields the port."""
    path = Path(directory)
    await asyncio.to_thread(path.mkdir, parents=True, exist_ok=True)
    port = free_port()
    controller = Controller(FileSink(path), hostname=HOST, port=port)
    # start() waits in its thread until the server answers: keep that wait off the event loop.
    await asyncio.to_thread(controller.start)
    try:
        yield port
    finally:
        await asyncio.to_thread(controller.stop)
