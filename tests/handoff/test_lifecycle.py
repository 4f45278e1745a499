"""The ticket lifecycle: the state machine table, and the agents' actions through the API."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from handoff_service.lifecycle import TRANSITIONS, Action, InvalidTransition, next_status
from handoff_service.vocabulary import Status

EXPECTED = {
    (Status.NEW, Action.CLAIM): Status.ASSIGNED,
    (Status.ASSIGNED, Action.START): Status.IN_PROGRESS,
    (Status.IN_PROGRESS, Action.WAIT_ON_CUSTOMER): Status.WAITING_ON_CUSTOMER,
    (Status.WAITING_ON_CUSTOMER, Action.RESUME): Status.IN_PROGRESS,
    (Status.ASSIGNED, Action.RESOLVE): Status.RESOLVED,
    (Status.IN_PROGRESS, Action.RESOLVE): Status.RESOLVED,
    (Status.WAITING_ON_CUSTOMER, Action.RESOLVE): Status.RESOLVED,
    (Status.RESOLVED, Action.CLOSE): Status.CLOSED,
    (Status.RESOLVED, Action.REOPEN): Status.ASSIGNED,
    (Status.CLOSED, Action.REOPEN): Status.ASSIGNED,
    **{
        (s, Action.ESCALATE): Status.NEW
        for s in (Status.NEW, Status.ASSIGNED, Status.IN_PROGRESS, Status.WAITING_ON_CUSTOMER)
    },
}


@pytest.mark.parametrize("status", list(Status))
@pytest.mark.parametrize("action", list(Action))
def test_state_machine_table(status: Status, action: Action) -> None:
    if (status, action) in EXPECTED:
        assert next_status(status, action) is EXPECTED[(status, action)]
    else:
        with pytest.raises(InvalidTransition, match=f"that is {status.value}; allowed from"):
            next_status(status, action)


def test_every_transition_is_covered_by_the_table() -> None:
    declared = {(s, a) for a, t in TRANSITIONS.items() for s in t.sources}
    assert declared == set(EXPECTED)


def test_full_lifecycle_with_history(client: TestClient, tokens, make_ticket) -> None:
    number = make_ticket()["number"]
    agent = tokens["agent"]
    url = f"/v1/tickets/{number}"

    claimed = client.post(f"{url}/claim", headers=agent).json()
    assert claimed["status"] == "assigned" and claimed["assignee"] == "ana"
    assert client.post(f"{url}/start", headers=agent).json()["status"] == "in_progress"
    r = client.post(
        f"{url}/comments",
        json={"body": "¿Nos confirmas la dirección?", "visibility": "customer"},
        headers=agent,
    )
    assert r.status_code == 201
    assert client.post(f"{url}/wait-on-customer", headers=agent).json()["status"] == (
        "waiting_on_customer"
    )
    assert client.post(f"{url}/resume", headers=agent).json()["status"] == "in_progress"
    r = client.post(
        f"{url}/resolve",
        json={
            "resolution_note": "Abierta investigación con el transportista; reenviado el pedido."
        },
        headers=agent,
    )
    assert r.json()["status"] == "resolved" and r.json()["resolved_at"]
    closed = client.post(f"{url}/close", headers=agent).json()
    assert closed["status"] == "closed" and closed["closed_at"]
    reopened = client.post(
        f"{url}/reopen", json={"reason": "El cliente dice que no llegó"}, headers=tokens["agent2"]
    ).json()
    assert reopened["status"] == "assigned" and reopened["closed_at"] is None

    events = client.get(f"{url}/events", headers=agent).json()
    assert [e["kind"] for e in events] == [
        "created",
        "triaged",
        "claim",
        "start",
        "comment",
        "wait_on_customer",
        "resume",
        "resolve",
        "close",
        "reopen",
    ]
    assert all(e["created_at"] for e in events)
    assert events[2]["actor"] == "ana" and events[2]["data"] == {"from": "new", "to": "assigned"}
    assert events[-1]["actor"] == "bruno"
    assert events[-1]["data"]["reason"] == "El cliente dice que no llegó"


def test_invalid_transitions_get_409_with_a_message(
    client: TestClient, tokens, make_ticket
) -> None:
    number = make_ticket()["number"]
    agent = tokens["agent"]
    r = client.post(f"/v1/tickets/{number}/close", headers=agent)
    assert r.status_code == 409
    assert r.json()["detail"] == "cannot close a ticket that is new; allowed from: resolved"
    r = client.post(f"/v1/tickets/{number}/resolve", json={"resolution_note": "x"}, headers=agent)
    assert r.status_code == 409 and "allowed from" in r.json()["detail"]
    client.post(f"/v1/tickets/{number}/claim", headers=agent)
    r = client.post(f"/v1/tickets/{number}/claim", headers=tokens["agent2"])
    assert r.status_code == 409 and "assigned" in r.json()["detail"]


def test_resolving_requires_a_note(client: TestClient, tokens, make_ticket) -> None:
    number = make_ticket()["number"]
    client.post(f"/v1/tickets/{number}/claim", headers=tokens["agent"])
    for body in ({}, {"resolution_note": ""}, {"resolution_note": "   "}):
        r = client.post(f"/v1/tickets/{number}/resolve", json=body, headers=tokens["agent"])
        assert r.status_code == 422, body
    ticket = client.get(f"/v1/tickets/{number}", headers=tokens["agent"]).json()
    assert ticket["status"] == "assigned"


def test_escalation_needs_a_reason_and_a_higher_tier(
    client: TestClient, tokens, make_ticket
) -> None:
    number = make_ticket()["number"]
    url = f"/v1/tickets/{number}"
    agent = tokens["agent"]
    client.post(f"{url}/claim", headers=agent)
    assert client.post(f"{url}/escalate", json={"tier": 2}, headers=agent).status_code == 422
    assert (
        client.post(f"{url}/escalate", json={"tier": 4, "reason": "x"}, headers=agent).status_code
        == 422
    )
    r = client.post(
        f"{url}/escalate",
        json={"tier": 2, "reason": "Necesita técnico de campo", "queue": "technical"},
        headers=agent,
    )
    escalated = r.json()
    assert escalated["tier"] == 2 and escalated["status"] == "new"
    assert escalated["assignee"] is None and escalated["queue"] == "technical"
    r = client.post(f"{url}/escalate", json={"tier": 2, "reason": "otra vez"}, headers=agent)
    assert r.status_code == 409 and "already at tier 2" in r.json()["detail"]
    assert (
        client.post(
            f"{url}/escalate",
            json={"tier": 3, "reason": "Fallo recurrente"},
            headers=tokens["agent2"],
        ).json()["tier"]
        == 3
    )
    events = client.get(f"{url}/events", headers=agent).json()
    escalations = [e for e in events if e["kind"] == "escalate"]
    assert [(e["data"]["from_tier"], e["data"]["to_tier"]) for e in escalations] == [(1, 2), (2, 3)]


def test_change_priority_and_queue(client: TestClient, tokens, make_ticket) -> None:
    ticket = make_ticket()
    url = f"/v1/tickets/{ticket['number']}"
    new_priority = "urgent" if ticket["priority"] != "urgent" else "low"
    new_queue = "billing" if ticket["queue"] != "billing" else "general"  # configured queues
    body = {"priority": new_priority, "queue": new_queue}
    r = client.patch(url, json=body, headers=tokens["agent"])
    assert r.status_code == 200
    changed = r.json()
    assert changed["priority"] == new_priority and changed["queue"] == new_queue
    if new_priority == "urgent":
        assert changed["due_at"] <= ticket["due_at"]
    assert client.patch(url, json={}, headers=tokens["agent"]).status_code == 422
    kinds = [e["kind"] for e in client.get(f"{url}/events", headers=tokens["agent"]).json()]
    assert kinds[-2:] == ["priority_changed", "queue_changed"]


def test_closed_tickets_cannot_be_edited(client: TestClient, tokens, make_ticket) -> None:
    url = f"/v1/tickets/{make_ticket()['number']}"
    agent = tokens["agent"]
    client.post(f"{url}/claim", headers=agent)
    client.post(f"{url}/resolve", json={"resolution_note": "hecho"}, headers=agent)
    client.post(f"{url}/close", headers=agent)
    r = client.post(f"{url}/comments", json={"body": "hola"}, headers=agent)
    assert r.status_code == 409 and "closed" in r.json()["detail"]
    assert client.patch(url, json={"queue": "x"}, headers=agent).status_code == 409


def test_unknown_ticket_is_404(client: TestClient, tokens) -> None:
    r = client.post("/v1/tickets/T-2026-999999/claim", headers=tokens["agent"])
    assert r.status_code == 404
    assert client.get("/v1/tickets/not-a-number", headers=tokens["agent"]).status_code == 422
