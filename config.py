"""Service configuration, read from the environment once (prefix ``INVITATIONS_``)."""

from __future__ import annotations

import os
from enum import StrEnum
from typing import Annotated, Any, Self
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from tortoise.backends.base.config_generator import expand_db_url

DEVELOPMENT_SECRET = "development-only-secret-key-change-me"  # noqa: S105 (refused in production)


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class DeliveryPolicy(StrEnum):
    AT_LEAST_ONCE = "at_least_once"
    AT_MOST_ONCE = "at_most_once"


class LogFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


class LogLevel(StrEnum):
    DEBUG = "DEBUG"
    INFO = "INFO"
    WARNING = "WARNING"
    ERROR = "ERROR"


class RateLimitStorage(StrEnum):
    """Where the abuse limits' counters are kept (schema/rate_limits.py)."""

    MEMORY = "memory"  # this process's memory: each replica counts on its own
    DATABASE = "database"  # one table, shared by every replica on the database


def _safe_jwks_url(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return True
    return parts.scheme == "http" and parts.hostname in {"127.0.0.1", "localhost", "::1"}


class Settings(BaseSettings):
    """Everything the service reads from its environment (see docs/contract/OPERATIONS.md)."""

    model_config = SettingsConfigDict(env_prefix="INVITATIONS_", frozen=True, extra="ignore")

    env: Environment = Environment.DEVELOPMENT
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    # Processes `serve` runs on its one port; None: one per core in production, 1 in development
    # (see serve_processes).
    workers: int | None = Field(None, ge=1, le=256)
    database_url: str = "sqlite://var/invitations.sqlite3"
    # (Checked even when left unset: production requires them; see _production_is_safe.)
    smtp_url: str | None = Field(None, validate_default=True)
    secret_key: str = Field(DEVELOPMENT_SECRET, validate_default=True)

    mailer_in_process: bool = True
    mailer_batch_size: int = Field(50, ge=1, le=1000)
    mailer_poll_seconds: float = Field(2.0, gt=0)
    mailer_retry_base_seconds: float = Field(60.0, ge=0)
    mailer_max_attempts: int = Field(8, ge=1)
    mailer_delivery: DeliveryPolicy = DeliveryPolicy.AT_LEAST_ONCE
    # Not in the operating contract: how long a claim holds a row, and SMTP connections per worker.
    mailer_lease_seconds: float = Field(300.0, gt=0)
    mailer_connections: int = Field(4, ge=1, le=32)
    # The workers' expiry sweep (domain/expiry.py): how often, and how many invitations per batch
    # (ten batches at most per sweep). One process at a time sweeps, whatever the replicas.
    expiry_sweep_seconds: float = Field(60.0, gt=0)
    expiry_sweep_batch_size: int = Field(500, ge=1, le=10_000)
    # Bulk operations (mailer/bulk_worker.py): after each chunk a worker rests this many times the
    # chunk's own time, for a database that the API's latency needs more of. 0 (no rest) met
    # the goals on a quiet machine (bench/bulk.py); 0.5 leaves the bulk two thirds of its time.
    bulk_pause_ratio: float = Field(0.0, ge=0, le=100)

    # Not in the operating contract, but worth tuning per deployment.
    customer_token_ttl_seconds: int = Field(3600, ge=60)
    admin_token_ttl_seconds: int = Field(4 * 3600, ge=60)
    # Failed sign-ins per (account, client address) before that address is held off from that
    # account for lockout_seconds (docs/security.md): the account itself is never locked.
    max_failed_sign_ins: int = Field(5, ge=1)
    lockout_seconds: int = Field(600, ge=1)
    # "cheapest" exists for test suites only: production refuses it.
    password_hash_profile: str = Field(
        "rfc9106_low_memory", pattern="^(rfc9106_low_memory|cheapest)$", validate_default=True
    )
    # The short path of schema/execution.py for plain fields (on by default). False runs every
    # field through graphql-core's own executor, as Strawberry ships it: the same answers, more
    # CPU per row; a way out should a graphql-core or Strawberry release break the short path.
    fast_execution: bool = True
    # The short way of schema/operation.py past Strawberry's extension runner (and, for a plain
    # JSON POST, its HTTP run: api/view.py) for an HTTP operation whose document passed before (on
    # by default). False runs every operation through Strawberry's run and Schema.execute: the
    # same answers, more CPU per request; the same way out.
    short_operations: bool = True
    max_query_depth: int = Field(12, ge=1)
    max_aliases: int = Field(30, ge=1)
    max_tokens: int = Field(2000, ge=50)
    max_body_bytes: int = Field(2 * 1024 * 1024, ge=1024)
    mail_dir: str = "var/mail"
    # One object a line (json) or one readable line (text); None: text in development, json in
    # production (service_logging.py).
    log_format: LogFormat | None = None
    log_level: LogLevel = LogLevel.INFO
    # Automatic persisted queries (docs/operations.md): at most this many documents registered (in
    # the database, for every replica), this many kept in each process's memory; only registered
    # operations run when `persisted_only`; how long a CDN may keep a public GET answer.
    persisted_only: bool = False
    persisted_queries_max: int = Field(10_000, ge=1)
    persisted_queries_cached: int = Field(1_000, ge=1)
    public_max_age_seconds: int = Field(60, ge=0)

    # Abuse limits (docs/security.md): hits per window, per client address and per account, kept
    # in this process's memory or in the database (None: memory on SQLite, database otherwise).
    rate_limit_storage: RateLimitStorage | None = None
    rate_limit_window_seconds: int = Field(60, ge=1)
    rate_limit_sign_in_per_address: int = Field(30, ge=1)
    rate_limit_sign_in_per_account: int = Field(10, ge=1)
    rate_limit_create_customer_per_address: int = Field(20, ge=1)
    rate_limit_create_customer_per_account: int = Field(10, ge=1)
    rate_limit_code_lookup_per_address: int = Field(30, ge=1)
    rate_limit_send_invitations_per_address: int = Field(30, ge=1)
    rate_limit_send_invitations_per_account: int = Field(10, ge=1)
    # Live updates (GraphQL subscriptions over WebSocket): operations at once per connection,
    # updates waiting per subscription before it is ended as too slow, and how often (seconds) an
    # idle subscription checks that its token is still valid (it is also checked at each update).
    subscriptions_per_connection: int = Field(10, ge=1, le=1000)
    subscription_queue_size: int = Field(100, ge=1, le=100_000)
    subscription_token_check_seconds: float = Field(30.0, gt=0)
    # How long a new WebSocket connection may take to send its connection_init (4408 then).
    ws_init_timeout_seconds: float = Field(10.0, gt=0)
    # The kill switch: while true, no invitation e-mail is sent (they wait, queued).
    sending_paused: bool = False
    # Browser origins, besides the API's own, whose pages may call it (CORS) and open its
    # WebSocket: "https://shop.example.com,https://admin.example.com". Empty: same origin only.
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # May webhook URLs resolve to loopback/private/link-local addresses? Unset: yes in development,
    # no in production (docs/contract/OPERATIONS.md).
    webhook_allow_private_networks: bool | None = None
    # Not in the operating contract: webhook delivery's timeout (WEBHOOKS.md says 15 s), requests
    # at once per endpoint, the first retry delay, and how long retries go on (about three days).
    webhook_timeout_seconds: float = Field(15.0, gt=0)
    webhook_concurrency_per_endpoint: int = Field(4, ge=1, le=64)
    webhook_retry_base_seconds: float = Field(30.0, ge=0)
    webhook_retry_window_seconds: float = Field(3 * 24 * 3600.0, gt=0)
    # The store's own identity provider (OPERATIONS.md "Principals beyond the built-in accounts"):
    # JWTs of each issuer are verified against its key set; unset issuer: off.
    customer_jwt_issuer: str | None = None
    customer_jwt_jwks_url: str | None = None
    customer_jwt_audience: str | None = None
    admin_jwt_issuer: str | None = None
    admin_jwt_jwks_url: str | None = None
    admin_jwt_audience: str | None = None
    admin_jwt_permissions_claim: str = "permissions"
    # Not in the operating contract: how soon an unknown key id may fetch the key set again.
    jwt_keys_refetch_seconds: float = Field(60.0, ge=0)

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @field_validator("log_format", "log_level", mode="before")
    @classmethod
    def _any_case(cls, value: object, info: ValidationInfo) -> object:
        if not isinstance(value, str):
            return value
        return value.strip().upper() if info.field_name == "log_level" else value.strip().lower()

    @field_validator("cors_origins")
    @classmethod
    def _origins_only(cls, value: list[str]) -> list[str]:
        # As browsers send them in Origin: lower-case, no default port, no path.
        if not value:
            return []
        # Imported here: Strawberry takes a second or more to import, and commands that never
        # serve (worker, migrate, create-admin) start that much sooner without it; and
        # bench/peers.py's Graphene server reads tortoise_config without Strawberry beside it.
        from strawberry.http.websocket_origin import normalize_allowed_origins

        return sorted(normalize_allowed_origins(value))

    @field_validator("smtp_url", "secret_key", "password_hash_profile")
    @classmethod
    def _production_is_safe(cls, value: str | None, info: ValidationInfo) -> str | None:
        # One check per field rather than one for the model: each problem is reported, even
        # beside others (a model validator would not run once any field had failed).
        if info.data.get("env") is not Environment.PRODUCTION:
            return value
        secret = info.field_name == "secret_key"
        if secret and (value == DEVELOPMENT_SECRET or len(value or "") < 32):
            raise ValueError(
                "INVITATIONS_SECRET_KEY must be set to a private value of at least 32 "
                "characters in production"
            )
        if info.field_name == "password_hash_profile" and value != "rfc9106_low_memory":
            raise ValueError("the cheapest password hash profile is for tests only")
        if info.field_name == "smtp_url" and not value:
            # The embedded mail sink is a development convenience: production mail must leave.
            raise ValueError("INVITATIONS_SMTP_URL must be set in production")
        return value

    @model_validator(mode="after")
    def _providers_complete(self) -> Self:
        for kind in ("customer", "admin"):
            issuer = getattr(self, f"{kind}_jwt_issuer")
            jwks_url = getattr(self, f"{kind}_jwt_jwks_url")
            audience = getattr(self, f"{kind}_jwt_audience")
            if issuer and not (jwks_url and audience):
                prefix = f"INVITATIONS_{kind.upper()}_JWT"
                raise ValueError(f"{prefix}_ISSUER needs {prefix}_JWKS_URL and {prefix}_AUDIENCE")
            if jwks_url and not _safe_jwks_url(jwks_url):
                raise ValueError(
                    f"INVITATIONS_{kind.upper()}_JWT_JWKS_URL must be https "
                    "(http only to loopback, in development)"
                )
            if jwks_url and jwks_url.startswith("http:") and self.env is Environment.PRODUCTION:
                raise ValueError(f"INVITATIONS_{kind.upper()}_JWT_JWKS_URL must be https")
        return self

    @property
    def is_production(self) -> bool:
        return self.env is Environment.PRODUCTION

    @property
    def log_style(self) -> LogFormat:
        """INVITATIONS_LOG_FORMAT, or its default for the environment."""
        if self.log_format is not None:
            return self.log_format
        return LogFormat.JSON if self.is_production else LogFormat.TEXT

    @property
    def limit_storage(self) -> RateLimitStorage:
        """INVITATIONS_RATE_LIMIT_STORAGE, or its default for the database."""
        if self.rate_limit_storage is not None:
            return self.rate_limit_storage
        return RateLimitStorage.MEMORY if self.is_sqlite else RateLimitStorage.DATABASE

    @property
    def webhooks_may_reach_private_networks(self) -> bool:
        if self.webhook_allow_private_networks is None:
            return not self.is_production
        return self.webhook_allow_private_networks

    @property
    def serve_processes(self) -> int:
        """INVITATIONS_WORKERS, or its default: one process per core in production, else one.

        On SQLite the default is one process in production too: events cannot cross processes
        there (`serve` refuses more than one, see cli/serve.py).
        """
        if self.workers is not None:
            return self.workers
        if self.is_production and not self.is_sqlite:
            return available_cores()
        return 1

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite://")

    def tortoise_config(self) -> dict[str, Any]:
        """The Tortoise ORM configuration of this deployment (also used by migrations)."""
        return tortoise_config(self.database_url)


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity, which containers' cpusets narrow)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1  # macOS, Windows


def _sqlite_url(url: str) -> str:
    # Several processes (serve, workers) share one SQLite file: wait for locks instead of failing.
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.setdefault("busy_timeout", "10000")
    query.setdefault("journal_mode", "WAL")
    query.setdefault("synchronous", "NORMAL")
    return urlunsplit(parts._replace(query=urlencode(query)))


async def _keep_session(connection: object) -> None:
    """Releases a pooled PostgreSQL connection without asyncpg's reset query.

    That query (RESET ALL, UNLISTEN *, CLOSE ALL, advisory unlocks) costs a round trip after every
    ORM query and undoes session state that this service never leaves behind: no SET, no advisory
    locks, no cursors outside transactions; a LISTEN belongs on a connection of its own, never on
    one of the pool. asyncpg still rolls back a transaction left open when a connection is released.
    """


def _connection(url: str) -> str | dict[str, Any]:
    if url.startswith("sqlite://"):
        return _sqlite_url(url)
    connection = expand_db_url(url)
    if connection["engine"] == "tortoise.backends.asyncpg":
        connection["credentials"]["reset"] = _keep_session
    return connection


def tortoise_config(database_url: str) -> dict[str, Any]:
    return {
        "connections": {"default": _connection(database_url)},
        "apps": {
            "models": {
                "models": ["models"],
                "default_connection": "default",
                "migrations": "migrations",
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


class ConfigurationError(Exception):
    """The environment's settings are refused; `problems` holds one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def _problem(error: Any) -> str:
    """One line naming the variable and what is wrong with it, never its value."""
    message = str(error["ctx"]["error"]) if error["type"] == "value_error" else error["msg"]
    if not error["loc"]:
        return message
    variable = f"INVITATIONS_{str(error['loc'][0]).upper()}"
    return message if variable in message else f"{variable}: {message}"


def read_settings() -> Settings:
    """The settings of the environment; ConfigurationError when any is refused.

    Pydantic's own report quotes every input (the secret key too): it is left behind.
    """
    try:
        return Settings()
    except ValidationError as error:
        problems = [_problem(e) for e in error.errors(include_url=False, include_input=False)]
    raise ConfigurationError(problems)


def __getattr__(name: str) -> Any:
    # For Tortoise's own command line (`tortoise -c config.TORTOISE_ORM makemigrations`): read
    # when it asks, so that importing this module reads nothing from the environment.
    if name == "TORTOISE_ORM":
        return tortoise_config(read_settings().database_url)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
