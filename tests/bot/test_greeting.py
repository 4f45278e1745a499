"""action_greet and the ticket-status answer against the REAL handoff service (a subprocess:
tests/support/handoff_service.py): a returning customer with an unread reply on their open
request hears about it, with the private page's link; nobody else gets that link.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from actions import handoff_client
from actions.conversation import response_text
from actions.greeting import ActionGreet
from actions.handoff_client import HandoffClient, HandoffConfig
from actions.handoff_payload import conversation_id
from actions.ticket_status import ActionTicketStatus
from sqlalchemy import select

from handoff_service.db import make_engine
from handoff_service.models import Ticket
from tests.bot.helpers import DOMAIN, Conversation, responses
from tests.handoff.conftest import handoff_payload
from tests.support import HandoffServiceProcess, free_port

EARLIER_SESSION = 1_763_000_000.0  # the session that handed off (Conversation starts later)


@pytest.fixture
def use_service() -> Iterator[Callable[[str, str | None], None]]:
    """``use_service(url, token)`` points the process's handoff client at ``url``."""

    def install(url: str, token: str | None) -> None:
        handoff_client.configure(HandoffClient(HandoffConfig(url=url, token=token, timeout=5)))

    yield install
    handoff_client.configure(None)


def hand_off(service: HandoffServiceProcess, sender: str, language: str) -> str:
    """A ticket handed off from an earlier session of ``sender``; returns its number."""
    earlier = Conversation(language, sender_id=sender)
    earlier.events[0]["timestamp"] = EARLIER_SESSION
    payload = handoff_payload(
        conversation_id=conversation_id(earlier.tracker("x")), language=language
    )
    with service.api() as api:
        response = api.post(
            "/v1/handoffs",
            json=payload,
            headers={"Authorization": f"Bearer {service.bot_token}"},
        )
        assert response.status_code == 201, response.text
        number = response.json()["number"]
        assert api.post(f"/v1/tickets/{number}/claim").status_code == 200
    return number


def agent_reply(service: HandoffServiceProcess, number: str, body: str) -> None:
    with service.api() as api:
        response = api.post(
            f"/v1/tickets/{number}/comments", json={"body": body, "visibility": "customer"}
        )
        assert response.status_code == 201, response.text


def access_key(service: HandoffServiceProcess, number: str) -> str:
    engine = make_engine(service.database_url)
    try:
        with engine.connect() as connection:
            query = select(Ticket.access_key).where(Ticket.number == number)
            return connection.execute(query).scalar_one()
    finally:
        engine.dispose()


def rendered(message: dict[str, Any], language: str) -> str:
    """The message's text as Rasa fills the domain response in ``language``."""
    text = response_text(DOMAIN, message["response"], language)
    for name, value in message.items():
        text = text.replace("{" + name + "}", str(value))
    return text


def greet(sender: str, language: str, text: str = "hola") -> list[dict[str, Any]]:
    messages, events = Conversation(language, sender_id=sender).run(
        ActionGreet(), text, intent="greet"
    )
    assert events == []
    return messages


@pytest.mark.parametrize(
    ("language", "sender", "expected"),
    [
        ("es", "web-vuelve-1", "Tienes una respuesta nueva en tu consulta {number}: «{reply}» "
         "Léela y responde aquí: {link}"),
        # a sender id the service would refuse (a space): the bot sends its hash, both times
        ("en", "web back 1", "You have a new reply on your request {number}: \"{reply}\" "
         "Read it and answer here: {link}"),
    ],
)  # fmt: skip
def test_returning_customer_hears_about_the_new_reply_once(
    service: HandoffServiceProcess,
    use_service: Callable[[str, str | None], None],
    language: str,
    sender: str,
    expected: str,
) -> None:
    use_service(service.url, service.bot_token)
    number = hand_off(service, sender, language)
    reply = "Hemos enviado un pedido nuevo." if language == "es" else "We sent a new order."
    agent_reply(service, number, reply)

    messages = greet(sender, language)

    assert responses(messages) == ["utter_greet", "utter_ticket_new_reply"]
    link = messages[1]["link"]
    assert link.endswith(f"/t/{access_key(service, number)}")
    assert rendered(messages[1], language) == expected.format(number=number, reply=reply, link=link)
    # Shown = seen: the next greeting is a plain one, until the agent writes again.
    assert responses(greet(sender, language)) == ["utter_greet"]
    agent_reply(service, number, "Otra cosa." if language == "es" else "One more thing.")
    assert responses(greet(sender, language)) == ["utter_greet", "utter_ticket_new_reply"]


def test_several_unread_replies_are_counted_and_the_latest_shown(
    service: HandoffServiceProcess, use_service: Callable[[str, str | None], None]
) -> None:
    use_service(service.url, service.bot_token)
    number = hand_off(service, "web-vuelve-2", "es")
    agent_reply(service, number, "Estamos revisándolo.")
    agent_reply(service, number, "Ya tienes el reembolso.")

    messages = greet("web-vuelve-2", "es")

    assert responses(messages) == ["utter_greet", "utter_ticket_new_replies"]
    assert rendered(messages[1], "es") == (
        f"Tienes 2 respuestas nuevas en tu consulta {number}. La última: «Ya tienes el "
        f"reembolso.» Léelas y responde aquí: {messages[1]['link']}"
    )


def test_no_unread_reply_or_another_sender_gets_the_plain_greeting(
    service: HandoffServiceProcess, use_service: Callable[[str, str | None], None]
) -> None:
    use_service(service.url, service.bot_token)
    assert responses(greet("web-nunca-escribio", "es")) == ["utter_greet"]  # no ticket
    number = hand_off(service, "web-vuelve-3", "en")
    assert responses(greet("web-vuelve-3", "en", "hi")) == ["utter_greet"]  # no reply yet

    agent_reply(service, number, "We are on it.")
    for other in ("web-vuelve", "web-vuelve-30", "web-otro"):
        messages = greet(other, "en", "hi")
        assert responses(messages) == ["utter_greet"]
        assert number not in str(messages)
    # Nobody else's greeting marked the reply as seen.
    assert responses(greet("web-vuelve-3", "en", "hi")) == ["utter_greet", "utter_ticket_new_reply"]


def test_service_down_or_no_token_still_greets(
    service: HandoffServiceProcess, use_service: Callable[[str, str | None], None]
) -> None:
    use_service(service.url, service.bot_token)
    number = hand_off(service, "web-vuelve-4", "es")
    agent_reply(service, number, "Te hemos respondido.")

    use_service(f"http://127.0.0.1:{free_port()}", service.bot_token)  # nothing listens there
    assert responses(greet("web-vuelve-4", "es")) == ["utter_greet"]
    use_service(service.url, None)
    assert responses(greet("web-vuelve-4", "es")) == ["utter_greet"]
    service.stop()
    try:
        use_service(service.url, service.bot_token)
        assert responses(greet("web-vuelve-4", "es")) == ["utter_greet"]
    finally:
        service.start()
    # The reply was never shown, so it is still news.
    assert responses(greet("web-vuelve-4", "es")) == ["utter_greet", "utter_ticket_new_reply"]


def test_status_lookup_shows_the_latest_reply_and_no_link(
    service: HandoffServiceProcess, use_service: Callable[[str, str | None], None]
) -> None:
    use_service(service.url, service.bot_token)
    number = hand_off(service, "web-vuelve-5", "en")
    agent_reply(service, number, "We asked the carrier.")
    agent_reply(service, number, "The carrier lost it; a new one is on its way.")

    stranger = Conversation("en", sender_id="web-someone")  # any chat knowing number + e-mail
    stranger.slots.update(queried_ticket=number, email="lucia@example.com")
    messages, _ = stranger.run(ActionTicketStatus(), "lucia@example.com", intent="inform")

    assert responses(messages) == [
        "utter_ticket_status",
        "utter_ticket_latest_message",
        "utter_ticket_page_in_emails",
    ]
    assert messages[1]["message"] == "The carrier lost it; a new one is on its way."
    assert "link" in rendered(messages[2], "en")
    assert access_key(service, number) not in str(messages) and "/t/" not in str(messages)
    # A lookup by number + e-mail does not count as reading: the owner still hears about it.
    assert responses(greet("web-vuelve-5", "en", "hi")) == [
        "utter_greet",
        "utter_ticket_new_replies",
    ]


def test_status_lookup_from_the_handing_over_chat_links_the_private_page(
    service: HandoffServiceProcess, use_service: Callable[[str, str | None], None]
) -> None:
    use_service(service.url, service.bot_token)
    number = hand_off(service, "web-vuelve-6", "es")
    agent_reply(service, number, "Hemos pedido el justificante a la transportista.")

    own = Conversation("es", sender_id="web-vuelve-6")  # the chat the request came from
    own.slots.update(queried_ticket=number, email="lucia@example.com")
    messages, _ = own.run(ActionTicketStatus(), "lucia@example.com", intent="inform")

    assert responses(messages) == [
        "utter_ticket_status",
        "utter_ticket_latest_message",
        "utter_ticket_page_link",
    ]
    assert messages[2]["link"].endswith(f"/t/{access_key(service, number)}")
    assert access_key(service, number) in rendered(messages[2], "es")
