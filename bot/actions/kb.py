"""One shared knowledge base per action-server process.

It is a :class:`knowledge.reload.ReloadingKnowledgeBase` (the search interface of
:class:`knowledge.search.KnowledgeBase`): it follows edits of the article files while the bot
runs (poll interval ``NIVEL0_KB_RELOAD_SECONDS``, default 2 s, 0 = never).

Loading the embedding model and the index takes seconds, so it happens once: in a background
thread started by :func:`warm_up` (called on the first user turn of the first conversation,
usually a greeting) or, at the latest, on the first search.

The knowledge package resolves its relative default paths against the working directory, but the
action server runs from ``bot/``; unless set, the KB directory, index directory and calibration
file therefore default to the project's own (``<project>/kb_articles`` etc.).

Torch runs each query embedding with ``NIVEL0_SEARCH_THREADS`` threads (default 1, see
:mod:`knowledge.settings`).
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

from knowledge.reload import ReloadingKnowledgeBase
from knowledge.settings import (
    DEFAULT_CALIBRATION,
    DEFAULT_INDEX_DIR,
    DEFAULT_KB_DIR,
    limit_search_threads,
)

logger = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
_PATH_DEFAULTS = {
    "NIVEL0_KB_DIR": DEFAULT_KB_DIR,
    "NIVEL0_INDEX_DIR": DEFAULT_INDEX_DIR,
    "NIVEL0_CALIBRATION": DEFAULT_CALIBRATION,
}

_lock = threading.Lock()
_kb: ReloadingKnowledgeBase | None = None


def _apply_path_defaults() -> None:
    for name, relative in _PATH_DEFAULTS.items():
        os.environ.setdefault(name, str(PROJECT_ROOT / relative))


def get_knowledge_base() -> ReloadingKnowledgeBase:
    """The process-wide knowledge base, loaded on first use (thread-safe)."""
    global _kb
    with _lock:
        if _kb is None:
            _apply_path_defaults()
            limit_search_threads()
            logger.info("loading knowledge base from %s", os.environ["NIVEL0_KB_DIR"])
            _kb = ReloadingKnowledgeBase.from_env()
        return _kb


def warm_up() -> None:
    """Start loading the knowledge base in the background if nobody has loaded it yet."""
    if _kb is None and not _lock.locked():
        threading.Thread(target=_load_quietly, name="kb-warm-up", daemon=True).start()


def _load_quietly() -> None:
    try:
        get_knowledge_base()
    except Exception:  # the first search will raise it again, with the customer turn
        logger.exception("knowledge base warm-up failed")


def reset() -> None:
    """Forget the loaded knowledge base (tests point the env vars at another KB)."""
    global _kb
    with _lock:
        if _kb is not None:
            _kb.stop()
        _kb = None
