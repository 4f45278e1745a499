"""Property-based: arbitrary text in any string field never causes a server error."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.handoff.conftest import handoff_payload

# any code point, including NUL, control characters and lone surrogates
ANY_TEXT = st.text(alphabet=st.characters(codec=None, categories=None), max_size=60)
FIELDS = [
    ("conversation_id",),
    ("summary",),
    ("customer", "email"),
    ("customer", "name"),
    ("customer", "phone"),
    ("transcript", 0, "text"),
    ("intent_ranking", 0, "name"),
    ("kb_articles", 0, "article_id"),
]


def _set(payload: dict, path: tuple, value: object) -> None:  # type: ignore[type-arg]
    target = payload
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(field=st.sampled_from(FIELDS), text=ANY_TEXT)
def test_any_text_in_a_handoff_gives_a_clean_answer(client: TestClient, tokens, field, text):  # type: ignore[no-untyped-def]
    payload = handoff_payload()
    _set(payload, field, text)
    raw = json.dumps(payload, ensure_ascii=True).encode()  # escapes survive as \\uXXXX
    response = client.post(
        "/v1/handoffs", content=raw, headers={**tokens["bot"], "content-type": "application/json"}
    )
    assert response.status_code in {200, 201, 422}, response.text
    if response.status_code == 422:
        assert response.json()["detail"]


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(number=ANY_TEXT, email=ANY_TEXT)
def test_any_text_in_a_status_lookup_gives_404_or_422(client: TestClient, number, email):  # type: ignore[no-untyped-def]
    raw = json.dumps({"number": number, "email": email}, ensure_ascii=True).encode()
    response = client.post("/v1/status", content=raw, headers={"content-type": "application/json"})
    assert response.status_code in {404, 422}
