"""The month generator (scripts/generate_month.py) posts only what the service accepts, the same
seed gives the same month, and against a real service (a subprocess on SQLite) the customers'
ratings arrive the way a customer's do: by the link in the "resolved" e-mail, through the
private page's form."""

from __future__ import annotations

import datetime as dt
import random
import sqlite3
from collections import Counter
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass

import pytest

from handoff_service.schemas import ConversationEventIn, HandoffIn
from scripts import generate_month
from tests.support import HandoffServiceProcess, free_port

END = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
SEED = 11


def test_every_event_and_handoff_is_valid_and_conversations_start_first() -> None:
    conversations = generate_month.month(2000, END, seed=3)
    assert len(conversations) == 2000
    for conversation in conversations:
        events = [ConversationEventIn.model_validate(e) for e in conversation.events]
        assert events[0].kind == "conversation_started"
        assert END - dt.timedelta(days=31) <= events[0].occurred_at <= END + dt.timedelta(days=8)
        handoffs = [e for e in events if e.kind == "handoff"]
        assert len(handoffs) == (conversation.handoff_reason is not None)
    handed = [c for c in conversations if c.handoff_reason]
    fates = generate_month.fates(len(handed), random.Random(3))
    for index, (conversation, fate) in enumerate(zip(handed, fates, strict=True)):
        handoff = HandoffIn.model_validate(generate_month.handoff_body(conversation, index, fate))
        # only the customers who will rate give an e-mail address (the others a phone)
        assert (handoff.customer.email is not None) == (fate.rating is not None)
        assert fate.resolved or fate.rating is None
    languages = Counter(c.language for c in conversations)
    assert languages["es"] > languages["en"] > 0
    # some customers come back: the same sender in two conversations
    senders = Counter(c.sender for c in conversations)
    assert any(count == 2 for count in senders.values())


def test_the_same_seed_gives_the_same_month() -> None:
    def shape(seed: int) -> list[list[tuple[str, str | None]]]:
        return [
            [(e["kind"], e.get("article_id")) for e in c.events]
            for c in generate_month.month(300, END, seed)
        ]

    assert shape(5) == shape(5)
    assert shape(5) != shape(6)


def test_unanswered_topics_have_several_wordings_in_both_languages() -> None:
    assert 8 <= len(generate_month.UNANSWERED) <= 10
    wordings = [
        w for topic in generate_month.UNANSWERED.values() for ws in topic.values() for w in ws
    ]
    for topic in generate_month.UNANSWERED.values():
        assert set(topic) == {"es", "en"}
        assert all(3 <= len(topic[language]) <= 6 for language in topic)
    one_offs = [w for ws in generate_month.ONE_OFF.values() for w in ws]
    assert len(set(wordings + one_offs)) == len(wordings + one_offs)  # each text in one place


# --- against the service -----------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    service: HandoffServiceProcess
    smtp_port: int
    end: dt.datetime
    counts: dict[str, int]


def database(service: HandoffServiceProcess) -> sqlite3.Connection:
    return sqlite3.connect(service.database_url.removeprefix("sqlite:///"))


def ratings_in_database(service: HandoffServiceProcess) -> list[int]:
    with closing(database(service)) as conn:
        return [rating for (rating,) in conn.execute("SELECT rating FROM satisfaction_ratings")]


def ids(service: HandoffServiceProcess, query: str) -> set[int]:
    with closing(database(service)) as conn:
        return {row_id for (row_id,) in conn.execute(query)}


def satisfaction_report(service: HandoffServiceProcess) -> dict:
    now = dt.datetime.now(dt.UTC)
    period = {
        "since": (now - dt.timedelta(days=1)).isoformat(),
        "until": (now + dt.timedelta(days=1)).isoformat(),
    }
    with service.api() as api:
        response = api.get("/v1/reports/tickets", params=period)
    assert response.status_code == 200, response.text
    return response.json()["satisfaction"]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    """A service sending its e-mail to a free port, and one generated month (1,000
    conversations) posted to it, the generator receiving the e-mail on that port."""
    smtp_port = free_port()
    workdir = tmp_path_factory.mktemp("month-service")
    end = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    with HandoffServiceProcess(workdir, env=generate_month.service_env(smtp_port)) as service:
        counts = generate_month.generate(
            service.url,
            service.bot_token,
            service.admin_token,
            1000,
            end,
            SEED,
            smtp_port=smtp_port,
        )
        yield Run(service, smtp_port, end, counts)


def test_ratings_arrive_by_the_e_mailed_link_through_the_private_page(run: Run) -> None:
    counts, service = run.counts, run.service
    assert counts["refused_requests"] == 0
    assert counts["ratings"] == counts["ratings_intended"] > 0
    # the ratings the seeded plan meant, exactly: the same values in the database
    conversations = generate_month.month(1000, run.end, SEED)
    rng = random.Random(SEED + 1)
    generate_month.unanswered(conversations, rng)
    handed = sum(c.handoff_reason is not None for c in conversations)
    planned = Counter(f.rating for f in generate_month.fates(handed, rng) if f.rating)
    stored = ratings_in_database(service)
    assert Counter(stored) == planned and len(stored) == counts["ratings"]
    # ... posted on the private page's form, once per rated ticket
    rating_posts = service.metric(
        "handoff_http_requests_total", method="POST", route="/t/{key}/rating", status="303"
    )
    assert rating_posts == counts["ratings"]
    rated = ids(service, "SELECT ticket_id FROM satisfaction_ratings")
    with_email = ids(service, "SELECT id FROM tickets WHERE customer_email IS NOT NULL")
    resolved_emails = ids(
        service, "SELECT ticket_id FROM email_outbox WHERE kind = 'resolved' AND status = 'sent'"
    )
    # only the customers who rate left an address, and each got the link by e-mail
    assert rated == with_email == resolved_emails
    # the satisfaction report counts them
    satisfaction = satisfaction_report(service)
    assert satisfaction["response_rate"]["numerator"] == counts["ratings"]
    assert satisfaction["average"] == pytest.approx(sum(stored) / len(stored))


def test_unanswered_questions_are_recorded_with_variety(run: Run) -> None:
    with run.service.api() as api:
        recorded = api.get("/v1/unanswered", params={"limit": 1000}).json()
    assert len(recorded) == run.counts["unanswered_questions"] > 0
    topic_of = {
        wording: topic
        for topic, languages in generate_month.UNANSWERED.items()
        for wordings in languages.values()
        for wording in wordings
    }
    one_offs = {w for wordings in generate_month.ONE_OFF.values() for w in wordings}
    texts = [q["text"] for q in recorded]
    assert all(text in topic_of or text in one_offs for text in texts)  # stored as asked
    topics = {topic_of[text] for text in texts if text in topic_of}
    assert len(topics) >= 8
    # a topic is asked in several wordings, in both languages
    for language in ("es", "en"):
        asked = Counter(topic_of[q["text"]] for q in recorded
                        if q["language"] == language and q["text"] in topic_of)  # fmt: skip
        wordings = {q["text"] for q in recorded if q["language"] == language}
        assert len(asked) >= 5 and len(wordings) >= 2 * len(asked)
    assert any(text in one_offs for text in texts)


def test_a_run_whose_e_mail_does_not_arrive_fails_and_posts_no_rating(run: Run) -> None:
    """The service keeps sending to the fixture's port, where nobody listens now; the
    generator listens on another: no "resolved" e-mail arrives, so no rating is posted, and the
    run says so instead of reporting ratings."""
    before = ratings_in_database(run.service)
    elsewhere = free_port()
    assert elsewhere != run.smtp_port
    with pytest.raises(
        generate_month.RatingsNotPosted, match=r"^0 of \d+ ratings posted"
    ) as failed:
        generate_month.generate(
            run.service.url,
            run.service.bot_token,
            run.service.admin_token,
            300,
            dt.datetime.now(dt.UTC) - dt.timedelta(hours=1),
            SEED + 1,
            smtp_port=elsewhere,
            mail_timeout=5,
        )
    counts = failed.value.counts
    assert counts["ratings"] == 0 < counts["ratings_intended"]
    assert counts["emails_received"] == 0
    assert ratings_in_database(run.service) == before
    assert satisfaction_report(run.service)["response_rate"]["numerator"] == len(before)
