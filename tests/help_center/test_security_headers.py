"""The help centre's security headers (issue 13): a Content-Security-Policy that allows the
pages and the chat widget (its own scripts and styles, and Rasa's REST URL for the widget),
no framing, no MIME sniffing, no Referer to other sites; and, in Chromium, the widget still
reaches Rasa under that policy with no violation reported."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from help_center.knowledge import HelpKnowledge
from help_center.main import security_headers
from tests.help_center.test_help_browser import LiveServer
from tests.support import chromium_browser, free_port, require_chromium

PATHS = ["/", "/es/", "/help/en", "/help/en/search?q=order", "/static/widget.js", "/nowhere"]


def _directives(policy: str) -> dict[str, list[str]]:
    return {
        name: values
        for name, *values in (part.split() for part in policy.split(";") if part.strip())
    }


@pytest.mark.parametrize("path", PATHS)
def test_every_response_carries_the_headers(real_client: TestClient, path: str) -> None:
    response = real_client.get(path)
    assert response.status_code in (200, 404)
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    policy = _directives(response.headers["Content-Security-Policy"])
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"] and policy["style-src"] == ["'self'"]
    assert policy["connect-src"] == ["'self'", "http://localhost:5005"]  # the widget's Rasa
    assert policy["frame-ancestors"] == ["'none'"] and policy["object-src"] == ["'none'"]


def test_a_malformed_rasa_url_never_reaches_the_header(small_client: TestClient) -> None:
    """small_client's Rasa URL setting is hostile markup: the policy names only the site."""
    policy = small_client.get("/").headers["Content-Security-Policy"]
    assert _directives(policy)["connect-src"] == ["'self'"]
    assert "<" not in policy and "script>" not in policy


def test_only_the_origin_of_the_rasa_url_is_allowed() -> None:
    policy = security_headers("https://chat.example.com:8443/rasa")["Content-Security-Policy"]
    assert _directives(policy)["connect-src"] == ["'self'", "https://chat.example.com:8443"]


@pytest.mark.browser
def test_the_widget_runs_and_calls_rasa_under_the_policy(real_knowledge: HelpKnowledge) -> None:
    """In Chromium: the widget's script runs (the launcher opens it) and its message goes out
    to the Rasa URL (nobody listens there: refused, not blocked), with no CSP violation."""
    require_chromium()
    rasa = f"http://127.0.0.1:{free_port()}"
    with LiveServer(rasa, real_knowledge) as site, chromium_browser() as browser:
        context = browser.new_context(locale="en-GB")
        page = context.new_page()
        page.set_default_timeout(10_000)
        page.add_init_script(
            "window.__violations = [];"
            "document.addEventListener('securitypolicyviolation',"
            " e => window.__violations.push(e.violatedDirective + ' ' + e.blockedURI));"
        )
        failed: list[tuple[str, str]] = []
        page.on("requestfailed", lambda r: failed.append((r.url, r.failure or "")))
        page.goto(site.url + "/help/en")
        page.locator("#n0-launcher").click()
        page.locator("#n0-input").fill("Hello")
        page.keyboard.press("Enter")
        page.get_by_role("alert").wait_for()  # "not sent": the call failed
        violations = page.evaluate("window.__violations")
        context.close()
    assert violations == []
    to_rasa = [failure for url, failure in failed if url.startswith(rasa)]
    assert to_rasa and all("BLOCKED" not in failure for failure in to_rasa), failed
