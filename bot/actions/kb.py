"""The action server's knowledge service: one per process, loaded at start-up.

It is a :class:`knowledge.reload.ReloadingKnowledgeBase` built from
:attr:`actions.settings.ActionSettings.knowledge`: it follows edits of the article files while
the bot runs (``NIVEL0_KB_RELOAD_SECONDS``). The action server's Sanic worker starts loading it
as it starts (``actions/__init__.py`` calls :func:`warm_up`) and its ``/health`` answers 503
until :func:`readiness` says it is loaded (:func:`attach_readiness`), so whoever waits for a
healthy action server knows the first customer will not wait for the model and the index.
Other importers (tests, scripts) get it loaded on first use, or install their own
implementation of :class:`knowledge.service.KnowledgeService` (e.g. a fake) with
:func:`configure`.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from sanic import Request, Sanic
from sanic.response import HTTPResponse, json

from actions.settings import get_settings
from knowledge.reload import ReloadingKnowledgeBase
from knowledge.service import KnowledgeService
from knowledge.settings import KnowledgeSettings

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_service: KnowledgeService | None = None


@dataclass
class Readiness:
    """Where the warm-up of this process's knowledge base is: ``loading``, ``loaded`` or
    ``failed`` (with the reason), and how long loading took."""

    state: str = "loading"
    seconds: float | None = None
    error: str | None = None


_readiness = Readiness()


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
        started = time.monotonic()
        try:
            start(settings)
        except Exception as exc:
            logger.exception("loading the knowledge base failed")
            _readiness.error = f"{type(exc).__name__}: {exc}"
            _readiness.state = "failed"
            return
        _readiness.seconds = round(time.monotonic() - started, 2)
        # Logged before the state changes: a healthy /health implies the line is in the log.
        logger.info(
            "knowledge base loaded in %.1f s: the action server is ready", _readiness.seconds
        )
        _readiness.state = "loaded"

    thread = threading.Thread(target=load_quietly, name="kb-warm-up", daemon=True)
    thread.start()
    return thread


def readiness() -> Readiness:
    """The warm-up's state (``loading`` until :func:`warm_up` has finished)."""
    return _readiness


def attach_readiness(app: Sanic) -> None:
    """Make rasa_sdk's ``/health`` of ``app`` say whether the knowledge base is loaded: 503
    ``{"status": "loading"}`` while :func:`warm_up` runs, 500 with the reason if it failed,
    rasa_sdk's own 200 once loaded. Loading stays in the background because Sanic stops a
    worker that does not report started within 30 s, less than a first index build can take."""

    @app.on_request
    async def health_waits_for_the_knowledge_base(request: Request) -> HTTPResponse | None:
        if request.path != "/health" or _readiness.state == "loaded":
            return None
        if _readiness.state == "failed":
            return json({"status": "failed", "error": _readiness.error}, status=500)
        return json({"status": "loading", "knowledge_base": "loading"}, status=503)


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
