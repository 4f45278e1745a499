"""Configuration of the action server: one pydantic-settings class, built once per process.

The action server builds it at start-up (``actions/__init__.py``) with :func:`configure`; every
module asks :func:`get_settings` for it and nothing in the package reads the environment by
itself. Tests inject their own instance with :func:`configure` (and :func:`reset` after).

Variables: ``NIVEL0_<FIELD>`` (e.g. ``NIVEL0_DEFAULT_LANGUAGE``, ``NIVEL0_OUTBOX_PATH``), except
the handoff service's client settings, named as the service's operators know them
(``HANDOFF_SERVICE_URL``, ``HANDOFF_SERVICE_TOKEN``, ``HANDOFF_TIMEOUT_SECONDS``). Relative paths
are resolved against the project root (:data:`knowledge.settings.PROJECT_ROOT`), never the
working directory: the action server runs from ``bot/``. The knowledge base's own settings are
:attr:`ActionSettings.knowledge` (``NIVEL0_KB_DIR``, ``NIVEL0_EMBEDDING_MODEL``, ...).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Generic, TypeVar
from zoneinfo import ZoneInfo

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from handoff_service.settings import Settings as _ServiceSettings
from knowledge.settings import LANGUAGES, KnowledgeSettings, ProjectPath


class ActionSettings(BaseSettings):
    """Settings of the bot's custom actions (language, answers, handoff delivery, outbox)."""

    model_config = SettingsConfigDict(
        env_prefix="NIVEL0_", extra="ignore", frozen=True, populate_by_name=True
    )

    default_language: str = Field(
        default="en",
        description="Language of a conversation until the customer's text or the website's "
        "metadata says otherwise.",
    )
    max_articles_per_question: int = Field(
        default=2,
        ge=1,
        description="Articles shown for one question (the answer and the next-best ones after "
        'a "no") before the bot hands over: after that a person is better than more reading.',
    )
    outbox_worker: bool = Field(
        default=True,
        description="Whether the action server runs the outbox's retry worker (false when a "
        "separate process runs it).",
    )
    timezone: ZoneInfo = Field(
        default=ZoneInfo("Europe/Madrid"),
        description="The organisation's IANA time zone: due dates are said as days in it. One "
        "variable, NIVEL0_TIMEZONE, for the bot and the handoff service.",
    )
    handoff_service_url: str = Field(
        default="http://localhost:8000",
        validation_alias="HANDOFF_SERVICE_URL",
        description="Base URL of the handoff service.",
    )
    handoff_service_token: SecretStr | None = Field(
        default=None,
        validation_alias="HANDOFF_SERVICE_TOKEN",
        description="Bearer token of a `service` account "
        "(`python -m handoff_service.cli create-token rasa-bot --role service`); none: every "
        "handoff waits in the outbox.",
    )
    action_secret: SecretStr | None = Field(
        default=None,
        validation_alias="NIVEL0_ACTION_SECRET",
        description="Shared secret Rasa sends with every action call (`Authorization: Bearer`, "
        "bot/endpoints.yml); the action server refuses /webhook calls without it and does not "
        "start without one (`make run` creates it in var/secrets/).",
    )
    handoff_timeout_seconds: float = Field(
        default=3.0,
        gt=0,
        validation_alias="HANDOFF_TIMEOUT_SECONDS",
        description="httpx timeout of a call to the handoff service (connect, read, write, pool).",
    )
    handoff_max_body_bytes: int = Field(
        default=_ServiceSettings.model_fields["max_body_bytes"].default,
        gt=0,
        description="Largest handoff body the bot sends: the service's HANDOFF_MAX_BODY_BYTES "
        "(default taken from handoff_service.settings; set both together). Longer transcripts "
        "lose their oldest messages, replaced by one note saying how many were left out.",
    )
    outbox_path: ProjectPath = Field(
        default=Path("var/outbox.db"), description="SQLite file of the handoff outbox."
    )
    outbox_backoff_base_seconds: float = Field(
        default=1.0, gt=0, description="First retry delay of an undelivered handoff."
    )
    outbox_backoff_max_seconds: float = Field(
        default=60.0, gt=0, description="Cap of the exponential retry delay."
    )
    outbox_poll_seconds: float = Field(
        default=1.0, gt=0, description="How often the outbox worker looks for due rows."
    )
    outbox_lease_seconds: float = Field(
        default=60.0,
        gt=0,
        description="A row claimed for sending longer ago than this is taken over (its sender "
        "died).",
    )
    knowledge: KnowledgeSettings = Field(
        default_factory=KnowledgeSettings,
        description="The knowledge base the actions search (NIVEL0_KB_DIR, "
        "NIVEL0_EMBEDDING_MODEL, ...: see knowledge.settings).",
    )

    @field_validator("default_language")
    @classmethod
    def _supported_language(cls, value: str) -> str:
        value = value.strip().lower()
        if value not in LANGUAGES:
            raise ValueError(f"must be one of {', '.join(LANGUAGES)}, got {value!r}")
        return value

    @field_validator("handoff_service_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @field_validator("handoff_service_token", mode="before")
    @classmethod
    def _empty_token_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value


_lock = threading.Lock()
_settings: ActionSettings | None = None


def configure(settings: ActionSettings | None = None) -> ActionSettings:
    """Install the process's settings (from the environment when none are given)."""
    global _settings
    with _lock:
        _settings = settings if settings is not None else ActionSettings()
        return _settings


def get_settings() -> ActionSettings:
    """The process's settings: the ones :func:`configure` installed, else built from the
    environment on first use (importers other than the action server: scripts, tests)."""
    global _settings
    with _lock:
        if _settings is None:
            _settings = ActionSettings()
        return _settings


def reset() -> None:
    """Forget the installed settings (tests)."""
    global _settings
    with _lock:
        _settings = None


T = TypeVar("T")


class PerProcess(Generic[T]):
    """One ``T`` per process, built from the installed settings by ``build`` (and built again
    when other settings are installed); tests put their own in with :meth:`install`."""

    def __init__(self, build: Callable[[ActionSettings], T]):
        self._build = build
        self._lock = threading.Lock()
        self._installed: T | None = None
        self._built: tuple[ActionSettings, T] | None = None

    def install(self, value: T | None) -> None:
        """Use ``value`` from now on; ``None``: back to the one built from settings."""
        with self._lock:
            self._installed = value

    def get(self) -> T:
        with self._lock:
            if self._installed is not None:
                return self._installed
        current = get_settings()  # outside the lock: building may need another PerProcess
        with self._lock:
            if self._built is None or self._built[0] is not current:
                self._built = (current, self._build(current))
            return self._built[1]
