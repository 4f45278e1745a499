"""Configuration of the help centre process: one pydantic-settings class.

Build it once, in :mod:`help_center.__main__`, and pass it down; nothing else in the package
reads the environment.

- HELP_CENTER_HOST: interface to bind. Default ``127.0.0.1``.
- HELP_CENTER_PORT: port. Default ``8080``.
- RASA_PUBLIC_URL: Rasa server as the customer's browser reaches it; the widget posts to its
  REST channel ``/webhooks/rest/webhook``, so Rasa must allow this site's origin (``--cors``).
  Default ``http://localhost:5005``.

The knowledge base, its search and the help centre's public address (the base of article
links, ``NIVEL0_HELP_CENTER_URL``, default ``http://localhost:8080/help``) are
:class:`knowledge.settings.KnowledgeSettings`: the same variables the action server reads.
"""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class HelpCenterSettings(BaseSettings):
    """Where the website listens and where its chat widget finds Rasa."""

    model_config = SettingsConfigDict(
        env_prefix="HELP_CENTER_", extra="ignore", frozen=True, populate_by_name=True
    )

    host: str = Field(default="127.0.0.1", description="Interface to bind.")
    port: int = Field(default=8080, gt=0, lt=65536, description="Port to bind.")
    rasa_public_url: str = Field(
        default="http://localhost:5005",
        validation_alias="RASA_PUBLIC_URL",
        description="Rasa as the customer's browser reaches it (the widget's REST channel).",
    )

    @field_validator("rasa_public_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")
