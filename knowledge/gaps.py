"""Knowledge gaps: the questions the bot could not answer, grouped into topics.

Every action-server replica reports the turns that ended in the FALLBACK band, got negative
feedback or were handed over to a person to the handoff service (``POST /v1/unanswered``,
stored in its database). ``kb gaps`` fetches them from there (:func:`fetch_gaps`, optionally
together with the service's tickets), embeds them with the search model and clusters them per
language (the embedding model is English-centric, so a Spanish and an English question about
one theme do not reliably land together; editors write both versions anyway). Each cluster is
named by its most central question and its most distinctive words, and the clusters are sorted
by volume: the list of articles to write next. Formatting the report: :mod:`knowledge.gap_report`.

The clustering itself, :func:`cluster_texts`, also runs without a model, on words alone: the
handoff service's report of unanswered topics (``handoff_service.unanswered.topics``).
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import httpx
import numpy as np
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict
from sklearn.cluster import AgglomerativeClustering
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer

from knowledge.settings import LANGUAGES

MAX_TICKET_TEXT_CHARS = 1000
PAGE_SIZE = 1000  # the service's maximum ``limit`` for GET /v1/unanswered
# Questions are compared like search does: (1 - w) * embedding cosine + w * character n-gram
# TF-IDF cosine. The English model alone puts unrelated Spanish questions too close together;
# the lexical part separates them. Average linkage merges groups closer than DEFAULT_DISTANCE
# (1 - similarity). Both chosen on the synthetic themes of tests/knowledge/test_gaps.py, where
# every theme of both languages comes out whole and alone for w = 0.7 and distances 0.75-0.8
# (w = 0.5 works for 0.7 only in Spanish); re-check on real data once it exists.
LEXICAL_WEIGHT = 0.7
DEFAULT_DISTANCE = 0.75
# Without a model: the character n-gram TF-IDF cosine alone, of the questions' content words
# (stop words dropped: "do you have ..." or "puedo ..." made unrelated questions neighbours).
# Measured on scripts/generate_month.py's UNANSWERED (10 labelled topics x 3-6 wordings per
# language, with its one-off questions): 0.80 has the best adjusted Rand index among the
# thresholds whose clusters stay >= 0.9 homogeneous (es 0.36, en 0.50; exact text: 0). Words
# cannot join paraphrases that share none ("aceptan paypal?", "teneis bizum o solo tarjeta"):
# only 1-2 of the 10 topics come out whole and alone.
LEXICAL_DISTANCE = 0.80
MAX_ITEMS_PER_LANGUAGE = 5000  # agglomerative clustering is O(n^2) in memory


class GapsSource(BaseSettings):
    """Where ``kb gaps`` reads the unanswered questions: the handoff service's agent API."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True, env_ignore_empty=True)

    handoff_service_url: str = Field(
        default="http://127.0.0.1:8000", description="Base URL of the handoff service."
    )
    handoff_agent_token: SecretStr | None = Field(
        default=None, description="An agent or admin token of the handoff service."
    )


@dataclass(frozen=True)
class Gap:
    text: str
    language: str
    reason: str
    conversation_id: str
    created_at: str
    source: str = "bot"  # "bot" (recorded unanswered question) or "ticket" (handoff ticket)


def service_client(base_url: str, token: str, timeout: float = 30.0) -> httpx.Client:
    """An HTTP client for the handoff service's agent API (needs an agent or admin token)."""
    return httpx.Client(
        base_url=base_url.rstrip("/"),
        headers={"Authorization": f"Bearer {token}"},
        timeout=timeout,
    )


def fetch_gaps(
    service_url: str,
    token: str,
    since: dt.datetime | None = None,
    language: str | None = None,
    tickets: bool = False,
) -> list[Gap]:
    """The unanswered questions every bot replica recorded, oldest first, and with ``tickets``
    the handoff tickets whose conversation was not recorded as a handoff.

    Raises ``httpx.HTTPError`` when the service cannot be read (unreachable, bad token).
    """
    with service_client(service_url, token) as client:
        gaps = fetch_unanswered(client, since, language)
        if tickets:
            found = fetch_ticket_gaps(client, since)
            gaps = merge_ticket_gaps(
                gaps, [t for t in found if language is None or t.language == language]
            )
    return gaps


def fetch_unanswered(
    client: httpx.Client,
    since: dt.datetime | None = None,
    language: str | None = None,
    page_size: int = PAGE_SIZE,
) -> list[Gap]:
    """``GET /v1/unanswered`` page by page; oldest first.

    The service lists newest first, so a record arriving during the walk shifts the pages:
    rows are kept by id, which drops the repeat and never skips one.
    """
    params: dict[str, str | int] = {"limit": page_size}
    if since is not None:
        params["since"] = since.isoformat()
    if language is not None:
        params["language"] = language
    rows: dict[int, Gap] = {}
    offset = 0
    while True:
        response = client.get("/v1/unanswered", params={**params, "offset": offset})
        response.raise_for_status()
        page = response.json()
        for item in page:
            rows.setdefault(
                item["id"],
                Gap(
                    text=item["text"],
                    language=item["language"],
                    reason=item["reason"],
                    conversation_id=item["conversation_id"],
                    created_at=item["occurred_at"],
                ),
            )
        if len(page) < page_size:
            return list(reversed(rows.values()))
        offset += len(page)


def fetch_ticket_gaps(client: httpx.Client, since: dt.datetime | None = None) -> list[Gap]:
    """Handoff tickets as gaps: of each, the first customer message of at least three words.

    ``client`` is an ``httpx.Client`` on the handoff service (:func:`service_client`); uses
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
        text=" ".join(question.split())[:MAX_TICKET_TEXT_CHARS],
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
    distance: float | None = None,
    examples: int = 3,
) -> list[GapCluster]:
    """Topics of the unanswered questions, largest first (ties: language, label).

    ``model`` None: words alone; ``distance`` None: the default for the model or for words."""
    clusters: list[GapCluster] = []
    for language in LANGUAGES:
        group = [g for g in gaps if g.language == language][-MAX_ITEMS_PER_LANGUAGE:]
        if group:
            clusters += _cluster_language(group, model, distance, examples)
    clusters.sort(key=lambda c: (-c.count, c.language, c.label))
    return clusters


def _cluster_language(
    group: list[Gap], model, distance: float | None, examples: int
) -> list[GapCluster]:
    texts = [g.text for g in group]
    clusters = []
    for topic in cluster_texts(texts, group[0].language, model, distance):
        distinct: list[str] = []
        for i in topic.members:
            if texts[i].lower() not in {t.lower() for t in distinct}:
                distinct.append(texts[i])
        clusters.append(
            GapCluster(
                language=group[0].language,
                label=distinct[0],
                count=len(topic.members),
                conversations=len({group[i].conversation_id for i in topic.members}),
                terms=topic.terms,
                examples=distinct[1 : examples + 1],
                reasons=dict(Counter(group[i].reason for i in topic.members).most_common()),
            )
        )
    return clusters


@dataclass(frozen=True)
class TextCluster:
    """One topic of :func:`cluster_texts`: ``members`` index its texts, most central first."""

    members: list[int]
    terms: list[str]


def cluster_texts(
    texts: Sequence[str],
    language: str,
    model=None,
    distance: float | None = None,
    weights: Sequence[int] | None = None,
) -> list[TextCluster]:
    """Average-linkage clusters of ``texts`` (one language), in the order of their first text.

    ``weights``: how many times each text was asked (a distinct text standing for N questions
    counts N when picking the most central text; the linkage sees each text once).
    ``model`` None: words alone (:data:`LEXICAL_DISTANCE`); ``distance`` None: the default.
    """
    if distance is None:
        distance = DEFAULT_DISTANCE if model is not None else LEXICAL_DISTANCE
    similarity = _similarity(list(texts), model, language)
    if len(texts) == 1:
        labels = np.zeros(1, dtype=int)
    else:
        labels = AgglomerativeClustering(
            n_clusters=None, distance_threshold=distance, metric="precomputed", linkage="average"
        ).fit_predict(np.clip(1.0 - similarity, 0.0, 2.0))
    terms = _top_terms(list(texts), labels, language)
    clusters = []
    for label in dict.fromkeys(labels.tolist()):
        members = np.flatnonzero(labels == label)
        centrality = np.average(
            similarity[np.ix_(members, members)],
            axis=1,
            weights=None if weights is None else np.asarray(weights, dtype=float)[members],
        )
        ordered = members[np.argsort(-centrality, kind="stable")]
        clusters.append(TextCluster([int(i) for i in ordered], terms[int(label)]))
    return clusters


def _similarity(texts: list[str], model, language: str) -> np.ndarray:
    if model is None:
        return _lexical([_content_words(text, language) for text in texts])
    vectors = model.encode(texts)
    return (1.0 - LEXICAL_WEIGHT) * (vectors @ vectors.T) + LEXICAL_WEIGHT * _lexical(texts)


def _lexical(texts: list[str]) -> np.ndarray:
    """Cosine of the texts' character n-gram TF-IDF vectors (accents ignored)."""
    matrix = TfidfVectorizer(
        analyzer="char_wb", ngram_range=(2, 4), strip_accents="unicode", sublinear_tf=True
    ).fit_transform(texts)
    return (matrix @ matrix.T).toarray()


def _content_words(text: str, language: str) -> str:
    """``text`` without its stop words (the text itself when nothing else is left)."""
    stop = _stop_words(language)
    words = [w for w in re.findall(r"\w+", text.lower()) if w not in stop]
    return " ".join(words) or text


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


def _stop_words(language: str) -> frozenset[str]:
    return ENGLISH_STOP_WORDS if language == "en" else _SPANISH_STOP_WORDS


def _top_terms(texts: list[str], labels: np.ndarray, language: str, top: int = 4) -> dict:
    """The words that best distinguish each cluster (class-based TF-IDF over the clusters)."""
    stop = _stop_words(language)
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
