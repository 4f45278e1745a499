"""The Rasa custom actions: language slot, KB answer/clarify/fallback, feedback and handoff.

The handoff form's validation is in ``handoff_form.py``, the handoff itself in
``handoff.py`` and the ticket status question in ``ticket_status.py``.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import ValidationAction

from actions import kb
from actions.conversation import (
    HELPFUL,
    KB_ARTICLES,
    KB_CANDIDATES,
    LANGUAGE,
    LAST_QUESTION,
    NOT_HELPFUL,
    PENDING_FEEDBACK,
    ShownArticle,
    current_language,
    latest_metadata,
    latest_text,
    response_text,
    shown_articles,
    with_feedback,
)
from actions.events import is_first_message, record_event
from actions.gaps import FALLBACK, NEGATIVE_FEEDBACK, record_gap
from actions.handoff import announce_ticket, start_handoff, submit_handoff
from actions.handoff_payload import conversation_id
from actions.language import resolve_language
from actions.metrics import SEARCH_BANDS
from actions.sensitive import contains_personal_data, is_sensitive
from actions.settings import get_settings
from handoff_service.redaction import redact
from handoff_service.vocabulary import EventKind
from knowledge.articles import Article
from knowledge.search import Band, Hit, SearchOutcome
from knowledge.service import KnowledgeService

logger = logging.getLogger(__name__)

SEARCH_K = 3

DomainDict = dict[str, Any]


class ActionDetectLanguage(Action):
    """Slot mapping action of ``language`` (run by action_extract_slots every user turn)."""

    def name(self) -> str:
        return "action_detect_language"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        current = tracker.get_slot(LANGUAGE)
        language = resolve_language(latest_text(tracker), latest_metadata(tracker), current)
        return [] if language == current else [SlotSet(LANGUAGE, language)]


class ActionAnnounceTicket(ValidationAction):
    """Runs after the slot mappings of every customer message (Rasa's global
    ``action_validate_slot_mappings``; unlike a slot-mapping action, its messages reach the
    customer). A handoff that waited in the outbox may have its ticket by now: say so at once.
    """

    def name(self) -> str:
        return "action_validate_slot_mappings"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        if is_first_message(tracker):
            record_event(tracker, EventKind.CONVERSATION_STARTED)
        return announce_ticket(dispatcher, tracker, domain, current_language(tracker))


class ActionSearchKb(Action):
    """Answer a question from the KB; the search band picks answer, clarify or fallback."""

    def name(self) -> str:
        return "action_search_kb"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        return answer_question(dispatcher, tracker, domain)


class ActionShowArticle(Action):
    """The customer picked a clarify candidate (button payload or "the second one").

    A message classified as choose_article that names no article (no payload entity, no
    ordinal matching an offered candidate) is searched like any other message.
    """

    def name(self) -> str:
        return "action_show_article"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        try:
            knowledge = kb.get_knowledge_base()
        except Exception:
            logger.exception("knowledge base unavailable; answering with the fallback")
            dispatcher.utter_message(response="utter_fallback")
            return []
        article_id = next(tracker.get_latest_entity_values("article_id"), None)
        candidates = list(tracker.get_slot(KB_CANDIDATES) or [])
        if article_id is None:
            article_id = candidate_by_ordinal(latest_text(tracker), candidates)
            if article_id is None:
                return answer_question(dispatcher, tracker, domain, is_question=False)
        article = localized(knowledge, article_id, current_language(tracker))
        if article is None:
            dispatcher.utter_message(response="utter_article_not_found")
            return []
        if article_id in candidates:
            record_event(tracker, EventKind.CLARIFY_PICKED, article_id=article.id)
        remaining = [c for c in candidates if c != article_id]
        question = tracker.get_slot(LAST_QUESTION)
        return [
            SlotSet(KB_CANDIDATES, remaining),
            *show_article(dispatcher, tracker, knowledge, article, None, question),
        ]


class ActionFeedbackYes(Action):
    """ "Yes, it solved it": record it, thank and close.

    Without an open feedback question the message is searched like any other: the classifier
    also labels some keyboard mashes as affirm/deny, and the search band turns those into
    "not sure".
    """

    def name(self) -> str:
        return "action_feedback_yes"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        pending = tracker.get_slot(PENDING_FEEDBACK)
        if not pending:
            return answer_question(dispatcher, tracker, domain, is_question=False)
        dispatcher.utter_message(response="utter_glad_to_help")
        record_event(tracker, EventKind.FEEDBACK, article_id=pending, helpful=True)
        return [
            SlotSet(KB_ARTICLES, with_feedback(shown_articles(tracker), pending, HELPFUL)),
            SlotSet(PENDING_FEEDBACK, None),
            SlotSet(KB_CANDIDATES, []),
        ]


class ActionFeedbackNo(Action):
    """ "No": offer the next close-enough article not shown yet for this question, or hand off.

    A "no" to the clarify question ("None of these") hands over as well; without an open
    question the message is searched like any other (see :class:`ActionFeedbackYes`).
    """

    def name(self) -> str:
        return "action_feedback_no"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        pending = tracker.get_slot(PENDING_FEEDBACK)
        if not pending:
            if tracker.get_slot(KB_CANDIDATES):
                return start_handoff(dispatcher, tracker, "no_matching_article")
            return answer_question(dispatcher, tracker, domain, is_question=False)
        articles = with_feedback(shown_articles(tracker), pending, NOT_HELPFUL)
        record_event(tracker, EventKind.FEEDBACK, article_id=pending, helpful=False)
        events: list[EventType] = [SlotSet(KB_ARTICLES, articles)]
        question = tracker.get_slot(LAST_QUESTION)
        language = current_language(tracker)
        record_gap(question, language, NEGATIVE_FEEDBACK, conversation_id(tracker))
        try:
            knowledge = kb.get_knowledge_base()
            candidate = next_best(knowledge, question, language, articles)
        except Exception:
            logger.exception("next-best search failed; handing off")
            candidate = None
        if candidate is None:
            dispatcher.utter_message(response="utter_no_more_articles")
            return events + start_handoff(dispatcher, tracker, "not_solved")
        dispatcher.utter_message(response="utter_next_best")
        return events + show_article(
            dispatcher, tracker, knowledge, candidate.article, candidate.score, question, articles
        )


class ActionStartHandoff(Action):
    """The customer asked for a person or complained: start the handoff form.

    Asking for a person right after the bot said it was not sure (the "Talk to a person"
    button of ``utter_fallback``/``utter_default``) is handed over as ``low_confidence``.
    """

    def name(self) -> str:
        return "action_start_handoff"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        if intent == "complain":
            return start_handoff(dispatcher, tracker, "complaint", response="utter_complaint")
        reason = "low_confidence" if last_bot_response(tracker) in NOT_SURE else "customer_request"
        return start_handoff(dispatcher, tracker, reason)


NOT_SURE = ("utter_fallback", "utter_default", "utter_please_summarise")


def last_bot_response(tracker: Tracker) -> str | None:
    """Name of the response the bot last uttered (Rasa keeps it in the event's metadata)."""
    for event in reversed(tracker.events):
        if event.get("event") == "bot":
            return (event.get("metadata") or {}).get("utter_action")
    return None


class ActionSubmitHandoff(Action):
    """The handoff form is done: send the handoff (see ``handoff.submit_handoff``)."""

    def name(self) -> str:
        return "action_submit_handoff"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        return await submit_handoff(dispatcher, tracker, domain)


def answer_question(
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    domain: DomainDict,
    is_question: bool = True,
) -> list[EventType]:
    """Search the KB for the latest message and answer, clarify or fall back by band.

    The message becomes ``last_question`` (kept for the handoff) when it was classified as a
    question or the search found articles for it; a stray "ok" that falls back does not.
    """
    question = latest_text(tracker).strip()
    language = current_language(tracker)
    personal_data = contains_personal_data(question)
    if personal_data or (is_question and is_sensitive(question)):
        # Fraud, hacked accounts, disputed charges, card or ID numbers: a person, not an article.
        if personal_data:
            dispatcher.utter_message(response="utter_personal_data_warning")
            question = redact(question)
        return [
            SlotSet(LAST_QUESTION, question),
            *start_handoff(
                dispatcher,
                tracker,
                "sensitive_data",
                response="utter_handoff_sensitive",
                question=question,
            ),
        ]
    try:
        knowledge = kb.get_knowledge_base()
        outcome = knowledge.search(question, language=language, k=SEARCH_K)
    except Exception:
        # The customer must not be left without a reply: say "not sure", offer a person.
        logger.exception("knowledge-base search failed; answering with the fallback")
        outcome = SearchOutcome(Band.FALLBACK, [], "search_error")
    SEARCH_BANDS.labels(outcome.band.value, language).inc()
    logger.info(
        "search band=%s reason=%s hits=%s",
        outcome.band,
        outcome.reason,
        [(h.article.id, round(h.score, 3)) for h in outcome.hits],
    )
    events: list[EventType] = []
    if question and (is_question or outcome.band is not Band.FALLBACK):
        events.append(SlotSet(LAST_QUESTION, question))
    if outcome.band is Band.ANSWER and outcome.hits:
        hit = outcome.hits[0]
        return events + show_article(
            dispatcher, tracker, knowledge, hit.article, hit.score, question
        )
    if outcome.band is Band.CLARIFY and outcome.hits:
        buttons = [
            {"title": h.article.title, "payload": choose_payload(h.article.id)}
            for h in outcome.hits
        ]
        none_title = response_text(domain, "utter_none_of_these", language)
        buttons.append({"title": none_title, "payload": "/deny"})
        dispatcher.utter_message(response="utter_clarify", buttons=buttons)
        record_event(tracker, EventKind.CLARIFY_SHOWN)
        ids = [h.article.id for h in outcome.hits]
        return [*events, SlotSet(KB_CANDIDATES, ids), SlotSet(PENDING_FEEDBACK, None)]
    record_event(tracker, EventKind.FALLBACK)
    if outcome.reason == "too_long":
        # Not a question the KB lacks an answer to: the customer is asked for a summary.
        dispatcher.utter_message(response="utter_please_summarise")
        return [SlotSet(KB_CANDIDATES, []), SlotSet(PENDING_FEEDBACK, None)]
    if question and is_question:
        record_gap(question, language, FALLBACK, conversation_id(tracker))
    dispatcher.utter_message(response="utter_fallback")
    return [*events, SlotSet(KB_CANDIDATES, []), SlotSet(PENDING_FEEDBACK, None)]


def choose_payload(article_id: str) -> str:
    """Button payload selecting an article: ``/choose_article{"article_id":"..."}``."""
    return "/choose_article" + json.dumps({"article_id": article_id}, separators=(",", ":"))


def show_article(
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    knowledge: KnowledgeService,
    article: Article,
    score: float | None,
    question: str | None,
    articles: list[ShownArticle] | None = None,
) -> list[EventType]:
    """Utter the article's short answer with title and link, then ask whether it helped."""
    url = knowledge.url(article)
    dispatcher.utter_message(
        response="utter_answer", title=article.title, summary=article.summary, url=url
    )
    dispatcher.utter_message(response="utter_ask_feedback")
    record_event(
        tracker,
        EventKind.ARTICLE_SHOWN,
        article_id=article.id,
        score=None if score is None else round(score, 4),
    )
    shown: ShownArticle = {
        "article_id": article.id,
        "title": article.title,
        "url": url,
        "score": None if score is None else round(score, 4),
        "question": question,
        "feedback": None,
        "category": article.category,
    }
    previous = shown_articles(tracker) if articles is None else articles
    return [SlotSet(KB_ARTICLES, [*previous, shown]), SlotSet(PENDING_FEEDBACK, article.id)]


def next_best(
    knowledge: KnowledgeService,
    question: str | None,
    language: str,
    shown: list[ShownArticle],
) -> Hit | None:
    """The best article for ``question`` not yet shown for it, if the service finds one close
    enough (:meth:`KnowledgeService.next_best`). At most ``max_articles_per_question``
    articles are shown for one question; after that a person is better than more reading.
    """
    if not question:
        return None
    already = {item["article_id"] for item in shown if item["question"] == question}
    if len(already) >= get_settings().max_articles_per_question:
        return None
    return knowledge.next_best(question, language, exclude=already)


def localized(knowledge: KnowledgeService, article_id: str | None, language: str) -> Article | None:
    """The article, in the customer's current language when it is published in it."""
    article = knowledge.get(article_id) if article_id else None
    if article is None:
        return None
    return knowledge.translation(article, language) or article


_ORDINALS = {
    1: ("1", "first", "primero", "primera"),  # not "one": "the second one"
    2: ("2", "second", "segundo", "segunda", "dos", "two"),
    3: ("3", "third", "tercero", "tercera", "tres", "three"),
}
_LAST = ("last", "último", "ultimo", "última", "ultima")
_TOKEN = re.compile(r"\w+")


def candidate_by_ordinal(text: str, candidates: list[str]) -> str | None:
    """Map "the second one" / "la segunda" / "option 3" / "the last one" to a candidate id."""
    if not candidates:
        return None
    tokens = set(_TOKEN.findall(text.lower()))
    if tokens & set(_LAST):
        return candidates[-1]
    for position, words in _ORDINALS.items():
        if tokens & set(words) and position <= len(candidates):
            return candidates[position - 1]
    return None
