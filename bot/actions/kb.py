"""The action server's knowledge service: one per process, loaded at start-up.

It is a :class:`knowledge.reload.ReloadingKnowledgeBase` built from
:attr:`actions.settings.ActionSettings.knowledge`: it follows edits of the article files while
the bot runs (``NIVEL0_KB_RELOAD_SECONDS``). The action server's Sanic worker starts loading it
as it starts (``actions/__init__.py`` calls :func:`warm_up`), so the first customer does not
wait for the model and the index. Other importers (tests, scripts) get it loaded on first use,
or install their own implementation of :class:`knowledge.service.KnowledgeService` (e.g. a
fake) with :func:`configure`.
"""

from __future__ import annotations

import logging
import threading

from actions.settings import get_settings
from knowledge.reload import ReloadingKnowledgeBase
from knowledge.service import KnowledgeService
from knowledge.settings import KnowledgeSettings

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_service: KnowledgeService | None = None


def load(settings: KnowledgeSettings) -> ReloadingKnowledgeBase:
    """Load the model and the index ``settings`` configure; :class:`FileNotFoundError` if the
    configured model is not there."""
    settings.limit_search_threads()
    knowledge = ReloadingKnowledgeBase.from_settings(settings)
    logger.info(
        "serving embedding model %s from %s", knowledge.model.identity, knowledge.model.path
    )
    return knowledge


def start(settings: KnowledgeSettings) -> KnowledgeService:
    """Load the process's knowledge service now (the action server, before it serves)."""
    global _service
    with _lock:
        if _service is None:
            _service = load(settings)
        return _service


def warm_up(settings: KnowledgeSettings) -> threading.Thread:
    """:func:`start` in a daemon thread (the action server's Sanic worker, at start-up); a
    search that comes meanwhile waits for it. A failure is logged, and raised again by the
    first search."""

    def load_quietly() -> None:
        try:
            start(settings)
        except Exception:
            logger.exception("loading the knowledge base failed")

    thread = threading.Thread(target=load_quietly, name="kb-warm-up", daemon=True)
    thread.start()
    return thread


def configure(service: KnowledgeService) -> None:
    """Install ``service`` as the process's knowledge service (tests: a fake or a fixture KB)."""
    global _service
    with _lock:
        _service = service


def get_knowledge_base() -> KnowledgeService:
    """The process's knowledge service; loaded from the settings on first use if nothing
    started or configured one."""
    with _lock:
        if _service is not None:
            return _service
    return start(get_settings().knowledge)


def reset() -> None:
    """Forget the knowledge service, stopping its reload thread if it has one."""
    global _service
    with _lock:
        service, _service = _service, None
    stop = getattr(service, "stop", None)
    if stop is not None:
        stop()
