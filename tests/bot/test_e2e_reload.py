"""Hot reload end to end: while the real Rasa server and action server run, an editor adds,
changes and removes an article file; the bot answers from the new content without a restart,
and a conversation that started before the edits goes on (its earlier turns are still in Rasa's
tracker).

A separate probe conversation polls until the new content is served, so the customer's
conversation is not disturbed by the polling. The wait is bounded generously (shared machine);
the reload interval here is 1 s (``NIVEL0_KB_RELOAD_SECONDS``, default 2).
"""

from __future__ import annotations

import datetime as dt
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.bot.servers import ROOT, TRAIN_HINT, ChatServers, latest_model
from tests.support import fixture_article, wait_until, write_kb

pytestmark = pytest.mark.e2e

QUESTION = "can I trade in my old phone for store credit?"
TITLE = "Trade in your old device for store credit"
NEW_TITLE = "Trade-in programme: old devices for Voltia credit"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ChatServers, Path]]:
    model = latest_model()
    if model is None:
        pytest.fail(TRAIN_HINT, pytrace=False)
    work = tmp_path_factory.mktemp("e2e-reload")
    kb_dir = work / "kb"
    shutil.copytree(ROOT / "kb_articles", kb_dir)
    env = {
        "NIVEL0_KB_DIR": str(kb_dir),
        "NIVEL0_INDEX_DIR": str(work / "index"),
        "NIVEL0_KB_RELOAD_SECONDS": "1",
        "NIVEL0_OUTBOX_PATH": str(work / "outbox.db"),
    }
    with ChatServers(log_dir=work / "logs", model=model, env=env) as servers:
        yield servers, kb_dir


def write_trade_in(kb_dir: Path, title: str) -> None:
    """Add the trade-in article, or replace it (an editor's change)."""
    article = fixture_article(
        "trade-in",
        "en",
        title,
        category="orders",
        summary="Send us your old phone, tablet or laptop with a free label from My account > "
        "Trade-in; once we have checked it you get Voltia store credit within 5 days.",
        questions=[
            "can I trade in my old phone",
            "do you give store credit for old devices",
            "trade-in programme for used laptops and tablets",
        ],
        updated=dt.date(2026, 11, 29),
        tags=["orders"],
        body="Request a free shipping label in **My account > Trade-in**.",
    )
    write_kb(kb_dir, [article])


def joined(messages: list[dict[str, Any]]) -> str:
    return "\n".join(m.get("text", "") for m in messages)


def probe_until(servers: ChatServers, condition: Any, what: str) -> str:
    """Ask QUESTION in fresh probe conversations until the reply satisfies ``condition``."""

    def ask() -> str | None:
        reply = joined(servers.say(f"probe-{uuid.uuid4().hex[:8]}", QUESTION))
        return reply if condition(reply) else None

    return wait_until(ask, what, timeout=120, interval=0.5)


def test_added_changed_and_removed_articles_are_served_without_a_restart(
    stack: tuple[ChatServers, Path],
) -> None:
    servers, kb_dir = stack
    customer = f"e2e-reload-{uuid.uuid4().hex[:8]}"
    before = joined(servers.say(customer, QUESTION))
    assert TITLE not in before

    write_trade_in(kb_dir, TITLE)
    probe_until(servers, lambda reply: TITLE in reply, "the new article to be served")
    answer = joined(servers.say(customer, QUESTION))
    assert TITLE in answer
    assert "/en/trade-in" in answer  # the article's link

    write_trade_in(kb_dir, NEW_TITLE)
    probe_until(servers, lambda reply: NEW_TITLE in reply, "the changed article to be served")

    (kb_dir / "en" / "trade-in.md").unlink()
    gone = probe_until(
        servers,
        lambda reply: NEW_TITLE not in reply and TITLE not in reply,
        "the removed article to stop being served",
    )
    assert "trade-in" not in gone

    tracker = httpx.get(f"{servers.rasa_url}/conversations/{customer}/tracker", timeout=30)
    tracker.raise_for_status()
    said = [e.get("text") for e in tracker.json()["events"] if e.get("event") == "user"]
    assert said[:2] == [QUESTION, QUESTION]  # the conversation from before the edits goes on
