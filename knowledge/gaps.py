"""Knowledge gaps: the questions the bot could not answer, recorded and grouped into topics.

The action server calls :func:`record_unanswered` for every turn that ended in the FALLBACK
band, got negative feedback, or was handed over to a person. ``kb gaps`` reads them back
(optionally together with the handoff service's tickets), embeds them with the search model and
clusters them per language (the embedding model is English-centric, so a Spanish and an English
question about one theme do not reliably land together; editors write both versions anyway).
Each cluster is named by its most central question and its most distinctive words, and the
clusters are sorted by volume: the list of articles to write next.

Storage: SQLite at ``NIVEL0_GAPS_DB`` (default ``var/gaps.db``), WAL mode, one short
connection per call, so threads and processes can record concurrently.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import sqlite3
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from knowledge.settings import LANGUAGES

logger = logging.getLogger(__name__)

GAPS_DB_ENV = "NIVEL0_GAPS_DB"
DEFAULT_GAPS_DB = "var/gaps.db"
REASONS = ("fallback", "negative_feedback", "handoff")
MAX_TEXT_CHARS = 1000
# Questions are compared like search does: (1 - w) * embedding cosine + w * character n-gram
# TF-IDF cosine. The English model alone puts unrelated Spanish questions too close together;
# the lexical part separates them. Average linkage merges groups closer than DEFAULT_DISTANCE
# (1 - similarity). Both chosen on the synthetic themes of tests/knowledge/test_gaps.py, where
# every theme of both languages comes out whole and alone for w = 0.7 and distances 0.75-0.8
# (w = 0.5 works for 0.7 only in Spanish); re-check on real data once it exists.
LEXICAL_WEIGHT = 0.7
DEFAULT_DISTANCE = 0.75
MAX_ITEMS_PER_LANGUAGE = 5000  # agglomerative clustering is O(n^2) in memory

_SCHEMA = """
CREATE TABLE IF NOT EXISTS unanswered (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TEXT NOT NULL,
    text TEXT NOT NULL,
    language TEXT NOT NULL,
    reason TEXT NOT NULL,
    conversation_id TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS unanswered_created_at ON unanswered (created_at);
"""


def gaps_db_path() -> Path:
    return Path(os.environ.get(GAPS_DB_ENV, DEFAULT_GAPS_DB))


def _connect(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path, timeout=10)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.executescript(_SCHEMA)
    return connection


def record_unanswered(
    text: str,
    language: str,
    reason: str,
    conversation_id: str,
    db_path: Path | None = None,
    now: dt.datetime | None = None,
) -> bool:
    """Store one unanswered customer question; False (logged) if the database failed.

    A storage failure must not break the conversation, hence no exception for it; invalid
    arguments are a programming error and raise ValueError.
    """
    text = " ".join((text or "").split())[:MAX_TEXT_CHARS]
    if not text:
        raise ValueError("text is empty")
    if language not in LANGUAGES:
        raise ValueError(f"language must be one of {LANGUAGES}, got {language!r}")
    if reason not in REASONS:
        raise ValueError(f"reason must be one of {REASONS}, got {reason!r}")
    created = (now or dt.datetime.now(dt.UTC)).isoformat(timespec="seconds")
    path = db_path or gaps_db_path()
    try:
        connection = _connect(path)
        try:
            with connection:
                connection.execute(
                    "INSERT INTO unanswered (created_at, text, language, reason, conversation_id)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (created, text, language, reason, conversation_id),
                )
        finally:
            connection.close()
    except sqlite3.Error:
        logger.exception("could not record unanswered question in %s", path)
        return False
    return True


@dataclass(frozen=True)
class Gap:
    text: str
    language: str
    reason: str
    conversation_id: str
    created_at: str
    source: str = "bot"  # "bot" (gaps DB) or "ticket" (handoff service)


def read_gaps(db_path: Path | None = None, since: dt.datetime | None = None) -> list[Gap]:
    """Recorded questions, oldest first; ``[]`` if nothing was ever recorded."""
    path = db_path or gaps_db_path()
    if not path.exists():
        return []
    connection = _connect(path)
    try:
        rows = connection.execute(
            "SELECT text, language, reason, conversation_id, created_at FROM unanswered"
            " WHERE created_at >= ? ORDER BY created_at, id",
            ((since or dt.datetime.min.replace(tzinfo=dt.UTC)).isoformat(timespec="seconds"),),
        ).fetchall()
    finally:
        connection.close()
    return [Gap(*row) for row in rows]


def ticket_client(base_url: str, token: str, timeout: float = 10.0):
    """An HTTP client for the handoff service's agent API (needs an agent or admin token)."""
    import httpx

    return httpx.Client(
        base_url=base_url.rstrip("/"),
        headers={"Authorization": f"Bearer {token}"},
        timeout=timeout,
    )


def fetch_ticket_gaps(client, since: dt.datetime | None = None) -> list[Gap]:
    """Handoff tickets as gaps: of each, the first customer message of at least three words.

    ``client`` is an ``httpx.Client`` on the handoff service (:func:`ticket_client`); uses
    ``GET /v1/tickets`` (paged) and ``GET /v1/tickets/{number}``.
    """
    gaps: list[Gap] = []
    offset = 0
    while True:
        page = client.get("/v1/tickets", params={"limit": 200, "offset": offset})
        page.raise_for_status()
        data = page.json()
        for item in data["items"]:
            created = dt.datetime.fromisoformat(item["created_at"])
            if created.tzinfo is None:
                created = created.replace(tzinfo=dt.UTC)
            if since is not None and created < since:
                continue
            ticket = client.get(f"/v1/tickets/{item['number']}")
            ticket.raise_for_status()
            gap = _ticket_gap(ticket.json())
            if gap is not None:
                gaps.append(gap)
        offset += len(data["items"])
        if not data["items"] or offset >= data["total"]:
            return gaps


def _ticket_gap(ticket: dict) -> Gap | None:
    said = [m["text"] for m in ticket["transcript"] if m["role"] == "customer"]
    question = next((text for text in said if len(text.split()) >= 3), said[0] if said else "")
    if not question.strip():
        return None
    return Gap(
        text=" ".join(question.split())[:MAX_TEXT_CHARS],
        language=ticket["language"],
        reason="handoff",
        conversation_id=ticket["conversation_id"],
        created_at=ticket["created_at"],
        source="ticket",
    )


def merge_ticket_gaps(recorded: list[Gap], tickets: list[Gap]) -> list[Gap]:
    """Tickets whose conversation the bot already recorded as a handoff are not counted twice."""
    handed_over = {g.conversation_id for g in recorded if g.reason == "handoff"}
    return recorded + [t for t in tickets if t.conversation_id not in handed_over]


@dataclass
class GapCluster:
    language: str
    label: str  # the most central question
    count: int
    conversations: int
    terms: list[str]
    examples: list[str]
    reasons: dict[str, int] = field(default_factory=dict)
    # what the KB does with the label now (kb gaps --check-kb): band and best article
    kb_band: str | None = None
    kb_article: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def check_against_kb(clusters: list[GapCluster], kb) -> None:
    """Fill ``kb_band``/``kb_article``: a topic the KB now answers needs no new article."""
    for cluster in clusters:
        outcome = kb.search(cluster.label, cluster.language)
        cluster.kb_band = outcome.band.value
        cluster.kb_article = outcome.hits[0].article.id if outcome.hits else None


def cluster_gaps(
    gaps: list[Gap],
    model,
    distance: float = DEFAULT_DISTANCE,
    examples: int = 3,
) -> list[GapCluster]:
    """Topics of the unanswered questions, largest first (ties: language, label)."""
    clusters: list[GapCluster] = []
    for language in LANGUAGES:
        group = [g for g in gaps if g.language == language][-MAX_ITEMS_PER_LANGUAGE:]
        if group:
            clusters += _cluster_language(group, model, distance, examples)
    clusters.sort(key=lambda c: (-c.count, c.language, c.label))
    return clusters


def _cluster_language(group: list[Gap], model, threshold: float, examples: int) -> list[GapCluster]:
    from sklearn.cluster import AgglomerativeClustering

    texts = [g.text for g in group]
    similarity = _similarity(texts, model)
    if len(group) == 1:
        labels = np.zeros(1, dtype=int)
    else:
        labels = AgglomerativeClustering(
            n_clusters=None, distance_threshold=threshold, metric="precomputed", linkage="average"
        ).fit_predict(np.clip(1.0 - similarity, 0.0, 2.0))
    terms = _top_terms(texts, labels, group[0].language)
    clusters = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        centrality = similarity[np.ix_(members, members)].mean(axis=1)
        ordered = members[np.argsort(-centrality, kind="stable")]
        distinct: list[str] = []
        for i in ordered:
            if texts[i].lower() not in {t.lower() for t in distinct}:
                distinct.append(texts[i])
        clusters.append(
            GapCluster(
                language=group[0].language,
                label=distinct[0],
                count=len(members),
                conversations=len({group[i].conversation_id for i in members}),
                terms=terms[int(label)],
                examples=distinct[1 : examples + 1],
                reasons=dict(Counter(group[i].reason for i in members).most_common()),
            )
        )
    return clusters


def _similarity(texts: list[str], model) -> np.ndarray:
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectors = model.encode(texts)
    lexical = TfidfVectorizer(
        analyzer="char_wb", ngram_range=(2, 4), strip_accents="unicode", sublinear_tf=True
    ).fit_transform(texts)
    return (1.0 - LEXICAL_WEIGHT) * (vectors @ vectors.T) + LEXICAL_WEIGHT * (
        lexical @ lexical.T
    ).toarray()


# Sklearn ships English stop words only; these are the Spanish function words that would
# otherwise name every cluster.
_SPANISH_STOP_WORDS = frozenset(
    re.findall(
        r"\S+",
        """
    a al algo como con cual cuando de del donde el ella en es esta este esto ha hay he la
    las le les lo los me mi mis muy no nos o para pero por porque que se si sin sobre su sus
    te tengo ti tu tus un una uno y ya yo puedo puede quiero hacer está qué cómo cuándo
    dónde por qué os vuestro vuestra mí tú él sí
""",
    )
)


def _top_terms(texts: list[str], labels: np.ndarray, language: str, top: int = 4) -> dict:
    """The words that best distinguish each cluster (class-based TF-IDF over the clusters)."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer

    stop = ENGLISH_STOP_WORDS if language == "en" else _SPANISH_STOP_WORDS
    ids = list(np.unique(labels))
    documents = [" ".join(t for t, lab in zip(texts, labels, strict=True) if lab == i) for i in ids]
    vectorizer = TfidfVectorizer(stop_words=sorted(stop), token_pattern=r"(?u)\b[^\W\d_]{3,}\b")
    try:
        matrix = vectorizer.fit_transform(documents).toarray()
    except ValueError:  # nothing but stop words
        return {int(i): [] for i in ids}
    vocabulary = vectorizer.get_feature_names_out()
    result = {}
    for row, i in zip(matrix, ids, strict=True):
        best = np.argsort(-row, kind="stable")[:top]
        result[int(i)] = [str(vocabulary[j]) for j in best if row[j] > 0]
    return result
