"""Simulate a month of nivel0 support against the handoff service, as its users reach it.

For the support metrics (docs/metrics.md), through the service's public interfaces only:

- the bot: conversations in Spanish and English with the events it reports (``POST
  /v1/events``, in batches), the questions it could not answer (``POST /v1/unanswered``) and
  the handoffs of the conversations handed over (``POST /v1/handoffs``);
- the agents (``--agent-token``): claim, reply to and resolve most of those tickets;
- the customers: a third of those whose ticket is resolved rate it 1-5 on its private page
  (``POST /t/<key>/rating``), which they reach, as real customers do, by the link in the
  "resolved" e-mail. The API never shows that secret link, so the service must send its e-mail
  to the generator: it runs an SMTP receiver on ``--smtp-port`` for the length of the run.
  Only the customers who will rate leave an e-mail address (the others a phone number), which
  keeps the e-mail low: about three messages (received, the agent's reply, resolved) for one
  conversation in eighteen.

The service under test needs the settings of :func:`service_env`: its e-mail to
``127.0.0.1:<smtp port>``, sent every 0.2 s, and no per-address limit on the private page's
forms (every customer posts from the generator's one address). The generator waits for the
"resolved" e-mail of every customer who rates and gives up when no e-mail at all has arrived
for ``--mail-timeout`` seconds; then, if fewer ratings were posted than intended (e-mail
undeliverable, a form refused), it fails (:class:`RatingsNotPosted`, exit status 1) and says
how many of how many.

The mix (seeded, so a run is reproducible): 60 % of conversations get an article (40 % of those
say it helped, 15 % that it did not, of whom half get a second article), 12 % see clarify
buttons (two thirds pick one), 13 % fall back (their questions: ten topics the KB does not
answer, worded as customers write them in Spain and Latin America, plus a long tail of one-off
questions), 10 % ask for a person at once, 5 % only say hello; 10 % of customers come back
within a week, some on the same topic. Agents resolve 80 % of the tickets; a third of those
are rated, mostly well. Start times follow a daily rhythm over the 30 days before ``--end``.

    HANDOFF_SMTP_PORT=2525 HANDOFF_EMAIL_POLL_SECONDS=0.2 \\
        HANDOFF_RATE_LIMIT_PORTAL_PER_CLIENT=off HANDOFF_INBOUND_SMTP_PORT=off \\
        .venv/bin/python -m handoff_service.cli serve &
    .venv/bin/python scripts/generate_month.py --url http://127.0.0.1:8000 \\
        --bot-token ... --agent-token ... --smtp-port 2525 [--conversations 20000] [--seed 7]
"""

from __future__ import annotations

import argparse
import datetime as dt
import queue
import random
import re
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from handoff_service.mail.links import ACCESS_KEY_PATTERN  # noqa: E402
from tests.support.smtp import SmtpServer  # noqa: E402

#: Articles of the project's KB (kb_articles/), the ones customers ask about most.
TOPICS = (
    "refund-timeline",
    "order-status",
    "shipping-times",
    "returns-how-to",
    "payment-declined",
    "password-reset",
    "warranty-claim",
    "order-cancel",
)
ARTICLES = {language: [f"{topic}-{language}" for topic in TOPICS] for language in ("es", "en")}
REASONS = ["customer_request", "low_confidence", "negative_feedback", "complaint", "sensitive_data"]
#: What customers ask that the KB does not answer (the fallbacks' unanswered questions): topic
#: -> language -> wordings, as customers type them (Spain and Latin America, typos, no
#: accents), most asked first.
UNANSWERED: dict[str, dict[str, tuple[str, ...]]] = {
    "physical-stores": {
        "es": ("¿Tenéis tienda física en Madrid?", "tienen local en buenos aires?",
               "hay alguna tienda en barcelona para ver los productos",
               "donde queda su sucursal en cdmx", "tienen tienda fisica o solo venden online?",
               "puedo ir a recoger el pedido a alguna tienda vuestra"),
        "en": ("Do you have a physical store in London?", "is there a shop i can visit",
               "any stores near manchester?", "can i pick up my order in store",
               "where is your nearest shop"),
    },
    "payment-methods": {
        "es": ("¿Puedo pagar con Bizum?", "aceptan paypal?", "se puede pagar con mercado pago",
               "puedo pagar en efectivo contra reembolso", "teneis bizum o solo tarjeta"),
        "en": ("Can I pay with PayPal?", "do u take apple pay",
               "can i pay in instalments with klarna", "do you accept cash on delivery"),
    },
    "student-discount": {
        "es": ("¿Hacéis descuento a estudiantes?", "hay descuento para universitarios?",
               "tienen algun descuento de estudiante con el carnet",
               "soy estudiante, me hacen precio?"),
        "en": ("Do you have a student discount?", "any discount for students with unidays",
               "im a student is there a discount code"),
    },
    "installation": {
        "es": ("¿Instaláis la lavadora?", "me la instalan en casa o tengo que buscar un tecnico",
               "el montaje del mueble esta incluido?", "hacen instalacion del aire acondicionado",
               "quien me arma el ropero que compre"),
        "en": ("Do you install the washing machine?", "is assembly included with the wardrobe",
               "can someone come and set up the tv", "do you offer installation"),
    },
    "gift-cards": {
        "es": ("venden tarjetas regalo?", "como canjeo una tarjeta de regalo",
               "¿Se puede comprar un cheque regalo para otra persona?",
               "tengo una gift card y no se como usarla"),
        "en": ("Do you sell gift cards?", "how do i redeem a gift card",
               "can i buy a gift voucher for my mum", "my gift card code doesnt work"),
    },
    "price-match": {
        "es": ("si lo encuentro mas barato en otra tienda me igualan el precio?",
               "¿Igualáis precios de Amazon?",
               "en mercado libre esta mas barato, me lo dejan al mismo precio?"),
        "en": ("Do you price match?", "its cheaper on amazon, will you match it",
               "do you beat competitors prices"),
    },
    "stock": {
        "es": ("cuando vuelve a haber stock de las zapatillas", "¿Cuándo reponéis la talla M?",
               "me avisan cuando llegue de nuevo el producto agotado",
               "tienen stock del iphone 15 en negro", "va a volver el modelo azul?"),
        "en": ("When will the trainers be back in stock?", "is the blue one coming back",
               "can you notify me when its restocked", "do you have the large size in stock"),
    },
    "loyalty-points": {
        "es": ("como uso mis puntos", "¿Cuántos puntos tengo acumulados?",
               "los puntos de fidelidad caducan?", "tienen programa de puntos o club de clientes"),
        "en": ("how do i use my reward points", "Do loyalty points expire?",
               "how many points do i have", "is there a loyalty programme"),
    },
    "business-accounts": {
        "es": ("puedo comprar como empresa con factura a nombre de la sociedad",
               "¿Tenéis cuenta para empresas?", "necesito factura con rfc para mi negocio",
               "hacen precios para mayoristas"),
        "en": ("Do you have business accounts?", "can I get a VAT invoice for my company",
               "do you do bulk orders for businesses"),
    },
    "contact-hours": {
        "es": ("a que hora abre atencion al cliente", "¿Cuál es el horario de atención?",
               "tienen telefono para llamar", "atienden los domingos?",
               "hasta que hora puedo hablar con alguien hoy"),
        "en": ("What are your opening hours?", "what time does customer service open",
               "can i call you on weekends", "is there a phone number i can ring"),
    },
}  # fmt: skip
#: Questions no topic gathers, asked by one customer here and there: a fifth of the fallbacks.
ONE_OFF = {
    "es": ("¿Enviáis a Canarias?", "puedo cambiar el color despues de hacer el pedido",
           "¿Me lo podéis envolver para regalo?", "tienen app para el movil?",
           "el repartidor dejo el paquete al vecino, es normal?", "trabajan con glovo?",
           "mi gato mordio el cable del cargador, lo cubre algo?",
           "se puede pedir factura en ingles", "¿Hacéis envíos a Andorra?",
           "puedo reservar un producto sin pagarlo", "venden repuestos de la aspiradora?",
           "el manual viene en castellano?", "hay descuento por el black friday este año",
           "me llego una caja vacia jaja", "cuanto pesa la lavadora con embalaje"),
    "en": ("Do you ship to Andorra?", "can i change the colour after ordering",
           "do you have an app", "can you gift wrap it", "is the manual in welsh",
           "my dog ate the remote, is that covered", "do you sell spare parts for the hoover",
           "can i reserve an item without paying", "will there be a black friday sale",
           "the box arrived empty lol", "how heavy is the fridge with packaging",
           "can i order by phone", "do you deliver on sundays"),
}  # fmt: skip
ONE_OFF_SHARE = 0.2
#: How often each topic is asked, relative (most asked first): a Zipf-like tail.
TOPIC_WEIGHTS = [1 / rank for rank in range(1, len(UNANSWERED) + 1)]
QUESTIONS = {
    "es": ["¿Cuándo llega mi reembolso?", "Mi pedido no ha llegado", "Quiero devolver esto"],
    "en": ["When will my refund arrive?", "My order has not arrived", "I want to return this"],
}
RATINGS, RATING_WEIGHTS = [5, 4, 3, 2, 1], [50, 25, 10, 8, 7]
EVENT_BATCH = 500
MAIL_TIMEOUT = 60.0
#: The rating link of a "resolved" e-mail (``<public_url>/t/<key>#rating``) and the ticket
#: number the subject of every ticket e-mail starts with (``[T-2026-000123] ...``).
RATING_LINK = re.compile(rf"https?://\S+?(/t/{ACCESS_KEY_PATTERN})#rating")
SUBJECT_NUMBER = re.compile(r"^\[([^\]]+)\]")

T = TypeVar("T")
R = TypeVar("R")


def service_env(smtp_port: int) -> dict[str, str]:
    """The settings (environment) the service under test needs for this generator: its e-mail
    to the generator's receiver on ``127.0.0.1:smtp_port``, sent promptly; no limit on the
    private page's forms per address (every customer posts from the generator's address); and
    no inbound listener (the default inbound port is never bound by tests or benchmarks)."""
    return {
        "HANDOFF_EMAIL_WORKER": "true",
        "HANDOFF_SMTP_HOST": "127.0.0.1",
        "HANDOFF_SMTP_PORT": str(smtp_port),
        "HANDOFF_SMTP_SECURITY": "none",
        "HANDOFF_EMAIL_POLL_SECONDS": "0.2",
        "HANDOFF_RATE_LIMIT_PORTAL_PER_CLIENT": "off",
        "HANDOFF_INBOUND_SMTP_PORT": "off",
    }


class RatingsNotPosted(RuntimeError):
    """Fewer ratings were posted than the customers meant to give; ``counts``: the run's."""

    def __init__(self, message: str, counts: dict[str, int]) -> None:
        super().__init__(message)
        self.counts = counts


@dataclass
class Conversation:
    conversation_id: str
    language: str
    start: dt.datetime
    events: list[dict[str, Any]] = field(default_factory=list)
    handoff_reason: str | None = None

    @property
    def sender(self) -> str:
        return self.conversation_id.rsplit(":", 1)[0]

    def add(self, kind: str, seconds: float, **fields: Any) -> None:
        at = self.start + dt.timedelta(seconds=seconds)
        self.events.append(
            {
                "event_id": uuid.uuid4().hex,
                "conversation_id": self.conversation_id,
                "kind": kind,
                "language": self.language,
                "occurred_at": at.isoformat(),
                **fields,
            }
        )


@dataclass(frozen=True)
class Fate:
    """What becomes of a handed-over conversation's ticket, decided before the handoff: the
    customer who will rate leaves an e-mail address, to get the private page's link."""

    resolved: bool
    rating: int | None = None


def start_time(rng: random.Random, end: dt.datetime) -> dt.datetime:
    """A moment of the 30 days before ``end``, busier in the day than at night."""
    day = rng.randrange(30)
    hour = min(23, max(0, int(rng.gauss(14, 4))))
    return end - dt.timedelta(days=30 - day) + dt.timedelta(hours=hour, seconds=rng.random() * 3600)


def simulate(rng: random.Random, sender: str, language: str, start: dt.datetime,
             topic: str | None = None) -> Conversation:  # fmt: skip
    """One conversation's events (and whether it hands over), as the bot would report them."""
    conversation = Conversation(f"{sender}:{int(start.timestamp())}", language, start)
    conversation.add("conversation_started", 0)
    roll = rng.random()
    article = topic or rng.choice(ARTICLES[language])
    if roll < 0.60:
        score = round(rng.uniform(0.6, 0.9), 4)
        conversation.add("article_shown", 2, article_id=article, score=score)
        feedback = rng.random()
        if feedback < 0.40:
            conversation.add("feedback", 30, article_id=article, helpful=True)
        elif feedback < 0.55:
            conversation.add("feedback", 30, article_id=article, helpful=False)
            if rng.random() < 0.5:
                second = rng.choice([a for a in ARTICLES[language] if a != article])
                conversation.add("article_shown", 32, article_id=second, score=0.55)
                if rng.random() < 0.5:
                    conversation.add("feedback", 60, article_id=second, helpful=False)
                    conversation.handoff_reason = "negative_feedback"
            else:
                conversation.handoff_reason = "negative_feedback"
    elif roll < 0.72:
        conversation.add("clarify_shown", 2)
        if rng.random() < 2 / 3:
            conversation.add("clarify_picked", 10, article_id=article)
            conversation.add("article_shown", 10, article_id=article, score=0.5)
    elif roll < 0.85:
        conversation.add("fallback", 2)
        if rng.random() < 0.3:
            conversation.handoff_reason = "low_confidence"
    elif roll < 0.95:
        conversation.handoff_reason = rng.choice(REASONS[:1] * 3 + REASONS[3:])
    if conversation.handoff_reason:
        conversation.add("handoff", 120, reason=conversation.handoff_reason)
    return conversation


def month(count: int, end: dt.datetime, seed: int) -> list[Conversation]:
    rng = random.Random(seed)
    run = uuid.uuid4().hex[:6]
    conversations = []
    while len(conversations) < count:
        sender = f"gen-{run}-{len(conversations)}"
        language = "es" if rng.random() < 0.6 else "en"
        first = simulate(rng, sender, language, start_time(rng, end))
        conversations.append(first)
        if rng.random() < 0.10 and len(conversations) < count:  # back within a week
            later = first.start + dt.timedelta(days=rng.uniform(0.2, 7))
            shown = [e["article_id"] for e in first.events if e["kind"] == "article_shown"]
            topic = shown[0] if shown and rng.random() < 0.5 else None
            conversations.append(simulate(rng, sender, language, later, topic))
    return conversations


def fates(count: int, rng: random.Random) -> list[Fate]:
    """Agents resolve 80 % of the tickets; a third of those are rated, mostly well."""
    planned = []
    for _ in range(count):
        resolved = rng.random() < 0.8
        rates = resolved and rng.random() < 1 / 3
        rating = rng.choices(RATINGS, RATING_WEIGHTS)[0] if rates else None
        planned.append(Fate(resolved, rating))
    return planned


def handoff_body(conversation: Conversation, index: int, fate: Fate) -> dict[str, Any]:
    """The bot's handoff; only a customer who will rate gives an e-mail address."""
    language = conversation.language
    if fate.rating is not None:
        customer = {"name": "Cliente de prueba", "email": f"{conversation.sender}@example.com"}
    else:
        prefix = "+34 6" if language == "es" else "+44 7"
        customer = {"name": "Cliente de prueba", "phone": f"{prefix}{index:08d}"}
    return {
        "conversation_id": conversation.conversation_id,
        "customer": customer,
        "language": language,
        "channel": "web",
        "transcript": [{"role": "customer", "text": QUESTIONS[language][index % 3]}],
        "reason": conversation.handoff_reason,
    }


def in_threads(base: str, token: str, items: Sequence[T],
               call: Callable[[httpx.Client, T], R], concurrency: int) -> list[R]:  # fmt: skip
    """``call(client, item)`` for every item, ``concurrency`` threads at a time (each with a
    client sending ``token``); the results in the items' order. (Threads, not asyncio: callers
    may run inside an event loop, e.g. Playwright's.)"""
    pending: queue.SimpleQueue[int] = queue.SimpleQueue()
    for index in range(len(items)):
        pending.put(index)
    results: list[Any] = [None] * len(items)

    def worker() -> None:
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=base, headers=headers, timeout=120) as client:
            while True:
                try:
                    index = pending.get_nowait()
                except queue.Empty:
                    return
                results[index] = call(client, items[index])

    with ThreadPoolExecutor(concurrency) as pool:
        for running in [pool.submit(worker) for _ in range(concurrency)]:
            running.result()
    return results


def post_all(base: str, token: str, path: str, bodies: Sequence[Any],
             concurrency: int) -> list[Any]:  # fmt: skip
    """POST every body; the answers (JSON) in the bodies' order, None for a refused one."""

    def post(client: httpx.Client, body: Any) -> Any:
        response = client.post(path, json=body)
        return response.json() if response.is_success else None

    return in_threads(base, token, bodies, post, concurrency)


def work_tickets(base: str, agent_token: str, numbers: Sequence[str], concurrency: int) -> int:
    """Agents claim, answer (a reply the customer sees) and resolve the tickets ``numbers``;
    returns how many were resolved."""

    def work(client: httpx.Client, number: str) -> bool:
        client.post(f"/v1/tickets/{number}/claim")
        client.post(
            f"/v1/tickets/{number}/comments",
            json={"body": "Lo estamos revisando.", "visibility": "customer"},
        )
        resolved = client.post(f"/v1/tickets/{number}/resolve", json={"resolution_note": "Hecho."})
        return resolved.is_success

    return sum(in_threads(base, agent_token, numbers, work, concurrency))


def unanswered_question(rng: random.Random, language: str) -> str:
    """What a customer asked that the KB does not answer: a topic's wording, or a one-off."""
    if rng.random() < ONE_OFF_SHARE:
        return rng.choice(ONE_OFF[language])
    topic = rng.choices(list(UNANSWERED), TOPIC_WEIGHTS)[0]
    return rng.choice(UNANSWERED[topic][language])


def unanswered(conversations: list[Conversation], rng: random.Random) -> list[dict[str, Any]]:
    """The question of every conversation that fell back, as the bot reports it."""
    return [
        {
            "conversation_id": c.conversation_id,
            "language": c.language,
            "reason": "fallback",
            "text": unanswered_question(rng, c.language),
            "occurred_at": c.start.isoformat(),
        }
        for c in conversations
        if any(e["kind"] == "fallback" for e in c.events)
    ]


def rating_link(message: EmailMessage) -> tuple[str, str] | None:
    """(ticket number, private page path ``/t/<key>``) of a "resolved" e-mail, the one that
    links to the rating form; None for any other e-mail."""
    body = message.get_body(("plain",))
    text = "" if body is None else str(body.get_content())  # type: ignore[attr-defined]
    link = RATING_LINK.search(text)
    number = SUBJECT_NUMBER.match(str(message.get("Subject", "")))
    return (number.group(1), link.group(1)) if link and number else None


def rate_from_mail(base: str, receiver: SmtpServer, ratings: dict[str, int],
                   mail_timeout: float) -> int:  # fmt: skip
    """Each customer of ``ratings`` (ticket number -> 1-5) opens the rating link of their
    "resolved" e-mail as it arrives and posts the form, as the page's button does (a 303 to the
    page is a rating taken). The link's path is followed on ``base``: the service's
    ``public_url``, which starts the link, may name another address. Waits until every one has
    rated, or until no e-mail at all has arrived for ``mail_timeout`` seconds; returns how many
    ratings were posted."""
    waiting = dict(ratings)
    posted = seen = 0
    last_arrival = time.monotonic()
    with httpx.Client(base_url=base, timeout=120) as client:
        while waiting:
            messages = receiver.messages
            if len(messages) > seen:
                last_arrival = time.monotonic()
            for received in messages[seen:]:
                found = rating_link(received.message)
                if found is None or found[0] not in waiting:
                    continue
                number, page = found
                rating = str(waiting.pop(number))
                posted += client.post(f"{page}/rating", data={"rating": rating}).status_code == 303
            seen = len(messages)
            if time.monotonic() - last_arrival > mail_timeout:
                break
            time.sleep(0.2)
    return posted


def generate(base: str, bot_token: str, agent_token: str, count: int, end: dt.datetime,
             seed: int, *, smtp_port: int, concurrency: int = 4,
             mail_timeout: float = MAIL_TIMEOUT) -> dict[str, int]:  # fmt: skip
    """Post a month to the service at ``base``, which sends its e-mail to ``127.0.0.1:
    smtp_port`` (see :func:`service_env`), where the customers' e-mail is received for the
    length of the run; the counts of what was sent. Raises :class:`RatingsNotPosted` when
    fewer ratings were posted than intended."""
    rng = random.Random(seed + 1)
    conversations = month(count, end, seed)
    events = [e for c in conversations for e in c.events]
    batches = [{"events": events[i : i + EVENT_BATCH]} for i in range(0, len(events), EVENT_BATCH)]
    questions = unanswered(conversations, rng)
    handed = [c for c in conversations if c.handoff_reason]
    planned = fates(len(handed), rng)
    bodies = [
        handoff_body(c, i, fate) for i, (c, fate) in enumerate(zip(handed, planned, strict=True))
    ]
    with SmtpServer("127.0.0.1", smtp_port) as receiver:
        answers = post_all(base, bot_token, "/v1/events", batches, concurrency)
        answers += post_all(base, bot_token, "/v1/unanswered", questions, concurrency)
        created = post_all(base, bot_token, "/v1/handoffs", bodies, concurrency)
        to_resolve = [
            t["number"] for t, fate in zip(created, planned, strict=True) if t and fate.resolved
        ]
        resolved = work_tickets(base, agent_token, to_resolve, concurrency)
        ratings = {
            t["number"]: fate.rating
            for t, fate in zip(created, planned, strict=True)
            if t and fate.rating is not None
        }
        posted = rate_from_mail(base, receiver, ratings, mail_timeout)
        emails = len(receiver.messages)
    counts = {
        "conversations": len(conversations),
        "events": len(events),
        "handoffs": len(handed),
        "tickets_resolved": resolved,
        "unanswered_questions": len(questions),
        "emails_received": emails,
        "ratings_intended": sum(fate.rating is not None for fate in planned),
        "ratings": posted,
        "refused_requests": (answers + created).count(None),
    }
    if posted < counts["ratings_intended"]:
        raise RatingsNotPosted(
            f"{posted} of {counts['ratings_intended']} ratings posted: the other customers' "
            f'"resolved" e-mail did not reach 127.0.0.1:{smtp_port} (no e-mail for '
            f"{mail_timeout:g} s; is the service sending there?), their ticket was not resolved, "
            "or the private page refused the form",
            counts,
        )
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--url", required=True, help="the handoff service, e.g. http://127.0.0.1:8000"
    )
    parser.add_argument("--bot-token", required=True, help="a service token (the bot's)")
    parser.add_argument("--agent-token", required=True, help="an agent's or admin's token")
    parser.add_argument(
        "--smtp-port",
        type=int,
        required=True,
        help="port on 127.0.0.1 where the generator receives the customers' e-mail (the "
        "service's HANDOFF_SMTP_PORT)",
    )
    parser.add_argument(
        "--mail-timeout",
        type=float,
        default=MAIL_TIMEOUT,
        help="give up waiting for the customers' e-mails after this many seconds without one "
        f"(default {MAIL_TIMEOUT:g})",
    )
    parser.add_argument("--conversations", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--end", type=dt.datetime.fromisoformat, default=dt.datetime.now(dt.UTC),
                        help="end of the month (ISO time with offset; default now)")  # fmt: skip
    args = parser.parse_args()
    try:
        counts = generate(args.url, args.bot_token, args.agent_token, args.conversations,
                          args.end, args.seed, smtp_port=args.smtp_port,
                          mail_timeout=args.mail_timeout)  # fmt: skip
    except RatingsNotPosted as exc:
        print(exc.counts)
        print(f"generate_month: {exc}", file=sys.stderr)
        return 1
    print(counts)
    return 0 if counts["refused_requests"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
