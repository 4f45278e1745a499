"""The ticket state machine: the one place that knows which action is allowed when.

new -> assigned -> in_progress -> waiting_on_customer -> resolved -> closed, plus escalation
to tier 2/3 (back to ``new`` in the higher tier's queue) and reopening.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from handoff_service.vocabulary import Status

S = Status
OPEN = frozenset({S.NEW, S.ASSIGNED, S.IN_PROGRESS, S.WAITING_ON_CUSTOMER})


class Action(StrEnum):
    CLAIM = "claim"
    START = "start"
    WAIT_ON_CUSTOMER = "wait_on_customer"
    RESUME = "resume"
    RESOLVE = "resolve"
    CLOSE = "close"
    REOPEN = "reopen"
    ESCALATE = "escalate"


@dataclass(frozen=True)
class Transition:
    sources: frozenset[Status]
    target: Status


TRANSITIONS: dict[Action, Transition] = {
    Action.CLAIM: Transition(frozenset({S.NEW}), S.ASSIGNED),
    Action.START: Transition(frozenset({S.ASSIGNED}), S.IN_PROGRESS),
    Action.WAIT_ON_CUSTOMER: Transition(frozenset({S.IN_PROGRESS}), S.WAITING_ON_CUSTOMER),
    Action.RESUME: Transition(frozenset({S.WAITING_ON_CUSTOMER}), S.IN_PROGRESS),
    Action.RESOLVE: Transition(
        frozenset({S.ASSIGNED, S.IN_PROGRESS, S.WAITING_ON_CUSTOMER}), S.RESOLVED
    ),
    Action.CLOSE: Transition(frozenset({S.RESOLVED}), S.CLOSED),
    Action.REOPEN: Transition(frozenset({S.RESOLVED, S.CLOSED}), S.ASSIGNED),
    Action.ESCALATE: Transition(OPEN, S.NEW),
}

# Editing (comments, priority, queue) is allowed on every ticket that is not closed.
EDITABLE = frozenset(Status) - {S.CLOSED}
# Only tickets with a documented solution can become KB article drafts.
KB_DRAFTABLE = frozenset({S.RESOLVED, S.CLOSED})


class InvalidTransition(Exception):
    """An action that the ticket's current status does not allow (HTTP 409)."""


def next_status(current: Status | str, action: Action) -> Status:
    """The status after ``action``, or :class:`InvalidTransition` with a readable message."""
    current = Status(current)
    transition = TRANSITIONS[action]
    if current not in transition.sources:
        allowed = ", ".join(sorted(s.value for s in transition.sources))
        raise InvalidTransition(
            f"cannot {action.value.replace('_', ' ')} a ticket that is {current.value}; "
            f"allowed from: {allowed}"
        )
    return transition.target


def allowed_actions(current: Status | str) -> set[Action]:
    """The lifecycle actions the ticket's status allows (what the console offers)."""
    current = Status(current)
    return {action for action, t in TRANSITIONS.items() if current in t.sources}


def check_editable(current: Status | str, what: str) -> None:
    if Status(current) not in EDITABLE:
        raise InvalidTransition(f"cannot {what} on a closed ticket; reopen it first")
