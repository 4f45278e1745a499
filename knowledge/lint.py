"""Checks an editor runs before committing articles (``kb lint``); errors fail CI, warnings inform.

Errors (the article is wrong or would be served wrongly):
- ``schema``: the front matter breaks docs/kb-format.md (also a file in the wrong folder).
- ``duplicate-id``: two files declare the same id (the bot serves only the first).
- ``missing-translation``: a *published* topic has no article at all in the other language.
- ``empty-section``: a ``##`` heading with nothing under it.
- ``broken-link``: an internal link (``../es/topic.md``, ``topic.md``, ``/es/topic`` or the help
  centre URL) to a topic/language that does not exist.
- ``placeholder``: a published article still contains the ``TODO`` text of ``kb new``.
- ``question-collision``: an alternative question (or title) of one article is nearly the same
  text as one of another article in the same language (cosine >= the language's ``collision``
  threshold in :data:`DEFAULT_SIMILARITY`, or identical wording):
  search cannot tell the two apart, so customers get a clarification or the wrong article.

Warnings (worth a look, not wrong):
- ``draft``: not served by the bot until ``status: published``.
- ``draft-translation``: a published topic whose other-language version is still a draft or a
  draft whose translation is missing (drafts from the handoff service come in one language).
- ``long-section``: more than ``MAX_SECTION_WORDS`` words; hard to read in a chat widget.
- ``no-sections``: the body has no ``##`` section.
- ``file-name``: the file name is not ``<topic>.md``.
- ``near-duplicate``: two articles of one language whose mean embeddings are very similar
  (cosine >= the language's ``duplicate`` threshold): probably one topic written twice.
- ``placeholder`` in a draft.

The embedding checks use the search model and its on-disk vector cache, so only changed
articles are embedded.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from knowledge.articles import Article, DuplicateIdError, duplicate_ids, parse_or_error
from knowledge.settings import LANGUAGES, KnowledgeSettings

Severity = Literal["error", "warning"]

MAX_SECTION_WORDS = 300


@dataclass(frozen=True)
class SimilarityThresholds:
    collision: float  # cosine between a title/question of one article and one of another
    duplicate: float  # cosine between the mean search-text vectors of two articles


# Per language, because the English model puts unrelated Spanish texts much closer together than
# unrelated English ones. Chosen on the 64 articles of kb_articles/ with all-MiniLM-L6-v2, where
# the closest legitimate pairs score: en question 0.88, article 0.82; es question 0.91 (invoice
# "a nombre de mi empresa" in invoice-correction vs invoice-download), article 0.94 (same pair).
DEFAULT_SIMILARITY = {
    "en": SimilarityThresholds(collision=0.92, duplicate=0.90),
    "es": SimilarityThresholds(collision=0.95, duplicate=0.96),
}
PLACEHOLDER = "TODO"

_SECTION = re.compile(r"^##\s+(.+?)\s*#*\s*$", re.MULTILINE)
_LINK = re.compile(r"(?<!!)\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)


@dataclass(frozen=True)
class Finding:
    severity: Severity
    code: str
    path: Path | None
    message: str

    def __str__(self) -> str:
        where = f"{self.path}: " if self.path else ""
        return f"{self.severity.upper()} [{self.code}] {where}{self.message}"


@dataclass(frozen=True)
class LintReport:
    findings: list[Finding]
    articles: list[Article]  # the valid ones (first of each duplicate id)
    files: int

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]


def lint_kb(
    kb_dir: Path,
    model=None,
    index_dir: Path | None = None,
    similarity: dict[str, SimilarityThresholds] | None = None,
    help_center_url: str = KnowledgeSettings.model_fields["help_center_url"].default,
) -> LintReport:
    """All checks; the embedding checks run only when ``model`` (and ``index_dir``) are given."""
    kb_dir = Path(kb_dir)
    findings: list[Finding] = []
    articles: list[Article] = []
    findings += [
        Finding("error", "schema", path, "not in a language folder: the bot never loads it")
        for path in sorted(kb_dir.glob("*.md"))
    ]
    parsed = [(path, parse_or_error(path)) for path in sorted(kb_dir.glob("*/*.md"))]
    for path, result in parsed:
        if isinstance(result, Article) and path.stem != result.topic:
            findings.append(
                Finding("warning", "file-name", path, f"file name should be {result.topic}.md")
            )
    articles, errors = duplicate_ids(parsed)
    for err in errors:
        if isinstance(err, DuplicateIdError):
            message = f"id {err.article_id!r} is also used by {err.first}"
            findings.append(Finding("error", "duplicate-id", err.path, message))
            continue
        findings += [
            Finding("error", "schema", err.path, f"field '{field}': {msg}")
            for field, msg in err.problems
        ]
    for article in articles:
        findings += check_article(article)
    findings += check_translations(articles)
    findings += check_links(articles, help_center_url)
    if model is not None and index_dir is not None:
        findings += check_similarity(articles, model, index_dir, similarity or DEFAULT_SIMILARITY)
    order = {"error": 0, "warning": 1}
    findings.sort(key=lambda f: (order[f.severity], str(f.path or ""), f.code))
    return LintReport(findings, articles, len(parsed))


def sections(body: str) -> list[tuple[str, str]]:
    """``(heading, text)`` of every ``##`` section (code blocks are not searched for headings)."""
    masked = _FENCE.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), body)
    matches = list(_SECTION.finditer(masked))
    return [
        (m.group(1), body[m.end() : matches[i + 1].start() if i + 1 < len(matches) else len(body)])
        for i, m in enumerate(matches)
    ]


def check_article(article: Article) -> list[Finding]:
    path = article.path
    found: list[Finding] = []
    if not article.is_published:
        found.append(Finding("warning", "draft", path, "draft: not served by the bot"))
    parts = sections(article.body)
    if not parts:
        found.append(Finding("warning", "no-sections", path, "the body has no '##' section"))
    for heading, text in parts:
        words = len(text.split())
        if words == 0:
            found.append(Finding("error", "empty-section", path, f"section {heading!r} is empty"))
        elif words > MAX_SECTION_WORDS:
            found.append(
                Finding(
                    "warning",
                    "long-section",
                    path,
                    f"section {heading!r} has {words} words (max {MAX_SECTION_WORDS}): split it",
                )
            )
    texts = [article.title, article.summary, *article.questions, *article.tags, article.body]
    if any(PLACEHOLDER in text for text in texts):
        severity: Severity = "error" if article.is_published else "warning"
        found.append(
            Finding(severity, "placeholder", path, f"replace the {PLACEHOLDER} placeholders")
        )
    return found


def check_translations(articles: list[Article]) -> list[Finding]:
    by_topic: dict[str, dict[str, Article]] = defaultdict(dict)
    for article in articles:
        by_topic[article.topic][article.language] = article
    found: list[Finding] = []
    for versions in by_topic.values():
        for language, article in versions.items():
            for other in LANGUAGES:
                if other == language:
                    continue
                translation = versions.get(other)
                if translation is None and article.is_published:
                    found.append(
                        Finding(
                            "error",
                            "missing-translation",
                            article.path,
                            f"published, but there is no {other} version "
                            f"({other}/{article.topic}.md)",
                        )
                    )
                elif translation is None:
                    found.append(
                        Finding(
                            "warning",
                            "draft-translation",
                            article.path,
                            f"write the {other} version ({other}/{article.topic}.md) before "
                            "publishing",
                        )
                    )
                elif article.is_published and not translation.is_published:
                    found.append(
                        Finding(
                            "warning",
                            "draft-translation",
                            article.path,
                            f"its {other} version is still a draft: {other} customers are "
                            "not served",
                        )
                    )
    return found


def link_target(
    target: str,
    language: str,
    base: str = KnowledgeSettings.model_fields["help_center_url"].default,
) -> tuple[str, str] | None:
    """``(language, topic)`` of an internal link (absolute under the help centre's ``base`` URL
    or relative), None for external links and anchors."""
    if target.startswith(base):
        target = target[len(base) :]
    elif re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith(("#", "//")):
        return None
    target = target.split("#", 1)[0].split("?", 1)[0].rstrip("/")
    if not target:
        return None
    parts = [p for p in target.split("/") if p not in ("", ".", "..")]
    if parts[0] == "help" and len(parts) > 1:  # "/help/<lang>/<topic>" on the same host
        parts = parts[1:]
    topic = parts[-1].removesuffix(".md")
    link_language = parts[-2] if len(parts) >= 2 else language
    return link_language, topic


def check_links(articles: list[Article], help_center_url: str) -> list[Finding]:
    known = {(a.language, a.topic): a for a in articles}
    found: list[Finding] = []
    for article in articles:
        for target in _LINK.findall(_FENCE.sub("", article.body)):
            resolved = link_target(target, article.language, help_center_url)
            if resolved is None:
                continue
            linked = known.get(resolved)
            if linked is None:
                found.append(
                    Finding(
                        "error",
                        "broken-link",
                        article.path,
                        f"link {target!r}: no article {resolved[0]}/{resolved[1]}",
                    )
                )
            elif article.is_published and not linked.is_published:
                found.append(
                    Finding(
                        "warning", "broken-link", article.path, f"link {target!r} is to a draft"
                    )
                )
    return found


def _normalise(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.lower()))


def check_similarity(
    articles: list[Article],
    model,
    index_dir: Path,
    similarity: dict[str, SimilarityThresholds],
) -> list[Finding]:
    """Near-duplicate articles and colliding questions, per language, by embedding similarity."""
    from knowledge.index import build_vectors

    vectors, _ = build_vectors(articles, model, index_dir)
    found: list[Finding] = []
    for language in LANGUAGES:
        group = [a for a in articles if a.language == language]
        if len(group) < 2:
            continue
        found += _near_duplicates(group, vectors, similarity[language].duplicate)
        found += _collisions(group, vectors, similarity[language].collision)
    return found


def _near_duplicates(
    group: list[Article], vectors: dict[str, np.ndarray], threshold: float
) -> list[Finding]:
    means = np.vstack([vectors[a.id].mean(axis=0) for a in group])
    means /= np.linalg.norm(means, axis=1, keepdims=True)
    found = []
    for i, j, score in _pairs_above(means, threshold):
        a, b = group[i], group[j]
        found.append(
            Finding(
                "warning",
                "near-duplicate",
                a.path,
                f"{a.id} and {b.id} are near-duplicates (similarity {score:.3f})",
            )
        )
    return found


def _collisions(
    group: list[Article], vectors: dict[str, np.ndarray], threshold: float
) -> list[Finding]:
    """Title and questions (not the summary) of every article against those of the others."""
    owners: list[int] = []
    texts: list[str] = []
    rows: list[np.ndarray] = []
    for n, article in enumerate(group):
        own = [article.title, *article.questions]  # rows 0..len-1 of index.search_texts
        owners += [n] * len(own)
        texts += own
        rows.append(vectors[article.id][: len(own)])
    matrix = np.vstack(rows)
    owner = np.array(owners)
    best: dict[tuple[int, int], tuple[float, int, int]] = {}
    for i, j, score in _pairs_above(matrix, threshold):
        a, b = owner[i], owner[j]
        if a == b:
            continue
        key = (min(a, b), max(a, b))
        if key not in best or score > best[key][0]:
            best[key] = (score, i, j)
    # identical wording always collides, whatever the model says
    by_text: dict[str, int] = {}
    for i, text in enumerate(texts):
        j = by_text.setdefault(_normalise(text), i)
        if owner[i] != owner[j]:
            key = (min(owner[i], owner[j]), max(owner[i], owner[j]))
            best[key] = (1.0, j, i)
    found = []
    for (a, b), (score, i, j) in sorted(best.items()):
        first, second = (i, j) if owner[i] == a else (j, i)
        found.append(
            Finding(
                "error",
                "question-collision",
                group[a].path,
                f"{group[a].id} {texts[first]!r} collides with {group[b].id} "
                f"{texts[second]!r} (similarity {score:.3f}): reword or merge",
            )
        )
    return found


# Neighbours per text that paraphrase mining keeps: far more than any text has above a lint
# threshold, and it bounds memory on a large KB (pairs kept = texts x neighbours).
_NEIGHBOURS = 20


def _pairs_above(vectors: np.ndarray, threshold: float) -> Iterable[tuple[int, int, float]]:
    """Row pairs (i < j) of unit ``vectors`` with cosine >= threshold, best first, by
    sentence-transformers' paraphrase mining (chunked, so a large KB fits in memory)."""
    import torch
    from sentence_transformers.util import paraphrase_mining_embeddings

    embeddings = torch.from_numpy(np.ascontiguousarray(vectors, dtype=np.float32))
    pairs = paraphrase_mining_embeddings(
        embeddings, top_k=min(_NEIGHBOURS, len(vectors) - 1), max_pairs=len(vectors) * _NEIGHBOURS
    )
    for score, i, j in pairs:
        if score < threshold:
            break  # sorted by score, best first
        yield min(i, j), max(i, j), float(score)
