"""Simulate a month of nivel0 support through the handoff service's API, for the support
metrics (docs/metrics.md): conversations in Spanish and English with the events the bot
reports (``POST /v1/events``, in batches), handoffs for the conversations handed over (``POST
/v1/handoffs``), agents working most of those tickets (claim, reply, resolve through the API)
and customers rating some of them (written with the service's own ``tickets.rate``, as the
private ticket page does: that page needs the customer's secret link, which the API never
shows).

The mix (seeded, so a run is reproducible): 60 % of conversations get an article (40 % of those
say it helped, 15 % that it did not, of whom half get a second article), 12 % see clarify
buttons (two thirds pick one), 13 % fall back, 10 % ask for a person at once, 5 % only say
hello; 10 % of customers come back within a week, some on the same topic. Start times follow a
daily rhythm over the 30 days before ``--end``.

    .venv/bin/python scripts/generate_month.py --url http://127.0.0.1:8000 \\
        --bot-token ... --agent-token ... [--conversations 20000] [--seed 7]

``--database-url`` (default ``DATABASE_URL``) is the service's database, for the ratings.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import queue
import random
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

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
#: What customers ask that the KB does not answer: the fallbacks' unanswered questions.
UNANSWERED = {
    "es": ["¿Tenéis tienda física en Madrid?", "¿Puedo pagar con Bizum?",
           "¿Hacéis descuento a estudiantes?", "¿Instaláis la lavadora?"],
    "en": ["Do you ship to Andorra?", "Do you price match?", "Can I pay with PayPal?"],
}  # fmt: skip
QUESTIONS = {
    "es": ["¿Cuándo llega mi reembolso?", "Mi pedido no ha llegado", "Quiero devolver esto"],
    "en": ["When will my refund arrive?", "My order has not arrived", "I want to return this"],
}
EVENT_BATCH = 500


@dataclass
class Conversation:
    conversation_id: str
    language: str
    start: dt.datetime
    events: list[dict[str, Any]] = field(default_factory=list)
    handoff_reason: str | None = None

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


def handoff_body(conversation: Conversation, index: int) -> dict[str, Any]:
    language = conversation.language
    return {
        "conversation_id": conversation.conversation_id,
        "customer": {"name": "Cliente de prueba", "email": f"c{index}@example.com"},
        "language": language,
        "channel": "web",
        "transcript": [{"role": "customer", "text": QUESTIONS[language][index % 3]}],
        "reason": conversation.handoff_reason,
    }


def post_all(base: str, token: str, path: str, bodies: list[Any], concurrency: int) -> int:
    """POST every body (``concurrency`` threads at a time); returns how many were refused.
    (Threads, not asyncio: callers may run inside an event loop, e.g. Playwright's.)"""
    pending: queue.SimpleQueue[Any] = queue.SimpleQueue()
    for body in bodies:
        pending.put(body)

    def worker() -> int:
        refused = 0
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=base, headers=headers, timeout=120) as client:
            while True:
                try:
                    body = pending.get_nowait()
                except queue.Empty:
                    return refused
                refused += client.post(path, json=body).status_code >= 400

    with ThreadPoolExecutor(concurrency) as pool:
        return sum(pool.map(lambda _: worker(), range(concurrency)))


def work_tickets(base: str, agent_token: str, numbers: list[str], rng: random.Random) -> int:
    """Agents claim, answer and resolve 80 % of the tickets; returns how many were resolved."""
    resolved = 0
    headers = {"Authorization": f"Bearer {agent_token}"}
    with httpx.Client(base_url=base, headers=headers, timeout=120) as client:
        for number in numbers:
            if rng.random() >= 0.8:
                continue
            client.post(f"/v1/tickets/{number}/claim")
            client.post(
                f"/v1/tickets/{number}/comments",
                json={"body": "Lo estamos revisando.", "visibility": "customer"},
            )
            if client.post(
                f"/v1/tickets/{number}/resolve", json={"resolution_note": "Resuelto."}
            ).is_success:
                resolved += 1
    return resolved


def unanswered(conversations: list[Conversation], rng: random.Random) -> list[dict[str, Any]]:
    """The question of every conversation that fell back, as the bot reports it."""
    return [
        {
            "conversation_id": c.conversation_id,
            "language": c.language,
            "reason": "fallback",
            "text": rng.choice(UNANSWERED[c.language]),
            "occurred_at": c.start.isoformat(),
        }
        for c in conversations
        if any(e["kind"] == "fallback" for e in c.events)
    ]


def rate_some(database_url: str, numbers: list[str], rng: random.Random) -> int:
    """A third of the resolved tickets are rated, mostly well (the private page's function)."""
    from sqlalchemy import select

    from handoff_service import tickets
    from handoff_service.db import make_engine, make_session_factory
    from handoff_service.models import Ticket
    from handoff_service.settings import psycopg_url

    engine = make_engine(psycopg_url(database_url))
    rated = 0
    with make_session_factory(engine)() as session:
        for ticket in session.scalars(select(Ticket).where(Ticket.number.in_(numbers))):
            if ticket.status == "resolved" and rng.random() < 1 / 3:
                tickets.rate(ticket, rng.choices([5, 4, 3, 2, 1], [50, 25, 10, 8, 7])[0], None)
                rated += 1
        session.commit()
    engine.dispose()
    return rated


def generate(base: str, bot_token: str, agent_token: str, database_url: str, count: int,
             end: dt.datetime, seed: int, concurrency: int = 4) -> dict[str, int]:  # fmt: skip
    """Post a month to the service at ``base`` (whose database is ``database_url``, for the
    ratings); the counts of what was sent."""
    rng = random.Random(seed + 1)
    conversations = month(count, end, seed)
    events = [e for c in conversations for e in c.events]
    batches = [{"events": events[i : i + EVENT_BATCH]} for i in range(0, len(events), EVENT_BATCH)]
    refused = post_all(base, bot_token, "/v1/events", batches, concurrency)
    questions = unanswered(conversations, rng)
    refused += post_all(base, bot_token, "/v1/unanswered", questions, concurrency)
    handed = [c for c in conversations if c.handoff_reason]
    bodies = [handoff_body(c, i) for i, c in enumerate(handed)]
    refused += post_all(base, bot_token, "/v1/handoffs", bodies, concurrency)
    numbers = []
    headers = {"Authorization": f"Bearer {agent_token}"}
    with httpx.Client(base_url=base, headers=headers, timeout=120) as client:
        offset, total = 0, 1
        while offset < total:
            page = client.get("/v1/tickets", params={"limit": 200, "offset": offset}).json()
            total, offset = page["total"], offset + 200
            numbers += [item["number"] for item in page["items"]]
    resolved = work_tickets(base, agent_token, numbers, rng)
    return {
        "conversations": len(conversations),
        "events": len(events),
        "handoffs": len(handed),
        "tickets_resolved": resolved,
        "unanswered_questions": len(questions),
        "ratings": rate_some(database_url, numbers, rng),
        "refused_requests": refused,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--url", required=True, help="the handoff service, e.g. http://127.0.0.1:8000"
    )
    parser.add_argument("--bot-token", required=True, help="a service token (the bot's)")
    parser.add_argument("--agent-token", required=True, help="an agent's or admin's token")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL"),
        help="the service's database, for the ratings (default DATABASE_URL)",
    )
    parser.add_argument("--conversations", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--end", type=dt.datetime.fromisoformat, default=dt.datetime.now(dt.UTC),
                        help="end of the month (ISO time with offset; default now)")  # fmt: skip
    args = parser.parse_args()
    if not args.database_url:
        parser.error("give --database-url or set DATABASE_URL (the ratings are written there)")
    counts = generate(args.url, args.bot_token, args.agent_token, args.database_url,
                      args.conversations, args.end, args.seed)  # fmt: skip
    print(counts)
    return 0 if counts["refused_requests"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
