"""``python -m help_center``: serve the website and help centre with uvicorn."""

from __future__ import annotations

import logging

import uvicorn

from help_center.knowledge import HelpKnowledge
from help_center.main import create_app
from help_center.settings import HelpCenterSettings
from knowledge.settings import KnowledgeSettings


def main() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = HelpCenterSettings()
    knowledge_settings = KnowledgeSettings()
    try:
        knowledge_settings.model_path  # noqa: B018 - a missing model stops the start-up here
    except FileNotFoundError as exc:
        raise SystemExit(f"help centre: {exc}") from None
    knowledge = HelpKnowledge.from_settings(knowledge_settings)
    try:
        uvicorn.run(create_app(settings, knowledge), host=settings.host, port=settings.port)
    finally:
        knowledge.close()


if __name__ == "__main__":
    main()
