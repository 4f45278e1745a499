"""Knowledge-base articles: the pydantic model, front-matter parsing and validation, loading.

Format: docs/kb-format.md. A malformed article never takes the bot down: :func:`load_articles`
skips it, logs an :class:`ArticleError` naming the file and the field, and returns the valid
articles together with the list of errors.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from pathlib import Path
from typing import Annotated, Literal, NamedTuple

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from knowledge.settings import help_center_url

logger = logging.getLogger(__name__)

MAX_SUMMARY_CHARS = 400

NonEmptyStr = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$")]
Category = Literal[
    "orders",
    "shipping",
    "returns",
    "refunds",
    "warranty",
    "payments",
    "invoices",
    "account",
    "device-setup",
    "troubleshooting",
    "privacy",
]


class ArticleError(Exception):
    """An article file that cannot be used; names the file and the offending field(s)."""

    def __init__(self, path: Path | str, problems: list[tuple[str, str]]):
        self.path = Path(path)
        self.problems = problems
        super().__init__(
            f"{self.path}: " + "; ".join(f"field '{field}': {msg}" for field, msg in problems)
        )

    @property
    def field(self) -> str:
        """The first offending field ('front matter' when the file itself cannot be parsed)."""
        return self.problems[0][0]


class Article(BaseModel):
    """One article in one language. ``path`` is the file it was loaded from."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Slug
    topic: Slug
    title: NonEmptyStr
    language: Literal["en", "es"]
    category: Category
    tags: list[NonEmptyStr] = Field(default_factory=list)
    summary: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_SUMMARY_CHARS)
    ]
    questions: Annotated[list[NonEmptyStr], Field(min_length=3, max_length=8)]
    updated: dt.date
    status: Literal["published", "draft"]
    body: NonEmptyStr
    path: Path | None = None

    @model_validator(mode="after")
    def _id_is_topic_and_language(self) -> Article:
        expected = f"{self.topic}-{self.language}"
        if self.id != expected:
            raise ValueError(f"id must be '<topic>-<language>' = {expected!r}, got {self.id!r}")
        return self

    @property
    def url(self) -> str:
        return f"{help_center_url()}/{self.language}/{self.topic}"

    @property
    def is_published(self) -> bool:
        return self.status == "published"


class LoadResult(NamedTuple):
    articles: list[Article]
    errors: list[ArticleError]


# libyaml's loader when PyYAML was built with it: ~10x faster on a large KB, same results.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)(.*)\Z", re.DOTALL)


def parse_article(path: Path) -> Article:
    """Parse and validate one article file; raise :class:`ArticleError` if it is malformed."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ArticleError(path, [("file", f"cannot be read: {exc}")]) from exc
    match = _FRONT_MATTER.match(text)
    if not match:
        raise ArticleError(path, [("front matter", "missing: the file must start with '---'")])
    try:
        meta = yaml.load(match.group(1), Loader=_YAML_LOADER)
    except yaml.YAMLError as exc:
        raise ArticleError(path, [("front matter", f"invalid YAML: {exc}")]) from exc
    if not isinstance(meta, dict):
        raise ArticleError(path, [("front matter", "must be a YAML mapping")])
    if "body" in meta or "path" in meta:
        raise ArticleError(path, [("front matter", "'body' and 'path' are not front-matter keys")])
    try:
        article = Article.model_validate({**meta, "body": match.group(2).strip(), "path": path})
    except ValidationError as exc:
        problems = [
            (".".join(str(part) for part in err["loc"]) or "id", err["msg"]) for err in exc.errors()
        ]
        raise ArticleError(path, problems) from exc
    _check_location(path, article)
    return article


def _check_location(path: Path, article: Article) -> None:
    """Files live at ``<kb>/<language>/<topic>.md``.

    A wrong folder is an error (the article would be served to the wrong customers); a file name
    other than the topic only gets a warning, so that duplicate ids are reported as such.
    """
    if path.parent.name != article.language:
        raise ArticleError(
            path, [("language", f"{article.language!r} does not match folder {path.parent.name!r}")]
        )
    if path.stem != article.topic:
        logger.warning("%s: file name does not match topic %r", path, article.topic)


def load_articles(kb_dir: Path | str) -> LoadResult:
    """Load every ``<kb_dir>/<language>/*.md``; drafts included (``Article.is_published``).

    Invalid files and duplicate ids (the later file in path order) are skipped and reported.
    """
    kb_dir = Path(kb_dir)
    articles: list[Article] = []
    errors: list[ArticleError] = []
    seen: dict[str, Path] = {}
    for path in sorted(kb_dir.glob("*/*.md")):
        try:
            article = parse_article(path)
            if article.id in seen:
                raise ArticleError(
                    path, [("id", f"duplicate id {article.id!r}, also in {seen[article.id]}")]
                )
        except ArticleError as err:
            logger.error("skipping invalid article: %s", err)
            errors.append(err)
            continue
        seen[article.id] = path
        articles.append(article)
    return LoadResult(articles, errors)
