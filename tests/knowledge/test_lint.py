"""kb lint: each check on a fixture KB with one planted problem, and the real KB lints clean."""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge.lint import MAX_SECTION_WORDS, link_target, lint_kb, sections
from tests.knowledge.conftest import FIXTURE_ARTICLES, write_article

PROJECT_KB = Path(__file__).resolve().parents[2] / "kb_articles"


def codes(report, severity: str | None = None) -> list[tuple[str, str]]:
    return [
        (f.code, f.path.name if f.path else "")
        for f in report.findings
        if severity in (None, f.severity)
    ]


def write_body(kb_dir: Path, topic: str, language: str, body: str, **overrides) -> Path:
    return write_article(kb_dir, topic, language, body=body, **overrides)


def test_fixture_kb_is_clean(kb_dir: Path) -> None:
    report = lint_kb(kb_dir)
    assert report.findings == []
    assert (report.files, len(report.articles)) == (8, 8)


def test_schema_errors_name_file_and_field(kb_dir: Path) -> None:
    write_article(kb_dir, "order-status", "en", category="gadgets", questions=["only one"])
    (kb_dir / "es" / "refund-timeline.md").write_text("no front matter\n", encoding="utf-8")
    (kb_dir / "loose.md").write_text("---\n---\n", encoding="utf-8")
    report = lint_kb(kb_dir)
    errors = [(f.code, f.path.name, f.message.split(":")[0]) for f in report.errors]
    assert ("schema", "order-status.md", "field 'category'") in errors
    assert ("schema", "order-status.md", "field 'questions'") in errors
    assert ("schema", "refund-timeline.md", "field 'front matter'") in errors
    assert ("schema", "loose.md", "not in a language folder") in errors


def test_duplicate_id_is_an_error(kb_dir: Path) -> None:
    write_article(kb_dir, "zz-copy", "en", id="order-status-en", topic="order-status")
    report = lint_kb(kb_dir)
    assert ("duplicate-id", "zz-copy.md") in codes(report, "error")
    assert ("file-name", "zz-copy.md") in codes(report, "warning")


def test_missing_translation_is_an_error_for_published_and_a_warning_for_drafts(
    kb_dir: Path,
) -> None:
    (kb_dir / "es" / "order-status.md").unlink()
    write_article(kb_dir, "gift-card", "en", status="draft")
    write_article(kb_dir, "refund-timeline", "es", status="draft")
    report = lint_kb(kb_dir)
    assert codes(report, "error") == [("missing-translation", "order-status.md")]
    assert sorted(codes(report, "warning")) == [
        ("draft", "gift-card.md"),
        ("draft", "refund-timeline.md"),
        ("draft-translation", "gift-card.md"),
        ("draft-translation", "refund-timeline.md"),  # the published en version's es is a draft
    ]


def test_empty_and_overlong_sections(kb_dir: Path) -> None:
    long_text = " ".join(["word"] * (MAX_SECTION_WORDS + 1))
    write_body(kb_dir, "order-status", "en", f"Intro.\n\n## Empty\n\n## Long\n\n{long_text}\n")
    write_body(kb_dir, "order-status", "es", "Solo una introducción, sin secciones.\n")
    report = lint_kb(kb_dir)
    assert codes(report, "error") == [("empty-section", "order-status.md")]
    assert "'Empty'" in report.errors[0].message
    assert sorted(codes(report, "warning")) == [
        ("long-section", "order-status.md"),
        ("no-sections", "order-status.md"),
    ]


def test_headings_inside_code_blocks_are_not_sections() -> None:
    body = "Intro.\n\n## Steps\n\n```\n## not a heading\n```\n\n## Next\n\nText.\n"
    assert [heading for heading, _ in sections(body)] == ["Steps", "Next"]


def test_internal_links(kb_dir: Path) -> None:
    write_body(
        kb_dir,
        "order-status",
        "en",
        "Intro.\n\n## See also\n\n"
        "[refunds](refund-timeline.md), [es](../es/order-status.md), "
        "[help](https://help.voltia.example/en/password-reset), "
        "[site](/help/en/troubleshoot-bluetooth), "
        "[external](https://example.com/x), [anchor](#see-also), "
        "[gone](../en/gift-cards.md), [gone too](https://help.voltia.example/es/nothing)\n",
    )
    report = lint_kb(kb_dir, help_center_url="https://help.voltia.example")
    broken = [f.message for f in report.errors]
    assert len(broken) == 2
    assert "no article en/gift-cards" in broken[0]
    assert "no article es/nothing" in broken[1]


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("refund-timeline.md", ("en", "refund-timeline")),
        ("../es/order-status.md#steps", ("es", "order-status")),
        ("/help/es/order-status", ("es", "order-status")),
        ("/en/order-status/", ("en", "order-status")),
        ("https://example.com/en/order-status", None),
        ("mailto:privacy@voltia.example", None),
        ("#steps", None),
    ],
)
def test_link_target(target: str, expected: tuple[str, str] | None) -> None:
    assert link_target(target, "en") == expected


def test_placeholders_are_errors_only_when_published(kb_dir: Path) -> None:
    write_article(kb_dir, "order-status", "en", summary="TODO: write the answer")
    write_article(kb_dir, "order-status", "es", summary="TODO: escribir", status="draft")
    report = lint_kb(kb_dir)
    assert ("placeholder", "order-status.md") in codes(report, "error")
    assert ("placeholder", "order-status.md") in codes(report, "warning")
    assert [f.path.parent.name for f in report.errors if f.code == "placeholder"] == ["en"]


def test_near_duplicates_and_colliding_questions(kb_dir: Path, tmp_path: Path, model) -> None:
    # the same article again under another topic: every question collides, and it is a duplicate
    copy = FIXTURE_ARTICLES[("password-reset", "en")]
    write_article(kb_dir, "password-email", "en", **copy)
    write_article(kb_dir, "password-email", "es", **FIXTURE_ARTICLES[("order-status", "es")])
    # one reworded question colliding with another article's
    write_article(
        kb_dir,
        "refund-timeline",
        "en",
        questions=[
            *FIXTURE_ARTICLES[("refund-timeline", "en")]["questions"],
            "how can I track my order?",
        ],
    )
    report = lint_kb(kb_dir, model, tmp_path / "index")
    messages = {f.code: [] for f in report.findings}
    for finding in report.findings:
        messages[finding.code].append(finding.message)
    collisions = messages["question-collision"]
    assert any("password-email-en" in m and "password-reset-en" in m for m in collisions)
    assert any(
        "order-status-en 'how can I track my order'" in m
        and "refund-timeline-en 'how can I track my order?'" in m
        for m in collisions
    )
    assert any("password-email-es" in m and "order-status-es" in m for m in collisions)
    duplicates = messages["near-duplicate"]
    assert any(
        "password-email-en and password-reset-en" in m and "(similarity 1.000)" in m
        for m in duplicates
    )
    # the fixture's genuinely different articles are not reported
    assert not any("troubleshoot-bluetooth" in m for m in collisions + duplicates)


def test_the_projects_articles_have_no_lint_errors(tmp_path: Path, model) -> None:
    """The published KB must pass the CI gate (drafts may add warnings)."""
    report = lint_kb(PROJECT_KB, model, tmp_path / "index")
    assert report.files >= 64
    assert [str(f) for f in report.errors] == []
