"""Validation of the forms that talk to the handoff service: ``handoff_form`` (what a person
needs to take the conversation over) and ``ticket_status_form`` ("how is my ticket?").

Form slots are filled with the customer's whole answer while the form asks for them
(``from_text`` mappings in the domain, so an answer is never lost to the intent classifier);
the ``validate_*`` methods below clean and check it:

* ``customer_name``: "Lucía Pérez", "my name is Lucía", "me llamo Lucía" -> the name; 1-100
  characters with a letter, no ``@``, at most 6 words.
* ``email``: the first address found in the answer ("it's lucia@example.com."), checked with
  :data:`EMAIL_PATTERN` (local part, ``@``, a domain with a dot and a TLD of 2+ letters) and
  then with the handoff service's own ``Email`` type, so the service never rejects it.
* ``order_number``: ``VT-`` and 5 to 10 digits (``VT-123456``; also typed as ``vt 123456``,
  ``#123456`` or just the digits), stored as ``VT-<digits>``. "I don't have it" / "no lo
  tengo" stores ``""`` (no order number). Required only when the conversation is about an
  order: an article shown belongs to one of ``knowledge.articles.ORDER_CATEGORIES`` (orders,
  shipping, returns, refunds, warranty), or the customer's question names one of those
  (:func:`needs_order_number`).
* ``description``: one line (3 characters up to the length of ``HandoffIn.summary``); asked
  only when the conversation has no question yet (``last_question`` is empty).
* ``contact_consent``: yes/no (the Yes/No buttons, the affirm/deny intents or the words).
  "No" ends the form without a ticket, like "cancel".
* ``queried_ticket``: a ticket number (the service's ``TICKET_NUMBER_PATTERN``:
  ``T-<year>-<6+ digits>``), upper-cased.

At any point of a form the customer may correct what they said: an e-mail address anywhere in
a message replaces ``email``; ``VT-...`` replaces ``order_number``; "my name is ..." / "me
llamo ..." replaces ``customer_name``. "cancel" / "cancelar" (and a few synonyms, as the whole
message) ends the form: ``contact_consent`` becomes False and ``action_submit_handoff`` says that
nothing was sent; the ticket status form just stops.

The handoff form asks only for what is still unknown: the required slots are computed per
conversation (:meth:`ValidateHandoffForm.required_slots`) and slots already filled (a name or
e-mail given earlier) are not asked again.
"""

from __future__ import annotations

import re
import unicodedata
from abc import abstractmethod
from typing import Any

from pydantic import TypeAdapter, ValidationError
from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction

from actions.conversation import (
    CONTACT_CONSENT,
    CUSTOMER_NAME,
    DESCRIPTION,
    EMAIL,
    LAST_QUESTION,
    ORDER_NUMBER,
    QUERIED_TICKET,
    REQUESTED_SLOT,
    TICKET_NUMBER,
    latest_text,
    shown_articles,
)
from actions.handoff_payload import MAX_SUMMARY_CHARS
from handoff_service.schemas import TICKET_NUMBER_PATTERN, Email
from knowledge.articles import ORDER_CATEGORIES

DomainDict = dict[str, Any]

EMAIL_PATTERN = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+"
    r"[A-Za-z]{2,24}"
)
ORDER_PATTERN = re.compile(r"(?<![A-Za-z0-9])(?:VT[\s-]?|#)?(\d{5,10})(?!\d)", re.IGNORECASE)
PREFIXED_ORDER_PATTERN = re.compile(r"(?<![A-Za-z0-9])VT[\s-]?(\d{5,10})(?!\d)", re.IGNORECASE)
# The service's anchored pattern, found anywhere in a message.
TICKET_PATTERN = re.compile(
    rf"(?<![A-Za-z0-9]){TICKET_NUMBER_PATTERN.removeprefix('^').removesuffix('$')}(?!\d)",
    re.IGNORECASE,
)
NAME_PREFIX = re.compile(
    r"^\s*(?:my name is|my name's|name is|call me|i am|i'm|me llamo|mi nombre es|soy)\s+",
    re.IGNORECASE,
)
CORRECTED_NAME = re.compile(
    r"^\s*(?:my name is|my name's|call me|me llamo|mi nombre es)\s+(.+)$", re.IGNORECASE
)
ORDER_WORDS = re.compile(
    r"\b(order|orders|parcel|package|delivery|delivered|shipping|shipment|return|returned|"
    r"refund|warranty|repair|pedido|pedidos|paquete|env[ií]o|entrega|entregado|devoluci[oó]n|"
    r"devolver|reembolso|garant[ií]a|reparaci[oó]n)\b",
    re.IGNORECASE,
)

_CANCEL = frozenset(
    {
        "cancel", "cancel it", "cancel please", "please cancel", "stop", "forget it",
        "never mind", "nevermind", "exit", "quit", "abort",
        "cancelar", "cancela", "cancelalo", "cancelar por favor", "por favor cancela",
        "para", "olvidalo", "dejalo", "da igual", "salir",
    }
)  # fmt: skip
_NO_ORDER = re.compile(
    r"\b(no (lo )?tengo|no tengo (el )?(n[uú]mero|pedido)|no lo s[eé]|ninguno|"
    r"i don'?t (have|know)|don'?t have|no order|none|not sure)\b",
    re.IGNORECASE,
)
_YES = frozenset(
    {
        "yes", "y", "yeah", "yep", "sure", "ok", "okay", "of course", "yes please",
        "si", "vale", "claro", "por supuesto", "de acuerdo", "adelante", "/affirm",
    }
)  # fmt: skip
_NO = frozenset({"no", "n", "nope", "no thanks", "no gracias", "/deny"})


def _normalise(text: str) -> str:
    """Lower case, no accents, no surrounding punctuation: for matching short answers."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return re.sub(r"\s+", " ", plain.strip(" \t\n.!¡?¿,;:")).strip()


def is_cancel(text: str | None) -> bool:
    return bool(text) and _normalise(text or "") in _CANCEL


_SERVICE_EMAIL = TypeAdapter(Email)


def find_email(text: str | None) -> str | None:
    """The first address in ``text`` that the handoff service accepts."""
    for match in EMAIL_PATTERN.finditer(text or ""):
        address = match.group(0)
        try:
            return _SERVICE_EMAIL.validate_python(address)
        except ValidationError:
            continue
    return None


def parse_order_number(text: str | None, prefixed_only: bool = False) -> str | None:
    """``VT-<digits>`` from "VT-123456", "vt 123456", "#123456" or "123456"."""
    pattern = PREFIXED_ORDER_PATTERN if prefixed_only else ORDER_PATTERN
    match = pattern.search(text or "")
    return f"VT-{match.group(1)}" if match else None


def parse_ticket_number(text: str | None) -> str | None:
    match = TICKET_PATTERN.search(text or "")
    return match.group(0).upper() if match else None


def parse_name(text: str | None) -> str | None:
    name = NAME_PREFIX.sub("", (text or "").strip()).strip(" .,!¡?¿;:\"'")
    if not name or len(name) > 100 or "@" in name or "/" in name:
        return None
    if len(name.split()) > 6 or not any(c.isalpha() for c in name):
        return None
    return name


def parse_consent(text: str | None, intent: str | None) -> bool | None:
    if intent == "affirm":
        return True
    if intent == "deny":
        return False
    normalised = _normalise(text or "")
    if normalised in _YES:
        return True
    if normalised in _NO:
        return False
    return None


def needs_order_number(tracker: Tracker) -> bool:
    """An order number helps the agent when the conversation is about an order."""
    categories = {a.get("category") for a in shown_articles(tracker)}
    if categories & ORDER_CATEGORIES:
        return True
    question = tracker.get_slot(LAST_QUESTION) or ""
    return bool(ORDER_WORDS.search(question))


def _intent(tracker: Tracker) -> str | None:
    intent = tracker.latest_message.get("intent") or {}
    return intent.get("name") if isinstance(intent, dict) else None


class _CorrectableForm(FormValidationAction):
    """Cancel and corrections, shared by both forms (abstract: not registered as an action)."""

    @abstractmethod
    def name(self) -> str: ...

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        requested = tracker.get_slot(REQUESTED_SLOT)
        if requested and is_cancel(latest_text(tracker)):
            # Rasa already put "cancel" into the requested slot: take it out again.
            return [SlotSet(requested, None), *self.cancel_events()]
        return await super().run(dispatcher, tracker, domain)

    def cancel_events(self) -> list[EventType]:
        return [SlotSet(REQUESTED_SLOT, None)]

    def _asked(self, tracker: Tracker, slot: str) -> bool:
        return tracker.get_slot(REQUESTED_SLOT) == slot

    def _correction_only(self, tracker: Tracker, slot: str) -> bool:
        """The answer to ``slot`` was really a correction of another slot: ask ``slot`` again."""
        if not self._asked(tracker, slot):
            return False
        text = latest_text(tracker)
        if slot != EMAIL and find_email(text):
            return True
        if slot != ORDER_NUMBER and parse_order_number(text, prefixed_only=True):
            return True
        return slot != CUSTOMER_NAME and bool(CORRECTED_NAME.match(text))

    def extract_email(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """An address given while the form asks for something else is a correction."""
        if self._asked(tracker, EMAIL):
            return {}
        address = find_email(latest_text(tracker))
        if address is None or address == tracker.get_slot(EMAIL):
            return {}
        if tracker.get_slot(REQUESTED_SLOT):  # not at activation: say what changed
            dispatcher.utter_message(response="utter_email_updated", email=address)
        return {EMAIL: address}

    def validate_email(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        address = find_email(str(value or ""))
        if address is None and self._correction_only(tracker, EMAIL):
            return {EMAIL: None}
        if address is None:
            dispatcher.utter_message(response="utter_invalid_email")
        return {EMAIL: address}


class ValidateHandoffForm(_CorrectableForm):
    def name(self) -> str:
        return "validate_handoff_form"

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        """Name and e-mail always (skipped when known), the order number only for orders,
        a description only when there is no question yet, then the consent."""
        slots = [CUSTOMER_NAME, EMAIL]
        if needs_order_number(tracker):
            slots.append(ORDER_NUMBER)
        if not tracker.get_slot(LAST_QUESTION):
            slots.append(DESCRIPTION)
        slots.append(CONTACT_CONSENT)
        return slots

    def cancel_events(self) -> list[EventType]:
        return [SlotSet(CONTACT_CONSENT, False), SlotSet(REQUESTED_SLOT, None)]

    def extract_customer_name(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if self._asked(tracker, CUSTOMER_NAME) or not tracker.get_slot(REQUESTED_SLOT):
            return {}
        match = CORRECTED_NAME.match(latest_text(tracker))
        name = parse_name(match.group(1)) if match else None
        if name is None or name == tracker.get_slot(CUSTOMER_NAME):
            return {}
        dispatcher.utter_message(response="utter_name_updated", customer_name=name)
        return {CUSTOMER_NAME: name}

    def extract_order_number(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if self._asked(tracker, ORDER_NUMBER):
            return {}
        number = parse_order_number(latest_text(tracker), prefixed_only=True)
        if number is None or number == tracker.get_slot(ORDER_NUMBER):
            return {}
        if tracker.get_slot(REQUESTED_SLOT):
            dispatcher.utter_message(response="utter_order_number_updated", order_number=number)
        return {ORDER_NUMBER: number}

    def validate_customer_name(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if self._correction_only(tracker, CUSTOMER_NAME):
            return {CUSTOMER_NAME: None}
        name = parse_name(str(value or ""))
        if name is None:
            dispatcher.utter_message(response="utter_invalid_customer_name")
        return {CUSTOMER_NAME: name}

    def validate_order_number(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = str(value if value is not None else "")
        if text == "":
            return {ORDER_NUMBER: ""}  # known: the customer has none at hand
        if self._correction_only(tracker, ORDER_NUMBER):
            return {ORDER_NUMBER: None}
        number = parse_order_number(text)
        if number is not None:
            return {ORDER_NUMBER: number}
        if _NO_ORDER.search(text) or _normalise(text) in _NO:
            return {ORDER_NUMBER: ""}
        dispatcher.utter_message(response="utter_invalid_order_number")
        return {ORDER_NUMBER: None}

    def validate_description(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if self._correction_only(tracker, DESCRIPTION):
            return {DESCRIPTION: None}
        text = " ".join(str(value or "").split())
        if len(text) < 3 or text.startswith("/"):
            dispatcher.utter_message(response="utter_invalid_description")
            return {DESCRIPTION: None}
        return {DESCRIPTION: text[:MAX_SUMMARY_CHARS]}

    def validate_contact_consent(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if isinstance(value, bool):
            return {CONTACT_CONSENT: value}
        if self._correction_only(tracker, CONTACT_CONSENT):
            return {CONTACT_CONSENT: None}
        consent = parse_consent(str(value or ""), _intent(tracker))
        if consent is None:
            dispatcher.utter_message(response="utter_invalid_contact_consent")
            return {CONTACT_CONSENT: None}
        if not consent:  # "no" ends the form: action_submit_handoff confirms nothing was sent
            return {CONTACT_CONSENT: False, REQUESTED_SLOT: None}
        return {CONTACT_CONSENT: True}


class ValidateTicketStatusForm(_CorrectableForm):
    def name(self) -> str:
        return "validate_ticket_status_form"

    def extract_queried_ticket(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """A number in the message (also when the NLU did not tag it), else this
        conversation's own ticket."""
        if tracker.get_slot(QUERIED_TICKET) or self._asked(tracker, QUERIED_TICKET):
            return {}
        number = parse_ticket_number(latest_text(tracker)) or tracker.get_slot(TICKET_NUMBER)
        return {QUERIED_TICKET: number} if number else {}

    def validate_queried_ticket(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        number = parse_ticket_number(str(value or ""))
        if number is None:
            dispatcher.utter_message(response="utter_invalid_queried_ticket")
        return {QUERIED_TICKET: number}
