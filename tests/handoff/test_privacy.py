"""Personal data (privacy.py), on SQLite and PostgreSQL: the retention purge removes exactly what
is past each period, a customer's export has all of theirs and nothing of anyone else's, erasure
deletes it and is logged with a hash of the address, only admins may ask; and the tracker part
against a real tracker table created by Rasa's own SQLTrackerStore (.venv-rasa)."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from handoff_service import cli, privacy
from handoff_service.models import (
    Counter,
    EmailMessage,
    InboundEmail,
    PrivacyRequest,
    SatisfactionRating,
    Ticket,
    TicketEvent,
    UnansweredQuestion,
    utcnow,
)
from handoff_service.settings import PACKAGE_DIR, Settings
from tests.bot.test_production_stores import PG_HOST, PG_PORT, PG_USER, fresh_database
from tests.handoff.test_console import bearer, login

RASA_PYTHON = PACKAGE_DIR.parent / ".venv-rasa" / "bin" / "python"
NOW = dt.datetime(2026, 12, 2, 12, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)

# Saves trackers with Rasa's own SQLTrackerStore: {sender: [[text, unix time], ...]} on stdin.
RASA_WRITER = """
import asyncio, json, sys
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

host, port, db, user = sys.argv[1:5]
store = SQLTrackerStore(Domain.empty(), dialect="postgresql", host=host, port=int(port), db=db,
                        username=user, password="")
async def main():
    for sender, said in json.load(sys.stdin).items():
        events = [UserUttered(text, timestamp=ts) for text, ts in said]
        await store.save(DialogueStateTracker.from_events(sender, events))
asyncio.run(main())
"""


@pytest.fixture
def clean(client: TestClient, session_factory: Any) -> TestClient:
    """The client fixture empties the ticket tables; these tests own two more."""
    with session_factory() as session:
        session.execute(delete(UnansweredQuestion))
        session.execute(delete(PrivacyRequest))
        session.commit()
    return client


def _ticket(session: Session, number: str) -> Ticket:
    return session.scalars(select(Ticket).where(Ticket.number == number)).one()


def _add_children(session: Session, ticket: Ticket, tag: str) -> None:
    """A rating, an inbound e-mail and an unanswered question for ``ticket``."""
    session.add(SatisfactionRating(ticket_id=ticket.id, rating=4, comment=f"ok {tag}"))
    session.add(
        InboundEmail(
            ticket_id=ticket.id,
            message_id=f"<{tag}@example.com>",
            from_address=ticket.customer_email or "x@example.com",
            subject="Re: ticket",
            body=f"reply {tag}",
            status="appended",
        )
    )
    session.add(
        UnansweredQuestion(
            conversation_id=ticket.conversation_id,
            language="es",
            reason="fallback",
            text=f"question {tag}",
            text_hash=tag,
            occurred_at=NOW,
        )
    )


def _count(session: Session, model: type[Any]) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


# --- retention ---------------------------------------------------------------------------------


def test_purge_removes_exactly_what_is_past_each_period(
    clean: TestClient, make_ticket: Any, session_factory: Any, settings: Settings
) -> None:
    old, recent, still_open = (make_ticket() for _ in range(3))
    with session_factory() as session:
        for t in (old, recent, still_open):
            _add_children(session, _ticket(session, str(t["number"])), str(t["number"]))
        session.flush()
        # resolved 366 / 364 days ago; the open one was created long ago but is not done
        for t, age in ((old, 366), (recent, 364)):
            session.execute(
                update(Ticket)
                .where(Ticket.number == t["number"])
                .values(status="closed", resolved_at=NOW - age * DAY, closed_at=NOW - age * DAY)
            )
        session.execute(
            update(Ticket)
            .where(Ticket.number == still_open["number"])
            .values(created_at=NOW - 900 * DAY)
        )
        recent_ticket = _ticket(session, str(recent["number"]))
        open_ticket = _ticket(session, str(still_open["number"]))
        # unanswered: one 181 days old, the others now
        session.execute(
            update(UnansweredQuestion)
            .where(UnansweredQuestion.conversation_id == recent_ticket.conversation_id)
            .values(occurred_at=NOW - 181 * DAY)
        )
        # outbox: the recent ticket's e-mail sent 31 days ago, the open one's 29 days ago
        for ticket, age in ((recent_ticket, 31), (open_ticket, 29)):
            session.execute(
                update(EmailMessage)
                .where(EmailMessage.ticket_id == ticket.id)
                .values(status="sent", sent_at=NOW - age * DAY, subject="s", text_body="t")
            )
        # inbound: a held one 91 days old, a held one 89 days old, an appended one 91 days old
        for ticket, status, age in (
            (open_ticket, "held", 91),
            (recent_ticket, "held", 89),
        ):
            session.execute(
                update(InboundEmail)
                .where(InboundEmail.ticket_id == ticket.id)
                .values(status=status, received_at=NOW - age * DAY)
            )
        session.add(
            InboundEmail(
                ticket_id=open_ticket.id,
                message_id="<kept@example.com>",
                from_address="lucia@example.com",
                subject="Re",
                body="appended long ago",
                status="appended",
                received_at=NOW - 91 * DAY,
            )
        )
        session.commit()

        counts = privacy.purge(settings, session, NOW)
        session.commit()

        assert counts["tickets"] == 1
        assert counts["ratings"] == 1 and counts["inbound_emails"] == 1
        assert counts["ticket_events"] >= 2 and counts["outbox_emails"] == 1
        assert counts["unanswered_questions"] == 1
        assert counts["email_bodies"] == 1
        assert counts["held_inbound_emails"] == 1
        assert "tracker_events" not in counts  # no tracker store configured
        numbers = set(session.scalars(select(Ticket.number)))
        assert numbers == {recent["number"], still_open["number"]}
        # nothing of the old ticket is left hanging
        live = {recent_ticket.id, open_ticket.id}
        for model in (TicketEvent, EmailMessage, InboundEmail, SatisfactionRating):
            assert set(session.scalars(select(model.ticket_id))) <= live, model
        assert _count(session, UnansweredQuestion) == 2  # old ticket's (now) and the open one's
        bodies = dict(session.execute(select(EmailMessage.ticket_id, EmailMessage.text_body)).all())
        assert bodies == {recent_ticket.id: None, open_ticket.id: "t"}
        inbound = {row.body for row in session.scalars(select(InboundEmail))}
        assert inbound == {f"reply {recent['number']}", "appended long ago"}

        # a second purge finds nothing more; a period switched off keeps everything
        assert sum(privacy.purge(settings, session, NOW).values()) == 0
        forever = settings.model_copy(
            update={"retention_ticket_days": None, "retention_unanswered_days": None}
        )
        counts = privacy.purge(forever, session, NOW + 5000 * DAY)
        assert "tickets" not in counts and "unanswered_questions" not in counts
        session.rollback()


def test_the_console_says_a_purged_email_text_was_removed(
    clean: TestClient, app: FastAPI, make_ticket: Any, session_factory: Any, tokens: dict[str, Any]
) -> None:
    number = make_ticket(customer={"name": "Lucía", "email": "lucia@example.com"})["number"]
    with session_factory() as session:
        ticket = _ticket(session, str(number))
        session.execute(
            update(EmailMessage)
            .where(EmailMessage.ticket_id == ticket.id)
            .values(status="sent", sent_at=utcnow(), subject="Tu ticket", text_body=None)
        )
        session.commit()
    browser = TestClient(app, base_url="https://testserver")
    assert login(browser, bearer(tokens["agent"])).status_code == 303
    page = browser.get(f"/console/tickets/{number}").text
    assert "removed by the retention policy" in page
    assert "None" not in page


def test_the_worker_purges_at_most_once_an_hour(
    clean: TestClient, app: FastAPI, make_ticket: Any, session_factory: Any
) -> None:
    ctx = app.state.ctx
    ticket = make_ticket()
    with session_factory() as session:
        session.execute(delete(Counter).where(Counter.name == privacy.PURGE_COUNTER))
        session.commit()

    def close_long_ago() -> None:
        with session_factory() as session:
            session.execute(
                update(Ticket)
                .where(Ticket.number == ticket["number"])
                .values(status="closed", resolved_at=NOW - 400 * DAY, closed_at=NOW - 400 * DAY)
            )
            session.commit()

    assert privacy.purge_due(ctx, NOW) == 0  # ran (nothing due yet)
    close_long_ago()
    assert privacy.purge_due(ctx, NOW + dt.timedelta(minutes=59)) == 0  # not again this hour
    with session_factory() as session:
        assert _count(session, Ticket) == 1
    assert privacy.purge_due(ctx, NOW + dt.timedelta(minutes=61)) > 0
    with session_factory() as session:
        assert _count(session, Ticket) == 0


def test_cli_purge_prints_the_counts(
    clean: TestClient, settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    monkeypatch.setattr(cli, "Settings", lambda: settings)
    assert cli.main(["purge"]) == 0
    counts = json.loads(capsys.readouterr().out)
    assert counts["tickets"] == 0 and counts["email_bodies"] == 0


# --- export and erasure ------------------------------------------------------------------------


def _two_customers(make_ticket: Any, session_factory: Any) -> tuple[list[str], str]:
    mine = [
        make_ticket(customer={"name": "Lucía", "email": "Lucia.P@Example.com"})["number"],
        make_ticket(customer={"name": "Lucía", "email": "lucia.p@example.com"})["number"],
    ]
    other = make_ticket(customer={"name": "Otro", "email": "otro@example.com"})["number"]
    with session_factory() as session:
        for number in [*mine, other]:
            _add_children(session, _ticket(session, str(number)), str(number))
        session.commit()
    return [str(n) for n in mine], str(other)


def test_export_has_everything_of_one_customer_and_nothing_of_another(
    clean: TestClient, make_ticket: Any, session_factory: Any, tokens: dict[str, Any]
) -> None:
    mine, other = _two_customers(make_ticket, session_factory)
    response = clean.get(
        "/v1/privacy/export", params={"email": "LUCIA.P@example.com"}, headers=tokens["admin"]
    )
    assert response.status_code == 200, response.text
    data = response.json()
    assert [t["number"] for t in data["tickets"]] == mine
    for ticket in data["tickets"]:
        assert ticket["events"] and ticket["emails"]
        assert [r["comment"] for r in ticket["ratings"]] == [f"ok {ticket['number']}"]
        assert [m["body"] for m in ticket["inbound_emails"]] == [f"reply {ticket['number']}"]
    assert sorted(q["text"] for q in data["unanswered_questions"]) == sorted(
        f"question {n}" for n in mine
    )
    assert data["conversation_events"] is None  # no tracker store configured
    assert other not in response.text and "otro@example.com" not in response.text


def test_erase_removes_it_all_and_is_logged_with_a_hash(
    clean: TestClient,
    make_ticket: Any,
    session_factory: Any,
    tokens: dict[str, Any],
    settings: Settings,
) -> None:
    _mine, other = _two_customers(make_ticket, session_factory)
    response = clean.post(
        "/v1/privacy/erase", json={"email": "lucia.p@EXAMPLE.com"}, headers=tokens["admin"]
    )
    assert response.status_code == 200, response.text
    counts = response.json()["counts"]
    assert counts["tickets"] == 2 and counts["ratings"] == 2 and counts["inbound_emails"] == 2
    assert counts["unanswered_questions"] == 2 and counts["outbox_emails"] >= 2

    again = clean.get(
        "/v1/privacy/export", params={"email": "lucia.p@example.com"}, headers=tokens["admin"]
    )
    assert again.json()["tickets"] == [] and again.json()["unanswered_questions"] == []
    with session_factory() as session:
        assert list(session.scalars(select(Ticket.number))) == [other]
        for model in (SatisfactionRating, InboundEmail, UnansweredQuestion):
            assert _count(session, model) == 1, model
        requests = session.scalars(select(PrivacyRequest).order_by(PrivacyRequest.id)).all()
    assert [(r.action, r.actor) for r in requests] == [("erase", "admin"), ("export", "admin")]
    assert requests[0].counts == counts
    for row in requests:
        stored = " ".join(str(v) for v in (row.email_hash, row.email_salt, row.counts))
        assert "lucia" not in stored.lower()
        assert privacy.is_request_for(settings, row, "LUCIA.P@example.com")
        assert not privacy.is_request_for(settings, row, "otro@example.com")
    assert requests[0].email_hash != requests[1].email_hash  # salted per request


def test_the_request_log_line_has_no_email(
    clean: TestClient, tokens: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("INFO", logger="handoff_service.privacy"):
        clean.post(
            "/v1/privacy/erase", json={"email": "nadie@example.com"}, headers=tokens["admin"]
        )
    [record] = [r for r in caplog.records if r.getMessage() == "privacy request"]
    assert record.action == "erase" and record.actor == "admin"  # type: ignore[attr-defined]
    assert "nadie" not in json.dumps(record.__dict__, default=str)


@pytest.mark.parametrize("who", ["agent", "bot"])
def test_only_admins_may_export_or_erase(
    clean: TestClient, tokens: dict[str, Any], who: str
) -> None:
    headers = tokens[who]
    params = {"email": "lucia@example.com"}
    assert clean.get("/v1/privacy/export", params=params, headers=headers).status_code == 403
    assert clean.post("/v1/privacy/erase", json=params, headers=headers).status_code == 403
    assert clean.post("/v1/privacy/erase", json=params).status_code == 401


def test_cli_export_and_erase(
    clean: TestClient,
    make_ticket: Any,
    session_factory: Any,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: Any,
) -> None:
    mine, _other = _two_customers(make_ticket, session_factory)
    monkeypatch.setattr(cli, "Settings", lambda: settings)
    assert cli.main(["privacy-export", "--email", "lucia.p@example.com"]) == 0
    exported = json.loads(capsys.readouterr().out)
    assert [t["number"] for t in exported["tickets"]] == mine
    assert cli.main(["privacy-erase", "--email", "lucia.p@example.com"]) == 0
    assert json.loads(capsys.readouterr().out)["tickets"] == 2
    with session_factory() as session:
        actors = set(session.scalars(select(PrivacyRequest.actor)))
    assert len(actors) == 1 and actors.pop().startswith("cli:")


# --- the tracker store, as Rasa creates it -----------------------------------------------------


@pytest.fixture(scope="module")
def rasa_tracker_db() -> Iterator[str]:
    """A fresh PostgreSQL database whose ``events`` table Rasa's SQLTrackerStore created."""
    with fresh_database() as name:
        yield name


def _rasa_save(database: str, trackers: dict[str, list[tuple[str, float]]]) -> None:
    subprocess.run(
        [str(RASA_PYTHON), "-c", RASA_WRITER, PG_HOST, str(PG_PORT), database, PG_USER],
        input=json.dumps(trackers),
        text=True,
        check=True,
        capture_output=True,
        timeout=300,
    )


def _tracker_rows(database: str) -> list[tuple[str, str]]:
    with psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=database) as conn:
        rows = conn.execute("SELECT sender_id, data FROM events ORDER BY id").fetchall()
    return [(sender, json.loads(data)["text"]) for sender, data in rows]


def test_tracker_purge_and_erasure_in_a_real_rasa_tracker_store(
    clean: TestClient,
    make_ticket: Any,
    session_factory: Any,
    settings: Settings,
    rasa_tracker_db: str,
) -> None:
    mine = make_ticket(conversation_id="web-lucia:1764000000", customer={"email": "l@example.com"})
    make_ticket(conversation_id="web-otro:1764000000", customer={"email": "o@example.com"})
    now = utcnow()
    old, fresh = (now - 91 * DAY).timestamp(), (now - 89 * DAY).timestamp()
    with psycopg.connect(
        host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=rasa_tracker_db, autocommit=True
    ) as conn:
        exists = conn.execute("SELECT to_regclass('events')").fetchone()
        if exists and exists[0]:
            conn.execute("DELETE FROM events")
    _rasa_save(
        rasa_tracker_db,
        {
            "web-lucia": [("hola, old", old), ("hola, fresh", fresh)],
            "web-otro": [("hi, old", old), ("hi, fresh", fresh)],
        },
    )
    configured = settings.model_copy(
        update={
            "tracker_store_url": f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/{rasa_tracker_db}"
        }
    )
    with session_factory() as session:
        counts = privacy.purge(configured, session, now)
        session.rollback()
    assert counts["tracker_events"] == 2
    assert _tracker_rows(rasa_tracker_db) == [
        ("web-lucia", "hola, fresh"),
        ("web-otro", "hi, fresh"),
    ]

    with session_factory() as session:
        exported = privacy.export(configured, session, "L@example.com", "admin")
        assert [e.data["text"] for e in exported.conversation_events or []] == ["hola, fresh"]  # type: ignore[index]
        assert [t.number for t in exported.tickets] == [mine["number"]]
        counts = privacy.erase(configured, session, "l@example.com", "admin")
        session.commit()
    assert counts["tracker_events"] == 1 and counts["tickets"] == 1
    assert _tracker_rows(rasa_tracker_db) == [("web-otro", "hi, fresh")]
