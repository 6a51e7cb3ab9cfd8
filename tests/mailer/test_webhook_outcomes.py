"""The sender's outcome writes in one statement (mailer.webhooks.record_outcomes) beside the
same writes one by one: the same rows, each fenced by its own lease."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain import webhooks
from mailer import webhooks as sender
from mailer.webhooks import Outcome, Written, claim, record_outcomes
from models.webhooks import WebhookDelivery, WebhookDeliveryState, WebhookEventType
from tests.helpers import TEST_SECRET
from tests.invitation_factories import make_invitation

KEYS = webhooks.Keys(secret_key=TEST_SECRET, allow_private=True)


async def _claimed(count: int) -> list[sender.Claimed]:
    await webhooks.create(
        url="http://127.0.0.1:9/hook", events=list(WebhookEventType), description=None, keys=KEYS
    )
    for n in range(count):
        invitation = await make_invitation(None, f"o{n}@example.com")
        await webhooks.record(WebhookEventType.INVITATION_CREATED, [invitation.id])
    return await claim(count, lease_seconds=60)


def _writes(rows: list[sender.Claimed]) -> list[Written]:
    delivered, later, failed, stale = rows
    return [
        Written(delivered, WebhookDeliveryState.DELIVERED, Outcome(200, None)),
        Written(later, WebhookDeliveryState.PENDING, Outcome(503, "HTTP 503."), 90.0),
        Written(failed, WebhookDeliveryState.FAILED, Outcome(None, "The request failed: X.")),
        Written(
            sender.Claimed(**{**_fields(stale), "lease_id": "someone-else"}),
            WebhookDeliveryState.DELIVERED,
            Outcome(200, None),
        ),
    ]


def _fields(row: sender.Claimed) -> dict[str, object]:
    return {name: getattr(row, name) for name in row.__slots__}


async def _state() -> list[tuple[object, ...]]:
    found = []
    for row in await WebhookDelivery.all().order_by("id"):
        due = None
        if row.next_attempt_at is not None:
            due = round((row.next_attempt_at - row.created_at) / timedelta(seconds=30))
        found.append(
            (
                row.state, row.attempts, row.last_status_code, row.last_error, due,
                row.delivered_at is not None, row.lease_id is None, row.lease_expires_at is None,
            )
        )  # fmt: skip
    return found


@pytest.mark.parametrize("grouped", [True, False])
async def test_a_group_writes_what_single_writes_do(grouped: bool) -> None:
    rows = await _claimed(4)
    writes = _writes(rows)
    if grouped:
        matched = await record_outcomes(writes)
    else:
        matched = set()
        for write in writes:
            matched |= await record_outcomes([write])

    assert matched == {rows[0].id, rows[1].id, rows[2].id}
    assert await _state() == [
        (WebhookDeliveryState.DELIVERED, 1, 200, None, None, True, True, True),
        (WebhookDeliveryState.PENDING, 1, 503, "HTTP 503.", 3, False, True, True),
        (WebhookDeliveryState.FAILED, 1, None, "The request failed: X.", None, False, True, True),
        # the stale lease matched nothing: the row is still the other worker's
        (WebhookDeliveryState.PENDING, 0, None, None, None, False, False, False),
    ]


async def test_the_recorder_groups_writes_asked_together(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = await _claimed(4)
    calls: list[int] = []
    original = sender.record_outcomes

    async def counting(writes: list[Written]) -> set[int]:
        calls.append(len(writes))
        return await original(writes)

    monkeypatch.setattr(sender, "record_outcomes", counting)
    recorder = sender.outcome_recorder()
    futures = [recorder.write(write) for write in _writes(rows)]
    results = [await future for future in futures]
    assert results == [True, True, True, False]
    assert calls == [4]
