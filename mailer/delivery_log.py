"""One log line per outcome: each invitation e-mail, each webhook delivery attempt.

A mail line names the invitation, its Message-ID, the outcome and the recipient's domain: never
the local part of the address (SMTP replies that quote the address have it masked), never the
invitation's token or code, which no line of the mailer holds. A webhook line names the
endpoint, the event (the `webhook-id` the receiver sees), the outcome and the status code, never
the URL (its query may hold a receiver's secret) nor the body.
"""

from __future__ import annotations

import logging
import re

mail_logger = logging.getLogger("invitations.mailer.outcome")
webhook_logger = logging.getLogger("invitations.webhooks.outcome")

# Mail outcomes. FAILED and UNKNOWN are final and not what was wanted: WARNING; the rest INFO.
SENT = "sent"
DEFERRED = "deferred"  # back in the queue, to be tried again
FAILED = "failed"
UNKNOWN = "unknown"  # the server may have it: parked, never sent again
DISCARDED = "discarded"  # canceled, accepted or expired before its e-mail went out


def domain_of(address: str) -> str:
    return address.rpartition("@")[2]


def without_address(text: str, address: str) -> str:
    """`text` with the address in it (any case) masked down to its domain."""
    return re.sub(re.escape(address), f"…@{domain_of(address)}", text, flags=re.IGNORECASE)


def mail_outcome(
    outcome: str,
    *,
    invitation_id: int,
    address: str,
    message_id: str | None,
    reason: str | None = None,
) -> None:
    level = logging.WARNING if outcome in (FAILED, UNKNOWN) else logging.INFO
    if not mail_logger.isEnabledFor(level):
        return
    domain = domain_of(address)
    reason = without_address(reason, address) if reason else None
    mail_logger.log(
        level,
        "mail %s: invitation %s, Message-ID %s, to a recipient at %s%s",
        outcome,
        invitation_id,
        message_id or "-",
        domain,
        f": {reason}" if reason else "",
        extra={
            "invitation_id": invitation_id,
            "message_id": message_id,
            "outcome": outcome,
            "recipient_domain": domain,
            "reason": reason,
        },
    )


# Webhook outcomes of one attempt.
DELIVERED = "delivered"
RETRYING = "retrying"
GIVEN_UP = "failed"
DISABLED = "endpoint disabled"  # 410 Gone: the endpoint is switched off


def webhook_attempt(
    outcome: str,
    *,
    delivery_id: int,
    endpoint_id: int,
    event_id: str,
    status_code: int | None,
    error: str | None,
) -> None:
    level = logging.INFO if outcome in (DELIVERED, RETRYING) else logging.WARNING
    if not webhook_logger.isEnabledFor(level):
        return
    webhook_logger.log(
        level,
        "webhook %s: endpoint %s, event %s, status %s%s",
        outcome,
        endpoint_id,
        event_id,
        status_code if status_code is not None else "-",
        f": {error}" if error else "",
        extra={
            "delivery_id": delivery_id,
            "endpoint_id": endpoint_id,
            "event_id": event_id,
            "outcome": outcome,
            "status_code": status_code,
            "error": error,
        },
    )
