"""Bearer tokens with roles, stored hashed; admin endpoints; the CLI bootstrap."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from handoff_service import cli
from handoff_service.auth import hash_token
from handoff_service.models import ApiToken


def test_tokens_are_stored_only_as_hashes(client: TestClient, tokens, session_factory) -> None:
    token = tokens["agent"]["Authorization"].removeprefix("Bearer ")
    with session_factory() as session:
        stored = session.scalars(select(ApiToken.token_hash)).all()
    assert hash_token(token) in stored
    assert token not in stored and all(len(h) == 64 for h in stored)


def test_admin_creates_accounts_and_revokes_tokens(client: TestClient, tokens) -> None:
    admin = tokens["admin"]
    r = client.post("/v1/admin/accounts", json={"name": "carla", "role": "agent"}, headers=admin)
    assert r.status_code == 201
    created = r.json()
    carla = {"Authorization": f"Bearer {created['token']}"}
    assert client.get("/v1/tickets", headers=carla).status_code == 200
    # agents cannot administer
    assert client.get("/v1/admin/accounts", headers=carla).status_code == 403
    # duplicate name
    dup = client.post("/v1/admin/accounts", json={"name": "carla", "role": "agent"}, headers=admin)
    assert dup.status_code == 409
    # revoke
    assert (
        client.delete(f"/v1/admin/tokens/{created['token_id']}", headers=admin).status_code == 204
    )
    assert client.get("/v1/tickets", headers=carla).status_code == 401
    # a second token for the same account works, until the account is deactivated
    second = client.post(f"/v1/admin/accounts/{created['account']['id']}/tokens", headers=admin)
    carla2 = {"Authorization": f"Bearer {second.json()['token']}"}
    assert client.get("/v1/tickets", headers=carla2).status_code == 200
    client.post(f"/v1/admin/accounts/{created['account']['id']}/deactivate", headers=admin)
    assert client.get("/v1/tickets", headers=carla2).status_code == 401
    names = [a["name"] for a in client.get("/v1/admin/accounts", headers=admin).json()]
    assert "carla" in names


def test_service_token_can_only_create_handoffs(client: TestClient, tokens) -> None:
    assert client.get("/v1/tickets", headers=tokens["bot"]).status_code == 403


def test_malformed_authorization_headers_are_401(client: TestClient) -> None:
    for value in ("", "Bearer", "Basic abc", "Bearer " + "x" * 5000, "Bearer \u00e9"):
        r = client.get("/v1/tickets", headers={"Authorization": value.encode("utf-8")})
        assert r.status_code == 401, value


def test_cli_creates_the_first_admin_and_tokens(
    client: TestClient, db_url, monkeypatch, capsys
) -> None:
    monkeypatch.setenv("DATABASE_URL", db_url)
    assert cli.main(["create-admin", "root"]) == 0
    admin_token = capsys.readouterr().out.strip()
    assert cli.main(["create-token", "rasa-bot", "--role", "service"]) == 0
    bot_token = capsys.readouterr().out.strip()

    admin = {"Authorization": f"Bearer {admin_token}"}
    accounts = {
        a["name"]: a["role"] for a in client.get("/v1/admin/accounts", headers=admin).json()
    }
    assert accounts == {"root": "admin", "rasa-bot": "service"}
    r = client.get("/v1/tickets", headers={"Authorization": f"Bearer {bot_token}"})
    assert r.status_code == 403  # authenticated, but a service account
    try:
        cli.main(["create-admin", "root"])
    except SystemExit as exc:
        assert "already exists" in str(exc)
    else:
        raise AssertionError("creating the same admin twice must fail")
