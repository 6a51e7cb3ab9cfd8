"""The mailer loop: claim a batch, send each row over the transport, record each outcome."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from opentelemetry.trace import SpanKind

from config import DeliveryPolicy, Settings
from domain import sending_switch, tracing
from domain.clock import utcnow
from domain.expiry import ExpirySweeper
from domain.mail_queue import wait_for_mail
from domain.outage import (
    PROBE_INTERVAL_SECONDS,
    Outage,
    database_answers,
    is_database_unavailable,
    quiet_pool_reconnects,
)
from mailer import compose, delivery_log, metrics, outbox
from mailer.message import InvitationMail, build
from mailer.outage import NotHandedOver, keep_trying
from mailer.outbox import Claimed
from mailer.recorder import Recorder
from mailer.transport import Permanent, Transient, Transport, UnknownOutcome, Unreachable
from models.invitation import DeliveryState

logger = logging.getLogger("invitations.mailer")
T = TypeVar("T")

MAX_BACKOFF_SECONDS = 6 * 3600
# How often a mailer counts the queue for its gauge. The count reads every waiting row: once per
# batch, a backlog of 100,000 cost the database 13 ms per batch (a quarter of a millisecond per
# e-mail in batches of 50), and each worker counted it again.
QUEUE_DEPTH_SECONDS = 1.0
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
    message_id: str
    written: asyncio.Future[bool]


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
        self._next_depth = 0.0
        self._stopping = asyncio.Event()
        self.outage = Outage(logger, "mailer paused")
        # Claimed rows never handed to the server, to put back once the database answers again.
        self._to_put_back: list[Claimed] = []

    def stop(self) -> None:
        """Finish the messages under way, give the rest of the batch back, then return."""
        self._stopping.set()

    async def run(self) -> None:
        quiet_pool_reconnects()
        while not self._stopping.is_set():
            await self._sweep_when_due()
            try:
                result = await self.run_once()
            except Exception as error:  # an outage must not end the loop: wait, try again
                if is_database_unavailable(error):
                    self.outage.begin(error)
                else:
                    logger.exception("mailer batch failed")
                result = BatchResult(claimed=0)
            if self.outage.down or self._to_put_back:
                await self._ride_out()
            elif result.claimed == 0 or result.server_unreachable:
                await self._idle()
        if self._to_put_back:
            logger.warning(
                "stopped during a database outage: %d claimed rows wait for their lease to end",
                len(self._to_put_back),
            )

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
        try:
            if time.monotonic() >= self._next_depth:
                self._next_depth = time.monotonic() + QUEUE_DEPTH_SECONDS
                metrics.QUEUE_DEPTH.set(await outbox.queue_depth())
            batch = await compose.load(rows, secret=settings.secret_key) if rows else None
        except Exception as error:
            if is_database_unavailable(error):
                self._to_put_back.extend(rows)
            raise
        if batch is None:
            return BatchResult(claimed=0)
        pending = deque(rows)
        unreachable = asyncio.Event()
        not_sent: list[Claimed] = []

        async def lane() -> None:
            recording: Recording | None = None
            while pending and not (
                self._stopping.is_set() or unreachable.is_set() or self.outage.down
            ):
                row = pending.popleft()
                try:
                    sent = await self._send(row, batch, unreachable)
                except NotHandedOver as error:  # the database is gone: stop claiming from it
                    self.outage.begin(error.__cause__ or error)
                    not_sent.append(row)
                    sent = None
                except Exception as error:  # one row's bookkeeping failure must not stop the others
                    if is_database_unavailable(error):
                        self.outage.begin(error)
                    else:
                        logger.exception("sending invitation %s failed", row.id)
                    sent = None
                # The previous row's delivery went into the same write as this row's SENDING
                # (or its own, when this row never got that far): it is recorded by now.
                await self._counted(recording)
                recording = sent
            await self._counted(recording)

        await asyncio.gather(*(lane() for _ in range(min(self.lanes, len(rows)))))
        if self.outage.down:
            self._to_put_back.extend([*not_sent, *pending])
        elif pending:
            delay = settings.mailer_retry_base_seconds if unreachable.is_set() else 0.0
            await outbox.release(list(pending), delay_seconds=delay)
        return BatchResult(claimed=len(rows), server_unreachable=unreachable.is_set())

    async def _counted(self, recording: Recording | None) -> None:
        """Wait for a delivery's record and count it; written again while the database is out."""
        if recording is None:
            return
        row = recording.row
        first = [recording.written]

        def write() -> Awaitable[bool]:
            return first.pop() if first else self.recorder.delivered(row)

        try:
            if await self._outcome(write):
                metrics.SENT.inc()
                _logged(delivery_log.SENT, row, recording.message_id)
        except Exception:  # the row stays SENDING under its lease: rescued as in doubt
            logger.exception("recording the delivery of invitation %s failed", row.id)

    async def _outcome(self, write: Callable[[], Awaitable[T]]) -> T:
        """An outcome's write, kept and tried again while the database is unreachable (for up to
        the lease, which the server's answer came well within)."""
        return await keep_trying(
            write, within=self.settings.mailer_lease_seconds, outage=self.outage
        )

    async def _send(
        self, row: Claimed, batch: compose.Batch, unreachable: asyncio.Event
    ) -> Recording | None:
        """Send one row and record the outcome; a delivery's record is returned still under way.

        Raises NotHandedOver when the database went away before the server had the message.
        Traced, the send continues the trace of the request that queued it.
        """
        running = tracing.tracer()
        if running is None:
            return await self._send_row(row, batch, unreachable)
        with running.start_as_current_span(
            "send invitation",
            context=tracing.context_of(row.traceparent),
            kind=SpanKind.CONSUMER,
            attributes={"invitation.id": row.id, "invitation.attempt": row.attempts + 1},
        ):
            return await self._send_row(row, batch, unreachable)

    async def _send_row(
        self, row: Claimed, batch: compose.Batch, unreachable: asyncio.Event
    ) -> Recording | None:
        settings = self.settings
        try:
            started_sending = await self._start(row, batch)
        except Exception as error:
            if is_database_unavailable(error):
                raise NotHandedOver(row) from error
            raise
        if started_sending is None:
            return None
        mail, data = started_sending
        attempt = row.attempts + 1
        started = time.perf_counter()
        try:
            await self.transport.send(mail.sender.email, mail.recipient, data)
        except Unreachable as error:
            unreachable.set()
            logger.warning("SMTP server unreachable: %s", error.reason)
            try:
                if await outbox.give_back(row, delay_seconds=settings.mailer_retry_base_seconds):
                    _logged(delivery_log.DEFERRED, row, mail.message_id, "SMTP server unreachable")
            except Exception as failure:
                if is_database_unavailable(failure):
                    raise NotHandedOver(row) from failure
                raise
        except Permanent as error:
            reason = error.reason
            await self._outcome(
                lambda: self._settle(row, DeliveryState.FAILED, reason, mail.message_id)
            )
        except Transient as error:
            reason = error.reason
            await self._outcome(
                lambda: self._retry(
                    row, attempt, reason, mail.message_id, exhausted=DeliveryState.FAILED
                )
            )
        except UnknownOutcome as error:
            reason = error.reason
            if settings.mailer_delivery is DeliveryPolicy.AT_MOST_ONCE:
                await self._outcome(
                    lambda: self._settle(row, DeliveryState.UNKNOWN, reason, mail.message_id)
                )
            else:
                await self._outcome(
                    lambda: self._retry(
                        row, attempt, reason, mail.message_id, exhausted=DeliveryState.UNKNOWN
                    )
                )
        else:
            metrics.SEND_SECONDS.observe(time.perf_counter() - started)
            return Recording(row, mail.message_id, self.recorder.delivered(row))
        return None

    async def _start(
        self, row: Claimed, batch: compose.Batch
    ) -> tuple[InvitationMail, bytes] | None:
        """Mark the row SENDING and build its message; None when it is settled instead."""
        settings = self.settings
        if row.in_doubt and (
            settings.mailer_delivery is DeliveryPolicy.AT_MOST_ONCE
            or row.attempts >= settings.mailer_max_attempts
        ):
            await self._settle(row, DeliveryState.UNKNOWN, IN_DOUBT, row.message_id)
            return None
        message_id = batch.message_id(row)
        try:
            mail = batch.mail_for(row, message_id)
            data = build(mail)
        except (ValueError, KeyError):
            logger.exception("cannot build the e-mail of invitation %s", row.id)
            await self._settle(row, DeliveryState.FAILED, CANNOT_BUILD, message_id)
            return None
        if not await self.recorder.start_sending(row, message_id, settings.mailer_lease_seconds):
            # Not open any more (or the lease was lost, and then this write matches nothing).
            state = DeliveryState.UNKNOWN if row.in_doubt else DeliveryState.FAILED
            if await outbox.settle(row, state, NOT_OPEN):
                _logged(delivery_log.DISCARDED, row, row.message_id)
            return None
        return mail, data

    async def _ride_out(self) -> None:
        """Wait for the database, then put back the rows never handed to the server."""
        while not self._stopping.is_set():
            if await database_answers():
                self.outage.end()
                try:
                    await outbox.put_back(self._to_put_back)
                except Exception as error:
                    if is_database_unavailable(error):
                        self.outage.begin(error)
                        continue
                    logger.exception("putting back %d rows failed", len(self._to_put_back))
                self._to_put_back.clear()
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), PROBE_INTERVAL_SECONDS)

    async def _retry(
        self,
        row: Claimed,
        attempt: int,
        reason: str,
        message_id: str,
        *,
        exhausted: DeliveryState,
    ) -> None:
        if attempt >= self.settings.mailer_max_attempts:
            await self._settle(row, exhausted, f"{reason} (after {attempt} attempts)", message_id)
            return
        if await outbox.retry_later(row, delay_seconds=self.backoff(attempt), reason=reason):
            metrics.RETRIED.inc()
            _logged(delivery_log.DEFERRED, row, message_id, reason)

    async def _settle(
        self, row: Claimed, state: DeliveryState, reason: str, message_id: str | None
    ) -> None:
        if await outbox.settle(row, state, reason):
            failed = state is DeliveryState.FAILED
            (metrics.FAILED if failed else metrics.UNKNOWN).inc()
            outcome = delivery_log.FAILED if failed else delivery_log.UNKNOWN
            _logged(outcome, row, message_id, reason)

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


def _logged(outcome: str, row: Claimed, message_id: str | None, reason: str | None = None) -> None:
    delivery_log.mail_outcome(
        outcome, invitation_id=row.id, address=row.email, message_id=message_id, reason=reason
    )
