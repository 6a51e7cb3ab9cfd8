"""Handing messages to an SMTP server, and what a failure means for the message.

DeliveryError
├── Unreachable      no session with the server: nothing was sent, the server is the problem
├── Transient        refused before the message was accepted (4xx, lost connection): retry
├── Permanent        refused for good (5xx): the server's reply says why
└── UnknownOutcome   lost during or after DATA: the server may have accepted it
"""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import unquote, urlsplit

import aiosmtplib
import idna
from aiosmtplib import SMTPException, SMTPResponseException, SMTPStatus
from opentelemetry.trace import SpanKind, Status, StatusCode

from domain import tracing
from mailer.message import envelope_address

SCHEMES = {
    # scheme: (default port, use_tls, start_tls)
    "smtp": (25, False, False),
    "smtp+starttls": (587, False, True),
    "smtps": (465, True, False),
}


class DeliveryError(Exception):
    """A message was not (certainly) delivered; `reason` is what the admin reads."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Unreachable(DeliveryError):
    """No SMTP session could be opened."""


class Transient(DeliveryError):
    """Refused for now, before the server took the message."""


class Permanent(DeliveryError):
    """Refused for good."""


class UnknownOutcome(DeliveryError):
    """The connection failed while the server held the message."""


class _ConnectionLost(Transient):
    """The connection failed before DATA: nothing was sent, and the server refused nothing."""


class Transport(Protocol):
    """Something that delivers one message or raises a DeliveryError."""

    async def send(self, sender: str, recipient: str, message: bytes) -> None: ...

    async def close(self) -> None: ...


@dataclass
class MemoryTransport:
    """Keeps what it is given: for tests of everything but SMTP itself."""

    sent: list[tuple[str, str, bytes]] = field(default_factory=list)

    async def send(self, sender: str, recipient: str, message: bytes) -> None:
        self.sent.append((sender, recipient, message))

    async def close(self) -> None:
        return None


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    """Where and how to reach the SMTP server."""

    hostname: str
    port: int
    use_tls: bool = False
    start_tls: bool = False
    username: str | None = None
    password: str | None = None

    @classmethod
    def from_url(cls, url: str) -> SmtpConfig:
        """Parse `smtp://`, `smtp+starttls://` or `smtps://` with optional `user:pass@`."""
        parts = urlsplit(url)
        if parts.scheme not in SCHEMES or not parts.hostname:
            raise ValueError(f"not an SMTP URL (smtp://, smtp+starttls://, smtps://): {url!r}")
        default_port, use_tls, start_tls = SCHEMES[parts.scheme]
        return cls(
            hostname=parts.hostname,
            port=parts.port or default_port,
            use_tls=use_tls,
            start_tls=start_tls,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password is not None else None,
        )


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds per stage: a dead server is noticed fast, a slow DATA is given time."""

    connect: float = 10.0
    command: float = 30.0
    data: float = 120.0


@dataclass(eq=False)
class _Connection:
    client: aiosmtplib.SMTP
    sent: int = 0


NOT_PLAIN = (
    "Not a plain e-mail address (a line break, an angle bracket or no @): it cannot be sent."
)
NEEDS_SMTPUTF8 = (
    "The address has characters other than ASCII before the @: it needs SMTPUTF8, which the mail "
    "server does not offer."
)
DOMAIN_NOT_IDNA = "The address's domain is not a valid internationalised domain name."


@dataclass(frozen=True, slots=True)
class _Path:
    """An address as the path of a MAIL or RCPT command: `<address>`."""

    value: bytes
    # Its local part is not ASCII: only a server that offers SMTPUTF8 can take it.
    needs_smtputf8: bool


def _path(address: str) -> _Path:
    """Only a plain address passes: nothing in it may end the path or the command line.

    The domain goes out in its ASCII (IDNA) form, also for an address stored before the domain
    was kept that way.
    """
    local, at, _ = address.rpartition("@")
    if not address.isprintable() or "<" in address or ">" in address or not (at and local):
        raise Permanent(NOT_PLAIN)
    try:
        plain = f"<{envelope_address(address)}>"
    except idna.IDNAError as error:
        raise Permanent(DOMAIN_NOT_IDNA) from error
    return _Path(plain.encode("utf-8"), needs_smtputf8=not local.isascii())


def _refusal(error: SMTPResponseException) -> DeliveryError:
    reply = f"{error.code} {error.message}".strip()
    return Permanent(reply) if error.code >= 500 else Transient(reply)


class SmtpTransport:
    """A small pool of reused SMTP connections: one message at a time on each."""

    def __init__(
        self,
        config: SmtpConfig,
        *,
        connections: int = 4,
        rotate_after: int = 500,
        timeouts: Timeouts | None = None,
    ) -> None:
        self.config = config
        self.rotate_after = rotate_after
        self.timeouts = timeouts or Timeouts()
        self._slots = asyncio.Semaphore(connections)
        self._idle: list[_Connection] = []
        # socket.getfqdn(), aiosmtplib's default, may wait for DNS on every connect.
        self._local_hostname = socket.gethostname()

    async def send(self, sender: str, recipient: str, message: bytes) -> None:
        running = tracing.tracer()
        if running is None:
            await self._send(sender, recipient, message)
            return
        attributes: dict[str, str | int] = {
            "server.address": self.config.hostname,
            "server.port": self.config.port,
            "network.protocol.name": "smtp",
        }
        # The kind of failure, never its words: a server's reply may quote the address.
        with running.start_as_current_span(
            "smtp send",
            kind=SpanKind.CLIENT,
            attributes=attributes,
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            try:
                await self._send(sender, recipient, message)
            except Exception as error:
                span.set_attribute("error.type", type(error).__name__)
                span.set_status(Status(StatusCode.ERROR))
                raise

    async def _send(self, sender: str, recipient: str, message: bytes) -> None:
        paths = _path(sender), _path(recipient)
        utf8 = any(path.needs_smtputf8 for path in paths)
        async with self._slots:
            connection = self._idle.pop() if self._idle else None
            if connection is not None and not connection.client.is_connected:
                connection = None
            reused = connection is not None
            if connection is None:
                connection = await self._connect()
            if utf8 and not connection.client.supports_extension("smtputf8"):
                self._idle.append(connection)
                raise Permanent(NEEDS_SMTPUTF8)
            try:
                await self._envelope(connection, *paths)
            except _ConnectionLost:
                if not reused:
                    raise
                # The server dropped an idle connection: nothing was sent, try a fresh one once.
                # A refusal (4xx, 5xx) is the server's answer and no reason to ask again at once:
                # a greylisting server would see two tries in a row.
                connection = await self._connect()
                await self._envelope(connection, *paths)
            await self._data(connection, message)
            connection.sent += 1
            if connection.sent >= self.rotate_after:
                await self._quit(connection)
            else:
                self._idle.append(connection)

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for connection in idle:
            await self._quit(connection)

    async def _connect(self) -> _Connection:
        config = self.config
        client = aiosmtplib.SMTP(
            hostname=config.hostname,
            port=config.port,
            use_tls=config.use_tls,
            start_tls=config.start_tls,
            username=config.username,
            password=config.password,
            local_hostname=self._local_hostname,
            timeout=self.timeouts.command,
        )
        try:
            await client.connect(timeout=self.timeouts.connect)
            await client.ehlo()
        except (SMTPException, OSError, TimeoutError) as error:
            client.close()
            raise Unreachable(
                f"The mail server {config.hostname}:{config.port} cannot be reached ({error})."
            ) from error
        return _Connection(client)

    async def _envelope(self, connection: _Connection, sender: _Path, recipient: _Path) -> None:
        client = connection.client
        timeout = self.timeouts.command
        mail_from = [b"FROM:" + sender.value]
        if sender.needs_smtputf8 or recipient.needs_smtputf8:
            mail_from.append(b"SMTPUTF8")  # RFC 6531; `send` checked that the server offers it
        try:
            # The commands themselves: aiosmtplib's mail() and rcpt() parse each address with
            # the email package first, which costs more than the exchange; `_path` checked them.
            reply = await client.execute_command(b"MAIL", *mail_from, timeout=timeout)
            if reply.code != SMTPStatus.completed:
                raise SMTPResponseException(reply.code, reply.message)
            reply = await client.execute_command(b"RCPT", b"TO:" + recipient.value, timeout=timeout)
            if reply.code not in (SMTPStatus.completed, SMTPStatus.will_forward):
                raise SMTPResponseException(reply.code, reply.message)
        except SMTPResponseException as error:
            client.close()
            raise _refusal(error) from error
        except (SMTPException, OSError, TimeoutError) as error:
            client.close()
            raise _ConnectionLost(
                "The connection to the mail server was lost before the message was sent."
            ) from error

    async def _data(self, connection: _Connection, message: bytes) -> None:
        client = connection.client
        try:
            await client.data(message, timeout=self.timeouts.data)
        except SMTPResponseException as error:
            # The server answered: it did not take the message.
            client.close()
            raise _refusal(error) from error
        except (SMTPException, OSError, TimeoutError) as error:
            client.close()
            raise UnknownOutcome(
                "The connection to the mail server was lost while it held the message: it may "
                "have been delivered."
            ) from error
        except BaseException:
            client.close()
            raise

    async def _quit(self, connection: _Connection) -> None:
        try:
            await connection.client.quit(timeout=self.timeouts.connect)
        except (SMTPException, OSError, TimeoutError):
            connection.client.close()
