"""Custom actions of the nivel0 Rasa bot (run with ``python -m rasa_sdk --actions actions``).

Modules: ``settings`` (the action server's configuration), ``language`` (customer language
detection), ``kb`` (the process's knowledge service), ``conversation`` (slot names and helpers
for the articles shown), ``actions`` (the Rasa actions for answers and feedback), ``handoff``
(starting and sending the tier-1 handoff), ``handoff_form`` (validation of the handoff and
ticket-status forms), ``ticket_status``, ``greeting`` (the greeting, with the news of a
returning customer's request), ``handoff_client`` / ``outbox`` / ``handoff_payload``
(delivery to the handoff service), ``ticket_text`` (the queue in plain words),
``sensitive``, ``gaps``.

The action server is two processes: the one ``python -m rasa_sdk`` runs (it registers the
actions, then manages Sanic's worker) and the Sanic worker it spawns, which answers Rasa's
calls. On start-up the first builds the settings once (:func:`actions.settings.configure`),
checks that the configured embedding model is there, logs ``serving embedding model <identity>
from <path>`` and starts the outbox's retry worker (a daemon thread that delivers what was
stored while the handoff service was down; ``NIVEL0_OUTBOX_WORKER=false`` turns it off, e.g.
when a separate process runs it). Invalid settings or a missing model stop it there with the
reason and exit status 1: rasa_sdk only stops by itself on an ``ImportError``, and a
half-configured server must not start answering. The Sanic worker starts loading the model and
the index as soon as it imports this package, in the background (Sanic gives a worker
:data:`WORKER_ACK_SECONDS` to report started, raised from its 30 s; a first index build can take
longer still), and registers a rasa_sdk plugin
(:func:`attach_sanic_app_extensions`, called when rasa_sdk builds the worker's app, after the
import) whose middleware makes ``/health`` answer 503 until they are loaded: a healthy action
server answers its first customer without loading anything. Other importers (tests, scripts)
do none of this.
"""

from __future__ import annotations

import logging
import os
import sys

import pluggy
from pydantic import ValidationError
from sanic import Sanic

#: Sanic names its serving worker processes ``Sanic-Server-<n>-<m>`` (``SANIC_WORKER_NAME``).
_SANIC_SERVER_PREFIX = "Sanic-Server"
#: How long Sanic's worker may take to start (import this package) before Sanic gives up.
WORKER_ACK_SECONDS = 300


def _process_role() -> str | None:
    """``"main"`` (the ``python -m rasa_sdk`` process), ``"server"`` (its Sanic worker) or
    None (any other importer)."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    if getattr(spec, "name", None) == "rasa_sdk.__main__":
        return "main"
    if os.environ.get("SANIC_WORKER_NAME", "").startswith(_SANIC_SERVER_PREFIX):
        return "server"
    return None


def _give_workers_time_to_start() -> None:
    """Let Sanic's worker take :data:`WORKER_ACK_SECONDS` to report started, not 30 s.

    The worker imports this package (torch, sentence-transformers) before it acknowledges; on
    a loaded machine that took over 30 s, and Sanic then kills the whole process group: with
    `make run`, every server of the stack. ``WorkerManager.THRESHOLD`` is Sanic's documented
    knob for this (in tenths of a second; see its "worker ack" deployment guide).
    """
    from sanic.worker.manager import WorkerManager
    from sanic.worker.process import WorkerProcess

    WorkerManager.THRESHOLD = WorkerProcess.THRESHOLD = WORKER_ACK_SECONDS * 10


def _start_main() -> None:
    from actions import settings
    from knowledge.embedding import model_identity

    _give_workers_time_to_start()
    logger = logging.getLogger(__name__)
    try:
        configured = settings.configure()
        model_path = configured.knowledge.model_path
    except (ValidationError, FileNotFoundError) as exc:
        logger.error("action server not started: %s", exc)
        raise SystemExit(1) from exc
    if configured.action_secret is None or not configured.action_secret.get_secret_value():
        logger.error(
            "action server not started: NIVEL0_ACTION_SECRET is not set (the secret Rasa sends "
            "with every action call; `make run` creates one in var/secrets/)"
        )
        raise SystemExit(1)
    logger.info("serving embedding model %s from %s", model_identity(model_path), model_path)
    if configured.outbox_worker:
        from actions import outbox

        outbox.default_outbox().start_worker()
        logger.info("handoff outbox worker started")


@pluggy.HookimplMarker("rasa_sdk")
def attach_sanic_app_extensions(app: Sanic) -> None:
    """rasa_sdk's plugin hook: the worker's ``/health`` waits for the knowledge base, its
    ``/webhook`` (and the handoff service's ``/privacy/erase``) answers only calls carrying the
    shared secret, and ``/metrics`` serves its Prometheus metrics (``actions.metrics``)."""
    from actions import kb, metrics, security, settings

    kb.attach_readiness(app)
    metrics.attach(app)
    secret = settings.get_settings().action_secret  # the main process refuses to start without
    security.attach_secret_check(app, secret.get_secret_value() if secret else None)
    security.attach_privacy_erase(app)


def _start_server() -> None:
    from rasa_sdk.plugin import plugin_manager

    from actions import kb, settings

    # rasa_sdk configures logging in the main process only; the spawned worker logs its
    # knowledge base's loading in the same format.
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.INFO,
            format="%(asctime)s %(levelname)-8s %(name)s  - %(message)s",
            datefmt="%Y-%m-%d %H:%M:%S",
        )
    kb.warm_up(settings.configure().knowledge)
    plugin_manager().register(sys.modules[__name__])


_role = _process_role()
if _role == "main":
    _start_main()
elif _role == "server":
    _start_server()
