"""Prometheus metrics of the mailer (served on /metrics with the rest of the process)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

# Every mailer counts the same queue: under `serve --workers N`, the latest count of any worker.
QUEUE_DEPTH = Gauge(
    "invitations_mail_queue_depth",
    "Invitation e-mails queued or being sent, at the last claim.",
    multiprocess_mode="livemostrecent",
)
SENT = Counter("invitations_mail_sent_total", "Invitation e-mails the SMTP server accepted.")
FAILED = Counter("invitations_mail_failed_total", "Invitation e-mails given up on (FAILED).")
RETRIED = Counter("invitations_mail_retried_total", "Sends put back in the queue to retry later.")
UNKNOWN = Counter(
    "invitations_mail_unknown_total", "Sends parked as UNKNOWN: the server may have them."
)
SEND_SECONDS = Histogram(
    "invitations_mail_send_seconds",
    "Time to hand one e-mail to the SMTP server.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)

WEBHOOK_SENT = Counter(
    "invitations_webhook_sent_total", "Webhook deliveries a receiver accepted (2xx)."
)
WEBHOOK_FAILED = Counter(
    "invitations_webhook_failed_total", "Webhook deliveries given up on (FAILED)."
)
WEBHOOK_RETRIED = Counter(
    "invitations_webhook_retried_total", "Webhook attempts that failed and will be retried."
)
WEBHOOK_SECONDS = Histogram(
    "invitations_webhook_request_seconds",
    "Time of one webhook POST, to its answer or its timeout.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30),
)
