"""The agents' queue: filters, and sorting by due date."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_queue_filters_and_sorts_by_due_date(client: TestClient, tokens, make_ticket) -> None:
    agent = tokens["agent"]
    tickets = [make_ticket() for _ in range(3)]
    tickets.append(
        make_ticket(
            language="en",
            transcript=[
                {"role": "customer", "text": "The laptop battery is swollen and lifting the case"}
            ],
        )
    )
    # make the priorities distinct so the due dates differ
    for ticket, priority in zip(tickets, ["low", "urgent", "high", "normal"], strict=True):
        client.patch(f"/v1/tickets/{ticket['number']}", json={"priority": priority}, headers=agent)

    page = client.get("/v1/tickets", headers=agent).json()
    assert page["total"] == 4
    dues = [item["due_at"] for item in page["items"]]
    assert dues == sorted(dues)
    assert page["items"][0]["priority"] == "urgent"

    assert client.get("/v1/tickets?priority=urgent", headers=agent).json()["total"] == 1
    assert client.get("/v1/tickets?language=en", headers=agent).json()["total"] == 1
    assert client.get("/v1/tickets?tier=1&status=new", headers=agent).json()["total"] == 4
    queue = tickets[0]["queue"]
    by_queue = client.get(f"/v1/tickets?queue={queue}", headers=agent).json()
    assert by_queue["total"] >= 1 and all(i["queue"] == queue for i in by_queue["items"])

    client.post(f"/v1/tickets/{tickets[0]['number']}/claim", headers=agent)
    assigned = client.get("/v1/tickets?status=assigned", headers=agent).json()
    assert [i["number"] for i in assigned["items"]] == [tickets[0]["number"]]
    assert assigned["items"][0]["assignee"] == "ana"

    second_page = client.get("/v1/tickets?limit=2&offset=2", headers=agent).json()
    assert [i["number"] for i in second_page["items"]] == [i["number"] for i in page["items"][2:]]


def test_queue_rejects_bad_filters(client: TestClient, tokens) -> None:
    agent = tokens["agent"]
    for query in (
        "status=lost",
        "priority=asap",
        "tier=7",
        "limit=0",
        "limit=100000",
        "queue=Bad%20Queue",
    ):
        assert client.get(f"/v1/tickets?{query}", headers=agent).status_code == 422, query
    assert client.get("/v1/tickets").status_code == 401
