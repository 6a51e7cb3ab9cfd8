"""The webhook sender: claims due deliveries, POSTs them signed, records each outcome.

The same machinery as the e-mail outbox (mailer/outbox.py): one statement leases a batch of due
rows (PostgreSQL: FOR UPDATE SKIP LOCKED) on the database clock, and every outcome names the row
*and* the lease, so a worker whose lease was taken over writes nothing. A worker killed mid-POST
leaves its rows leased; once the lease expires another worker sends them again with the same
webhook-id (at least once).

Per endpoint: one httpx client (HTTP/1.1 keep-alive), at most `concurrency` requests at once,
redirects not followed, `timeout` seconds per attempt, at most `MAX_RESPONSE_BYTES` of an answer
read. Outcomes are written in groups (mailer.recorder.Grouped, as the mailer's are):
one statement for the outcomes that came in meanwhile, each fenced by its own row's lease. The
URL is checked again before each POST (what a name resolves to can change). A 2xx is a
success; anything else is retried with exponential backoff and full jitter until the retry window
(about three days) is spent, then FAILED. 410 Gone disables the endpoint at once; five days of
failures without a success disable it too.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
import orjson
from standardwebhooks import Webhook
from tortoise import connections

from config import Settings
from domain import webhook_urls, webhooks
from domain.clock import utcnow
from domain.errors import DomainError
from domain.outage import is_database_unavailable
from mailer import delivery_log, metrics
from mailer.outbox import CONNECTION, Sql
from mailer.recorder import Grouped
from models.webhooks import WebhookDeliveryState, WebhookEndpoint

logger = logging.getLogger("invitations.webhooks")

MAX_RESPONSE_BYTES = 4096
MAX_BACKOFF_SECONDS = 6 * 3600
FAILING_DAYS_TO_DISABLE = 5
USER_AGENT = "invitations-webhooks/1"
_CLEAR_LEASE = "lease_id = NULL, lease_expires_at = NULL"
_DUE = (
    "d.state = 'PENDING' AND e.enabled"
    " AND (d.next_attempt_at IS NULL OR d.next_attempt_at <= {now})"
    " AND (d.lease_expires_at IS NULL OR d.lease_expires_at <= {now})"
)


@dataclass(frozen=True, slots=True)
class Claimed:
    """A delivery this worker holds the lease of."""

    id: int
    lease_id: str
    endpoint_id: int
    webhook_id: str
    body: str
    attempts: int


@dataclass(frozen=True, slots=True)
class Outcome:
    """How one POST went: a status code, or why there was none."""

    status_code: int | None
    error: str | None

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def attempts_within(window_seconds: float, base_seconds: float) -> int:
    """How many attempts the backoff schedule fits into the retry window (at least one)."""
    spent, attempts = 0.0, 1
    while True:
        spent += backoff_ceiling(attempts, base_seconds)
        if spent > window_seconds:
            return attempts
        attempts += 1


def backoff_ceiling(attempts: int, base_seconds: float) -> float:
    """The longest wait after the `attempts`-th failure (the jitter draws below it)."""
    # (The exponent is capped: past it the ceiling is MAX_BACKOFF_SECONDS for any sane base.)
    return min(base_seconds * 2.0 ** min(attempts - 1, 40), MAX_BACKOFF_SECONDS) or 1.0


async def claim(batch_size: int, lease_seconds: float) -> list[Claimed]:
    """Lease up to `batch_size` due deliveries of enabled endpoints, oldest first."""
    client = connections.get(CONNECTION)
    sql = Sql(client)
    lease_id = str(uuid.uuid4())
    due = _DUE.format(now=sql.now())
    returning = "d.id, d.endpoint_id, d.webhook_id, d.body, d.attempts"
    if sql.postgres:
        statement = (
            "WITH picked AS MATERIALIZED (SELECT d.id FROM webhook_delivery AS d"
            " JOIN webhook_endpoint AS e ON e.id = d.endpoint_id"
            f" WHERE {due} ORDER BY d.id LIMIT ? FOR UPDATE OF d SKIP LOCKED)"
            f" UPDATE webhook_delivery AS d SET lease_id = ?, lease_expires_at = {sql.later()}"
            f" FROM picked WHERE d.id = picked.id RETURNING {returning}"
        )
        params: list[object] = [batch_size, lease_id, sql.seconds(lease_seconds)]
    else:
        statement = (
            f"UPDATE webhook_delivery SET lease_id = ?, lease_expires_at = {sql.later()}"
            " WHERE id IN (SELECT d.id FROM webhook_delivery AS d"
            " JOIN webhook_endpoint AS e ON e.id = d.endpoint_id"
            f" WHERE {due} ORDER BY d.id LIMIT ?) RETURNING {returning.replace('d.', '')}"
        )
        params = [lease_id, sql.seconds(lease_seconds), batch_size]
    rows = await client.execute_query_dict(sql.query(statement), params)
    return sorted(
        (
            Claimed(
                id=row["id"],
                lease_id=lease_id,
                endpoint_id=row["endpoint_id"],
                webhook_id=row["webhook_id"],
                body=row["body"],
                attempts=row["attempts"],
            )
            for row in rows
        ),
        key=lambda row: row.id,
    )


@dataclass(frozen=True, slots=True)
class Written:
    """One attempt's outcome as it is recorded: the row's new state, and when a retry is due."""

    row: Claimed
    state: WebhookDeliveryState
    outcome: Outcome
    # PENDING: seconds until the next attempt; None otherwise.
    delay_seconds: float | None = None


async def record_outcomes(writes: Sequence[Written]) -> set[int]:
    """Record these attempts in one statement; the ids of the rows whose write matched.

    Each write is fenced by its own row's lease (a row taken over by another worker matches
    nothing) and counts one more attempt; DELIVERED sets `delivered_at`, PENDING the next attempt
    after its delay, and every write clears the lease. A row is in at most one write.
    """
    if not writes:
        return set()
    client = connections.get(CONNECTION)
    ordered = sorted(writes, key=lambda write: write.row.id)  # (row locks in one order)
    if Sql(client).postgres:
        columns: list[list[object]] = [[], [], [], [], [], []]
        for write in ordered:
            for column, value in zip(columns, _outcome_values(write), strict=True):
                column.append(value)
        rows = await client.execute_query_dict(_RECORD_POSTGRES, columns)
    else:
        values = [_outcome_values(write) for write in ordered]
        rows = await client.execute_query_dict(_RECORD_SQLITE, [orjson.dumps(values).decode()])
    return {int(row["id"]) for row in rows}


def _outcome_values(write: Written) -> tuple[object, ...]:
    delay = write.delay_seconds
    return (
        write.row.id,
        write.row.lease_id,
        write.state.value,
        write.outcome.status_code,
        write.outcome.error,
        None if delay is None else float(delay),
    )


_OUTCOME_SET = (
    "state = o.state, last_status_code = o.status_code, last_error = o.error,"
    " attempts = {d}attempts + 1,"
    " delivered_at = CASE WHEN o.state = 'DELIVERED' THEN {now} ELSE {d}delivered_at END,"
    " next_attempt_at = CASE WHEN o.delay IS NULL THEN NULL ELSE {later} END,"
    f" {_CLEAR_LEASE}"
)
# The arrays come in through sub-selects, as in mailer/outbox.py's record: given as they are, a
# custom plan counts their elements, always looks cheaper, and the statement is planned again on
# every call; this way the cached generic plan (primary-key lookups) is used.
_RECORD_POSTGRES = (
    "UPDATE webhook_delivery AS d SET "
    + _OUTCOME_SET.format(
        d="d.",
        now="clock_timestamp()",
        later="clock_timestamp() + make_interval(secs => o.delay)",
    )
    + " FROM unnest((SELECT $1::int[]), (SELECT $2::text[]), (SELECT $3::text[]),"
    " (SELECT $4::int[]), (SELECT $5::text[]), (SELECT $6::float8[]))"
    " AS o(id, lease_id, state, status_code, error, delay)"
    " WHERE d.id = o.id AND d.lease_id = o.lease_id RETURNING d.id"
)
# One JSON array of [id, lease_id, state, status_code, error, delay] per write.
_RECORD_SQLITE = (
    "UPDATE webhook_delivery SET "
    + _OUTCOME_SET.format(
        d="webhook_delivery.",
        now=Sql.now_sqlite(),
        later="(strftime('%Y-%m-%d %H:%M:%f', 'now', printf('%+.3f seconds', o.delay))"
        " || '000+00:00')",
    )
    + " FROM (SELECT json_extract(value, '$[0]') AS id, json_extract(value, '$[1]') AS lease_id,"
    " json_extract(value, '$[2]') AS state, json_extract(value, '$[3]') AS status_code,"
    " json_extract(value, '$[4]') AS error, json_extract(value, '$[5]') AS delay"
    " FROM json_each(?)) AS o"
    " WHERE webhook_delivery.id = o.id AND webhook_delivery.lease_id = o.lease_id"
    " RETURNING id"
)


def outcome_recorder() -> Grouped[Written]:
    """A sender's outcome writes, grouped as mailer/recorder.py groups the mailer's: the writes
    asked for while a group is being written go into the next one, one statement for all."""
    return Grouped(record_outcomes, lambda write: write.row.id, "webhook outcomes")


async def _endpoint_succeeded(endpoint_id: int) -> None:
    await WebhookEndpoint.filter(id=endpoint_id, failing_since__isnull=False).update(
        failing_since=None
    )


async def _endpoint_failed(endpoint_id: int, now: datetime) -> None:
    """Start the endpoint's failure streak, or disable it once the streak is five days old."""
    await WebhookEndpoint.filter(id=endpoint_id, failing_since__isnull=True).update(
        failing_since=now
    )
    cutoff = now - timedelta(days=FAILING_DAYS_TO_DISABLE)
    await WebhookEndpoint.filter(id=endpoint_id, enabled=True, failing_since__lte=cutoff).update(
        enabled=False,
        disabled_reason=f"Every delivery failed for {FAILING_DAYS_TO_DISABLE} days.",
        updated_at=now,
    )


async def _disable(endpoint_id: int, reason: str) -> None:
    await WebhookEndpoint.filter(id=endpoint_id).update(
        enabled=False, disabled_reason=reason, updated_at=utcnow()
    )


class WebhookSender:
    """Delivers the webhook outbox until stopped; any number may run on one database."""

    def __init__(self, settings: Settings, *, batch_size: int | None = None) -> None:
        self.settings = settings
        self.batch_size = batch_size or settings.mailer_batch_size
        self.max_attempts = attempts_within(
            settings.webhook_retry_window_seconds, settings.webhook_retry_base_seconds
        )
        self._clients: dict[int, tuple[str, httpx.AsyncClient, asyncio.Semaphore]] = {}
        self._stopping = asyncio.Event()
        self._outcomes = outcome_recorder()

    def stop(self) -> None:
        """Finish the POSTs under way, then return."""
        self._stopping.set()

    async def close(self) -> None:
        for _, client, _ in self._clients.values():
            await client.aclose()
        self._clients.clear()

    async def run(self) -> None:
        try:
            while not self._stopping.is_set():
                try:
                    claimed = await self.run_once()
                except Exception as error:  # a database outage must not end the loop
                    # An outage is the mailer's to log, once; anything else is a bug.
                    if not is_database_unavailable(error):
                        logger.exception("a webhook batch failed")
                    claimed = 0
                if claimed == 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(
                            self._stopping.wait(), self.settings.mailer_poll_seconds
                        )
        finally:
            await self.close()

    async def run_once(self) -> int:
        """Claim one batch and deliver it; how many rows were claimed."""
        # Long enough for the whole batch to one endpoint, one `concurrency` wave after another.
        waves = -(-self.batch_size // self.settings.webhook_concurrency_per_endpoint)
        lease = self.settings.mailer_lease_seconds + waves * self.settings.webhook_timeout_seconds
        rows = await claim(self.batch_size, lease)
        if not rows:
            return 0
        found = await WebhookEndpoint.filter(id__in={row.endpoint_id for row in rows})
        endpoints = {endpoint.id: endpoint for endpoint in found}
        # (An endpoint deleted since the claim took its deliveries with it: nothing to send.)
        await asyncio.gather(
            *(
                self._deliver(row, endpoints[row.endpoint_id])
                for row in rows
                if row.endpoint_id in endpoints
            )
        )
        return len(rows)

    def _client(self, endpoint: WebhookEndpoint) -> tuple[httpx.AsyncClient, asyncio.Semaphore]:
        known = self._clients.get(endpoint.id)
        if known is not None and known[0] == endpoint.url:
            return known[1], known[2]
        concurrency = self.settings.webhook_concurrency_per_endpoint
        client = httpx.AsyncClient(
            follow_redirects=False,
            timeout=httpx.Timeout(self.settings.webhook_timeout_seconds),
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
            headers={"user-agent": USER_AGENT},
            trust_env=False,
        )
        if known is not None:  # the URL changed: the old client's connections go
            asyncio.get_running_loop().create_task(known[1].aclose())
        self._clients[endpoint.id] = (endpoint.url, client, asyncio.Semaphore(concurrency))
        return client, self._clients[endpoint.id][2]

    async def _deliver(self, row: Claimed, endpoint: WebhookEndpoint) -> None:
        client, slots = self._client(endpoint)
        async with slots:
            outcome = await self._post(client, row, endpoint)
        try:
            await self._record(row, endpoint, outcome)
        except Exception:  # the lease runs out and the delivery is sent again
            logger.exception("recording webhook delivery %s failed", row.id)

    async def _post(
        self, client: httpx.AsyncClient, row: Claimed, endpoint: WebhookEndpoint
    ) -> Outcome:
        try:
            await webhook_urls.check(
                endpoint.url, allow_private=self.settings.webhooks_may_reach_private_networks
            )
        except DomainError as refused:
            return Outcome(None, f"Not sent: {refused.message}")
        now = utcnow()
        secrets = webhooks.signing_secrets(endpoint, secret_key=self.settings.secret_key, now=now)
        signature = " ".join(
            _signer(secret).sign(row.webhook_id, now, row.body) for secret in secrets
        )
        headers = {
            "content-type": "application/json",
            "webhook-id": row.webhook_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": signature,
        }
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self.settings.webhook_timeout_seconds):
                async with client.stream(
                    "POST", endpoint.url, content=row.body.encode("utf-8"), headers=headers
                ) as response:
                    read = 0
                    async for chunk in response.aiter_raw():
                        read += len(chunk)
                        if read >= MAX_RESPONSE_BYTES:
                            break
                    return Outcome(response.status_code, _error_of(response.status_code))
        except TimeoutError:
            return Outcome(None, f"No answer within {self.settings.webhook_timeout_seconds:g} s.")
        except httpx.TimeoutException:
            return Outcome(None, f"No answer within {self.settings.webhook_timeout_seconds:g} s.")
        except httpx.HTTPError as error:
            return Outcome(None, f"The request failed: {type(error).__name__}.")
        finally:
            metrics.WEBHOOK_SECONDS.observe(time.perf_counter() - started)

    async def _record(self, row: Claimed, endpoint: WebhookEndpoint, outcome: Outcome) -> None:
        if outcome.delivered:
            if await self._outcomes.write(Written(row, WebhookDeliveryState.DELIVERED, outcome)):
                metrics.WEBHOOK_SENT.inc()
                _logged(delivery_log.DELIVERED, row, outcome)
                if endpoint.failing_since is not None:  # as read at the claim: one write
                    endpoint.failing_since = None
                    await _endpoint_succeeded(endpoint.id)
            return
        failed = Written(row, WebhookDeliveryState.FAILED, outcome)
        if outcome.status_code == 410:
            await _disable(endpoint.id, "The receiver answered 410 Gone.")
            if await self._outcomes.write(failed):
                metrics.WEBHOOK_FAILED.inc()
                _logged(delivery_log.DISABLED, row, outcome)
            return
        now = utcnow()
        await _endpoint_failed(endpoint.id, now)
        endpoint.failing_since = endpoint.failing_since or now
        attempts = row.attempts + 1
        if attempts >= self.max_attempts:
            if await self._outcomes.write(failed):
                metrics.WEBHOOK_FAILED.inc()
                _logged(delivery_log.GIVEN_UP, row, outcome)
            return
        ceiling = backoff_ceiling(attempts, self.settings.webhook_retry_base_seconds)
        delay = random.uniform(ceiling / 2, ceiling)  # noqa: S311 (jitter, not a secret)
        if self.settings.webhook_retry_base_seconds == 0:
            delay = 0.0
        later = Written(row, WebhookDeliveryState.PENDING, outcome, delay_seconds=delay)
        if await self._outcomes.write(later):
            metrics.WEBHOOK_RETRIED.inc()
            _logged(delivery_log.RETRYING, row, outcome)


@functools.lru_cache(maxsize=1024)
def _signer(secret: str) -> Webhook:
    """The secret's signer, made once (it decodes the secret)."""
    return Webhook(secret)


def _logged(outcome: str, row: Claimed, result: Outcome) -> None:
    delivery_log.webhook_attempt(
        outcome,
        delivery_id=row.id,
        endpoint_id=row.endpoint_id,
        event_id=row.webhook_id,
        status_code=result.status_code,
        error=result.error,
    )


def _error_of(status_code: int) -> str | None:
    if 200 <= status_code < 300:
        return None
    return f"The receiver answered HTTP {status_code}."
