"""Service configuration from the environment (12-factor): one pydantic-settings class.

Build it once per process, at the entry point (``create_app``, the CLI, the Alembic environment
when plain ``alembic`` runs), and pass it down: nothing else in the service reads the
environment. Every setting is read from ``HANDOFF_<NAME>``, except the facts the service shares
with the rest of nivel0, which have one variable each: the database URL (``DATABASE_URL``, also
``HANDOFF_DATABASE_URL``), the organisation time zone (``NIVEL0_TIMEZONE``, as the bot reads it)
and the help centre's base URL (``NIVEL0_HELP_CENTER_URL``, as the knowledge package reads it).

Relative paths, including the file of a ``sqlite:///relative/path.db`` URL, are resolved against
the project root (``knowledge.settings.PROJECT_ROOT``), never the working directory.
handoff_service/README.md lists every field.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from limits import parse_many
from pydantic import AfterValidator, AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict
from sqlalchemy.engine import make_url

from knowledge.settings import ProjectPath, project_path

PACKAGE_DIR = Path(__file__).resolve().parent
CONFIG_DIR = PACKAGE_DIR / "config"


def resolve_sqlite_path(url: str) -> str:
    """``url`` with a relative SQLite database file made absolute against the project root."""
    parsed = make_url(url)
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return url
    if database.startswith("file:") or Path(database).is_absolute():
        return url
    return parsed.set(database=str(project_path(database))).render_as_string(hide_password=False)


def _rate_limit(value: str) -> str:
    """A limit the ``limits`` library can read ("10/minute"), checked at startup."""
    try:
        if len(parse_many(value)) == 1:
            return value
    except ValueError:
        pass
    raise ValueError(f'not one rate limit: {value!r} (e.g. "10/minute", or off)')


RateLimit = Annotated[str, AfterValidator(_rate_limit)]


def _retention(value: int | None) -> int | None:
    """A retention period in days; 0 and ``off`` (None) both mean "keep forever"."""
    return value or None


#: Days something is kept; None: forever.
RetentionDays = Annotated[int | None, Field(ge=0), AfterValidator(_retention)]
RATE_LIMIT_STORAGES = ("memory://", "redis://", "rediss://", "redis+unix://")


class Settings(BaseSettings):
    """Settings of the handoff service (API, console, CLI and migrations)."""

    model_config = SettingsConfigDict(
        env_prefix="HANDOFF_",
        extra="ignore",
        validate_by_name=True,
        validate_by_alias=True,
        # HANDOFF_INBOUND_SMTP_PORT=off: no listener (the optional fields read "off" as unset)
        env_parse_none_str="off",
    )

    database_url: str = Field(
        default="sqlite:///var/handoff.db",
        validation_alias=AliasChoices("DATABASE_URL", "HANDOFF_DATABASE_URL"),
        description="SQLAlchemy/libpq URL; postgresql:// URLs use the psycopg 3 driver. A "
        "relative SQLite file is taken from the project root.",
    )
    auto_migrate: bool = Field(
        default=True, description="Run Alembic migrations to head at startup."
    )
    timezone: str = Field(
        default="Europe/Madrid",
        validation_alias=AliasChoices("NIVEL0_TIMEZONE"),
        description="Organisation time zone (IANA) in which business days and due dates are "
        "counted and the console shows times; the bot reads the same variable.",
    )
    routing_rules_path: ProjectPath = Field(
        default=CONFIG_DIR / "routing_rules.yml",
        description="Ordered routing rules (first match wins) that pick a ticket's queue.",
    )
    service_levels_path: ProjectPath = Field(
        default=CONFIG_DIR / "service_levels.yml",
        description="Targets per request type (business days), priority caps and holiday calendar.",
    )
    triage_data_path: ProjectPath = Field(
        default=PACKAGE_DIR / "triage" / "data" / "labelled_requests.csv",
        description="Labelled requests the triage classifier is trained on.",
    )
    triage_model_path: ProjectPath = Field(
        default=Path("var/models/triage.joblib"),
        description="Trained triage classifier cache; retrained when the labelled data changes.",
    )
    kb_drafts_dir: ProjectPath = Field(
        default=Path("kb_articles"),
        description="KB root; drafts are written to <dir>/<language>/<topic>.md.",
    )
    max_body_bytes: int = Field(
        default=1_000_000, gt=0, description="Largest accepted request body (larger: 413)."
    )
    docs_enabled: bool = Field(
        default=True,
        description="Serve the interactive API docs (/docs, /redoc) and the OpenAPI schema "
        "(/openapi.json). Turn off where the service is reachable from outside: they map "
        "every endpoint for whoever asks.",
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        description="When set, GET /metrics needs `Authorization: Bearer <it>` (Prometheus: "
        "`authorization: {credentials: ...}`); unset: /metrics is open to anyone who reaches "
        "the service.",
    )
    console_secure_cookie: bool = Field(
        default=True,
        description="Mark the console's session cookie Secure (HTTPS only). Set false only for "
        "local development over plain http on a non-localhost address.",
    )
    console_session_hours: float = Field(
        default=12, gt=0, le=24 * 30, description="How long a console login lasts."
    )
    help_center_url: str = Field(
        default="http://localhost:8080/help",
        validation_alias=AliasChoices("NIVEL0_HELP_CENTER_URL"),
        description="Base of KB article links in the console: <url>/<language>/<topic>.",
    )
    public_url: str = Field(
        default="http://localhost:8000",
        description="The service's address as customers reach it: links in e-mails to the "
        "private ticket page (<url>/t/<key>) start with it.",
    )
    smtp_host: str = Field(
        default="127.0.0.1",
        description="SMTP server the e-mail outbox sends through (`make run`: the local "
        "catch-all).",
    )
    smtp_port: int = Field(default=1025, gt=0, lt=65536, description="Its port.")
    smtp_security: Literal["none", "starttls", "tls"] = Field(
        default="none",
        description="none (plain, for the local catch-all), starttls (usually port 587) or tls "
        "(implicit TLS, usually 465).",
    )
    smtp_user: str | None = Field(default=None, description="SMTP login, if the server wants one.")
    smtp_password: SecretStr | None = Field(default=None, description="Its password (a secret).")
    smtp_timeout_seconds: float = Field(
        default=10, gt=0, description="Connection and command timeout of one send."
    )
    mail_from: str = Field(
        default="nivel0 support <support@nivel0.localhost>",
        description="From: of every e-mail.",
    )
    mail_reply_to: str = Field(
        default="reply+{key}@nivel0.localhost",
        description="Reply-To: of e-mails to customers; {key} becomes the ticket's access key, "
        "so a reply lands on its ticket (the inbound listener or an MTA pipe reads it).",
    )
    email_worker: bool = Field(
        default=True,
        description="Send the e-mail outbox from this process (a background thread). Turn off "
        "when a separate `cli send-email` process does it.",
    )
    email_poll_seconds: float = Field(
        default=5, gt=0, description="How often the sender looks for due e-mails."
    )
    email_give_up_hours: float = Field(
        default=72,
        gt=0,
        description="An e-mail that could not be sent for this long is marked failed (the "
        "console shows it); retries back off exponentially up to 15 minutes apart.",
    )
    inbound_smtp_port: int | None = Field(
        default=1026,
        gt=0,
        lt=65536,
        description="Port of the inbound SMTP listener that receives replies by e-mail "
        "(started with the service); `off`: no listener (use `cli receive-email` from an MTA).",
    )
    inbound_smtp_host: str = Field(default="127.0.0.1", description="Its address.")
    inbound_max_bytes: int = Field(
        default=10_000_000, gt=0, description="Largest inbound e-mail accepted (larger: 552)."
    )
    mail_catcher_port: int = Field(
        default=8025,
        gt=0,
        lt=65536,
        description="Web page of the local SMTP catch-all (`make run`), which listens on "
        "smtp_host:smtp_port and shows every e-mail it received.",
    )
    reopen_days: int = Field(
        default=14,
        ge=0,
        description="Days after resolution during which the customer can reopen the ticket "
        "from its private page.",
    )
    due_soon_hours: float = Field(
        default=24,
        gt=0,
        description='A ticket due within this many hours is flagged "due soon" in the queue and '
        "announced once by e-mail to its queue's agents.",
    )
    metrics_return_days: int = Field(
        default=3,
        ge=0,
        description="Support metrics (GET /v1/reports/outcomes, docs/metrics.md): a "
        "conversation that showed an article without negative feedback or handoff counts as "
        "resolved (assumed) unless the same customer starts another conversation showing one "
        "of its articles less than this many days later (then: abandoned); 0: no such check.",
    )
    rate_limit_storage: str = Field(
        default="memory://",
        description="Where the rate-limit counters live: memory:// (this process only) or a "
        "Redis URL, redis://host:6379[/db] (rediss://, redis+unix://), shared by every replica.",
    )
    rate_limit_prefix: str = Field(
        default="nivel0-handoff",
        min_length=1,
        description="Prefix of the counters' keys (deployments sharing one Redis use their own).",
    )
    rate_limit_status_per_client: RateLimit | None = Field(
        default="10/minute",
        description="Status lookups (POST /v1/status) per client address; not applied to the "
        "bot's service token, which asks for every chat customer from one address. Limits are "
        'written as the limits library reads them ("10/minute", "5 per 15 minutes"); `off`: '
        "no limit.",
    )
    rate_limit_status_per_ticket: RateLimit | None = Field(
        default="5/hour",
        description="Failed status lookups (wrong e-mail) per ticket number, from any client: "
        "numbers are sequential, so number + e-mail can be guessed. Once reached, every "
        "lookup of that number is refused until the window has room again.",
    )
    rate_limit_handoffs_per_sender: RateLimit | None = Field(
        default="10/hour",
        description="New handoffs (POST /v1/handoffs; replays are not counted) per chat sender, "
        "the conversation id without its :<session start>.",
    )
    rate_limit_handoffs_per_client: RateLimit | None = Field(
        default="60/minute",
        description="New handoffs per client address, for tokens other than service tokens "
        "(the bot posts for every customer from one address: it is limited per sender).",
    )
    rate_limit_portal_per_key: RateLimit | None = Field(
        default="30/hour",
        description="Form posts (reply, rating, reopen) on one private ticket page.",
    )
    rate_limit_portal_per_client: RateLimit | None = Field(
        default="60/hour",
        description="Form posts on private ticket pages per client address.",
    )
    rate_limit_failed_logins_per_client: RateLimit | None = Field(
        default="10/15 minutes",
        description="Failed console logins (unknown or revoked token) per client address; once "
        "reached, every login from it is refused until the window has room again.",
    )
    retention_ticket_days: RetentionDays = Field(
        default=365,
        description="Resolved and closed tickets are deleted, with their history, messages, "
        "ratings and e-mails, this many days after they were resolved or closed (the later "
        "of the two); `0` or `off`: kept forever.",
    )
    retention_unanswered_days: RetentionDays = Field(
        default=180,
        description="Unanswered-question records are deleted this many days after the "
        "question was asked; `0` or `off`: kept forever.",
    )
    retention_email_body_days: RetentionDays = Field(
        default=30,
        description="Subject and bodies of sent e-mails are removed from the outbox this many "
        "days after sending (the row, with recipient and dates, stays with its ticket); `0` or "
        "`off`: kept until the ticket goes.",
    )
    retention_held_email_days: RetentionDays = Field(
        default=90,
        description="Inbound e-mails that were held (from someone other than the customer) "
        "or discarded are deleted this many days after arrival; `0` or `off`: kept until the "
        "ticket goes.",
    )
    retention_tracker_days: RetentionDays = Field(
        default=90,
        description="Events of the bot's conversations (Rasa's SQL tracker store, when "
        "tracker_store_url is set) older than this many days are deleted; `0` or `off`: "
        "kept forever.",
    )
    tracker_store_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of Rasa's SQL tracker store (the database of "
        "bot/endpoints.production.yml; postgresql:// uses psycopg 3), to purge old "
        "conversations and to export and erase a customer's; unset: the service does not "
        "touch the bot's conversations.",
    )
    privacy_hash_key: SecretStr | None = Field(
        default=None,
        description="Secret key of the hash that stands for the e-mail address in the log of "
        "privacy requests (HMAC-SHA256 of a per-row salt and the address); unset: salted only, "
        "so whoever reads the log can test a guessed address. Set it in production.",
    )
    action_server_urls: str = Field(
        default="",
        description="Base URLs of the bot's action servers, space-separated (one per host "
        "with an outbox, e.g. http://127.0.0.1:5055): a customer's erasure also deletes their "
        "undelivered handoffs from each one's outbox (POST <url>/privacy/erase); empty: no "
        "action server is asked (`make run` sets the local one).",
    )
    action_secret: SecretStr | None = Field(
        default=None,
        description="The action servers' shared secret (their NIVEL0_ACTION_SECRET), sent with "
        "the erasure call.",
    )
    log_level: str = Field(default="INFO", description="Level of the JSON logs on stderr.")
    host: str = Field(default="127.0.0.1", description="Address `cli serve` listens on.")
    port: int = Field(default=8000, description="Port `cli serve` listens on.")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource | Callable[[], dict[str, Any]], ...]:
        """Fields with a validation alias are read from the environment under it only.

        ``validate_by_name`` (so that code can pass ``Settings(timezone=...)``) would otherwise
        make pydantic-settings read ``HANDOFF_TIMEZONE`` too: a second variable for one fact.
        """
        aliased = {name for name, field in cls.model_fields.items() if field.validation_alias}

        def environment_by_alias() -> dict[str, Any]:
            return {key: value for key, value in env_settings().items() if key not in aliased}

        return (init_settings, environment_by_alias, dotenv_settings, file_secret_settings)

    @field_validator("database_url")
    @classmethod
    def _absolute_sqlite_file(cls, value: str) -> str:
        return resolve_sqlite_path(value)

    @field_validator("timezone")
    @classmethod
    def _known_time_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA time zone {value!r}") from exc
        return value

    @field_validator("help_center_url", "public_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @field_validator("rate_limit_storage")
    @classmethod
    def _known_storage(cls, value: str) -> str:
        if not value.startswith(RATE_LIMIT_STORAGES):
            raise ValueError(f"rate_limit_storage must start with one of {RATE_LIMIT_STORAGES}")
        return value

    @field_validator("mail_reply_to")
    @classmethod
    def _reply_to_has_key(cls, value: str) -> str:
        if "{key}" not in value or value.count("@") != 1:
            raise ValueError("mail_reply_to must be an address containing {key}")
        return value

    @field_validator("tracker_store_url")
    @classmethod
    def _absolute_tracker_sqlite_file(cls, value: str | None) -> str | None:
        return resolve_sqlite_path(value) if value else None

    @property
    def sqlalchemy_url(self) -> str:
        """``postgresql://`` and ``postgres://`` URLs are mapped to the psycopg 3 driver."""
        return psycopg_url(self.database_url)

    @property
    def tracker_sqlalchemy_url(self) -> str | None:
        """The tracker store's URL with the driver this service has (psycopg 3), or None."""
        return psycopg_url(self.tracker_store_url) if self.tracker_store_url else None


def psycopg_url(url: str) -> str:
    """``postgresql://`` and ``postgres://`` URLs mapped to the psycopg 3 driver."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url
