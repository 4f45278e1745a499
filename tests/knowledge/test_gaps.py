"""Gaps: recording unanswered turns (threads, processes) and clustering them into themes."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import sqlite3
import threading
from pathlib import Path

import pytest

from knowledge.gaps import (
    Gap,
    cluster_gaps,
    fetch_ticket_gaps,
    merge_ticket_gaps,
    read_gaps,
    record_unanswered,
)

# Clear themes in both languages; the number of questions differs per theme so the order by
# volume is checkable.
THEMES: dict[tuple[str, str], list[str]] = {
    ("en", "gift-card"): [
        "how do I redeem a gift card",
        "where do I enter my gift card code",
        "can I pay with a gift card",
        "my gift card code is not accepted",
        "does a gift card expire",
        "check the balance of my gift card",
    ],
    ("en", "student-discount"): [
        "do you have a student discount",
        "is there a discount for students",
        "student discount on laptops",
        "how do students get a discount",
    ],
    ("en", "trade-in"): [
        "can I trade in my old phone",
        "do you buy back used phones",
        "trade in my old smartphone for credit",
    ],
    ("es", "tarjeta-regalo"): [
        "cómo canjeo una tarjeta regalo",
        "dónde meto el código de la tarjeta regalo",
        "puedo pagar con tarjeta regalo",
        "no me acepta el código de la tarjeta regalo",
        "caduca la tarjeta regalo",
    ],
    ("es", "recogida-tienda"): [
        "puedo recoger el pedido en tienda",
        "tenéis recogida en tienda física",
        "quiero recoger mi compra en una tienda",
        "hay tiendas donde recoger el pedido",
    ],
    ("es", "descuento-estudiante"): [
        "hay descuento para estudiantes",
        "tenéis descuento de estudiante",
        "descuento universitario en portátiles",
    ],
}
REASONS = ("fallback", "negative_feedback", "handoff")


@pytest.fixture
def gaps_db(tmp_path: Path) -> Path:
    db = tmp_path / "gaps.db"
    n = 0
    for (language, _theme), texts in THEMES.items():
        for text in texts:
            assert record_unanswered(text, language, REASONS[n % 3], f"conv-{n}", db_path=db)
            n += 1
    return db


def test_themes_come_out_as_separate_clusters_with_their_counts(gaps_db: Path, model) -> None:
    gaps = read_gaps(gaps_db)
    assert len(gaps) == sum(len(texts) for texts in THEMES.values())
    clusters = cluster_gaps(gaps, model)

    theme_of = {text: theme for (_, theme), texts in THEMES.items() for text in texts}
    found = []
    for cluster in clusters:
        members = {theme_of[cluster.label]} | {theme_of[e] for e in cluster.examples}
        assert len(members) == 1, f"cluster mixes themes: {cluster}"
        found.append((cluster.language, members.pop(), cluster.count))
    expected = [(lang, theme, len(texts)) for (lang, theme), texts in THEMES.items()]
    assert sorted(found) == sorted(expected)
    # sorted by volume, largest first
    assert [c.count for c in clusters] == sorted((c.count for c in clusters), reverse=True)
    assert clusters[0].language == "en" and clusters[0].count == 6


def test_clusters_are_named_and_explained(gaps_db: Path, model) -> None:
    clusters = cluster_gaps(read_gaps(gaps_db), model, examples=2)
    gift = next(c for c in clusters if c.language == "en" and c.count == 6)
    assert "gift" in gift.label and "card" in gift.label
    assert {"gift", "card"} <= set(gift.terms)
    assert len(gift.examples) == 2 and gift.label not in gift.examples
    assert sum(gift.reasons.values()) == 6 and set(gift.reasons) <= set(REASONS)
    assert gift.conversations == 6
    regalo = next(c for c in clusters if c.language == "es" and c.count == 5)
    assert {"tarjeta", "regalo"} <= set(regalo.terms)
    assert not set(regalo.terms) & {"de", "la", "el", "me"}  # Spanish stop words are left out


def test_read_gaps_since(tmp_path: Path) -> None:
    db = tmp_path / "gaps.db"
    old = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    record_unanswered("an old question", "en", "fallback", "c1", db_path=db, now=old)
    record_unanswered("a new question", "en", "fallback", "c2", db_path=db)
    since = dt.datetime.now(dt.UTC) - dt.timedelta(days=7)
    assert [g.text for g in read_gaps(db, since)] == ["a new question"]
    assert len(read_gaps(db)) == 2
    assert read_gaps(tmp_path / "missing.db") == []


@pytest.mark.parametrize(
    ("text", "language", "reason", "match"),
    [
        ("   ", "en", "fallback", "empty"),
        ("hello there", "fr", "fallback", "language"),
        ("hello there", "en", "timeout", "reason"),
    ],
)
def test_invalid_records_are_refused(
    tmp_path: Path, text: str, language: str, reason: str, match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        record_unanswered(text, language, reason, "c1", db_path=tmp_path / "gaps.db")


def test_text_is_normalised_and_truncated(tmp_path: Path) -> None:
    db = tmp_path / "gaps.db"
    record_unanswered("  where\n is   my\tthing " + "x" * 2000, "en", "fallback", "c", db_path=db)
    (gap,) = read_gaps(db)
    assert gap.text.startswith("where is my thing x") and len(gap.text) == 1000


def test_a_broken_database_does_not_raise(tmp_path: Path) -> None:
    db = tmp_path / "gaps.db"
    db.write_bytes(b"this is not a sqlite database" * 100)
    assert record_unanswered("where is my order", "en", "fallback", "c1", db_path=db) is False


def test_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    db = tmp_path / "gaps.db"
    record_unanswered("create the schema", "en", "fallback", "c0", db_path=db)

    def write(worker: int) -> None:
        for i in range(25):
            record_unanswered(f"thread {worker} question {i}", "en", "fallback", f"t{worker}", db)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    processes = [
        multiprocessing.get_context("spawn").Process(target=_process_writer, args=(db, w))
        for w in range(2)
    ]
    for worker in [*threads, *processes]:
        worker.start()
    for worker in [*threads, *processes]:
        worker.join(60)
    assert [p.exitcode for p in processes] == [0, 0]
    assert len(read_gaps(db)) == 1 + 4 * 25 + 2 * 25
    mode = sqlite3.connect(db).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def _process_writer(db: Path, worker: int) -> None:
    for i in range(25):
        assert record_unanswered(
            f"process {worker} question {i}", "es", "handoff", f"p{worker}", db
        )


def test_tickets_already_recorded_as_handoffs_are_not_counted_twice() -> None:
    recorded = [
        Gap("where is my refund", "en", "handoff", "conv-1", "2026-11-20"),
        Gap("hello?", "en", "fallback", "conv-2", "2026-11-20"),
    ]
    tickets = [
        Gap("where is my refund, it has been weeks", "en", "handoff", "conv-1", "x", "ticket"),
        Gap("my parcel is lost", "en", "handoff", "conv-2", "x", "ticket"),
        Gap("no funciona el cargador", "es", "handoff", "conv-3", "x", "ticket"),
    ]
    merged = merge_ticket_gaps(recorded, tickets)
    assert [g.conversation_id for g in merged] == ["conv-1", "conv-2", "conv-2", "conv-3"]


# --- with the real handoff service (SQLite, in-process) ----------------------------------------


@pytest.fixture
def handoff(tmp_path: Path, kb_dir: Path):  # type: ignore[no-untyped-def]
    """The handoff service app, its agent and bot tokens; drafts go to the fixture KB."""
    from fastapi.testclient import TestClient

    from handoff_service import auth
    from handoff_service.main import create_app
    from handoff_service.settings import Settings
    from handoff_service.vocabulary import Role

    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'handoff.db'}",
        triage_model_path=tmp_path / "triage.joblib",
        kb_drafts_dir=kb_dir,
    )
    app = create_app(settings)
    headers = {}
    with app.state.ctx.sessions() as session:
        for name, role in [("ana", Role.AGENT), ("bot", Role.SERVICE)]:
            _row, token = auth.issue_token(session, auth.create_account(session, name, role))
            headers[name] = {"Authorization": f"Bearer {token}"}
        session.commit()
    with TestClient(app, headers=headers["ana"]) as client:
        yield client, headers["bot"]
    app.state.ctx.engine.dispose()


def _handoff(client, bot: dict[str, str], conversation_id: str, language: str, *said: str) -> str:
    payload = {
        "conversation_id": conversation_id,
        "customer": {"name": "Ana", "email": "ana@example.com"},
        "language": language,
        "channel": "web",
        "transcript": [{"role": "customer", "text": text} for text in said],
        "reason": "customer_request",
    }
    response = client.post("/v1/handoffs", json=payload, headers=bot)
    assert response.status_code == 201, response.text
    return response.json()["number"]


def test_handoff_tickets_become_gaps(handoff) -> None:
    client, bot = handoff
    _handoff(client, bot, "conv-a", "en", "hi", "can I trade in my old phone for credit?")
    _handoff(client, bot, "conv-b", "es", "hola", "¿tenéis descuento para estudiantes?")
    _handoff(client, bot, "conv-c", "en", "person please")

    gaps = sorted(fetch_ticket_gaps(client), key=lambda g: g.conversation_id)
    assert [(g.conversation_id, g.language, g.text, g.reason, g.source) for g in gaps] == [
        ("conv-a", "en", "can I trade in my old phone for credit?", "handoff", "ticket"),
        ("conv-b", "es", "¿tenéis descuento para estudiantes?", "handoff", "ticket"),
        ("conv-c", "en", "person please", "handoff", "ticket"),  # nothing longer was said
    ]
    tomorrow = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    assert fetch_ticket_gaps(client, since=tomorrow) == []


def test_a_ticket_turned_into_a_kb_article_is_a_draft_that_lint_reports_and_search_ignores(
    handoff, kb_dir: Path, tmp_path: Path, model
) -> None:
    from knowledge.articles import load_articles
    from knowledge.bands import Calibration
    from knowledge.lint import lint_kb
    from knowledge.search import KnowledgeBase

    client, bot = handoff
    question = "can I trade in my old phone when I buy a new one?"
    number = _handoff(client, bot, "conv-t", "en", question, "I have an old iPhone 12")
    assert client.post(f"/v1/tickets/{number}/claim").status_code == 200
    note = "Yes: we take phones up to 5 years old; the credit is applied to the new order."
    assert client.post(f"/v1/tickets/{number}/resolve", json={"resolution_note": note}).is_success
    draft = client.post(
        f"/v1/tickets/{number}/kb-article",
        json={"title": "Trade in your old phone", "topic": "trade-in", "category": "orders"},
    )
    assert draft.status_code == 201, draft.text

    report = lint_kb(kb_dir)
    assert report.errors == []
    assert {(f.code, f.path.name) for f in report.warnings} == {
        ("draft", "trade-in.md"),
        ("draft-translation", "trade-in.md"),
    }

    articles = load_articles(kb_dir).articles
    kb = KnowledgeBase(articles, model, tmp_path / "index", Calibration.uncalibrated())
    assert kb.get("trade-in-en") is not None
    assert all(h.article.id != "trade-in-en" for h in kb.rank(question, "en", k=10))
