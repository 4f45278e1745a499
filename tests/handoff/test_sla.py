"""Service levels of open tickets (sla.py), on SQLite and PostgreSQL: the clock that stops while
a ticket waits on the customer, business hours per queue, the due state in the API and the
console, the once-only due notices to the queue's agents, and setting agents' e-mail and queues
(admin API and CLI). Times are explicit; nothing sleeps."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from handoff_service import cli, sla, tickets
from handoff_service.due_dates import BusinessHours
from handoff_service.lifecycle import Action
from handoff_service.models import Account, EmailMessage, Ticket, TicketEvent, utcnow
from handoff_service.sla import DueState, due_state
from handoff_service.vocabulary import EmailKind, Priority, RequestType, Status
from tests.handoff.test_console import login

MADRID = ZoneInfo("Europe/Madrid")
Sessions = Callable[[], Session]


def _local(year: int, month: int, day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=MADRID).astimezone(dt.UTC)


def _set(session_factory: Sessions, number: str, **values: Any) -> None:
    with session_factory() as session:
        session.execute(update(Ticket).where(Ticket.number == number).values(**values))
        session.commit()


def _ticket(session: Session, number: str) -> Ticket:
    return session.scalars(select(Ticket).where(Ticket.number == number)).one()


def _waiting(client: TestClient, headers: dict[str, str], number: str) -> dict[str, Any]:
    for step in ("claim", "start", "wait-on-customer"):
        response = client.post(f"/v1/tickets/{number}/{step}", headers=headers)
        assert response.status_code == 200, response.text
    return response.json()


# --- the due state ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "due_in_hours", "paused", "state"),
    [
        ("in_progress", 30, False, DueState.ON_TIME),
        ("new", 23, False, DueState.DUE_SOON),
        ("assigned", 24, False, DueState.DUE_SOON),  # the window's edge is due soon
        ("in_progress", 0, False, DueState.OVERDUE),
        ("in_progress", -5, False, DueState.OVERDUE),
        ("waiting_on_customer", -5, True, DueState.PAUSED),
        ("waiting_on_customer", 2, False, DueState.DUE_SOON),  # a queja keeps running
        ("resolved", -5, False, None),
        ("closed", 2, False, None),
    ],
)
def test_due_state(status: str, due_in_hours: float, paused: bool, state: DueState | None) -> None:
    now = _local(2026, 12, 2, 12)
    ticket = Ticket(
        status=status,
        due_at=now + dt.timedelta(hours=due_in_hours),
        sla_paused_at=now - dt.timedelta(hours=1) if paused else None,
    )
    assert due_state(ticket, now, 24) == state


def test_business_hours_of_an_unknown_queue_fail_at_startup(app: FastAPI) -> None:
    ctx = app.state.ctx
    hours = {"queues": {"biling": {"start": "08:00", "end": "16:00"}}}
    levels = ctx.levels.model_copy(update={"business_hours": BusinessHours.model_validate(hours)})
    misspelt = dataclasses.replace(ctx, levels=levels, sessions=sessionmaker())
    with pytest.raises(ValueError, match="biling"):
        sla.bind(misspelt)


def test_ticket_changes_outside_the_apps_sessions_are_refused() -> None:
    with Session() as session:  # not from AppContext.sessions: no service levels
        ticket = Ticket(status="in_progress", request_type="peticion")
        session.add(ticket)
        with pytest.raises(RuntimeError, match=r"AppContext\.sessions"):
            tickets.transition(ticket, "ana", Action.WAIT_ON_CUSTOMER)


# --- pausing and resuming the clock ----------------------------------------------------------


def test_waiting_on_the_customer_stops_the_clock_of_pausing_request_types_only(
    client: TestClient, tokens, make_ticket, session_factory
) -> None:
    paused = make_ticket()["number"]
    running = make_ticket()["number"]
    _set(session_factory, paused, request_type=RequestType.PETICION.value)
    _set(session_factory, running, request_type=RequestType.QUEJA.value)

    body = _waiting(client, tokens["agent"], paused)
    assert body["due_state"] == "paused" and body["sla_paused_at"] is not None
    body = _waiting(client, tokens["agent"], running)
    assert body["sla_paused_at"] is None and body["due_state"] != "paused"

    events = client.get(f"/v1/tickets/{paused}/events", headers=tokens["agent"]).json()
    assert events[-1]["kind"] == "wait_on_customer" and events[-1]["data"]["clock"] == "paused"
    events = client.get(f"/v1/tickets/{running}/events", headers=tokens["agent"]).json()
    assert "clock" not in events[-1]["data"]

    listed = client.get("/v1/tickets", headers=tokens["agent"]).json()["items"]
    assert {i["number"]: i["due_state"] for i in listed}[paused] == "paused"


def test_resuming_moves_the_due_date_by_the_paused_business_time(
    client: TestClient, tokens, make_ticket, session_factory, app: FastAPI
) -> None:
    number = make_ticket()["number"]
    _set(session_factory, number, request_type=RequestType.CONSULTA.value)
    before = dt.datetime.fromisoformat(_waiting(client, tokens["agent"], number)["due_at"])

    response = client.post(f"/v1/tickets/{number}/resume", headers=tokens["agent"])
    assert response.status_code == 200
    assert response.json()["sla_paused_at"] is None
    assert response.json()["due_state"] in {"on_time", "due_soon"}
    data = client.get(f"/v1/tickets/{number}/events", headers=tokens["agent"]).json()[-1]["data"]
    assert data["clock"] == "resumed"
    assert dt.datetime.fromisoformat(data["due_at_before"]) == before
    levels, zone = app.state.ctx.levels, app.state.ctx.timezone
    queue = response.json()["queue"]
    shift = dt.timedelta(seconds=data[sla.PAUSED_SECONDS])
    after = levels.add_business_time(before, shift, queue, zone)
    assert dt.datetime.fromisoformat(data["due_at_after"]) == after
    assert dt.datetime.fromisoformat(response.json()["due_at"]) == after


def test_a_pause_over_a_weekend_and_a_holiday_counts_business_hours_only(
    make_ticket, session_factory, app: FastAPI
) -> None:
    number = make_ticket()["number"]
    due = _local(2026, 12, 10, 18)  # Thu 10 Dec, closing time
    _set(
        session_factory,
        number,
        queue="general",
        request_type=RequestType.PETICION.value,
        status=Status.WAITING_ON_CUSTOMER.value,
        due_at=due,
        sla_paused_at=_local(2026, 12, 4, 17),  # Fri 17:00
        due_soon_notified_at=_local(2026, 12, 9, 9),
        overdue_notified_at=_local(2026, 12, 9, 9),
    )
    clock = sla.Clock.of(app.state.ctx)
    with session_factory() as session:
        ticket = _ticket(session, number)
        # resumed Wed 9 Dec 10:00: Fri 1 h + Mon 9 h + (Tue 8 Dec holiday) + Wed 1 h = 11 h
        data = sla.resume_clock(ticket, clock, _local(2026, 12, 9, 10))
        assert data[sla.PAUSED_SECONDS] == 11 * 3600
        # Thu 18:00 + 11 business hours: Fri 11 Dec 9 h, then Mon 14 Dec 9:00 + 2 h
        assert ticket.due_at == _local(2026, 12, 14, 11)
        assert ticket.sla_paused_at is None
        # five days away: the notices sent for the old date will go out again
        assert ticket.due_soon_notified_at is None and ticket.overdue_notified_at is None


def test_a_pause_shorter_than_a_second_leaves_a_closing_time_due_date_alone(
    make_ticket, session_factory, app: FastAPI
) -> None:
    number = make_ticket()["number"]
    due = _local(2026, 12, 7, 18)  # Mon 7 Dec, closing time; Tue 8 Dec is a holiday
    paused_at = _local(2026, 12, 3, 10)
    _set(
        session_factory,
        number,
        queue="general",
        request_type=RequestType.PETICION.value,
        status=Status.WAITING_ON_CUSTOMER.value,
        due_at=due,
        sla_paused_at=paused_at,
    )
    clock = sla.Clock.of(app.state.ctx)
    with session_factory() as session:
        ticket = _ticket(session, number)
        data = sla.resume_clock(ticket, clock, paused_at + dt.timedelta(milliseconds=400))
        assert data[sla.PAUSED_SECONDS] == 0
        assert ticket.due_at == due
        assert dt.datetime.fromisoformat(data["due_at_after"]) == due


def test_a_resume_that_stays_due_soon_keeps_the_due_soon_notice(
    make_ticket, session_factory, app: FastAPI
) -> None:
    number = make_ticket()["number"]
    notified = _local(2026, 12, 9, 9)
    _set(
        session_factory,
        number,
        queue="general",
        request_type=RequestType.PETICION.value,
        status=Status.WAITING_ON_CUSTOMER.value,
        due_at=_local(2026, 12, 9, 12),
        sla_paused_at=_local(2026, 12, 9, 10),
        due_soon_notified_at=notified,
        overdue_notified_at=notified,
    )
    with session_factory() as session:
        ticket = _ticket(session, number)
        sla.resume_clock(ticket, sla.Clock.of(app.state.ctx), _local(2026, 12, 9, 11))
        assert ticket.due_at == _local(2026, 12, 9, 13)
        assert ticket.due_soon_notified_at == notified and ticket.overdue_notified_at is None


def test_the_customer_replying_resumes_the_clock(
    client: TestClient, tokens, make_ticket, session_factory
) -> None:
    number = make_ticket()["number"]
    _set(session_factory, number, request_type=RequestType.SOLICITUD.value)
    _waiting(client, tokens["agent"], number)
    with session_factory() as session:
        ticket = _ticket(session, number)
        tickets.customer_reply(ticket, "Aquí tienen la información", "page")
        session.commit()
        assert ticket.status == Status.IN_PROGRESS.value and ticket.sla_paused_at is None
        resume = ticket.events[-1]
        assert resume.actor == tickets.CUSTOMER and resume.data["clock"] == "resumed"


def test_resolving_a_paused_ticket_ends_the_pause(
    client: TestClient, tokens, make_ticket, session_factory
) -> None:
    number = make_ticket()["number"]
    _set(session_factory, number, request_type=RequestType.PETICION.value)
    _waiting(client, tokens["agent"], number)
    response = client.post(
        f"/v1/tickets/{number}/resolve",
        json={"resolution_note": "Answered by phone"},
        headers=tokens["agent"],
    )
    assert response.status_code == 200
    assert response.json()["sla_paused_at"] is None and response.json()["due_state"] is None


def test_a_priority_change_keeps_the_time_already_paused(
    client: TestClient, tokens, make_ticket, session_factory, app: FastAPI
) -> None:
    number = make_ticket()["number"]
    with session_factory() as session:
        ticket = _ticket(session, number)
        ticket.events.append(
            TicketEvent(
                kind="resume",
                actor="ana",
                created_at=utcnow(),
                data={"clock": "resumed", sla.PAUSED_SECONDS: 5 * 3600},
            )
        )
        session.commit()
        created, rtype, queue = ticket.created_at, ticket.request_type, ticket.queue
    response = client.patch(
        f"/v1/tickets/{number}", json={"priority": "low"}, headers=tokens["agent"]
    )
    assert response.status_code == 200
    levels, zone = app.state.ctx.levels, app.state.ctx.timezone
    base = levels.due_at(created, RequestType(rtype), Priority.LOW, zone, queue)
    expected = levels.add_business_time(base, dt.timedelta(hours=5), queue, zone)
    assert dt.datetime.fromisoformat(response.json()["due_at"]) == expected


def test_each_queue_is_due_when_its_business_hours_end(
    make_ticket, session_factory, app: FastAPI
) -> None:
    billing = make_ticket(
        transcript=[{"role": "customer", "text": "La factura de noviembre tiene un importe mal"}]
    )
    other = make_ticket()
    levels, zone = app.state.ctx.levels, app.state.ctx.timezone
    assert billing["queue"] == "billing" and other["queue"] != "billing"
    with session_factory() as session:
        for number in (billing["number"], other["number"]):
            ticket = _ticket(session, number)
            assert ticket.due_at.astimezone(zone).time() == levels.hours(ticket.queue).end
        assert levels.hours("billing").end != levels.hours(other["queue"]).end


# --- due notices -----------------------------------------------------------------------------


@pytest.fixture
def agents(client: TestClient, tokens, session_factory) -> dict[str, str]:
    """Notice recipients: ana (billing, general), bruno (general only), plus accounts that get
    nothing: one without an e-mail, an inactive one."""
    for name, email, queues in [
        ("ana", "ana@nivel0.example", ["billing", "general"]),
        ("bruno", "bruno@nivel0.example", ["general"]),
        ("admin", None, ["billing"]),
    ]:
        account_id = _account_id(client, tokens, name)
        body = {"email": email, "queues": queues}
        response = client.patch(
            f"/v1/admin/accounts/{account_id}", json=body, headers=tokens["admin"]
        )
        assert response.status_code == 200, response.text
    with session_factory() as session:
        inactive = Account(name="carla", role="agent", active=False, email="c@nivel0.example")
        inactive.queues = ["billing", "general"]
        session.add(inactive)
        session.commit()
    return {"ana": "ana@nivel0.example", "bruno": "bruno@nivel0.example"}


def _account_id(client: TestClient, tokens, name: str) -> int:
    accounts = client.get("/v1/admin/accounts", headers=tokens["admin"]).json()
    return next(a["id"] for a in accounts if a["name"] == name)


def _outbox(session_factory: Sessions) -> set[tuple[str, str, str]]:
    with session_factory() as session:
        rows = session.execute(
            select(Ticket.number, EmailMessage.kind, EmailMessage.to_address).join(EmailMessage)
        )
        return {tuple(row) for row in rows if row[1] in {EmailKind.DUE_SOON, EmailKind.OVERDUE}}


def _announce(app: FastAPI, session_factory: Sessions, now: dt.datetime) -> int:
    with session_factory() as session:
        count = sla.announce_due(app.state.ctx, session, now)
        session.commit()
        return count


def test_due_tickets_are_announced_once_to_their_queues_agents(
    app: FastAPI, make_ticket, session_factory, agents
) -> None:
    now = _local(2026, 12, 2, 12)
    soon, late, later, paused, done = (make_ticket()["number"] for _ in range(5))
    _set(session_factory, soon, queue="billing", due_at=now + dt.timedelta(hours=3))
    _set(session_factory, late, queue="general", due_at=now - dt.timedelta(hours=1))
    _set(session_factory, later, queue="general", due_at=now + dt.timedelta(days=3))
    _set(
        session_factory,
        paused,
        queue="general",
        status=Status.WAITING_ON_CUSTOMER.value,
        due_at=now - dt.timedelta(hours=1),
        sla_paused_at=now - dt.timedelta(hours=2),
    )
    _set(
        session_factory,
        done,
        queue="general",
        status=Status.RESOLVED.value,
        due_at=now - dt.timedelta(hours=1),
    )

    assert _announce(app, session_factory, now) == 3
    assert _outbox(session_factory) == {
        (soon, "due_soon", agents["ana"]),
        (late, "overdue", agents["ana"]),
        (late, "overdue", agents["bruno"]),
    }
    assert _announce(app, session_factory, now + dt.timedelta(minutes=5)) == 0
    with session_factory() as session:
        assert _ticket(session, soon).due_soon_notified_at == now
        assert _ticket(session, late).overdue_notified_at == now
        assert _ticket(session, late).due_soon_notified_at is None  # no late "due soon"
        rows = session.scalars(select(EmailMessage).where(EmailMessage.kind == "overdue")).all()
        assert all(r.event_id is None and r.status == "pending" for r in rows)

    # the due-soon ticket becomes overdue: one more notice, of the other kind
    assert _announce(app, session_factory, now + dt.timedelta(hours=4)) == 1
    assert (soon, "overdue", agents["ana"]) in _outbox(session_factory)


def test_two_announcers_at_once_send_each_notice_once(
    app: FastAPI, make_ticket, session_factory, agents
) -> None:
    now = _local(2026, 12, 2, 12)
    number = make_ticket()["number"]
    _set(session_factory, number, queue="general", due_at=now - dt.timedelta(hours=1))
    first, second = session_factory(), session_factory()
    try:
        assert sla.announce_due(app.state.ctx, first, now) == 2  # claimed, not yet committed
        if app.state.ctx.engine.dialect.name == "postgresql":
            # a second process meanwhile: the first one's rows are locked, it skips them
            assert sla.announce_due(app.state.ctx, second, now) == 0
            second.commit()
            first.commit()
        else:
            first.commit()  # SQLite has one writer at a time: the second comes after it
        # after the commit: the notice is recorded as sent
        assert sla.announce_due(app.state.ctx, second, now) == 0
        second.commit()
    finally:
        first.close()
        second.close()
    assert _outbox(session_factory) == {
        (number, "overdue", agents["ana"]),
        (number, "overdue", agents["bruno"]),
    }


# --- the console queue -----------------------------------------------------------------------


def test_the_queue_page_flags_due_soon_overdue_and_paused_tickets(
    app: FastAPI, client: TestClient, tokens, make_ticket, session_factory
) -> None:
    now = utcnow()
    soon, late, paused, fine = (make_ticket()["number"] for _ in range(4))
    _set(session_factory, soon, due_at=now + dt.timedelta(hours=2))
    _set(session_factory, late, due_at=now - dt.timedelta(hours=2))
    _set(
        session_factory,
        paused,
        status=Status.WAITING_ON_CUSTOMER.value,
        due_at=now - dt.timedelta(hours=2),
        sla_paused_at=now - dt.timedelta(hours=3),
    )
    _set(session_factory, fine, due_at=now + dt.timedelta(days=5))
    browser = TestClient(app, base_url="https://testserver", raise_server_exceptions=False)
    token = tokens["agent"]["Authorization"].removeprefix("Bearer ")
    assert login(browser, token).status_code == 303

    page = browser.get("/console/").text
    rows = {number: _row(page, number) for number in (soon, late, paused, fine)}
    assert "Due soon" in rows[soon] and 'data-due-state="due_soon"' in rows[soon]
    assert "Overdue" in rows[late] and "Overdue" not in rows[paused]
    assert "Paused (waiting on customer)" in rows[paused]
    assert not any(flag in rows[fine] for flag in ("Due soon", "Overdue", "Paused"))

    filtered = browser.get("/console/", params={"due": "overdue"}).text
    assert late in filtered and all(n not in filtered for n in (soon, paused, fine))
    assert paused in browser.get("/console/", params={"due": "paused"}).text
    assert browser.get("/console/", params={"due": "someday"}).status_code == 400


def _row(page: str, number: str) -> str:
    start = page.index(f'data-number="{number}"')
    return page[start : page.index("</tr>", start)]


# --- agents' e-mail and queues ---------------------------------------------------------------


def test_admins_set_an_agents_email_and_queues(client: TestClient, tokens) -> None:
    ana = _account_id(client, tokens, "ana")
    path = f"/v1/admin/accounts/{ana}"
    body = {"email": "ana@nivel0.example", "queues": ["billing", "general", "billing"]}
    response = client.patch(path, json=body, headers=tokens["admin"])
    assert response.status_code == 200
    assert response.json()["email"] == "ana@nivel0.example"
    assert response.json()["queues"] == ["billing", "general"]

    response = client.patch(path, json={"queues": ["technical"]}, headers=tokens["admin"])
    assert response.json()["email"] == "ana@nivel0.example"  # only what is given changes
    assert response.json()["queues"] == ["technical"]
    response = client.patch(path, json={"email": None}, headers=tokens["admin"])
    assert response.json()["email"] is None and response.json()["queues"] == ["technical"]

    for bad in ({"email": "not-an-address"}, {"queues": ["no-such-queue"]}, {}):
        assert client.patch(path, json=bad, headers=tokens["admin"]).status_code == 422, bad
    bot = _account_id(client, tokens, "bot")
    response = client.patch(
        f"/v1/admin/accounts/{bot}", json={"email": "bot@x.example"}, headers=tokens["admin"]
    )
    assert response.status_code == 422 and "only agents and admins" in response.json()["detail"]
    assert client.patch(path, json={"queues": []}, headers=tokens["agent"]).status_code == 403
    assert (
        client.patch("/v1/admin/accounts/99999", json={"queues": []}, headers=tokens["admin"])
    ).status_code == 404


def test_the_cli_sets_an_agents_email_and_queues(
    client: TestClient, db_url: str, monkeypatch, capsys, session_factory
) -> None:
    monkeypatch.setenv("DATABASE_URL", db_url)
    args = ["--email", "dora@nivel0.example", "--queue", "billing", "--queue", "general"]
    assert cli.main(["create-token", "dora", "--role", "agent", *args]) == 0
    assert capsys.readouterr().out.strip()  # the token
    with session_factory() as session:
        dora = session.scalars(select(Account).where(Account.name == "dora")).one()
        assert (dora.email, dora.queues) == ("dora@nivel0.example", ["billing", "general"])

    assert cli.main(["set-agent", "dora", "--queue", "technical"]) == 0
    assert "queues technical" in capsys.readouterr().out
    assert cli.main(["set-agent", "dora", "--no-email"]) == 0
    with session_factory() as session:
        dora = session.scalars(select(Account).where(Account.name == "dora")).one()
        assert (dora.email, dora.queues) == (None, ["technical"])

    for bad, message in [
        (["set-agent", "dora", "--email", "nope"], "email"),
        (["set-agent", "dora", "--queue", "no-such-queue"], "unknown queue"),
        (["set-agent", "nobody", "--queue", "general"], "no account"),
        (["set-agent", "dora"], "give --email"),
    ]:
        with pytest.raises(SystemExit, match=message):
            cli.main(bad)
