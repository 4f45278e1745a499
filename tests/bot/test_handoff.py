"""action_submit_handoff, the ticket announcement and action_ticket_status against the REAL handoff
service (a subprocess: tests/support/handoff_service.py); "down" is a port nobody listens on.
"""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from actions import handoff_client, outbox
from actions.actions import (
    ActionAnnounceTicket,
    ActionFeedbackNo,
    ActionSearchKb,
    ActionStartHandoff,
    ActionSubmitHandoff,
)
from actions.handoff_client import HandoffClient, HandoffConfig
from actions.handoff_payload import conversation_id
from actions.outbox import HANDOFF, Outbox, OutboxSettings
from actions.ticket_status import ActionTicketStatus

from handoff_service.i18n import due_text
from handoff_service.schemas import TICKET_NUMBER_PATTERN
from tests.bot.helpers import Conversation, responses
from tests.support import HandoffServiceProcess, free_port, wait_until

pytestmark = pytest.mark.usefixtures("knowledge_base")

REFUND_QUESTION = {"en": "how long does a refund take", "es": "cuánto tarda el reembolso"}


@pytest.fixture
def use_service() -> Iterator[Callable[[Path, str, str | None], Outbox]]:
    """``use_service(path, url, token)`` points the process's outbox and client at ``url``."""

    def install(path: Path, url: str, token: str | None) -> Outbox:
        client = HandoffClient(HandoffConfig(url=url, token=token, timeout=5))
        settings = OutboxSettings(path=path, backoff_base=0.05, backoff_max=0.2, poll=0.05)
        box = Outbox(settings, client)
        outbox.configure(box)
        handoff_client.configure(client)
        return box

    yield install
    outbox.configure(None)
    handoff_client.configure(None)


@pytest.fixture
def down_url() -> str:
    return f"http://127.0.0.1:{free_port()}"  # nothing listens there


@pytest.fixture
def outbox_path(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "outbox.db"


def handed_off_conversation(sender: str, language: str = "en") -> Conversation:
    """Question, two unhelpful articles, handoff started, handoff form filled in."""
    conversation = Conversation(language, sender_id=sender)
    conversation.run(ActionSearchKb(), REFUND_QUESTION[language])
    conversation.run(ActionFeedbackNo(), "/deny", intent="deny")
    messages, _ = conversation.run(ActionFeedbackNo(), "no", intent="deny")
    assert responses(messages) == ["utter_no_more_articles", "utter_handoff"]
    assert conversation.active_loop == "handoff_form"
    conversation.slots.update(
        customer_name="Lucía Pérez",
        email="lucia@example.com",
        order_number="VT-123456",
        contact_consent=True,
    )
    return conversation


def test_delivered_handoff_tells_number_queue_and_due_date(
    service: HandoffServiceProcess,
    outbox_path: Path,
    use_service: Callable[[Path, str, str | None], Outbox],
) -> None:
    use_service(outbox_path, service.url, service.bot_token)
    conversation = handed_off_conversation("web-delivered-1")

    messages, _ = conversation.run(ActionSubmitHandoff(), "/affirm", intent="affirm")

    assert responses(messages) == ["utter_handoff_created"]
    number = messages[0]["number"]
    assert re.match(TICKET_NUMBER_PATTERN, number)
    assert messages[0]["queue"].startswith("our ") and messages[0]["queue"].endswith(" team")
    assert messages[0]["due"].startswith("no later than ")
    assert conversation.slots["ticket_number"] == number
    assert conversation.slots["handoff_pending"] is False
    assert conversation.slots["contact_consent"] is None  # reset for a later handoff

    with service.api() as api:
        ticket = api.get(f"/v1/tickets/{number}").json()
    assert ticket["conversation_id"] == conversation_id(conversation.tracker("x"))
    assert ticket["reason"] == "negative_feedback"
    assert ticket["customer_email"] == "lucia@example.com"
    assert ticket["customer_name"] == "Lucía Pérez"
    assert ticket["order_number"] == "VT-123456"
    assert ticket["language"] == "en" and ticket["channel"] == "web"
    assert [a["feedback"] for a in ticket["kb_articles"]] == ["not_helpful", "not_helpful"]
    # The ranking of the message that started the handoff, not of the form's "yes".
    assert ticket["intent_ranking"][0]["name"] == "deny"
    assert ticket["transcript"][0] == {**ticket["transcript"][0], "text": REFUND_QUESTION["en"]}

    # Asking for a person again in the same conversation: the same ticket, no new form.
    messages, events = conversation.run(ActionStartHandoff(), "talk to a human", "request_human")
    assert responses(messages) == ["utter_handoff_already_created"]
    assert messages[0]["number"] == number
    assert not any(e["event"] == "followup" for e in events)
    assert service.tickets_per_conversation()[ticket["conversation_id"]] == 1


def test_service_down_records_then_announces_the_number_on_the_next_message(
    service: HandoffServiceProcess,
    outbox_path: Path,
    down_url: str,
    use_service: Callable[[Path, str, str | None], Outbox],
) -> None:
    use_service(outbox_path, down_url, service.bot_token)
    conversation = handed_off_conversation("web-pending-1", "es")

    messages, _ = conversation.run(ActionSubmitHandoff(), "sí", intent="affirm")
    assert responses(messages) == ["utter_handoff_recorded"]
    assert conversation.slots["handoff_pending"] is True
    assert conversation.slots["ticket_number"] is None

    # Still down: the next message says nothing about it; a new handoff says it is recorded.
    messages, _ = conversation.run(ActionAnnounceTicket(), "hola")
    assert responses(messages) == []
    messages, _ = conversation.run(
        ActionStartHandoff(), "quiero hablar con alguien", "request_human"
    )
    assert responses(messages) == ["utter_handoff_already_recorded"]

    box = use_service(outbox_path, service.url, service.bot_token)
    box.start_worker()
    try:
        key = conversation_id(conversation.tracker("x"))
        wait_until(
            lambda: (entry := box.lookup(key)) is not None and entry.delivered,
            "the worker to deliver the recorded handoff",
            timeout=60,
        )
    finally:
        box.stop_worker()
    messages, _ = conversation.run(ActionAnnounceTicket(), "gracias")
    assert responses(messages) == ["utter_handoff_ticket_ready"]
    number = messages[0]["number"]
    assert re.match(TICKET_NUMBER_PATTERN, number)
    assert messages[0]["due"].startswith("como tarde el ")
    assert messages[0]["queue"].startswith("nuestro equipo")
    assert conversation.slots["ticket_number"] == number
    assert conversation.slots["handoff_pending"] is False
    messages, _ = conversation.run(ActionAnnounceTicket(), "ok")
    assert responses(messages) == []  # announced once
    assert service.tickets_per_conversation()[key] == 1


@pytest.mark.parametrize("language", ["en", "es"])
def test_handoff_neither_delivered_nor_stored_is_not_called_recorded(
    outbox_path: Path,
    down_url: str,
    use_service: Callable[[Path, str, str | None], Outbox],
    language: str,
) -> None:
    """Service down and the outbox file unwritable (replaced by a directory): the customer is
    told the request could not be recorded and to try again, never that it was recorded."""
    box = use_service(outbox_path, down_url, "token")
    for leftover in outbox_path.parent.glob(outbox_path.name + "*"):
        leftover.unlink()
    outbox_path.mkdir()  # SQLite cannot open it: every write fails
    conversation = handed_off_conversation(f"web-unstored-{language}", language)

    messages, _ = conversation.run(ActionSubmitHandoff(), "yes", intent="affirm")

    assert responses(messages) == ["utter_handoff_failed"]
    assert conversation.slots["handoff_pending"] is None
    assert conversation.slots["ticket_number"] is None
    with pytest.raises(sqlite3.OperationalError):
        box.lookup(conversation_id(conversation.tracker("x")))


@pytest.fixture(scope="module")
def tiny_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HandoffServiceProcess]:
    """A real service whose body limit (300 bytes) no handoff fits: it refuses every one."""
    workdir = tmp_path_factory.mktemp("tiny-service")
    with HandoffServiceProcess(workdir, env={"HANDOFF_MAX_BODY_BYTES": "300"}) as service:
        yield service


@pytest.mark.parametrize("language", ["en", "es"])
def test_a_handoff_the_service_refuses_is_not_called_recorded(
    tiny_service: HandoffServiceProcess,
    outbox_path: Path,
    use_service: Callable[[Path, str, str | None], Outbox],
    language: str,
) -> None:
    box = use_service(outbox_path, tiny_service.url, tiny_service.bot_token)
    conversation = handed_off_conversation(f"web-refused-{language}", language)

    messages, _ = conversation.run(ActionSubmitHandoff(), "yes", intent="affirm")

    assert responses(messages) == ["utter_handoff_failed"]
    assert conversation.slots["handoff_pending"] is None
    entry = box.lookup(conversation_id(conversation.tracker("x")))
    assert entry is not None and entry.rejected and "413" in (entry.last_error or "")


def test_a_recorded_handoff_the_service_then_refuses_is_reported_as_failed(
    tiny_service: HandoffServiceProcess,
    outbox_path: Path,
    down_url: str,
    use_service: Callable[[Path, str, str | None], Outbox],
) -> None:
    use_service(outbox_path, down_url, tiny_service.bot_token)
    conversation = handed_off_conversation("web-recorded-then-refused", "es")
    messages, _ = conversation.run(ActionSubmitHandoff(), "sí", intent="affirm")
    assert responses(messages) == ["utter_handoff_recorded"]

    box = use_service(outbox_path, tiny_service.url, tiny_service.bot_token)
    key = conversation_id(conversation.tracker("x"))

    def refused() -> bool:  # the service is back, and refuses it
        box.run_pending()
        entry = box.lookup(key)
        return entry is not None and entry.rejected

    wait_until(refused, "the service to refuse the recorded handoff", timeout=60)
    messages, _ = conversation.run(ActionAnnounceTicket(), "hola")
    assert responses(messages) == ["utter_handoff_failed"]
    assert conversation.slots["handoff_pending"] is False
    messages, _ = conversation.run(ActionAnnounceTicket(), "ok")
    assert responses(messages) == []  # said once


def test_cancelled_form_sends_nothing(
    outbox_path: Path, use_service: Callable[[Path, str, str | None], Outbox]
) -> None:
    box = use_service(outbox_path, "http://127.0.0.1:9", "token")
    conversation = handed_off_conversation("web-cancel-1")
    conversation.slots["contact_consent"] = False

    messages, _ = conversation.run(ActionSubmitHandoff(), "cancel", intent="deny")

    assert responses(messages) == ["utter_handoff_cancelled"]
    assert box.entries(HANDOFF) == []
    assert conversation.slots["handoff_pending"] is None
    assert conversation.slots["ticket_number"] is None


def test_ticket_status(
    service: HandoffServiceProcess,
    outbox_path: Path,
    down_url: str,
    use_service: Callable[[Path, str, str | None], Outbox],
) -> None:
    use_service(outbox_path, service.url, service.bot_token)
    first = handed_off_conversation("web-status-1")
    messages, _ = first.run(ActionSubmitHandoff(), "yes", intent="affirm")
    number = messages[0]["number"]

    later = Conversation("en", sender_id="web-status-2")  # a later conversation
    later.slots.update(queried_ticket=number, email="lucia@example.com")
    messages, _ = later.run(ActionTicketStatus(), "lucia@example.com", intent="inform")
    assert responses(messages) == ["utter_ticket_status"]
    assert messages[0]["number"] == number
    assert messages[0]["status"]  # the service's status text
    assert messages[0]["due"].startswith("no later than ")
    assert later.slots["queried_ticket"] is None

    later.slots.update(queried_ticket=number, email="someone@else.example")
    messages, _ = later.run(ActionTicketStatus(), "someone@else.example", intent="inform")
    assert responses(messages) == ["utter_ticket_not_found"]
    assert later.slots["email"] is None  # asked again next time
    later.slots.update(queried_ticket="T-2026-999999", email="lucia@example.com")
    messages, _ = later.run(ActionTicketStatus(), "lucia@example.com", intent="inform")
    assert responses(messages) == ["utter_ticket_not_found"]  # the same neutral answer

    messages, _ = later.run(ActionTicketStatus(), "cancel", intent="inform")  # form cancelled
    assert responses(messages) == ["utter_status_cancelled"]

    use_service(outbox_path, down_url, service.bot_token)
    later.slots.update(queried_ticket=number, email="lucia@example.com")
    messages, _ = later.run(ActionTicketStatus(), "lucia@example.com", intent="inform")
    assert responses(messages) == ["utter_ticket_status_unavailable"]


@pytest.mark.parametrize(
    ("due_at", "language", "expected"),
    [
        (dt.datetime(2026, 12, 24, 22, 0, tzinfo=dt.UTC), "es",
         "como tarde el jueves 24 de diciembre (dentro de 3 días)"),
        (dt.datetime(2026, 12, 24, 22, 0, tzinfo=dt.UTC), "en",
         "no later than Thursday 24 December (in 3 days)"),
        # 23:30 UTC is already the 25th in Madrid: the date is the organisation's day
        (dt.datetime(2026, 12, 24, 23, 30, tzinfo=dt.UTC), "es",
         "como tarde el viernes 25 de diciembre (dentro de 4 días)"),
        (dt.datetime(2026, 12, 21, 22, 0, tzinfo=dt.UTC), "en",
         "no later than Monday 21 December (today)"),
        (dt.datetime(2026, 12, 22, 12, 0), "es", "como tarde el martes 22 de diciembre (mañana)"),
        (dt.datetime(2026, 12, 20, 12, 0, tzinfo=dt.UTC), "en", "no later than Sunday 20 December"),
        (dt.datetime(2027, 1, 1, 12, 0, tzinfo=dt.UTC), "fr",  # unknown language: English
         "no later than Friday 1 January (in 11 days)"),
    ],
)  # fmt: skip
def test_due_date_in_words(due_at: dt.datetime, language: str, expected: str) -> None:
    now = dt.datetime(2026, 12, 21, 9, 0, tzinfo=dt.UTC)
    assert due_text(due_at, language, ZoneInfo("Europe/Madrid"), now) == expected
