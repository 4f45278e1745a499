"""The customer hears back, the whole path, as the people involved meet it: the real Rasa server
and action server (REST channel), the handoff service as a process with its e-mail sender and
inbound SMTP listener, a real SMTP server as the customer's mailbox, and Chromium for the
customer's private page and the agent's console.

handoff in the chat -> "created" e-mail -> private page -> customer replies there -> the agent
sees it in the console and answers -> "reply" e-mail -> the customer answers that e-mail
(smtplib to the inbound listener) -> the agent resolves -> "resolved" e-mail -> rating.

Waits are bounded polls for a condition, never timing assertions.
"""

from __future__ import annotations

import re
import smtplib
import uuid
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import httpx
import pytest

from tests.bot.servers import TRAIN_HINT, ChatServers, latest_model
from tests.support import HandoffServiceProcess, wait_until
from tests.support.axe import assert_accessible
from tests.support.browser import chromium_browser
from tests.support.network import free_port
from tests.support.smtp import Received, SmtpServer

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

TICKET = re.compile(r"T-\d{4}-\d{6,}")
CUSTOMER = "lucia.journey@example.com"


class Stack:
    """Everything the journey runs on, started once for the module."""

    def __init__(
        self,
        servers: ChatServers,
        service: HandoffServiceProcess,
        mailbox: SmtpServer,
        inbound_port: int,
        browser: Any,
    ):
        self.servers = servers
        self.service = service
        self.mailbox = mailbox
        self.inbound_port = inbound_port
        self.browser = browser

    def say(self, sender: str, message: str) -> list[str]:
        reply = self.servers.say(sender, message, {"language": "es"})
        return [m.get("text", "") for m in reply]

    def mail_to(self, address: str, count: int) -> list[Received]:
        """The first ``count`` e-mails to ``address`` (waits for them)."""

        def arrived() -> list[Received]:
            return [m for m in self.mailbox.messages if address in m.rcpt_tos]

        wait_until(lambda: len(arrived()) >= count, f"{count} e-mails to {address}")
        return arrived()[:count]

    def events(self, number: str) -> list[dict[str, Any]]:
        with self.service.api() as api:
            return api.get(f"/v1/tickets/{number}/events").json()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    model = latest_model()
    if model is None:
        pytest.fail(TRAIN_HINT, pytrace=False)
    workdir = tmp_path_factory.mktemp("e2e-customer-email")
    inbound_port = free_port()
    with SmtpServer() as mailbox:
        service = HandoffServiceProcess(
            workdir,
            env={
                "HANDOFF_EMAIL_WORKER": "true",
                "HANDOFF_EMAIL_POLL_SECONDS": "0.2",
                "HANDOFF_SMTP_PORT": str(mailbox.port),
                "HANDOFF_INBOUND_SMTP_PORT": str(inbound_port),
            },
        )
        service.env["HANDOFF_PUBLIC_URL"] = service.url
        service.start()
        env = {
            "HANDOFF_SERVICE_URL": service.url,
            "HANDOFF_SERVICE_TOKEN": service.bot_token,
            "NIVEL0_OUTBOX_PATH": str(workdir / "outbox.db"),
        }
        try:
            with (
                ChatServers(log_dir=workdir / "logs", model=model, env=env) as servers,
                chromium_browser() as browser,
            ):
                yield Stack(servers, service, mailbox, inbound_port, browser)
        finally:
            service.stop()


def text_part(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None, "an e-mail without a text part"
    return part.get_content()


def page_link(message: EmailMessage, service_url: str) -> str:
    match = re.search(re.escape(service_url) + r"/t/[A-Za-z0-9_-]{43}", text_part(message))
    assert match, text_part(message)
    return match.group(0)


def test_handoff_email_page_reply_by_mail_resolve_and_rate(stack: Stack) -> None:
    sender = f"journey-{uuid.uuid4().hex[:8]}"
    # 1. The customer asks the bot for a person and hands over (Spanish).
    assert stack.say(sender, "quiero hablar con una persona")[-1] == "¿Cómo te llamas?"
    assert stack.say(sender, "Lucía Pérez")[-1].startswith("¿A qué correo")
    assert stack.say(sender, CUSTOMER)[-1].startswith("Cuéntame en una frase")
    reply = stack.say(sender, "el paquete no ha llegado y el seguimiento no avanza")
    assert reply[-1].startswith("¿Nos das permiso"), reply
    reply = stack.say(sender, "/affirm")
    number_match = TICKET.search(reply[0])
    assert number_match, reply
    number = number_match.group(0)

    # 2. The "created" e-mail: in Spanish, with the number, the due date and the private link.
    [created] = stack.mail_to(CUSTOMER, 1)
    assert number in str(created.message["Subject"])
    body = text_part(created.message)
    assert "como tarde el" in body
    link = page_link(created.message, stack.service.url)
    reply_to = str(created.message["Reply-To"])
    assert link.rsplit("/", 1)[1] in reply_to

    customer = stack.browser.new_context(locale="es-ES")
    agent = stack.browser.new_context(locale="en-GB")
    try:
        # 3. The private page: the customer reads the chat and writes.
        page = customer.new_page()
        page.set_default_timeout(15_000)
        page.goto(link)
        assert number in page.get_by_role("heading", level=1).inner_text()
        assert "quiero hablar con una persona" in page.inner_text("main")
        assert_accessible(page)
        page.get_by_label("Tu mensaje").fill("El paquete tenía que llegar el lunes a Sevilla.")
        page.get_by_role("button", name="Enviar mensaje").click()
        page.get_by_text("Gracias: hemos recibido tu mensaje").wait_for()

        # 4. The agent sees it in the console and answers the customer.
        console = agent.new_page()
        console.set_default_timeout(15_000)
        console.goto(f"{stack.service.url}/console/login")
        console.get_by_label("Agent token").fill(stack.service.admin_token)
        console.get_by_role("button", name="Log in").click()
        console.wait_for_url(f"{stack.service.url}/console/")
        console.goto(f"{stack.service.url}/console/tickets/{number}")
        history = console.get_by_role("region", name="History")
        assert "El paquete tenía que llegar el lunes a Sevilla." in history.inner_text()
        console.get_by_role("button", name="Claim").click()
        console.get_by_role("status").filter(has_text="Claimed").wait_for()
        answer = "Investigamos con la transportista; ¿nos confirmas el código postal?"
        console.get_by_label("Message").fill(answer)
        console.get_by_role("radio", name=re.compile("Customer too")).check()
        console.get_by_role("button", name="Add").click()
        console.get_by_role("status").filter(has_text="Reply added").wait_for()

        # 5. The "reply" e-mail carries the agent's answer, threaded under the first one.
        _created, replied = stack.mail_to(CUSTOMER, 2)
        assert answer in text_part(replied.message)
        assert created.message_id in str(replied.message["References"])

        # 6. The customer answers that e-mail from their mail client, quoting it.
        mail = EmailMessage()
        mail["From"] = f"Lucía Pérez <{CUSTOMER}>"
        mail["To"] = str(replied.message["Reply-To"])
        mail["Subject"] = "Re: " + str(replied.message["Subject"])
        mail["In-Reply-To"] = replied.message_id
        mail["Message-ID"] = f"<{uuid.uuid4().hex}@mail.example.com>"
        mail.set_content(
            "Es el 41001.\n\n"
            "El mié, 2 dic 2026 a las 10:00, Voltia <support@nivel0.localhost> escribió:\n"
            "> Hemos abierto una investigación con la transportista\n"
        )
        with smtplib.SMTP("127.0.0.1", stack.inbound_port, timeout=30) as smtp:
            smtp.send_message(mail)

        def replied_by_mail() -> list[dict[str, Any]]:
            return [
                e
                for e in stack.events(number)
                if e["kind"] == "customer_reply" and e["data"].get("via") == "email"
            ]

        wait_until(lambda: replied_by_mail() != [], "the e-mailed reply on the ticket")
        assert replied_by_mail()[0]["data"]["body"] == "Es el 41001."
        console.goto(f"{stack.service.url}/console/tickets/{number}")
        history = console.get_by_role("region", name="History")
        assert "Es el 41001." in history.inner_text(), console.content()[:3000]

        # 7. The agent resolves; the "resolved" e-mail has the note and the rating link.
        note = "La transportista entregó el paquete el jueves en Sevilla (CP 41001)."
        console.get_by_label(re.compile("^Resolution note")).fill(note)
        console.get_by_role("button", name="Resolve").click()
        console.get_by_role("status").filter(has_text="Resolved").wait_for()
        *_, resolved = stack.mail_to(CUSTOMER, 3)
        assert note in text_part(resolved.message)
        assert page_link(resolved.message, stack.service.url) == link

        # 8. The customer rates the help on the private page.
        page.goto(link)
        page.get_by_label("5 — Muy bien").check()
        page.get_by_label("Comentario (opcional)").fill("Rápido y amable.")
        page.get_by_role("button", name="Enviar valoración").click()
        page.get_by_text("Gracias: hemos guardado tu valoración.").wait_for()
        assert_accessible(page)
    finally:
        customer.close()
        agent.close()

    rated = [e for e in stack.events(number) if e["kind"] == "rated"]
    assert [e["data"]["rating"] for e in rated] == [5]
    with httpx.Client(base_url=stack.service.url) as client:
        assert client.get(link.replace(stack.service.url, "")).status_code == 200
    # exactly the three customer e-mails, each once
    to_customer = [m for m in stack.mailbox.messages if CUSTOMER in m.rcpt_tos]
    assert len({m.message_id for m in to_customer}) == len(to_customer) == 3
