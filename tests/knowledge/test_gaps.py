"""Gaps: the unanswered questions recorded in the real handoff service (in-process, SQLite),
read back over its API, and clustered into themes."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from knowledge.gaps import (
    Gap,
    GapsSource,
    cluster_gaps,
    fetch_ticket_gaps,
    fetch_unanswered,
    merge_ticket_gaps,
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


@pytest.fixture(scope="module")
def triage_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Trained by the first service of the module, reused by the others."""
    return tmp_path_factory.mktemp("triage") / "triage.joblib"


@pytest.fixture
def handoff(tmp_path: Path, kb_dir: Path, triage_model: Path):  # type: ignore[no-untyped-def]
    """The handoff service app on a new SQLite database: a client with an agent token, and the
    bot's service token; drafts go to the fixture KB."""
    from handoff_service import auth
    from handoff_service.main import create_app
    from handoff_service.settings import Settings
    from handoff_service.vocabulary import Role

    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'handoff.db'}",
        triage_model_path=triage_model,
        kb_drafts_dir=kb_dir,
        # no background sender, no listener on the default port (another service may hold it)
        email_worker=False,
        inbound_smtp_port=None,
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


def record(
    client: TestClient,
    bot: dict[str, str],
    text: str,
    language: str,
    reason: str,
    conv: str,
    **extra,
) -> None:
    """What the action server sends for an unanswered turn."""
    payload = {"conversation_id": conv, "language": language, "reason": reason, "text": text}
    response = client.post("/v1/unanswered", json={**payload, **extra}, headers=bot)
    assert response.status_code in (200, 201), response.text


@pytest.fixture
def recorded(handoff) -> TestClient:  # type: ignore[no-untyped-def]
    client, bot = handoff
    n = 0
    for (language, _theme), texts in THEMES.items():
        for text in texts:
            record(client, bot, text, language, REASONS[n % 3], f"conv-{n}")
            n += 1
    return client


def test_themes_come_out_as_separate_clusters_with_their_counts(recorded, model) -> None:
    gaps = fetch_unanswered(recorded)
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


def test_clusters_are_named_and_explained(recorded, model) -> None:
    clusters = cluster_gaps(fetch_unanswered(recorded), model, examples=2)
    gift = next(c for c in clusters if c.language == "en" and c.count == 6)
    assert "gift" in gift.label and "card" in gift.label
    assert {"gift", "card"} <= set(gift.terms)
    assert len(gift.examples) == 2 and gift.label not in gift.examples
    assert sum(gift.reasons.values()) == 6 and set(gift.reasons) <= set(REASONS)
    assert gift.conversations == 6
    regalo = next(c for c in clusters if c.language == "es" and c.count == 5)
    assert {"tarjeta", "regalo"} <= set(regalo.terms)
    assert not set(regalo.terms) & {"de", "la", "el", "me"}  # Spanish stop words are left out


def test_records_come_back_oldest_first_across_pages(handoff) -> None:
    client, bot = handoff
    start = dt.datetime(2026, 11, 1, 9, tzinfo=dt.UTC)
    for i in range(7):
        at = (start + dt.timedelta(hours=i)).isoformat()
        record(client, bot, f"question {i}", "en", "fallback", f"c{i}", occurred_at=at)
    gaps = fetch_unanswered(client, page_size=3)
    assert [g.text for g in gaps] == [f"question {i}" for i in range(7)]
    assert dt.datetime.fromisoformat(gaps[0].created_at) == start
    assert {g.source for g in gaps} == {"bot"}


def test_since_and_language_filters(handoff) -> None:
    client, bot = handoff
    old = dt.datetime(2026, 1, 1, tzinfo=dt.UTC).isoformat()
    record(client, bot, "an old question", "en", "fallback", "c1", occurred_at=old)
    record(client, bot, "a new question", "en", "fallback", "c2")
    record(client, bot, "una pregunta nueva", "es", "handoff", "c3")
    since = dt.datetime.now(dt.UTC) - dt.timedelta(days=7)
    assert [g.text for g in fetch_unanswered(client, since)] == [
        "a new question",
        "una pregunta nueva",
    ]
    assert [g.text for g in fetch_unanswered(client, language="es")] == ["una pregunta nueva"]
    assert len(fetch_unanswered(client)) == 3


def test_a_retried_delivery_counts_once_and_text_arrives_redacted(handoff) -> None:
    client, bot = handoff
    text = "my card 4111 1111 1111 1111 was charged twice"
    for _ in range(2):
        record(client, bot, text, "en", "fallback", "c1")
    (gap,) = fetch_unanswered(client)
    assert gap.text == "my card [card ****1111] was charged twice"


def test_the_source_reads_the_handoff_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HANDOFF_SERVICE_URL", raising=False)
    monkeypatch.setenv("HANDOFF_AGENT_TOKEN", "")
    assert GapsSource() == GapsSource(
        handoff_service_url="http://127.0.0.1:8000", handoff_agent_token=None
    )
    monkeypatch.setenv("HANDOFF_SERVICE_URL", "http://handoff:8000")
    monkeypatch.setenv("HANDOFF_AGENT_TOKEN", "n0h_secret")
    source = GapsSource()
    assert source.handoff_service_url == "http://handoff:8000"
    assert source.handoff_agent_token is not None
    assert source.handoff_agent_token.get_secret_value() == "n0h_secret"
    assert "n0h_secret" not in repr(source)


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


# --- handoff tickets as gaps ----------------------------------------------------------------


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
        json={
            "title": "Trade in your old phone",
            "topic": "trade-in",
            "category": "orders",
            "questions": ["Can I trade in my phone?", "Do you take old phones as part payment?"],
        },
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
