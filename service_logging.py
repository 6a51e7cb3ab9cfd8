"""The service's logging: one set-up for every process, and the request's fields on its lines.

Every line has the time (UTC), the level, the logger and the message, as text or as one JSON
object (INVITATIONS_LOG_FORMAT). A line a request causes also has the request id and, once known,
its GraphQL operation name: api.request_id keeps them in the context variable REQUEST for the
request's task, and the formatters read it only for lines that are written, so a level above
INFO costs the requests nothing. uvicorn's own loggers go through the same handler.
"""

from __future__ import annotations

import logging
import time
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter as _LibraryJsonFormatter

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
FORMATS = ("text", "json")


@dataclass(frozen=True, slots=True)
class RequestFields:
    """What every line of one request carries."""

    request_id: str
    operation: str | None = None


REQUEST: ContextVar[RequestFields | None] = ContextVar("invitations_request", default=None)


def name_operation(operation: str) -> None:
    """Adds the GraphQL operation's name to the current request's lines (from here on)."""
    fields = REQUEST.get()
    if fields is not None and fields.operation != operation:
        REQUEST.set(RequestFields(fields.request_id, operation))


def _utc_time(created: float) -> str:
    seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created))
    return f"{seconds}.{int(created % 1 * 1000):03d}Z"


class TextFormatter(logging.Formatter):
    """`2026-12-02T10:00:00.123Z INFO invitations.mailer [request-id Operation] message`."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s%(request)s %(message)s")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        return _utc_time(record.created)

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802
        fields = REQUEST.get()
        if fields is None:
            record.request = ""
        elif fields.operation is None:
            record.request = f" [{fields.request_id}]"
        else:
            record.request = f" [{fields.request_id} {fields.operation}]"
        return super().formatMessage(record)


class JsonFormatter(_LibraryJsonFormatter):
    """One JSON object a line: time, level, logger, message, request_id, operation, and the
    fields a call passed in `extra`."""

    def __init__(self) -> None:
        super().__init__(
            "%(levelname)s %(name)s %(message)s",
            rename_fields={"levelname": "level", "name": "logger"},
            # uvicorn's copy of its message with terminal colours.
            reserved_attrs=[*RESERVED_ATTRS, "color_message"],
            json_ensure_ascii=False,
        )

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        log_data["time"] = _utc_time(record.created)
        super().add_fields(log_data, record, message_dict)
        fields = REQUEST.get()
        if fields is not None:
            log_data["request_id"] = fields.request_id
            if fields.operation is not None:
                log_data["operation"] = fields.operation


# Headers whose values are credentials. The websockets library, which uvicorn serves WebSockets
# with, writes each handshake header as its own DEBUG line ("< %s: %s").
SECRET_HEADERS = frozenset({"authorization", "cookie", "set-cookie", "proxy-authorization"})
_HEADER_LINES = frozenset({"< %s: %s", "> %s: %s"})


class RedactHeaders(logging.Filter):
    """Masks the value of a credential header in a handshake's DEBUG lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        if (
            record.msg in _HEADER_LINES
            and isinstance(record.args, tuple)
            and len(record.args) == 2
            and str(record.args[0]).lower() in SECRET_HEADERS
        ):
            record.args = (record.args[0], "[redacted]")
        return True


def config_dict(*, level: str = "INFO", log_format: str = "text") -> dict[str, Any]:
    """The `logging.config.dictConfig` of a service process.

    `level` is our loggers' and uvicorn's; the libraries' lines below WARNING stay out (as they
    did before any set-up): the embedded mail sink's chatter at INFO, and the database drivers'
    debug lines, which quote every query's parameters, tokens' hashes among them.
    """
    if level not in LEVELS or log_format not in FORMATS:
        raise ValueError(f"unknown log level or format: {level!r}, {log_format!r}")
    formatter = TextFormatter if log_format == "text" else JsonFormatter
    ours = {"level": level, "handlers": [], "propagate": True}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"service": {"()": formatter}},
        "filters": {"redact": {"()": RedactHeaders}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "service",
                "filters": ["redact"],
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"level": "ERROR" if level == "ERROR" else "WARNING", "handlers": ["stderr"]},
        "loggers": {
            "invitations": ours,
            "uvicorn": ours,
            "uvicorn.error": ours,
            "uvicorn.access": ours,
        },
    }


def configure(*, level: str = "INFO", log_format: str = "text") -> None:
    """Sends every logger of this process through one handler on stderr, in one format."""
    import logging.config

    logging.config.dictConfig(config_dict(level=level, log_format=log_format))
