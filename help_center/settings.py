"""Configuration of the help centre, read from environment variables (12-factor).

- HELP_CENTER_HOST: interface to bind. Default ``127.0.0.1``.
- HELP_CENTER_PORT: port. Default ``8080`` (article URLs default to
  ``http://localhost:8080/help``, see NIVEL0_HELP_CENTER_URL in :mod:`knowledge.settings`).
- RASA_PUBLIC_URL: Rasa server as the customer's browser reaches it; the widget posts to its
  REST channel ``/webhooks/rest/webhook``, so Rasa must allow this site's origin (``--cors``).
  Default ``http://localhost:5005``.
- NIVEL0_KB_DIR and the other NIVEL0_* knowledge settings: see :mod:`knowledge.settings`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from knowledge.settings import DEFAULT_KB_DIR

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
DEFAULT_RASA_PUBLIC_URL = "http://localhost:5005"


@dataclass(frozen=True)
class Settings:
    host: str
    port: int
    rasa_public_url: str
    kb_dir: Path

    @classmethod
    def from_env(cls) -> Settings:
        port = os.environ.get("HELP_CENTER_PORT", str(DEFAULT_PORT))
        try:
            port_number = int(port)
        except ValueError:
            raise ValueError(f"HELP_CENTER_PORT must be a port number, got {port!r}") from None
        return cls(
            host=os.environ.get("HELP_CENTER_HOST", DEFAULT_HOST),
            port=port_number,
            rasa_public_url=os.environ.get("RASA_PUBLIC_URL", DEFAULT_RASA_PUBLIC_URL).rstrip("/"),
            kb_dir=Path(os.environ.get("NIVEL0_KB_DIR", DEFAULT_KB_DIR)),
        )
