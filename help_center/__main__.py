"""``python -m help_center``: serve the website and help centre with uvicorn."""

from __future__ import annotations

import logging
import threading

import uvicorn

from help_center.main import create_app
from help_center.search import SearchService
from help_center.settings import Settings
from knowledge.settings import offline_env


def main() -> None:
    offline_env()
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = Settings.from_env()
    search = SearchService()
    # Load the embedding model while the server starts, so the first search does not wait.
    threading.Thread(target=search.warm_up, name="kb-warm-up", daemon=True).start()
    uvicorn.run(create_app(settings, search=search), host=settings.host, port=settings.port)


if __name__ == "__main__":
    main()
