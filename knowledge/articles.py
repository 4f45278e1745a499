"""The article format's one owner: model, categories, ids, file paths, parsing and writing.

Format: docs/kb-format.md. Everything that reads or writes an article file goes through here:
:func:`parse_article` and :func:`load_articles` read, :meth:`Article.dump` and
:func:`write_article` write (and validate what they wrote with the parser), :func:`slugify` and
:func:`article_id` make topics and ids, :func:`article_path` places the file, and
:func:`duplicate_ids` is the one duplicate-id rule. A malformed article never takes the bot
down: :func:`load_articles` skips it, logs an :class:`ArticleError` naming the file and the
field, and returns the valid articles together with the list of errors.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import unicodedata
from collections.abc import Iterable
from enum import StrEnum
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

logger = logging.getLogger(__name__)

MAX_SUMMARY_CHARS = 400
MAX_TOPIC_CHARS = 60
MIN_QUESTIONS, MAX_QUESTIONS = 3, 8

NonEmptyStr = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$")]


class Category(StrEnum):
    """The KB's category vocabulary, in the order the help centre lists them."""

    ORDERS = "orders"
    SHIPPING = "shipping"
    RETURNS = "returns"
    REFUNDS = "refunds"
    WARRANTY = "warranty"
    PAYMENTS = "payments"
    INVOICES = "invoices"
    ACCOUNT = "account"
    DEVICE_SETUP = "device-setup"
    TROUBLESHOOTING = "troubleshooting"
    PRIVACY = "privacy"


#: What customers read for each category, per language.
CATEGORY_LABELS: dict[str, dict[Category, str]] = {
    "en": {
        Category.ORDERS: "Orders",
        Category.SHIPPING: "Shipping and delivery",
        Category.RETURNS: "Returns",
        Category.REFUNDS: "Refunds",
        Category.WARRANTY: "Warranty and repairs",
        Category.PAYMENTS: "Payments",
        Category.INVOICES: "Invoices",
        Category.ACCOUNT: "Your account",
        Category.DEVICE_SETUP: "Device setup",
        Category.TROUBLESHOOTING: "Troubleshooting",
        Category.PRIVACY: "Privacy and data",
    },
    "es": {
        Category.ORDERS: "Pedidos",
        Category.SHIPPING: "Envíos y entregas",
        Category.RETURNS: "Devoluciones",
        Category.REFUNDS: "Reembolsos",
        Category.WARRANTY: "Garantía y reparaciones",
        Category.PAYMENTS: "Pagos",
        Category.INVOICES: "Facturas",
        Category.ACCOUNT: "Tu cuenta",
        Category.DEVICE_SETUP: "Configurar dispositivos",
        Category.TROUBLESHOOTING: "Solución de problemas",
        Category.PRIVACY: "Privacidad y datos",
    },
}

#: Categories whose questions are about one order: a handoff from them asks for its number.
ORDER_CATEGORIES: frozenset[Category] = frozenset(
    {Category.ORDERS, Category.SHIPPING, Category.RETURNS, Category.REFUNDS, Category.WARRANTY}
)


def slugify(text: str) -> str:
    """A topic from free text: ASCII lowercase words joined by '-', at most 60 characters."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:MAX_TOPIC_CHARS].rstrip("-")


def article_id(topic: str, language: str) -> str:
    """The id rule: ``<topic>-<language>``."""
    return f"{topic}-{language}"


def article_url(help_center_url: str, language: str, topic: str) -> str:
    """The URL rule: an article's help-centre page is ``<help_center_url>/<language>/<topic>``."""
    return f"{help_center_url.rstrip('/')}/{language}/{topic}"


def article_path(kb_dir: Path | str, language: str, topic: str) -> Path:
    """Where an article lives: ``<kb_dir>/<language>/<topic>.md``."""
    return Path(kb_dir) / language / f"{topic}.md"


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


class DuplicateIdError(ArticleError):
    """A valid file whose id another file (earlier in path order) already declares."""

    def __init__(self, path: Path | str, article_id: str, first: Path):
        self.article_id = article_id
        self.first = first
        super().__init__(path, [("id", f"duplicate id {article_id!r}, also in {first}")])


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
    questions: Annotated[
        list[NonEmptyStr], Field(min_length=MIN_QUESTIONS, max_length=MAX_QUESTIONS)
    ]
    updated: dt.date
    status: Literal["published", "draft"]
    body: NonEmptyStr
    path: Path | None = None

    @model_validator(mode="after")
    def _id_is_topic_and_language(self) -> Article:
        expected = article_id(self.topic, self.language)
        if self.id != expected:
            raise ValueError(f"id must be '<topic>-<language>' = {expected!r}, got {self.id!r}")
        return self

    @classmethod
    def new(cls, **fields: object) -> Article:
        """An article whose id is made by the id rule from its ``topic`` and ``language``."""
        return cls(id=article_id(str(fields["topic"]), str(fields["language"])), **fields)

    @property
    def is_published(self) -> bool:
        return self.status == "published"

    def dump(self) -> str:
        """The file text: YAML front matter in the order of docs/kb-format.md, then the body.

        :func:`parse_article` of the result gives this article back (``path`` aside).
        """
        meta = self.model_dump(mode="json", exclude={"body", "path"})
        meta["updated"] = self.updated  # a YAML date, as editors write it, not a string
        front = yaml.safe_dump(meta, allow_unicode=True, sort_keys=False, width=100)
        return f"---\n{front}---\n\n{self.body}\n"


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


def duplicate_ids(
    parsed: Iterable[tuple[Path, Article | ArticleError]],
) -> tuple[list[Article], list[ArticleError]]:
    """The one duplicate-id rule: of several files declaring one id, the first in the order
    given (path order) is served and each later one becomes an :class:`ArticleError`."""
    articles: list[Article] = []
    errors: list[ArticleError] = []
    seen: dict[str, Path] = {}
    for path, result in parsed:
        if isinstance(result, Article) and result.id in seen:
            result = DuplicateIdError(path, result.id, seen[result.id])
        if isinstance(result, ArticleError):
            errors.append(result)
            continue
        seen[result.id] = path
        articles.append(result)
    return articles, errors


def parse_or_error(path: Path) -> Article | ArticleError:
    """:func:`parse_article`, with the error returned instead of raised."""
    try:
        return parse_article(path)
    except ArticleError as err:
        return err


def write_article(article: Article, kb_dir: Path | str) -> Article:
    """Write a new article file at its place in ``kb_dir`` (never overwriting), check it with
    the parser and against the ids already in the KB, and return it as parsed.

    :class:`FileExistsError` if the file exists; :class:`ArticleError` if another file declares
    the id or the written file does not parse (nothing is left behind then).
    """
    path = article_path(kb_dir, article.language, article.topic)
    declared = re.compile(rf"(?m)^id:\s*['\"]?{re.escape(article.id)}['\"]?\s*$")
    for other in sorted(Path(kb_dir).glob("*/*.md")):
        if other != path and declared.search(other.read_text("utf-8", errors="replace")):
            raise ArticleError(path, [("id", f"{article.id!r} is already used by {other}")])
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("x", encoding="utf-8") as handle:
        handle.write(article.dump())
    try:
        return parse_article(path)
    except ArticleError:
        path.unlink()
        raise


def load_articles(kb_dir: Path | str) -> LoadResult:
    """Load every ``<kb_dir>/<language>/*.md``; drafts included (``Article.is_published``).

    Invalid files and duplicate ids (the later file in path order) are skipped and reported.
    """
    articles, errors = duplicate_ids(
        (path, parse_or_error(path)) for path in sorted(Path(kb_dir).glob("*/*.md"))
    )
    for error in errors:
        logger.error("skipping invalid article: %s", error)
    return LoadResult(articles, errors)
