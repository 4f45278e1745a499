"""The ``kb`` command line: help, exit codes and the output of every command on a fixture KB."""

from __future__ import annotations

import csv
import io
import json
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, delete

from knowledge.articles import parse_article
from knowledge.cli import main
from knowledge.settings import default_model_path
from tests.knowledge.conftest import FIXTURE_ARTICLES, write_article
from tests.knowledge.test_gaps import THEMES
from tests.support.handoff_service import HandoffServiceProcess

COMMANDS = ["new", "lint", "reindex", "search", "gaps"]


@pytest.fixture
def env(kb_dir: Path, tmp_path: Path, model, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point every setting at temporary files; returns the fixture KB directory."""
    calibration = tmp_path / "calibration.json"
    thresholds = {"answer_min": 0.6, "answer_margin": 0.05, "clarify_min": 0.45}
    calibration.write_text(
        json.dumps(
            {"models": {model.identity: {"languages": {"en": thresholds, "es": thresholds}}}}
        ),
        encoding="utf-8",
    )
    monkeypatch.setenv("NIVEL0_KB_DIR", str(kb_dir))
    monkeypatch.setenv("NIVEL0_INDEX_DIR", str(tmp_path / "index"))
    monkeypatch.setenv("NIVEL0_EMBEDDING_MODEL", str(default_model_path()))
    monkeypatch.setenv("NIVEL0_CALIBRATION", str(calibration))
    monkeypatch.delenv("HANDOFF_SERVICE_URL", raising=False)
    monkeypatch.delenv("HANDOFF_AGENT_TOKEN", raising=False)
    return kb_dir


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# --- help and usage ------------------------------------------------------------------------


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_every_command_has_help(capsys: pytest.CaptureFixture[str], command: str | None) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"] if command else ["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: kb")
    if command is None:
        assert all(name in out for name in COMMANDS)


@pytest.mark.parametrize(
    "argv",
    [[], ["publish"], ["lint", "--bogus"], ["search"], ["gaps", "--format", "xml"]],
)
def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert "usage: kb" in capsys.readouterr().err


def test_module_runs_as_a_program() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "knowledge.cli", "--help"], capture_output=True, text=True
    )
    assert done.returncode == 0 and "reindex" in done.stdout


# --- kb new --------------------------------------------------------------------------------


def test_new_creates_a_valid_draft(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "new", "--title", "How do I redeem a gift card?", "--language", "en",
        "--category", "payments",
    )  # fmt: skip
    assert code == 0
    path = env / "en" / "how-do-i-redeem-a-gift-card.md"
    assert str(path) in out and "DRAFT" in out
    article = parse_article(path)
    assert (article.id, article.status, article.category) == (
        "how-do-i-redeem-a-gift-card-en",
        "draft",
        "payments",
    )

    # the same again: refused, the file is untouched
    before = path.read_text(encoding="utf-8")
    code, _, err = run(
        capsys, "new", "--title", "How do I redeem a gift card?", "--language", "en",
        "--category", "payments",
    )  # fmt: skip
    assert code == 2 and "already exists" in err
    assert path.read_text(encoding="utf-8") == before


def test_new_with_topic_and_spanish_template(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, _ = run(
        capsys, "new", "--title", "¿Cómo canjeo una tarjeta regalo?", "--language", "es",
        "--category", "payments", "--topic", "gift-card",
    )  # fmt: skip
    assert code == 0
    article = parse_article(env / "es" / "gift-card.md")
    assert article.id == "gift-card-es" and "## Qué hacer" in article.body


def test_new_asks_for_missing_values_on_a_terminal(
    env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    answers = iter(["fr", "es", "gadgets", "payments"])  # wrong values are asked again
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    monkeypatch.setattr("builtins.input", lambda prompt: next(answers))
    code, out, _ = run(capsys, "new", "--title", "Tarjetas regalo", "--topic", "gift-card")
    assert code == 0 and "please enter one of en, es" in out
    assert parse_article(env / "es" / "gift-card.md").category == "payments"


def test_new_refuses_an_id_used_by_another_file(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_article(env, "misnamed", "en", id="gift-card-en", topic="gift-card")
    code, _, err = run(
        capsys, "new", "--title", "Gift cards", "--language", "en", "--category", "payments",
        "--topic", "gift-card",
    )  # fmt: skip
    assert code == 2 and "already used by" in err and "misnamed.md" in err
    assert not (env / "en" / "gift-card.md").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--title", "x", "--language", "en"], "--category is required"),
        (["--title", "Gift", "--language", "en", "--category", "orders", "--topic", "Gift Card"],
         "lowercase words"),
    ],
)  # fmt: skip
def test_new_bad_input_is_a_usage_error(
    env: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, _, err = run(capsys, "new", *argv)
    assert code == 2 and message in err


# --- kb lint -------------------------------------------------------------------------------


def test_lint_clean_kb_exits_0(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "lint")
    assert code == 0
    assert out.strip().endswith("8 files, 8 valid articles: 0 errors, 0 warnings")


def test_lint_errors_exit_1_and_name_the_pair_and_score(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_article(env, "order-status", "en", category="gadgets")
    write_article(env, "password-email", "en", **FIXTURE_ARTICLES[("password-reset", "en")])
    write_article(env, "password-email", "es", **FIXTURE_ARTICLES[("password-reset", "es")])
    code, out, _ = run(capsys, "lint")
    assert code == 1
    assert "ERROR [schema]" in out and "field 'category'" in out
    collision = next(line for line in out.splitlines() if "[question-collision]" in line)
    assert "password-email-en" in collision and "password-reset-en" in collision
    assert "(similarity 1.000)" in collision


def test_lint_warnings_pass_unless_strict(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_article(env, "order-status", "es", status="draft")
    code, out, _ = run(capsys, "lint", "--no-embeddings")
    assert code == 0 and "WARNING [draft]" in out and "embedding checks skipped" in out
    code, _, _ = run(capsys, "lint", "--no-embeddings", "--strict")
    assert code == 1


def test_lint_json(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (env / "en" / "order-status.md").unlink()
    code, out, _ = run(capsys, "lint", "--no-embeddings", "--format", "json")
    data = json.loads(out)
    assert code == 1
    assert (data["files"], data["errors"], data["warnings"]) == (7, 1, 0)
    assert data["findings"][0]["code"] == "missing-translation"
    assert data["findings"][0]["path"].endswith("es/order-status.md")


def test_lint_missing_kb_dir_is_a_usage_error(
    env: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = run(capsys, "lint", "--kb-dir", str(tmp_path / "nope"))
    assert code == 2 and "does not exist" in err


# --- kb reindex ----------------------------------------------------------------------------


def test_reindex_embeds_only_what_changed(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "reindex")
    assert code == 0 and "embedded 8 articles" in out
    assert "embedding" in err  # the progress bar

    code, out, _ = run(capsys, "reindex")
    assert code == 0 and "embedded 0 articles" in out and "reused 8" in out

    write_article(env, "order-status", "en", title="Track your parcel")
    write_article(env, "refund-timeline", "es", status="draft")
    (env / "en" / "broken.md").write_text("no front matter", encoding="utf-8")
    code, out, err = run(capsys, "reindex", "--quiet")
    assert code == 1
    assert "embedded 1 articles" in out and "reused 6" in out
    assert "7 published articles indexed, 1 drafts not indexed, 1 invalid" in out
    assert "broken.md" in err


# --- kb search -----------------------------------------------------------------------------


def test_search_shows_band_scores_and_the_answer(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "search", "how do I track my order", "-l", "en", "-k", "3")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "[en] band: ANSWER (confident)"
    assert "answer >= 0.600" in lines[1]
    first = lines[3].split()
    assert first[0] == "1" and first[4] == "<-" and first[5] == "order-status-en:"
    assert len([line for line in lines if line.strip()[:1].isdigit()]) == 3
    assert "[es]" not in out


def test_search_both_languages_and_unsearchable_input(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "search", "!!!")
    assert code == 0
    assert "[en] band: FALLBACK (no_letters)" in out and "[es] band: FALLBACK (no_letters)" in out
    code, _, err = run(capsys, "search", "where is my order", "-k", "0")
    assert code == 2 and "-k" in err


# --- kb gaps: records from a real handoff service (subprocess, as in production) ---------------


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HandoffServiceProcess]:
    with HandoffServiceProcess(tmp_path_factory.mktemp("handoff")) as running:
        yield running


@pytest.fixture(scope="module")
def replicas(service: HandoffServiceProcess) -> list[str]:
    """Service tokens of two action-server replicas."""
    return [service.bot_token, service.cli("create-token", "rasa-bot-2", "--role", "service")]


@pytest.fixture
def gaps_env(
    env: Path, service: HandoffServiceProcess, monkeypatch: pytest.MonkeyPatch
) -> HandoffServiceProcess:
    """The service without records or tickets; ``kb gaps`` pointed at it by the environment."""
    from handoff_service.models import Ticket, TicketEvent, UnansweredQuestion

    engine = create_engine(service.database_url)
    with engine.begin() as connection:
        for model in (UnansweredQuestion, TicketEvent, Ticket):
            connection.execute(delete(model))
    engine.dispose()
    monkeypatch.setenv("HANDOFF_SERVICE_URL", service.url)
    monkeypatch.setenv("HANDOFF_AGENT_TOKEN", service.admin_token)
    return service


def report(service: HandoffServiceProcess, token: str, text: str, language: str, **extra) -> None:
    """What an action server sends for an unanswered turn."""
    body = {"language": language, "text": text, "reason": "fallback", **extra}
    body.setdefault("conversation_id", f"conv-{secrets.token_hex(4)}")
    response = httpx.post(
        f"{service.url}/v1/unanswered",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert response.status_code == 201, response.text


@pytest.fixture
def themes_recorded(gaps_env: HandoffServiceProcess, replicas: list[str]) -> None:
    """The themes, reported alternately by the two replicas."""
    n = 0
    for (language, _), texts in THEMES.items():
        for text in texts:
            report(gaps_env, replicas[n % 2], text, language, conversation_id=f"conv-{n}")
            n += 1


def test_gaps_table_counts_the_questions_of_every_replica(
    themes_recorded: None, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "gaps")
    assert code == 0
    rows = [line.split(maxsplit=4) for line in out.splitlines() if line[:3].strip().isdigit()]
    assert [int(row[1]) for row in rows] == [6, 5, 4, 4, 3, 3]  # both replicas in every topic
    assert rows[0][3] == "en" and "gift card" in rows[0][4]
    assert "words:" in out and "e.g." in out


def test_gaps_csv_and_json_files(
    themes_recorded: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "out" / "gaps.csv"
    code, out, _ = run(capsys, "gaps", "--format", "csv", "--output", str(target), "--top", "3")
    assert code == 0 and "3 topics from 25 questions" in out
    rows = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8"))))
    assert [(r["rank"], r["count"]) for r in rows] == [("1", "6"), ("2", "5"), ("3", "4")]
    assert rows[0]["reasons"] == "fallback=6" and " | " in rows[0]["examples"]

    code, out, _ = run(capsys, "gaps", "--format", "json", "-l", "es", "--min-count", "4")
    data = json.loads(out)
    assert [(c["language"], c["count"]) for c in data] == [("es", 5), ("es", 4)]
    assert set(data[0]) >= {"rank", "label", "terms", "examples", "reasons", "conversations"}


def test_gaps_check_kb_shows_what_the_bot_answers_now(
    gaps_env: HandoffServiceProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    asked = ["how can I track my order", "how do I track my order", "can I track my order online"]
    for text in asked:
        report(gaps_env, gaps_env.bot_token, text, "en", reason="negative_feedback")
    code, out, _ = run(capsys, "gaps", "--check-kb", "--format", "json")
    assert code == 0
    (cluster,) = json.loads(out)
    assert (cluster["count"], cluster["kb_article"]) == (3, "order-status-en")
    assert cluster["kb_band"] in ("answer", "clarify")
    code, out, _ = run(capsys, "gaps", "--check-kb")
    assert "KB now: " in out and "order-status-en" in out


def test_gaps_with_nothing_recorded_in_the_period(
    gaps_env: HandoffServiceProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    old = "2026-01-01T10:00:00Z"
    report(gaps_env, gaps_env.bot_token, "an old question", "en", occurred_at=old)
    code, out, err = run(capsys, "gaps", "--format", "json")
    assert code == 0 and json.loads(out) == [] and "no unanswered questions" in err
    code, out, _ = run(capsys, "gaps", "--format", "json", "--days", "0")
    assert [c["label"] for c in json.loads(out)] == ["an old question"]


def test_gaps_counts_tickets_the_bot_did_not_record(
    gaps_env: HandoffServiceProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.handoff.conftest import handoff_payload

    question = "Hola, el seguimiento dice entregado pero no he recibido nada"
    for conversation_id in ("conv-recorded", "conv-ticket-only"):
        response = httpx.post(
            f"{gaps_env.url}/v1/handoffs",
            json=handoff_payload(conversation_id),
            headers={"Authorization": f"Bearer {gaps_env.bot_token}"},
            timeout=60,
        )
        assert response.status_code == 201, response.text
    report(
        gaps_env,
        gaps_env.bot_token,
        question,
        "es",
        reason="handoff",
        conversation_id="conv-recorded",
    )

    # the ticket of the recorded handoff is not counted again
    code, out, _ = run(capsys, "gaps", "--format", "json")
    (cluster,) = json.loads(out)
    assert (code, cluster["count"], cluster["conversations"]) == (0, 2, 2)
    code, out, _ = run(capsys, "gaps", "--format", "json", "--no-tickets")
    assert (code, [c["count"] for c in json.loads(out)]) == (0, [1])


def test_gaps_needs_an_agent_token(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "gaps")
    assert code == 2 and "--token or HANDOFF_AGENT_TOKEN" in err


def test_gaps_flags_override_the_environment(
    themes_recorded: None,
    service: HandoffServiceProcess,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HANDOFF_SERVICE_URL", "http://127.0.0.1:9")  # discard port: refused
    monkeypatch.setenv("HANDOFF_AGENT_TOKEN", "not-a-token")
    code, _, err = run(capsys, "gaps")
    assert code == 1 and "cannot read the handoff service at http://127.0.0.1:9" in err
    code, _, err = run(capsys, "gaps", "--service-url", service.url)
    assert code == 1 and "401" in err
    flags = ["--service-url", service.url, "--token", service.admin_token, "--top", "1"]
    code, out, _ = run(capsys, "gaps", *flags)
    assert code == 0 and "gift card" in out


def test_gaps_refuses_the_bot_token(
    gaps_env: HandoffServiceProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "gaps", "--token", gaps_env.bot_token)
    assert code == 1 and "403" in err
