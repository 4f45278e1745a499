"""The admins' support-metrics page (/console/reports) and its CSV export, on SQLite and
PostgreSQL: the page's figures are the JSON reports' (GET /v1/reports/*) for the same period.

Conversations are synthetic event streams posted as the bot posts them, tickets are moved by
the agents' and the customer's real actions (helpers of tests/handoff/test_reporting.py).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from html import unescape as html_unescape
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import delete, update

from handoff_service import reporting
from handoff_service.console import charts
from handoff_service.console.filters import day, duration, percent
from handoff_service.console.reports import TABLES, last_full_weeks
from handoff_service.models import (
    ConversationEvent,
    ConversationSummary,
    Ticket,
    UnansweredQuestion,
)
from handoff_service.schemas import ReportPeriod
from tests.handoff.test_console import api_ticket, bearer, flashes, login
from tests.handoff.test_reporting import (
    DAY,
    HOUR,
    Chat,
    access_key,
    act,
    post,
    reply,
    report,
    resolve,
)

PAGE = "/console/reports"
CSV = "/console/reports.csv"
SCRIPT = "<script>alert(1)</script>"


@pytest.fixture
def empty(client: TestClient, session_factory: Any) -> None:
    """The client fixture empties the ticket tables; these tests own events and questions."""
    with session_factory() as session:
        session.execute(delete(ConversationEvent))
        session.execute(delete(ConversationSummary))
        session.execute(delete(UnansweredQuestion))
        session.commit()


def console(app: FastAPI, tokens: dict[str, Any], who: str) -> TestClient:
    browser = TestClient(app, base_url="https://testserver", raise_server_exceptions=False)
    assert login(browser, bearer(tokens[who])).status_code == 303
    return browser


@pytest.fixture
def admin(app: FastAPI, tokens: dict[str, Any]) -> TestClient:
    return console(app, tokens, "admin")


@pytest.fixture
def zone(app: FastAPI) -> ZoneInfo:
    return app.state.ctx.timezone


# --- reading the page -----------------------------------------------------------------------


@dataclass
class HtmlCell:
    text: str
    href: str | None


class Tables(HTMLParser):
    """The page's report tables (``<table id="table-NAME">``): rows of cells, header row
    apart; and the page's links."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tables: dict[str, list[list[HtmlCell]]] = {}
        self.headers: dict[str, list[str]] = {}
        self.links: list[str] = []
        self._table: str | None = None
        self._row: list[HtmlCell] | None = None
        self._cell: list[str] | None = None
        self._href: str | None = None
        self._in_head = False
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "a" and attributes.get("href"):
            self.links.append(attributes["href"] or "")
            self._href = attributes["href"]
        if tag == "table" and (attributes.get("id") or "").startswith("table-"):
            self._table = (attributes["id"] or "").removeprefix("table-")
            self.tables[self._table], self.headers[self._table] = [], []
        elif self._table is None:
            return
        elif tag == "thead":
            self._in_head = True
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell, self._href = [], None

    def handle_endtag(self, tag: str) -> None:
        if self._table is None:
            return
        if tag == "table":
            self._table = None
        elif tag == "thead":
            self._in_head = False
        elif tag in ("td", "th") and self._cell is not None and self._row is not None:
            text = " ".join("".join(self._cell).split())
            self._row.append(HtmlCell(text, None if self._in_head else self._href))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            if self._in_head:
                self.headers[self._table] = [cell.text for cell in self._row]
            else:
                self.tables[self._table].append(self._row)
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def texts(rows: list[list[HtmlCell]]) -> list[list[str]]:
    return [[cell.text for cell in row] for row in rows]


def by_label(rows: list[list[HtmlCell]]) -> dict[str, list[str]]:
    return {row[0].text: [cell.text for cell in row[1:]] for row in rows}


def page(browser: TestClient, **params: str) -> Tables:
    response = browser.get(PAGE, params=params)
    assert response.status_code == 200, response.text
    return Tables(response.text)


def csv_rows(browser: TestClient, table: str, **params: str) -> list[list[str]]:
    response = browser.get(CSV, params={"table": table, **params})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment;") and f"nivel0-{table}-" in disposition
    return list(csv.reader(io.StringIO(response.content.decode("utf-8"), newline="")))


# --- the scenario ---------------------------------------------------------------------------


@dataclass
class Scenario:
    first_day: dt.date
    last_day: dt.date
    zone: ZoneInfo
    queues: tuple[str, ...] = ()  # of the tickets, once they are made

    def midnight(self, day_: dt.date) -> dt.datetime:
        return dt.datetime.combine(day_, dt.time(), tzinfo=self.zone)

    @property
    def since(self) -> dt.datetime:
        return self.midnight(self.first_day)

    @property
    def until(self) -> dt.datetime:
        return self.midnight(self.last_day + DAY)

    @property
    def form(self) -> dict[str, str]:
        return {"since": self.first_day.isoformat(), "until": self.last_day.isoformat()}

    def weeks(self) -> list[tuple[dt.datetime, dt.datetime]]:
        """Seven calendar days each from the first day, the last one up to the last day."""
        starts = []
        start = self.first_day
        while start <= self.last_day:
            starts.append(start)
            start += 7 * DAY
        return [(self.midnight(s), min(self.midnight(s + 7 * DAY), self.until)) for s in starts]


def ask(
    client: TestClient, tokens: dict[str, Any], text: str, at: dt.datetime, **fields: Any
) -> None:
    body = {"conversation_id": "web-q:1", "language": "es", "reason": "fallback"} | fields
    response = client.post(
        "/v1/unanswered",
        json={**body, "text": text, "occurred_at": at.isoformat()},
        headers=tokens["bot"],
    )
    assert response.status_code == 201, response.text


@pytest.fixture
def scenario(
    empty: None,
    client: TestClient,
    tokens: dict[str, Any],
    make_ticket: Any,
    session_factory: Any,
    zone: ZoneInfo,
) -> Scenario:
    """Two full weeks and this one up to today: conversations of every outcome, in Spanish and
    English; tickets in two queues, replied to, resolved, rated, reopened; unanswered questions,
    one of them asked twice and one carrying markup."""
    now = dt.datetime.now(zone)
    today = now.date()
    first_day = today - dt.timedelta(days=today.weekday()) - 14 * DAY
    scenario = Scenario(first_day, today, zone)
    a, b, c = "returns-how-to-es", "refund-timeline-es", "warranty-claim-en"
    week1 = scenario.since + DAY + 10 * HOUR
    week2 = scenario.since + 8 * DAY + 10 * HOUR
    recent = now - 2 * HOUR
    chats = [
        Chat("c1", week1).shown(a).feedback(a, False).handoff("negative_feedback"),
        Chat("c2", week1 + HOUR).shown(a).feedback(a, True),
        Chat("c3", week1 + 2 * HOUR).shown(b).feedback(b, False),
        Chat("c4", week2).shown(b),
        Chat("c5", week2 + HOUR).add("fallback"),
        Chat("c6", week2 + 2 * HOUR)
        .add("clarify_shown")
        .add("clarify_picked", article_id=b)
        .shown(b),
        Chat("c7", week2 + 3 * HOUR, language="en").shown(c).feedback(c, False),
        Chat("c8", recent).handoff("customer_request"),
        # before the period: not counted
        Chat("c9", scenario.since - DAY).shown(a).feedback(a, False),
    ]
    post(client, tokens, *chats)

    replied = make_ticket(conversation_id=chats[7].conversation_id, reason="customer_request")
    complaint = make_ticket(reason="complaint")
    english = make_ticket(language="en")
    act(client, tokens, replied["number"], "claim")
    reply(client, tokens, replied["number"], "customer")
    resolve(client, tokens, replied["number"])
    key = access_key(session_factory, replied["number"])
    rated = client.post(f"/t/{key}/rating", data={"rating": "4"}, follow_redirects=False)
    assert rated.status_code == 303, rated.text
    act(client, tokens, english["number"], "claim")
    resolve(client, tokens, english["number"])
    act(client, tokens, english["number"], "reopen", reason="Still broken")
    assert replied["queue"] != complaint["queue"]

    ask(client, tokens, "¿Puedo pagar con Bizum?", week1, conversation_id="c1:1")
    ask(client, tokens, "¿Puedo pagar con Bizum?", week2, conversation_id="c4:1")
    ask(client, tokens, "¿Puedo pagar con Bizum?", week2, conversation_id="c4:1", reason="handoff")
    ask(client, tokens, f"Mi factura {SCRIPT}", week2 + HOUR, conversation_id="c5:1")
    ask(client, tokens, "=HYPERLINK(1)", week2 + 2 * HOUR, conversation_id="c6:1", language="en")
    ask(client, tokens, "too early", scenario.since - HOUR, conversation_id="c9:1")
    scenario.queues = (replied["queue"], complaint["queue"])
    return scenario


# --- the page's figures are the API's -------------------------------------------------------


def test_the_page_shows_the_api_figures_of_the_period(
    admin: TestClient, client: TestClient, tokens: dict[str, Any], scenario: Scenario
) -> None:
    response = admin.get(PAGE, params=scenario.form)
    assert response.status_code == 200
    assert "default-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["cache-control"] == "no-store"
    assert " style=" not in response.text  # the CSP allows no inline style
    assert response.text.count("<script") == 1  # console.js only
    html = Tables(response.text)
    period = (scenario.since, scenario.until)
    outcomes = report(client, tokens, "outcomes", *period)
    articles = report(client, tokens, "articles", *period)
    tickets = report(client, tokens, "tickets", *period)
    assert outcomes["conversations"] == 8 and tickets["tickets"] == 3

    rows = by_label(html.tables["outcomes"])
    o = outcomes["outcomes"]
    total = outcomes["conversations"]
    expected = {
        "Resolved, confirmed": o["resolved_confirmed"]["conversations"],
        "Resolved, assumed": o["resolved_assumed"]["conversations"],
        "Abandoned": o["abandoned"]["conversations"],
        **{
            f"Handed over: {reason.replace('_', ' ')}": n
            for reason, n in o["handed_over"]["by_reason"].items()
        },
    }
    assert {name: int(values[0]) for name, values in rows.items()} == expected | {
        "All conversations": total
    }
    for name, number in expected.items():
        assert rows[name][1] == percent(number / total)
    assert sum(expected.values()) == total

    weeks = html.tables["weeks"]
    assert len(weeks) == len(scenario.weeks()) == 3
    for row, (since, until) in zip(weeks, scenario.weeks(), strict=True):
        week = report(client, tokens, "outcomes", since, until)
        assert row[0].text == day(since.date())
        assert row[1].text == day((until - DAY).date())
        assert int(row[2].text) == week["conversations"]
        for cell, name in zip(
            row[3:],
            ("resolved_confirmed", "resolved_assumed", "handed_over", "abandoned"),
            strict=True,
        ):
            figure = week["outcomes"][name]
            assert cell.text == f"{figure['conversations']} ({percent(figure['share'])})"
        # each week links to the page for that week
        query = parse_qs(urlsplit(row[0].href or "").query)
        assert query == {
            "since": [since.date().isoformat()],
            "until": [(until - DAY).date().isoformat()],
        }
    assert sum(int(row[2].text) for row in weeks) == total

    figures = by_label(html.tables["figures"])
    assert figures["Conversations"][0] == str(total)
    assert figures["Handoff rate"][0] == percent(outcomes["handoff_rate"]["rate"])
    assert figures["Clarify pick rate"][0] == percent(outcomes["clarify_pick_rate"]["rate"])
    assert figures["Tickets"][0] == str(tickets["tickets"])
    assert figures["Due dates met"][0] == percent(tickets["due_dates"]["total"]["met_rate"])
    satisfaction = tickets["satisfaction"]
    assert figures["Satisfaction, average"][0] == f"{satisfaction['average']:.2f} / 5"
    assert figures["Satisfaction response rate"][0] == percent(
        satisfaction["response_rate"]["rate"]
    )
    assert figures["Reopen rate"][0] == percent(tickets["reopen_rate"]["rate"])
    assert figures["Reopen rate"][1].startswith(
        f"{tickets['reopen_rate']['numerator']} of {tickets['reopen_rate']['denominator']} "
    )

    times = by_label(html.tables["times"])
    for name, figure in (("First response", "first_response"), ("Resolution", "resolution")):
        data = tickets[figure]
        assert times[name][:3] == [
            str(data["tickets"]),
            duration(round(data["median_seconds"])),
            duration(round(data["p90_seconds"])),
        ]
    assert times["First response"][3] == str(tickets["first_response"]["without_reply"])

    for table, key in (("due_by_queue", "by_queue"), ("due_by_request_type", "by_request_type")):
        due = tickets["due_dates"][key]
        assert by_label(html.tables[table]) == {
            group: [str(d["met"]), str(d["missed"]), str(d["open_not_due"]), percent(d["met_rate"])]
            for group, d in due.items()
        }
    # each group links to the period's tickets of it (followed: test_due_date_figures_link_...)
    for table, column in (("due_by_queue", "queue"), ("due_by_request_type", "request_type")):
        for row in html.tables[table]:
            assert parse_qs(urlsplit(row[0].href or "").query) == {
                "created_since": [scenario.first_day.isoformat()],
                "created_until": [scenario.last_day.isoformat()],
                column: [row[0].text],
            }

    unhelpful = sorted(
        (a for a in articles["articles"] if a["not_helpful"]),
        key=lambda a: (-a["not_helpful"], -a["shown"], a["article_id"]),
    )
    assert texts(html.tables["articles"]) == [
        [
            a["article_id"],
            str(a["not_helpful"]),
            str(a["helpful"]),
            str(a["no_feedback"]),
            str(a["shown"]),
        ]
        for a in unhelpful
    ]
    links = [row[0].href for row in html.tables["articles"]]
    assert "http://localhost:8080/help/es/returns-how-to" in links

    topics = texts(html.tables["unanswered"])
    assert [(row[0], row[1], row[3]) for row in topics] == [
        ("¿Puedo pagar con Bizum?", "es", "2"),  # two conversations (one asked it twice)
        ("=HYPERLINK(1)", "en", "1"),
        (f"Mi factura {SCRIPT}", "es", "1"),
    ]

    rated = satisfaction["response_rate"]["numerator"]
    assert rated > 0
    assert by_label(html.tables["satisfaction"]) == {
        f"{rating} / 5": [str(n), percent(n / rated)]
        for rating, n in sorted(satisfaction["by_rating"].items(), reverse=True)
    }
    assert sum(satisfaction["by_rating"].values()) == rated

    # the charts: outcomes, weeks, due dates per queue and per request type, satisfaction,
    # least helpful articles, unanswered topics
    charts = ("outcomes", "weeks", "due_by_queue", "due_by_request_type", "satisfaction")
    charts += ("articles", "unanswered")
    assert response.text.count('<svg class="chart"') == len(charts)
    for chart in charts:
        assert f'aria-labelledby="chart-{chart}-title chart-{chart}-desc"' in response.text
    # every table has its CSV link, with the page's filters
    downloads = [link for link in html.links if link.startswith(CSV)]
    assert [parse_qs(urlsplit(link).query)["table"] for link in downloads] == [
        [name] for name in TABLES
    ]
    assert all(
        parse_qs(urlsplit(link).query)["since"] == [scenario.form["since"]] for link in downloads
    )


def test_labels_are_escaped(admin: TestClient, scenario: Scenario) -> None:
    html = admin.get(PAGE, params=scenario.form).text
    assert SCRIPT not in html
    assert "Mi factura &lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_chart_labels_are_escaped_and_the_svg_is_well_formed() -> None:
    label = f'{SCRIPT} & "quoted"'
    stacked = charts.stacked_bars(
        "c1",
        label,
        label,
        [label, "other"],
        [charts.StackedBar(label, [2, 1], label), charts.StackedBar("empty", [0, 0])],
    )
    bars = charts.horizontal_bars(
        "c2", label, label, [charts.Bar(label, 0.5, label), charts.Bar("none", None, "none")]
    )
    for svg in (stacked, bars):
        assert "<script>" not in svg
        root = ET.fromstring(str(svg))  # well-formed XML: every label escaped
        assert root.get("role") == "img"
        assert root.findtext("title") == label
        assert root.findtext("desc") == label
    segments = ET.fromstring(str(stacked)).findall(".//rect[@class]")
    widths = [float(r.get("width", 0)) for r in segments if "segment" in (r.get("class") or "")]
    assert widths == pytest.approx([charts.BAR_WIDTH * 2 / 3, charts.BAR_WIDTH / 3], abs=0.01)
    with pytest.raises(ValueError):
        charts.stacked_bars("c3", "t", "d", ["one"], [charts.StackedBar("x", [1, 2])])


# --- who may see it -------------------------------------------------------------------------


def test_agents_are_refused_and_do_not_see_the_link(
    app: FastAPI, tokens: dict[str, Any], admin: TestClient
) -> None:
    agent = console(app, tokens, "agent")
    for path in (PAGE, f"{CSV}?table=outcomes"):
        response = agent.get(path)
        assert response.status_code == 403
        assert "This page is for admins" in response.text
    assert 'href="/console/reports"' not in agent.get("/console/").text
    assert 'href="/console/reports"' in admin.get("/console/").text
    assert 'href="/console/reports" aria-current="page"' in admin.get(PAGE).text

    logged_out = TestClient(app, base_url="https://testserver")
    response = logged_out.get(f"{PAGE}?language=es", follow_redirects=False)
    assert response.status_code == 303
    assert (
        response.headers["location"] == "/console/login?next=%2Fconsole%2Freports%3Flanguage%3Des"
    )
    assert logged_out.get(f"{CSV}?table=outcomes", follow_redirects=False).status_code == 303


# --- filters --------------------------------------------------------------------------------


def test_the_default_period_is_the_last_four_full_weeks(admin: TestClient, zone: ZoneInfo) -> None:
    response = admin.get(PAGE)
    assert response.status_code == 200
    first, last = last_full_weeks(dt.datetime.now(zone).date())
    assert first.weekday() == 0 and last.weekday() == 6 and (last - first).days == 27
    assert f'name="since" type="date" value="{first.isoformat()}"' in response.text
    assert f'name="until" type="date" value="{last.isoformat()}"' in response.text
    assert len(Tables(response.text).tables["weeks"]) == 4


def test_language_and_queue_filters(
    admin: TestClient, client: TestClient, tokens: dict[str, Any], scenario: Scenario
) -> None:
    period = (scenario.since, scenario.until)
    english = page(admin, **scenario.form, language="en")
    outcomes = report(client, tokens, "outcomes", *period, language="en")
    assert outcomes["conversations"] == 1
    assert by_label(english.tables["figures"])["Conversations"][0] == "1"
    assert by_label(english.tables["figures"])["Tickets"][0] == str(
        report(client, tokens, "tickets", *period, language="en")["tickets"]
    )
    assert [row[0] for row in texts(english.tables["articles"])] == ["warranty-claim-en"]
    assert [row[0] for row in texts(english.tables["unanswered"])] == ["=HYPERLINK(1)"]

    mine, other = scenario.queues
    in_queue = page(admin, **scenario.form, queue=other)
    tickets = report(client, tokens, "tickets", *period, queue=other)
    assert [row[0] for row in texts(in_queue.tables["due_by_queue"])] == [other]
    assert by_label(in_queue.tables["figures"])["Tickets"][0] == str(tickets["tickets"]) == "1"
    # the queue filters ticket figures only
    everything = page(admin, **scenario.form)
    assert by_label(in_queue.tables["outcomes"]) == by_label(everything.tables["outcomes"])
    assert {mine, other} <= set(by_label(everything.tables["due_by_queue"]))
    # the CSV links keep the filters
    downloads = [link for link in in_queue.links if link.startswith(CSV)]
    assert downloads and all(
        parse_qs(urlsplit(link).query)["queue"] == [other] for link in downloads
    )


@pytest.mark.parametrize(
    "params",
    [
        {"since": "2026-03-10", "until": "2026-03-01"},
        {"since": "2024-01-01", "until": "2026-01-01"},
        {"since": "yesterday"},
        {"language": "fr"},
        {"queue": "Not A Queue"},
        {"until": "0001-01-03"},
    ],
)
def test_an_invalid_filter_is_explained_not_a_crash(
    admin: TestClient, params: dict[str, str]
) -> None:
    response = admin.get(PAGE, params=params)
    assert response.status_code == 400
    assert "Invalid filter:" in response.text
    assert "<table" not in response.text
    for name in ("since", "until"):  # the form keeps what was typed
        if name in params:
            assert f'name="{name}" type="date" value="{params[name]}"' in response.text
    assert admin.get(CSV, params={"table": "outcomes", **params}).status_code == 400


def test_an_unknown_csv_table_is_a_404(admin: TestClient) -> None:
    response = admin.get(CSV, params={"table": "<b>secrets</b>"})
    assert response.status_code == 404
    assert "<b>secrets</b>" not in response.text


# --- CSV --------------------------------------------------------------------------------------


def test_each_csv_holds_its_table(
    admin: TestClient, client: TestClient, tokens: dict[str, Any], scenario: Scenario
) -> None:
    html = page(admin, **scenario.form)
    exported = {name: csv_rows(admin, name, **scenario.form) for name in TABLES}
    for name, rows in exported.items():
        header, *body = rows
        assert len(header) == len(html.headers[name]), name
        assert all(len(row) == len(header) for row in body), name  # well-formed
        assert len(body) == len(html.tables[name]), name
    for name in ("outcomes", "figures", "times", "due_by_queue", "due_by_request_type", "articles"):
        assert [row[0] for row in exported[name][1:]] == [
            row[0].text for row in html.tables[name]
        ], name
        # counts are the page's numbers; the page formats rates and durations
        for csv_row, html_row in zip(exported[name][1:], html.tables[name], strict=True):
            for value, cell in zip(csv_row[1:], html_row[1:], strict=True):
                if value.isdigit():
                    assert cell.text == value, name

    period = (scenario.since, scenario.until)
    outcomes = report(client, tokens, "outcomes", *period)
    header, *rows = exported["outcomes"]
    assert header == ["Outcome", "Conversations", "Share (0-1)"]
    values = {row[0]: (int(row[1]), float(row[2])) for row in rows}
    confirmed = outcomes["outcomes"]["resolved_confirmed"]
    assert values["Resolved, confirmed"] == (confirmed["conversations"], confirmed["share"])
    assert values["All conversations"] == (outcomes["conversations"], 1.0)
    assert (
        sum(n for name, (n, _) in values.items() if name != "All conversations")
        == (outcomes["conversations"])
    )

    tickets = report(client, tokens, "tickets", *period)
    times = {row[0]: row[1:] for row in exported["times"][1:]}
    assert float(times["First response"][1]) == pytest.approx(
        tickets["first_response"]["median_seconds"]
    )
    assert times["Resolution"][3] == ""  # no value: an empty field
    weeks = exported["weeks"][1:]
    assert [(row[0], row[1]) for row in weeks] == [
        (since.date().isoformat(), (until - DAY).date().isoformat())
        for since, until in scenario.weeks()
    ]

    topics = {row[0]: row[1:] for row in exported["unanswered"][1:]}
    assert topics[f"Mi factura {SCRIPT}"][2] == "1"  # CSV is not HTML: the text as stored
    assert "'=HYPERLINK(1)" in topics  # a spreadsheet must not run it as a formula
    language, terms, conversations, wordings = topics["¿Puedo pagar con Bizum?"]
    assert (language, conversations, wordings) == ("es", "2", "1") and "bizum" in terms


# --- weeks ----------------------------------------------------------------------------------


def test_weeks_are_seven_calendar_days_across_a_clock_change() -> None:
    madrid = ZoneInfo("Europe/Madrid")
    since = dt.datetime(2026, 3, 23, tzinfo=madrid)  # the clocks go forward on 29 March
    until = dt.datetime(2026, 4, 8, tzinfo=madrid)
    weeks = reporting.weeks(ReportPeriod(since=since, until=until, language="es"), madrid)
    assert [(w.since.astimezone(madrid), w.until.astimezone(madrid)) for w in weeks] == [
        (since, dt.datetime(2026, 3, 30, tzinfo=madrid)),
        (dt.datetime(2026, 3, 30, tzinfo=madrid), dt.datetime(2026, 4, 6, tzinfo=madrid)),
        (dt.datetime(2026, 4, 6, tzinfo=madrid), until),
    ]
    assert weeks[0].until - weeks[0].since == 7 * DAY - HOUR
    assert all(w.language == "es" for w in weeks)


# --- unanswered topics ----------------------------------------------------------------------


def test_unanswered_topics_table_is_the_apis_with_links_to_their_conversations(
    empty: None, admin: TestClient, client: TestClient, tokens: dict[str, Any], zone: ZoneInfo
) -> None:
    today = dt.datetime.now(zone).date()
    at = dt.datetime.combine(today, dt.time(), tzinfo=zone) + HOUR
    # one topic of 55 wordings (more than a link carries), asked by 60 conversations
    for n in range(60):
        text = f"can I redeem gift card number {n % 55}"
        ask(client, tokens, text, at, conversation_id=f"g{n}", language="en")
    ask(client, tokens, "¿Tenéis tienda física en Madrid?", at, conversation_id="t1")
    ask(client, tokens, "tienen tienda fisica?", at, conversation_id="t2")
    form = {"since": today.isoformat(), "until": today.isoformat()}

    api = report(client, tokens, "unanswered-topics", at - HOUR, at - HOUR + DAY)["topics"]
    assert [(t["conversations"], t["texts"]) for t in api] == [(60, 55), (2, 2)]
    html = page(admin, **form)
    assert html.headers["unanswered"] == [
        "Topic",
        "Language",
        "Terms",
        "Conversations",
        "Distinct wordings",
    ]
    assert texts(html.tables["unanswered"]) == [
        [t["label"], t["language"], ", ".join(t["terms"]), str(t["conversations"]), str(t["texts"])]
        for t in api
    ]
    for row, topic in zip(html.tables["unanswered"], api, strict=True):
        link = urlsplit(row[0].href or "")
        assert link.path == "/console/conversations"
        assert parse_qs(link.query) == {
            **{key: [value] for key, value in form.items()},
            "language": [topic["language"]],
            "question": topic["text_hashes"][:50],
        }
    gift = parse_qs(urlsplit(html.tables["unanswered"][0][0].href or "").query)
    assert len(gift["question"]) == 50
    assert (
        'aria-labelledby="chart-unanswered-title chart-unanswered-desc"'
        in admin.get(PAGE, params=form).text
    )

    header, *rows = csv_rows(admin, "unanswered", **form)
    assert header == html.headers["unanswered"]
    assert rows == texts(html.tables["unanswered"])

    spanish = page(admin, **form, language="es")
    assert [row[0].text for row in spanish.tables["unanswered"]] == [api[1]["label"]]


# --- the tickets behind the due-date figures ------------------------------------------------


QUEUE_PAGE = "/console/"
SECOND = dt.timedelta(seconds=1)


def update_ticket(session_factory: Any, number: str, **values: Any) -> None:
    """By hand, as test_reporting.set_due: a creation day in the past, another request type."""
    with session_factory() as session:
        session.execute(update(Ticket).where(Ticket.number == number).values(**values))
        session.commit()


def listed(browser: TestClient, href: str | None) -> list[str]:
    """The numbers the queue page lists at ``href`` (every page of it)."""
    numbers: list[str] = []
    while href:
        response = browser.get(href)
        assert response.status_code == 200, response.text
        numbers += re.findall(r'data-number="([^"]+)"', response.text)
        following = re.search(r'<a href="([^"]+)" rel="next">', response.text)
        href = html_unescape(following[1]) if following else None
    return numbers


@dataclass
class DueTickets:
    scenario: Scenario
    inside: list[dict[str, Any]]  # the tickets created in the period, as the API reads them
    outside: list[dict[str, Any]]


@pytest.fixture
def due_tickets(
    client: TestClient,
    tokens: dict[str, Any],
    make_ticket: Any,
    session_factory: Any,
    zone: ZoneInfo,
) -> DueTickets:
    """Each due-date result, in two queues and three request types: met (resolved; closed),
    missed (resolved late; open past its due date, in English), open and not due; each kind
    once created in the period (its first or last second) and once just outside it."""
    today = dt.datetime.now(zone).date()
    scenario = Scenario(today - 10 * DAY, today - 3 * DAY, zone)
    past = dt.datetime.now(dt.UTC) - HOUR

    def met() -> dict[str, Any]:
        ticket = make_ticket()
        act(client, tokens, ticket["number"], "claim")
        resolve(client, tokens, ticket["number"])
        return ticket

    def closed() -> dict[str, Any]:
        ticket = met()
        act(client, tokens, ticket["number"], "close")
        return ticket

    def resolved_late() -> dict[str, Any]:
        ticket = make_ticket()
        update_ticket(session_factory, ticket["number"], due_at=past)
        act(client, tokens, ticket["number"], "claim")
        resolve(client, tokens, ticket["number"])
        return ticket

    def open_late() -> dict[str, Any]:
        ticket = make_ticket(language="en")
        update_ticket(session_factory, ticket["number"], due_at=past)
        return ticket

    def not_due_consulta() -> dict[str, Any]:
        ticket = make_ticket()
        update_ticket(session_factory, ticket["number"], request_type="consulta")
        return ticket

    def complaint_late() -> dict[str, Any]:
        ticket = make_ticket(reason="complaint")
        update_ticket(session_factory, ticket["number"], due_at=past)
        return ticket

    def complaint_not_due() -> dict[str, Any]:
        return make_ticket(reason="complaint")

    kinds = [met, closed, resolved_late, open_late, not_due_consulta, complaint_late]
    kinds.append(complaint_not_due)
    inside_at = (scenario.since, scenario.until - SECOND)
    outside_at = (scenario.since - SECOND, scenario.until)
    made: dict[str, list[dict[str, Any]]] = {"inside": [], "outside": []}
    for index, kind in enumerate(kinds):
        for where, moments in (("inside", inside_at), ("outside", outside_at)):
            ticket = kind()
            update_ticket(session_factory, ticket["number"], created_at=moments[index % 2])
            made[where].append(api_ticket(client, tokens, ticket["number"]))
    assert len({t["queue"] for t in made["inside"]}) == 2
    assert len({t["request_type"] for t in made["inside"]}) == 3
    return DueTickets(scenario, made["inside"], made["outside"])


@pytest.mark.parametrize("extra", ["none", "language", "queue"])
def test_due_date_figures_link_to_the_tickets_they_count(
    admin: TestClient, due_tickets: DueTickets, extra: str
) -> None:
    scenario, inside = due_tickets.scenario, due_tickets.inside
    complaints = next(t["queue"] for t in inside if t["reason"] == "complaint")
    params = {"none": {}, "language": {"language": "en"}, "queue": {"queue": complaints}}[extra]
    expected = {
        t["number"] for t in inside if all(t[key] == value for key, value in params.items())
    }
    html = page(admin, **scenario.form, **params)
    results = ("met", "missed", "open_not_due")
    for table in ("due_by_queue", "due_by_request_type"):
        rows = html.tables[table]
        assert rows
        everyone: set[str] = set()
        for row in rows:
            group = listed(admin, row[0].href)
            counted = []
            for cell, result in zip(row[1:4], results, strict=True):
                assert parse_qs(urlsplit(cell.href or "").query)["due_result"] == [result]
                numbers = listed(admin, cell.href)
                assert len(numbers) == int(cell.text)
                counted += numbers
            assert sorted(group) == sorted(counted)
            everyone |= set(group)
        # every ticket of the period once, none from outside it
        assert everyone == expected


def test_the_queue_page_names_the_report_filters_and_can_drop_them(
    admin: TestClient, due_tickets: DueTickets
) -> None:
    scenario = due_tickets.scenario
    missed = next(
        row[2] for row in page(admin, **scenario.form).tables["due_by_queue"] if row[2].text != "0"
    )
    response = admin.get(missed.href or "")
    assert response.status_code == 200
    note = f"Created {day(scenario.first_day)} to {day(scenario.last_day)} · due date missed"
    assert note in response.text
    assert '<input type="hidden" name="due_result" value="missed">' in response.text
    clear = re.search(r'<p id="report-filter">.*?<a href="([^"]+)">', response.text, re.S)
    assert clear is not None
    kept = parse_qs(urlsplit(html_unescape(clear[1])).query)
    assert set(kept) == {"queue"}
    everything = len(due_tickets.inside) + len(due_tickets.outside)
    in_queue = listed(admin, html_unescape(clear[1]))
    assert 0 < len(in_queue) < everything


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"due_result": "late"}, "due result:"),
        ({"created_since": "2026-03-10", "created_until": "2026-03-01"}, "before the first day"),
        ({"created_since": "yesterday"}, "created since:"),
    ],
)
def test_an_invalid_report_filter_of_the_queue_is_a_400(
    admin: TestClient, due_tickets: DueTickets, params: dict[str, str], message: str
) -> None:
    response = admin.get(QUEUE_PAGE, params=params)
    assert response.status_code == 400
    [text] = flashes(response.text)
    assert text.startswith("Invalid filter:") and message in html_unescape(text)
    assert "data-number=" not in response.text
