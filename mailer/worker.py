"""The mailer loop: claim a batch, send each row over the transport, record each outcome."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import deque
from dataclasses import dataclass

from config import DeliveryPolicy, Settings
from domain import sending_switch
from domain.clock import utcnow
from domain.expiry import ExpirySweeper
from domain.mail_queue import wait_for_mail
from mailer import compose, metrics, outbox
from mailer.message import build
from mailer.outbox import Claimed
from mailer.recorder import Recorder
from mailer.transport import Permanent, Transient, Transport, UnknownOutcome, Unreachable
from models.invitation import DeliveryState

logger = logging.getLogger("invitations.mailer")

MAX_BACKOFF_SECONDS = 6 * 3600
NOT_OPEN = "Not sent: the invitation was canceled, accepted or expired before its e-mail went out."
CANNOT_BUILD = (
    "The e-mail could not be built: an address or a header value has characters that cannot be "
    "sent."
)
IN_DOUBT = "Outcome unknown: the server may have the message (a send was interrupted)."


@dataclass(frozen=True, slots=True)
class BatchResult:
    """How one claim went."""

    claimed: int
    server_unreachable: bool = False


@dataclass(frozen=True, slots=True)
class Recording:
    """A delivery whose record is being written."""

    row: Claimed
    written: asyncio.Future[bool]


async def _counted(recording: Recording | None) -> None:
    """Wait for a delivery's record and count it."""
    if recording is None:
        return
    try:
        if await recording.written:
            metrics.SENT.inc()
    except Exception:  # the row stays SENDING under its lease: rescued as in doubt
        logger.exception("recording the delivery of invitation %s failed", recording.row.id)


class Mailer:
    """Sends the outbox until stopped; any number may run on one database."""

    def __init__(
        self, settings: Settings, transport: Transport, *, lanes: int | None = None
    ) -> None:
        self.settings = settings
        self.transport = transport
        # Sends under way at once. Twice the connections: while one lane writes an outcome to the
        # database, another uses the connection it freed. Each lane in flight can be caught by a
        # crash between the server's 250 and its record, so a crash duplicates at most `lanes`.
        self.lanes = lanes or 2 * settings.mailer_connections
        self.recorder = Recorder()
        self.sweeper = ExpirySweeper(
            batch_size=settings.expiry_sweep_batch_size,
            batches=10,
            lease_seconds=max(60.0, 2 * settings.expiry_sweep_seconds),
        )
        self._next_sweep = 0.0
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        """Finish the messages under way, give the rest of the batch back, then return."""
        self._stopping.set()

    async def run(self) -> None:
        while not self._stopping.is_set():
            await self._sweep_when_due()
            try:
                result = await self.run_once()
            except Exception:  # a database outage must not end the loop: log, wait, try again
                logger.exception("mailer batch failed")
                result = BatchResult(claimed=0)
            if result.claimed == 0 or result.server_unreachable:
                await self._idle()

    async def _sweep_when_due(self) -> None:
        """Store the expiries that have happened, every expiry_sweep_seconds."""
        if time.monotonic() < self._next_sweep:
            return
        self._next_sweep = time.monotonic() + self.settings.expiry_sweep_seconds
        try:
            expired = await self.sweeper.sweep(utcnow())
        except Exception:  # like a batch: a database outage must not end the loop
            logger.exception("expiry sweep failed")
            return
        if expired:
            logger.info("stored the expiry of %d invitations", expired)

    async def run_once(self) -> BatchResult:
        settings = self.settings
        if settings.sending_paused or await sending_switch.is_paused():
            return BatchResult(claimed=0)
        rows = await outbox.claim(settings.mailer_batch_size, settings.mailer_lease_seconds)
        metrics.QUEUE_DEPTH.set(await outbox.queue_depth())
        if not rows:
            return BatchResult(claimed=0)
        batch = await compose.load(rows, secret=settings.secret_key)
        pending = deque(rows)
        unreachable = asyncio.Event()

        async def lane() -> None:
            recording: Recording | None = None
            while pending and not (self._stopping.is_set() or unreachable.is_set()):
                row = pending.popleft()
                try:
                    sent = await self._send(row, batch, unreachable)
                except Exception:  # one row's bookkeeping failure must not stop the others
                    logger.exception("sending invitation %s failed", row.id)
                    sent = None
                # The previous row's delivery went into the same write as this row's SENDING
                # (or its own, when this row never got that far): it is recorded by now.
                await _counted(recording)
                recording = sent
            await _counted(recording)

        await asyncio.gather(*(lane() for _ in range(min(self.lanes, len(rows)))))
        if pending:
            delay = settings.mailer_retry_base_seconds if unreachable.is_set() else 0.0
            await outbox.release(list(pending), delay_seconds=delay)
        return BatchResult(claimed=len(rows), server_unreachable=unreachable.is_set())

    async def _send(
        self, row: Claimed, batch: compose.Batch, unreachable: asyncio.Event
    ) -> Recording | None:
        """Send one row and record the outcome; a delivery's record is returned still under way."""
        settings = self.settings
        if row.in_doubt and (
            settings.mailer_delivery is DeliveryPolicy.AT_MOST_ONCE
            or row.attempts >= settings.mailer_max_attempts
        ):
            await self._settle(row, DeliveryState.UNKNOWN, IN_DOUBT)
            return None
        message_id = batch.message_id(row)
        try:
            mail = batch.mail_for(row, message_id)
            data = build(mail)
        except (ValueError, KeyError):
            logger.exception("cannot build the e-mail of invitation %s", row.id)
            await self._settle(row, DeliveryState.FAILED, CANNOT_BUILD)
            return None
        if not await self.recorder.start_sending(row, message_id, settings.mailer_lease_seconds):
            # Not open any more (or the lease was lost, and then this write matches nothing).
            state = DeliveryState.UNKNOWN if row.in_doubt else DeliveryState.FAILED
            await outbox.settle(row, state, NOT_OPEN)
            return None
        attempt = row.attempts + 1
        started = time.perf_counter()
        try:
            await self.transport.send(mail.sender.email, mail.recipient, data)
        except Unreachable as error:
            unreachable.set()
            logger.warning("SMTP server unreachable: %s", error.reason)
            await outbox.give_back(row, delay_seconds=settings.mailer_retry_base_seconds)
        except Permanent as error:
            await self._settle(row, DeliveryState.FAILED, error.reason)
        except Transient as error:
            await self._retry(row, attempt, error.reason, exhausted=DeliveryState.FAILED)
        except UnknownOutcome as error:
            if settings.mailer_delivery is DeliveryPolicy.AT_MOST_ONCE:
                await self._settle(row, DeliveryState.UNKNOWN, error.reason)
            else:
                await self._retry(row, attempt, error.reason, exhausted=DeliveryState.UNKNOWN)
        else:
            metrics.SEND_SECONDS.observe(time.perf_counter() - started)
            return Recording(row, self.recorder.delivered(row))
        return None

    async def _retry(
        self, row: Claimed, attempt: int, reason: str, *, exhausted: DeliveryState
    ) -> None:
        if attempt >= self.settings.mailer_max_attempts:
            await self._settle(row, exhausted, f"{reason} (after {attempt} attempts)")
            return
        if await outbox.retry_later(row, delay_seconds=self.backoff(attempt), reason=reason):
            metrics.RETRIED.inc()

    async def _settle(self, row: Claimed, state: DeliveryState, reason: str) -> None:
        if await outbox.settle(row, state, reason):
            (metrics.FAILED if state is DeliveryState.FAILED else metrics.UNKNOWN).inc()

    def backoff(self, attempt: int) -> float:
        """Full jitter: anywhere up to base · 2^(attempt-1), so retries of many rows spread out."""
        ceiling = self.settings.mailer_retry_base_seconds * 2 ** (attempt - 1)
        return random.uniform(0, min(ceiling, MAX_BACKOFF_SECONDS))  # noqa: S311 (not secret)

    async def _idle(self) -> None:
        woken = asyncio.ensure_future(wait_for_mail(self.settings.mailer_poll_seconds))
        stopping = asyncio.ensure_future(self._stopping.wait())
        await asyncio.wait({woken, stopping}, return_when=asyncio.FIRST_COMPLETED)
        for task in (woken, stopping):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
