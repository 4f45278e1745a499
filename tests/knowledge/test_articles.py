from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import pytest

from knowledge import articles as kb_format
from knowledge.articles import (
    CATEGORY_LABELS,
    Article,
    ArticleError,
    Category,
    DuplicateIdError,
    article_id,
    article_path,
    article_url,
    duplicate_ids,
    load_articles,
    parse_article,
    parse_or_error,
    slugify,
)
from tests.knowledge.conftest import FIXTURE_ARTICLES, write_article


def test_loads_all_valid_articles(kb_dir: Path) -> None:
    articles, errors = load_articles(kb_dir)
    assert errors == []
    assert {a.id for a in articles} == {f"{t}-{lang}" for t, lang in FIXTURE_ARTICLES}
    article = next(a for a in articles if a.id == "password-reset-es")
    assert isinstance(article, Article)
    assert article.topic == "password-reset"
    assert article.language == "es"
    assert article.updated == dt.date(2026, 10, 12)
    assert article.body.startswith("Intro.")
    assert article.path == kb_dir / "es" / "password-reset.md"
    assert len(article.questions) == 3


def test_url_rule() -> None:
    assert article_url("https://help.voltia.example/", "es", "password-reset") == (
        "https://help.voltia.example/es/password-reset"
    )


def test_dump_parses_back_to_the_same_article(kb_dir: Path, tmp_path: Path) -> None:
    for article in load_articles(kb_dir).articles:
        written = kb_format.write_article(
            article.model_copy(update={"path": None}), tmp_path / "copy"
        )
        assert written == article.model_copy(update={"path": written.path})
        assert written.path == article_path(tmp_path / "copy", article.language, article.topic)


def test_write_article_never_overwrites_and_refuses_a_used_id(kb_dir: Path) -> None:
    article = parse_article(kb_dir / "es" / "password-reset.md")
    with pytest.raises(FileExistsError):
        kb_format.write_article(article, kb_dir)
    (kb_dir / "es" / "password-reset.md").rename(kb_dir / "es" / "renamed.md")
    with pytest.raises(ArticleError, match="already used"):
        kb_format.write_article(article, kb_dir)
    assert not (kb_dir / "es" / "password-reset.md").exists()


def test_duplicate_ids_keep_the_first_file(kb_dir: Path) -> None:
    first = kb_dir / "es" / "password-reset.md"
    second = kb_dir / "es" / "zz-copy.md"
    second.write_text(first.read_text("utf-8"), encoding="utf-8")
    articles, errors = duplicate_ids((p, parse_or_error(p)) for p in (first, second))
    assert [a.path for a in articles] == [first]
    assert isinstance(errors[0], DuplicateIdError)
    assert (errors[0].path, errors[0].first, errors[0].article_id) == (
        second,
        first,
        "password-reset-es",
    )


def test_slugify_and_id() -> None:
    assert slugify("¿Cómo pago con Bizum?") == "como-pago-con-bizum"
    assert len(slugify("word " * 40)) <= 60
    assert article_id("como-pago-con-bizum", "es") == "como-pago-con-bizum-es"


def test_every_category_has_a_label_in_both_languages() -> None:
    for language in ("en", "es"):
        assert set(CATEGORY_LABELS[language]) == set(Category)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"title": None}, "title"),
        ({"title": "   "}, "title"),
        ({"language": "fr"}, "language"),
        ({"category": "gadgets"}, "category"),
        ({"summary": "x" * 401}, "summary"),
        ({"summary": None}, "summary"),
        ({"questions": ["only one", "two"]}, "questions"),
        ({"questions": [f"q{i}" for i in range(9)]}, "questions"),
        ({"questions": ["fine", "", "also fine"]}, "questions.1"),
        ({"updated": "yesterday"}, "updated"),
        ({"status": "archived"}, "status"),
        ({"tags": "password"}, "tags"),
        ({"id": "password-reset"}, "id"),
        ({"topic": "Password Reset"}, "topic"),
        ({"qestions": ["typo"]}, "qestions"),
    ],
)
def test_each_validation_error_names_file_and_field(
    kb_dir: Path, overrides: dict, field: str
) -> None:
    path = write_article(kb_dir, "password-reset", "en", **overrides)
    with pytest.raises(ArticleError) as exc_info:
        parse_article(path)
    error = exc_info.value
    assert error.path == path
    assert field in [f for f, _ in error.problems]
    assert str(path) in str(error)
    assert f"'{field}'" in str(error)


def test_file_name_other_than_topic_only_warns(
    kb_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = kb_dir / "en" / "tracking.md"
    (kb_dir / "en" / "order-status.md").rename(path)
    article = parse_article(path)
    assert article.topic == "order-status"
    assert "does not match topic" in caplog.text


def test_language_must_match_folder(kb_dir: Path) -> None:
    path = kb_dir / "es" / "order-status.md"
    path.write_text(
        path.read_text().replace("language: es", "language: en").replace("-es\n", "-en\n")
    )
    with pytest.raises(ArticleError) as exc_info:
        parse_article(path)
    assert exc_info.value.field == "language"


@pytest.mark.parametrize(
    "content",
    ["no front matter here\n", "---\ntitle: [unclosed\n---\nbody\n", "---\n- a list\n---\nbody\n"],
)
def test_unparseable_front_matter(kb_dir: Path, content: str) -> None:
    path = kb_dir / "en" / "order-status.md"
    path.write_text(content)
    with pytest.raises(ArticleError) as exc_info:
        parse_article(path)
    assert exc_info.value.field == "front matter"
    assert str(path) in str(exc_info.value)


def test_empty_body_is_an_error(kb_dir: Path) -> None:
    path = kb_dir / "en" / "order-status.md"
    path.write_text(path.read_text().split("---\n\n")[0] + "---\n")
    with pytest.raises(ArticleError) as exc_info:
        parse_article(path)
    assert exc_info.value.field == "body"


def test_loader_skips_bad_articles_logs_and_keeps_the_rest(
    kb_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bad = write_article(kb_dir, "order-status", "en", category="gadgets")
    with caplog.at_level(logging.ERROR, logger="knowledge.articles"):
        articles, errors = load_articles(kb_dir)
    assert len(articles) == len(FIXTURE_ARTICLES) - 1
    assert "order-status-en" not in {a.id for a in articles}
    assert [e.path for e in errors] == [bad]
    assert errors[0].field == "category"
    assert str(bad) in caplog.text
    assert "category" in caplog.text


def test_duplicate_id_is_an_error_for_the_second_file(kb_dir: Path) -> None:
    # Same id in a second file: 'en/zz-copy.md' sorts after 'en/order-status.md'.
    original = kb_dir / "en" / "order-status.md"
    copy = kb_dir / "en" / "zz-copy.md"
    copy.write_text(original.read_text())
    articles, errors = load_articles(kb_dir)
    assert [a.path for a in articles if a.id == "order-status-en"] == [original]
    assert [e.path for e in errors] == [copy]
    assert errors[0].field == "id"
    assert "duplicate" in str(errors[0])


def test_drafts_are_loaded(kb_dir: Path) -> None:
    write_article(kb_dir, "refund-timeline", "en", status="draft")
    articles, errors = load_articles(kb_dir)
    assert errors == []
    draft = next(a for a in articles if a.id == "refund-timeline-en")
    assert draft.status == "draft"
    assert not draft.is_published


def test_missing_directory_gives_no_articles(tmp_path: Path) -> None:
    assert load_articles(tmp_path / "nope") == ([], [])
