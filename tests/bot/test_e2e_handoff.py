"""End to end through the REST channel: the real Rasa server, action server and handoff
service (subprocesses). A conversation is handed off and gets its ticket number; a later
conversation asks for the ticket's status. The FAULT test stops the handoff service, hands
over several conversations (each told that its request is recorded), starts the service again
and checks that every handoff arrives exactly once and is announced in its conversation.

Waits are bounded polls for a condition, never timing assertions.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from actions.outbox import HANDOFF, UNANSWERED, OutboxStore

from tests.bot.servers import ACTION_SECRET, TRAIN_HINT, ChatServers, latest_model
from tests.support import WAIT_SECONDS, HandoffServiceProcess, free_port, wait_until

pytestmark = pytest.mark.e2e

TICKET = re.compile(r"T-\d{4}-\d{6,}")
FAULT_CONVERSATIONS = 5


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[ChatServers, HandoffServiceProcess, Path]]:
    model = latest_model()
    if model is None:
        pytest.fail(TRAIN_HINT, pytrace=False)
    workdir = tmp_path_factory.mktemp("e2e-handoff")
    action_port = free_port()  # the service's erasure asks this action server too
    service = HandoffServiceProcess(
        workdir,
        env={
            "HANDOFF_ACTION_SERVER_URLS": f"http://127.0.0.1:{action_port}",
            "HANDOFF_ACTION_SECRET": ACTION_SECRET,
        },
    )
    service.start()
    outbox_path = workdir / "outbox.db"
    env = {
        "HANDOFF_SERVICE_URL": service.url,
        "HANDOFF_SERVICE_TOKEN": service.bot_token,
        "HANDOFF_TIMEOUT_SECONDS": "5",
        "NIVEL0_OUTBOX_PATH": str(outbox_path),
        "NIVEL0_OUTBOX_BACKOFF_BASE_SECONDS": "0.2",
        "NIVEL0_OUTBOX_BACKOFF_MAX_SECONDS": "1",
        "NIVEL0_OUTBOX_POLL_SECONDS": "0.2",
    }
    try:
        with ChatServers(
            log_dir=workdir / "logs", model=model, env=env, action_port=action_port
        ) as servers:
            yield servers, service, outbox_path
    finally:
        service.stop()


class Chat:
    def __init__(self, servers: ChatServers, language: str = "en"):
        self.servers = servers
        self.sender = f"e2e-{uuid.uuid4().hex[:8]}"
        self.metadata = {"language": language}

    def say(self, message: str) -> list[str]:
        reply = self.servers.say(self.sender, message, self.metadata)
        return [m.get("text", "") for m in reply]


def tickets_of(service: HandoffServiceProcess, sender: str) -> dict[str, int]:
    """Tickets per conversation id of ``sender`` (ids are ``<sender>:<session start>``)."""
    counts = service.tickets_per_conversation()
    return {c: n for c, n in counts.items() if c == sender or c.startswith(f"{sender}:")}


def test_handoff_form_ticket_and_status_in_a_later_conversation(
    stack: tuple[ChatServers, HandoffServiceProcess, Path],
) -> None:
    servers, service, _ = stack
    if not service.running:
        service.start()
    chat = Chat(servers)
    chat.say("how long does a refund take?")
    chat.say("/deny")
    reply = chat.say("no")
    assert reply[-1] == "What's your name?", reply
    assert chat.say("Lucía Pérez")[-1].startswith("Which e-mail address")
    reply = chat.say("lucia at example dot com")
    assert reply[0] == "That doesn't look like a valid e-mail address."
    assert reply[-1].startswith("Which e-mail address")
    reply = chat.say("lucia@example.com")
    assert reply[-1].startswith("What's your order number?")  # a refund: order topic
    reply = chat.say("VT-123456")
    assert reply[-1].startswith("Do we have your permission to contact you")
    reply = chat.say("/affirm")
    assert len(reply) == 1 and reply[0].startswith("Done: your request has the number T-"), reply
    assert "no later than" in reply[0] and "team will look into it" in reply[0]
    number = TICKET.search(reply[0]).group(0)  # type: ignore[union-attr]
    assert list(tickets_of(service, chat.sender).values()) == [1]
    with service.api() as api:
        ticket = api.get(f"/v1/tickets/{number}").json()
    assert ticket["conversation_id"].startswith(chat.sender)
    assert ticket["customer_email"] == "lucia@example.com"
    assert ticket["order_number"] == "VT-123456"
    assert ticket["reason"] == "negative_feedback"
    assert [a["feedback"] for a in ticket["kb_articles"]] == ["not_helpful", "not_helpful"]
    assert ticket["transcript"][0]["text"] == "how long does a refund take?"
    assert ticket["intent_ranking"][0]["name"] == "deny"

    def reported() -> set[str]:  # the unanswered question, delivered by the outbox's worker
        with service.api() as api:
            rows = api.get("/v1/unanswered", params={"limit": 1000}).json()
        return {r["reason"] for r in rows if r["conversation_id"] == ticket["conversation_id"]}

    wait_until(lambda: reported() == {"negative_feedback", "handoff"}, "the gap reports")

    def events() -> list[str]:  # the conversation's events, delivered by the outbox's worker
        return [kind for c, kind in service.conversation_events() if c == ticket["conversation_id"]]

    expected = ["conversation_started", "article_shown", "feedback", "article_shown"]
    wait_until(lambda: events()[-1:] == ["handoff"], "the conversation's events")
    assert events() == [*expected, "feedback", "handoff"]

    later = Chat(servers, "es")  # a new conversation asks about the ticket
    reply = later.say(f"¿Cómo va mi ticket {number}?")
    assert reply[-1].startswith("¿A qué correo electrónico"), reply
    reply = later.say("lucia@example.com")
    assert reply[0].startswith(f"Tu consulta {number}: "), reply
    assert "Respuesta prevista como tarde el " in reply[0]

    reply = Chat(servers).say(f"status of my ticket {number}")
    assert reply[-1].startswith("Which e-mail address"), reply


def test_handoff_cancelled_in_spanish_creates_no_ticket(
    stack: tuple[ChatServers, HandoffServiceProcess, Path],
) -> None:
    servers, service, _ = stack
    if not service.running:
        service.start()
    chat = Chat(servers, "es")
    reply = chat.say("quiero hablar con una persona")
    assert reply[-1] == "¿Cómo te llamas?"
    assert chat.say("Ana")[-1].startswith("¿A qué correo")
    assert chat.say("ana@example.com")[-1].startswith("Cuéntame en una frase")
    reply = chat.say("mi correo es ana.garcia@example.com")  # a correction mid-form
    assert reply[0] == "De acuerdo, usaré ana.garcia@example.com."
    assert reply[-1].startswith("Cuéntame en una frase")
    assert chat.say("la tele no enciende")[-1].startswith("¿Nos das permiso")
    reply = chat.say("/deny")
    assert reply == [
        "De acuerdo, no paso tu consulta a ninguna persona. Si cambias de idea, escribe "
        "«hablar con una persona»."
    ]
    assert tickets_of(service, chat.sender) == {}


#: A Luhn-valid card, a valid DNI and a valid IBAN, and the ways they could be stored.
CARD, DNI, IBAN = "4111 1111 1111 1111", "12345678Z", "ES91 2100 0418 4502 0005 1332"
RAW = (CARD, "4111111111111111", DNI, "12345678", IBAN, "ES9121000418", "2100 0418 4502")


def stored_anywhere(root: Path, needles: tuple[str, ...]) -> list[tuple[str, str]]:
    """(file, needle) for every file under ``root`` (databases, their WAL files, logs, KB
    drafts) whose bytes contain a needle."""
    found = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        data = path.read_bytes()
        found += [(str(path), n) for n in needles if n.encode() in data]
    return found


def test_a_card_a_dni_and_an_iban_typed_in_the_chat_are_stored_nowhere(
    stack: tuple[ChatServers, HandoffServiceProcess, Path],
) -> None:
    """Every store: Rasa's tracker, the action server's outbox, the handoff service's database
    (ticket, transcript, events, unanswered questions) and every log and file of the stack."""
    servers, service, outbox_path = stack
    if not service.running:
        service.start()
    chat = Chat(servers, "es")
    assert chat.say("quiero hablar con una persona")[-1] == "¿Cómo te llamas?"
    assert chat.say("Lucía Pérez")[-1].startswith("¿A qué correo")
    assert chat.say("lucia.perez@example.com")[-1].startswith("Cuéntame en una frase")
    raw = servers.say(
        chat.sender,
        f"me cobraron dos veces con la tarjeta {CARD}, mi DNI es {DNI} y mi IBAN {IBAN}",
        chat.metadata,
    )
    # Rasa's channel answers first with the redacted text (for the widget's storage).
    assert raw[0]["custom"] == {
        "redacted": "me cobraron dos veces con la tarjeta [card ****1111], mi DNI es "
        "[national ID] y mi IBAN [IBAN ****1332]"
    }
    assert raw[-1]["text"].startswith("¿Nos das permiso"), raw
    reply = chat.say("/affirm")
    number = TICKET.search(reply[-1]).group(0)  # type: ignore[union-attr]

    with service.api() as api:
        ticket = api.get(f"/v1/tickets/{number}").json()
        assert "[card ****1111]" in json.dumps(ticket, ensure_ascii=False)

    def delivered() -> bool:
        with service.api() as api:
            rows = api.get("/v1/unanswered", params={"limit": 1000}).json()
        return any(r["conversation_id"] == ticket["conversation_id"] for r in rows)

    wait_until(delivered, "the handoff's unanswered-question report")
    with service.api() as api:
        stored = {
            "ticket": api.get(f"/v1/tickets/{number}").text,
            "events": api.get(f"/v1/tickets/{number}/events").text,
            "unanswered": api.get("/v1/unanswered", params={"limit": 1000}).text,
        }
    stored["tracker"] = httpx.get(f"{servers.rasa_url}/conversations/{chat.sender}/tracker").text
    for name, text in stored.items():
        assert not [n for n in RAW if n in text], name
    assert stored_anywhere(outbox_path.parent, RAW) == []


def test_one_erasure_call_covers_the_tickets_and_the_bots_outbox(
    stack: tuple[ChatServers, HandoffServiceProcess, Path],
) -> None:
    """A customer with a ticket and a handoff still waiting in the bot's outbox (the service is
    down, so it stays there): one erasure (the service's CLI, the same function as ``POST
    /v1/privacy/erase``) deletes both, the second through the action server."""
    servers, service, outbox_path = stack
    if not service.running:
        service.start()
    delivered, waiting = Chat(servers), Chat(servers)
    for chat, email in ((delivered, "marta.ruiz@example.com"), (waiting, "Marta.Ruiz@example.com")):
        if chat is waiting:
            service.stop()
        for text in ("I want to talk to a person", "Marta Ruiz", email, "My TV does not turn on"):
            chat.say(text)
        chat.say("yes")
    outbox = OutboxStore(outbox_path)
    assert [
        e.state for e in outbox.entries(HANDOFF) if e.conversation_id.startswith(waiting.sender)
    ] == ["pending"]

    counts = json.loads(service.cli("privacy-erase", "--email", "marta.ruiz@example.com"))

    assert counts["tickets"] == 1 and counts["action_servers_unreachable"] == 0
    assert counts["outbox_rows"] >= 1
    assert not [e for e in outbox.entries() if e.conversation_id.startswith(waiting.sender)]
    service.start()
    assert tickets_of(service, waiting.sender) == {} and tickets_of(service, delivered.sender) == {}


def hand_off_while_down(chat: Chat, index: int) -> list[str]:
    reply = chat.say("I want to talk to a person")
    assert reply[-1] == "What's your name?", reply
    chat.say(f"Customer {index}")
    chat.say(f"customer{index}@example.com")
    assert chat.say("My TV does not turn on")[-1].startswith("Do we have your permission")
    return chat.say("yes")


def test_fault_service_down_every_handoff_arrives_exactly_once(
    stack: tuple[ChatServers, HandoffServiceProcess, Path],
) -> None:
    servers, service, outbox_path = stack
    if not service.running:
        service.start()
    service.stop()

    chats = [Chat(servers) for _ in range(FAULT_CONVERSATIONS)]
    for index, chat in enumerate(chats):
        reply = hand_off_while_down(chat, index)
        assert reply == [
            "Your request has been recorded and we'll answer you by e-mail. As soon as it has "
            "a tracking number I'll tell you."
        ], reply
    outbox = OutboxStore(outbox_path)
    ours = [
        e
        for e in outbox.entries(HANDOFF)
        if any(e.conversation_id.startswith(c.sender) for c in chats)
    ]
    assert len(ours) == FAULT_CONVERSATIONS and all(e.pending for e in ours)

    service.start()  # the action server's worker delivers the stored handoffs

    def drained() -> bool:
        entries = [outbox.get(HANDOFF, e.key) for e in ours]
        unanswered = [e for e in outbox.entries(UNANSWERED) if e.conversation_id in keys]
        return all(e is not None and e.delivered for e in entries) and not unanswered

    keys = {e.conversation_id for e in ours}

    wait_until(
        drained,
        "the action server's outbox worker to deliver every handoff and unanswered question",
        WAIT_SECONDS,
    )
    counts = service.tickets_per_conversation()
    for chat in chats:
        mine = {c: n for c, n in counts.items() if c.startswith(f"{chat.sender}:")}
        assert list(mine.values()) == [1], (chat.sender, mine)  # no loss, no duplicate

    for chat in chats:
        entry = next(e for e in ours if e.conversation_id.startswith(chat.sender))
        number = outbox.get(HANDOFF, entry.key).number  # type: ignore[union-attr]
        reply = chat.say("thanks")
        assert any(t.startswith(f"Your request now has a number: {number}.") for t in reply), reply
        assert not any("now has a number" in t for t in chat.say("ok"))  # announced once
