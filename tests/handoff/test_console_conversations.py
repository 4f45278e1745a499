"""The conversations behind the reports page's figures (/console/conversations, its CSV, and
/console/conversations/{id}), on SQLite and PostgreSQL: every figure's link leads to a list
whose count is the figure, and the list's rows are the API's (GET /v1/reports/conversations).

The scenario is the reports page's (tests/handoff/test_console_reports.py): conversations of
every outcome posted as the bot posts them, tickets made and moved by real actions.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from handoff_service.console.filters import local_time
from handoff_service.console.reports import OUTCOME_LABELS
from handoff_service.unanswered import text_hash
from handoff_service.vocabulary import Outcome
from tests.handoff import test_console_reports as reports_page
from tests.handoff.test_console_reports import SCRIPT, Scenario, Tables, ask, console, page
from tests.handoff.test_reporting import DAY, HOUR, Chat, post

#: The reports page's fixtures: its scenario, an admin's console, the organisation's zone.
admin, empty, scenario, zone = (
    reports_page.admin,
    reports_page.empty,
    reports_page.scenario,
    reports_page.zone,
)

LIST = "/console/conversations"
CSV = "/console/conversations.csv"
API = "/v1/reports/conversations"
TOTAL = re.compile(r'data-total="(\d+)"')


def listing(browser: TestClient, url: str) -> tuple[int, Tables]:
    """The count and the tables of a list page."""
    response = browser.get(url)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    match = TOTAL.search(response.text)
    assert match, response.text
    return int(match[1]), Tables(response.text)


def api_rows(client: TestClient, tokens: dict[str, Any], scenario: Scenario, **params: Any) -> Any:
    query = {"since": scenario.since.isoformat(), "until": scenario.until.isoformat()}
    response = client.get(API, params=query | params | {"limit": 10_000}, headers=tokens["admin"])
    assert response.status_code == 200, response.text
    return response.json()


def test_each_figure_links_to_the_conversations_it_counts(
    admin: TestClient, scenario: Scenario
) -> None:
    html = page(admin, **scenario.form)
    followed = 0
    for name in ("outcomes", "weeks", "articles"):
        for row in html.tables[name]:
            for cell in row[1:]:
                if cell.href is None or not cell.href.startswith(LIST):
                    continue
                total, _ = listing(admin, cell.href)
                figure = int(cell.text.split()[0])
                assert total == figure, (name, row[0].text, cell.href)
                followed += 1
    # every count of the outcome and article tables, each week's total and its four outcomes
    outcome_rows = len(html.tables["outcomes"])
    week_cells = 5 * len(html.tables["weeks"])
    article_cells = 4 * len(html.tables["articles"])
    assert followed == outcome_rows + week_cells + article_cells
    assert article_cells > 0 and len(html.tables["weeks"]) == 3

    # a handed-over row links with its reason, and the list says so in words
    rows = {row[0].text: row for row in html.tables["outcomes"]}
    link = rows["Handed over: customer request"][1].href or ""
    query = parse_qs(urlsplit(link).query)
    assert query == {
        "since": [scenario.first_day.isoformat()],
        "until": [scenario.last_day.isoformat()],
        "outcome": ["handed_over"],
        "reason": ["customer_request"],
    }
    response = admin.get(link)
    assert '<h1 id="filter">Conversations handed over for customer request, started' in (
        response.text
    )


def test_the_list_shows_the_api_rows_with_links(
    admin: TestClient, client: TestClient, tokens: dict[str, Any], scenario: Scenario
) -> None:
    expected = api_rows(client, tokens, scenario)
    total, html = listing(admin, f"{LIST}?{urlencode(scenario.form)}")
    assert total == expected["total"] == 8
    rows = html.tables["conversations"]
    assert [row[0].text for row in rows] == [r["conversation_id"] for r in expected["rows"]]
    for row, want in zip(rows, expected["rows"], strict=True):
        assert row[0].href == f"{LIST}/{want['conversation_id']}"
        started = dt.datetime.fromisoformat(want["started_at"])
        assert row[1].text == local_time(started, scenario.zone)
        assert row[3].text == OUTCOME_LABELS[Outcome(want["outcome"])]
        assert row[5].text == (", ".join(want["articles"]) or "—")
        ticket = want["ticket"]
        assert (row[6].text, row[6].href) == (
            (ticket, f"/console/tickets/{ticket}") if ticket else ("—", None)
        )
    assert any(row[6].href for row in rows)


def test_the_filter_is_described_in_words(admin: TestClient, scenario: Scenario) -> None:
    a = "returns-how-to-es"
    params = {**scenario.form, "language": "es", "article_id": a, "feedback": "not_helpful"}
    response = admin.get(LIST, params=params)
    assert response.status_code == 200
    heading = re.search(r'<h1 id="filter">(.*?)</h1>', response.text)
    assert heading is not None
    assert heading[1] == (
        f"Conversations that showed {a} (the customer said it did not help: the latest feedback "
        f"on it), started {scenario.first_day:%a %d %b %Y} to {scenario.last_day:%a %d %b %Y}, "
        "in Español"
    )


def test_repeated_questions_select_the_conversations_that_asked_any(
    admin: TestClient,
    client: TestClient,
    tokens: dict[str, Any],
    scenario: Scenario,
) -> None:
    chats = api_rows(client, tokens, scenario)["rows"]
    first, second, third = (row["conversation_id"] for row in chats[:3])
    when = scenario.since + DAY
    ask(client, tokens, "¿Puedo pagar con Bizum?", when, conversation_id=first)
    ask(client, tokens, "¿Aceptáis PayPal?", when, conversation_id=second)
    ask(client, tokens, "¿Aceptáis PayPal?", when, conversation_id=third, reason="handoff")
    ask(client, tokens, "Otra cosa", when, conversation_id=third)
    hashes = [text_hash("¿Puedo pagar con Bizum?"), text_hash("¿Aceptáis PayPal?")]
    url = f"{LIST}?{urlencode({**scenario.form, 'question': hashes}, doseq=True)}"
    total, html = listing(admin, url)
    assert total == 3
    assert {row[0].text for row in html.tables["conversations"]} == {first, second, third}
    response = admin.get(url)
    assert "that asked “¿Aceptáis PayPal?” or “¿Puedo pagar con Bizum?”" in response.text
    one = f"{LIST}?{urlencode({**scenario.form, 'question': hashes[0]})}"
    assert listing(admin, one)[0] == 1


def test_pages_of_fifty_with_the_filters_kept(
    empty: None,
    admin: TestClient,
    client: TestClient,
    tokens: dict[str, Any],
    zone: ZoneInfo,
) -> None:
    start = dt.datetime.combine(dt.date(2026, 3, 2), dt.time(9), tzinfo=zone)
    starts = [start + n * dt.timedelta(minutes=3) for n in range(55)]
    post(client, tokens, *(Chat(f"web-{n}", at) for n, at in enumerate(starts)))
    form = {"since": "2026-03-02", "until": "2026-03-02", "outcome": "abandoned"}
    total, first = listing(admin, f"{LIST}?{urlencode(form)}")
    assert total == 55 and len(first.tables["conversations"]) == 50
    following = [link for link in first.links if "offset=" in link]
    assert following == [f"{LIST}?{urlencode(form | {'offset': 50})}"]
    total, second = listing(admin, following[0])
    assert total == 55 and len(second.tables["conversations"]) == 5
    assert f"{LIST}?{urlencode(form | {'offset': 0})}" in second.links
    ids = [row[0].text for t in (first, second) for row in t.tables["conversations"]]
    newest_first = reversed(list(enumerate(starts)))
    assert ids == [f"web-{n}:{int(at.timestamp())}" for n, at in newest_first]

    # the CSV holds every page's rows, with the filters of the list
    download = [link for link in first.links if link.startswith(CSV)]
    assert download == [f"{CSV}?{urlencode(form)}"]
    response = admin.get(download[0])
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert (
        'filename="nivel0-conversations-2026-03-02-2026-03-02.csv"'
        in (response.headers["content-disposition"])
    )
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8"), newline="")))
    assert rows[0] == [
        "Conversation",
        "Started",
        "Language",
        "Outcome",
        "Handoff reason",
        "Articles shown",
        "Ticket",
    ]
    assert [row[0] for row in rows[1:]] == ids
    assert {row[3] for row in rows[1:]} == {"abandoned"}
    assert dt.datetime.fromisoformat(rows[-1][1]) == start


def test_one_conversation_page(
    admin: TestClient,
    client: TestClient,
    tokens: dict[str, Any],
    scenario: Scenario,
) -> None:
    handed = next(
        row for row in api_rows(client, tokens, scenario)["rows"] if row["ticket"] is not None
    )
    conversation_id = handed["conversation_id"]
    ask(
        client,
        tokens,
        f"Mi pedido {SCRIPT}",
        scenario.since + HOUR,
        conversation_id=conversation_id,
    )
    response = admin.get(f"{LIST}/{conversation_id}")
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    text = response.text
    assert f'<a id="ticket" href="/console/tickets/{handed["ticket"]}">' in text
    assert '<strong id="outcome">Handed over</strong>' in text
    assert SCRIPT not in text and "&lt;script&gt;" in text
    detail = client.get(f"{API}/{conversation_id}", headers=tokens["admin"]).json()
    kinds = re.findall(r'<li class="event event-([a-z_]+)">', text)
    assert kinds == [event["kind"] for event in detail["events"]]
    assert admin.get(f"/console/tickets/{handed['ticket']}").status_code == 200

    missing = admin.get(f"{LIST}/web-nobody:1")
    assert missing.status_code == 404
    assert "There is no conversation web-nobody:1." in missing.text


def test_invalid_filters_are_explained(admin: TestClient) -> None:
    for params, message in [
        ({"feedback": "helpful"}, "feedback needs article_id"),
        ({"outcome": "lost"}, "outcome"),
        ({"since": "2026-03-10", "until": "2026-03-01"}, "the last day is before the first day"),
        ({"question": "nope"}, "question"),
        ({"offset": "-5"}, "offset"),
    ]:
        response = admin.get(LIST, params=params)
        assert response.status_code == 400, params
        assert "Invalid filter" in response.text and message in response.text, params
        assert admin.get(CSV, params=params).status_code == 400


@pytest.mark.parametrize("path", [LIST, CSV, f"{LIST}/web-1:1"])
def test_agents_are_refused_and_logged_out_users_sent_to_log_in(
    app: FastAPI, tokens: dict[str, Any], admin: TestClient, path: str
) -> None:
    agent = console(app, tokens, "agent")
    response = agent.get(path)
    assert response.status_code == 403
    assert "This page is for admins" in response.text
    assert f'href="{LIST}"' not in agent.get("/console/").text
    assert f'href="{LIST}"' in admin.get("/console/").text
    logged_out = TestClient(app, base_url="https://testserver")
    assert logged_out.get(path, follow_redirects=False).status_code == 303
