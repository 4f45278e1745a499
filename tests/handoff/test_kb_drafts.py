"""A resolved ticket becomes a draft KB article that the knowledge package accepts."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from knowledge.articles import parse_article


def _resolved(client: TestClient, tokens, make_ticket, note: str) -> str:
    number = make_ticket()["number"]
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
        json={"title": "Entregado pero no recibido: qué hacemos", "category": "shipping"},
        headers=tokens["agent"],
    )
    assert r.status_code == 201, r.text
    draft = r.json()
    path = Path(draft["path"])
    assert path.parent == kb_dir / "es" and path.name == f"{draft['topic']}.md"

    article = parse_article(path)
    assert article.status == "draft" and not article.is_published
    assert article.language == "es" and article.category == "shipping"
    assert article.id == f"{draft['topic']}-es"
    assert article.summary == note
    assert len(article.questions) >= 3
    assert note in article.body and number in article.body

    ticket = client.get(f"/v1/tickets/{number}", headers=tokens["agent"]).json()
    assert ticket["kb_draft_path"] == str(path)

    # a second draft with the same title never overwrites the first
    again = client.post(
        f"/v1/tickets/{number}/kb-article",
        json={"title": "Entregado pero no recibido: qué hacemos", "category": "shipping"},
        headers=tokens["agent"],
    )
    assert again.status_code == 201 and again.json()["path"] != draft["path"]
    assert parse_article(path).summary == note


def test_only_resolved_tickets_become_drafts(client: TestClient, tokens, make_ticket) -> None:
    number = make_ticket()["number"]
    r = client.post(f"/v1/tickets/{number}/kb-article", json={}, headers=tokens["agent"])
    assert r.status_code == 409 and "resolved" in r.json()["detail"]
