"""A resolved ticket becomes a draft KB article that the knowledge package accepts."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from knowledge.articles import parse_article

NOTE = "Abrimos una investigación con el transportista y reenviamos el pedido en 48 horas."
ASKED = "Mi paquete dice entregado pero no lo tengo"
QUESTIONS = [
    "El seguimiento dice entregado y no tengo el paquete",
    "Pedido entregado pero no recibido",
]


def _resolved(client: TestClient, tokens, make_ticket, note: str, **ticket: object) -> str:
    number = make_ticket(**ticket)["number"]
    agent = tokens["agent"]
    client.post(f"/v1/tickets/{number}/claim", headers=agent)
    client.post(f"/v1/tickets/{number}/resolve", json={"resolution_note": note}, headers=agent)
    return number


def test_resolved_ticket_becomes_a_valid_draft(
    client: TestClient, tokens, make_ticket, kb_dir: Path
) -> None:
    note = (
        "Si el seguimiento dice entregado y no tienes el paquete, abrimos una investigación "
        "con el transportista y reenviamos el pedido en 48 horas."
    )
    number = _resolved(client, tokens, make_ticket, note)
    r = client.post(
        f"/v1/tickets/{number}/kb-article",
        json={
            "title": "Entregado pero no recibido: qué hacemos",
            "category": "shipping",
            "questions": QUESTIONS,
        },
        headers=tokens["agent"],
    )
    assert r.status_code == 201, r.text
    draft = r.json()
    assert draft["path"] == f"es/{draft['topic']}.md"  # relative: no server folders shown
    path = kb_dir / draft["path"]

    article = parse_article(path)
    assert article.status == "draft" and not article.is_published
    assert article.language == "es" and article.category == "shipping"
    assert article.id == f"{draft['topic']}-es"
    assert article.summary == note
    assert article.questions == [*QUESTIONS, "Entregado pero no recibido: qué hacemos"]
    assert note in article.body and number in article.body

    ticket = client.get(f"/v1/tickets/{number}", headers=tokens["agent"]).json()
    assert ticket["kb_draft_path"] == draft["path"]

    # a second draft with the same title never overwrites the first
    again = client.post(
        f"/v1/tickets/{number}/kb-article",
        json={
            "title": "Entregado pero no recibido: qué hacemos",
            "category": "shipping",
            "questions": QUESTIONS,
        },
        headers=tokens["agent"],
    )
    assert again.status_code == 201 and again.json()["path"] != draft["path"]
    assert parse_article(path).summary == note


def test_only_resolved_tickets_become_drafts(client: TestClient, tokens, make_ticket) -> None:
    number = make_ticket()["number"]
    r = client.post(f"/v1/tickets/{number}/kb-article", json={}, headers=tokens["agent"])
    assert r.status_code == 409 and "resolved" in r.json()["detail"]


@pytest.mark.parametrize(
    ("ticket", "request_body", "why"),
    [
        ({}, {"category": "shipping", "questions": QUESTIONS}, "give a title"),
        # the title and one question: two distinct questions of 3
        (
            {},
            {"category": "shipping", "title": ASKED, "questions": [ASKED, "¿Y ahora?"]},
            "at least 2",
        ),
        (
            {},
            {
                "category": "shipping",
                "title": "t",
                "questions": QUESTIONS,
                "topic": "entregado-" + "x" * 60,
            },
            "at most 60",
        ),
        ({}, {"category": "shipping", "title": "T" * 201, "questions": QUESTIONS}, "title"),
        ({}, {"category": "other", "title": "t", "questions": QUESTIONS}, "'other'"),
    ],
)
def test_an_invalid_draft_is_refused_and_writes_nothing(
    client: TestClient, tokens, make_ticket, kb_dir: Path, ticket, request_body, why: str
) -> None:
    number = _resolved(client, tokens, make_ticket, NOTE, **ticket)
    r = client.post(f"/v1/tickets/{number}/kb-article", json=request_body, headers=tokens["agent"])
    assert r.status_code == 422, r.text
    assert why in r.text
    assert list(kb_dir.rglob("*.md")) == []
    assert (
        client.get(f"/v1/tickets/{number}", headers=tokens["agent"]).json()["kb_draft_path"] is None
    )


def test_a_draft_whose_id_another_article_declares_is_refused(
    client: TestClient, tokens, make_ticket, kb_dir: Path
) -> None:
    number = _resolved(client, tokens, make_ticket, NOTE)
    misnamed = kb_dir / "es" / "otro-nombre.md"
    misnamed.parent.mkdir()
    misnamed.write_text("---\nid: entregado-no-recibido-es\n---\n", encoding="utf-8")
    r = client.post(
        f"/v1/tickets/{number}/kb-article",
        json={"title": "Entregado, no recibido", "category": "shipping", "questions": QUESTIONS},
        headers=tokens["agent"],
    )
    assert r.status_code == 422 and "already used by" in r.json()["detail"], r.text
    assert list(kb_dir.rglob("*.md")) == [misnamed]


def test_a_draft_copies_nothing_the_customer_wrote(
    client: TestClient, tokens, make_ticket, kb_dir: Path
) -> None:
    said = "Soy Marta Ruiz de la calle Mayor 12 y mi paquete dice entregado pero no lo tengo"
    number = _resolved(
        client,
        tokens,
        make_ticket,
        NOTE,
        transcript=[{"role": "customer", "text": said}, {"role": "customer", "text": "ayuda"}],
        summary=said,
    )
    r = client.post(
        f"/v1/tickets/{number}/kb-article",
        json={
            "title": "Entregado pero no recibido",
            "category": "shipping",
            "questions": QUESTIONS,
        },
        headers=tokens["agent"],
    )
    assert r.status_code == 201, r.text
    text = (kb_dir / r.json()["path"]).read_text(encoding="utf-8")
    assert "Marta" not in text and "calle Mayor" not in text and "ayuda" not in text
    assert NOTE in text and number in text
