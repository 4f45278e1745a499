"""Sensitive topics a person must handle, and personal data typed in the chat.

:func:`is_sensitive`: billing disputes ("me cobraron dos veces", unrecognised charges), fraud,
phishing, hacked or stolen accounts, identity theft, card or ID numbers. A message it flags is
not answered from the knowledge base: the bot hands over with the reason ``sensitive_data``
(the handoff service routes those to its security or private desk queues). It is a trained
classifier, not a keyword list: TF-IDF word 1-2-grams and character 3-5-grams (robust to typos,
to Spain's and Latin America's verb forms) and a logistic regression, the same layout as the
handoff service's triage classifier. The training data, ``data/sensitive_messages.csv``
(columns text, language, label), is English and Spanish customer messages: the positives above
and, as negatives, the knowledge base's own questions ("I forgot my password", "how do refunds
to my card work", "my payment failed but I see the amount" are KB questions). Its held-out test
set is ``tests/bot/data/sensitive_test.csv``, never trained on.

Training is deterministic (fixed seed) and takes well under a second, so the model is trained
in memory when this module is imported (the action server imports it at start-up, before it
reports healthy) rather than cached on disk: a pickle cache would only add a file to trust.

:func:`contains_personal_data`: a card number (Luhn-valid), IBAN, CVV or identity document, found by
the handoff service's redaction (:mod:`handoff_service.redaction`), so that the bot and the
service agree on what such data looks like; in the chat, Rasa's channel has already replaced it
by its label ("[card ****1111]"), which counts the same.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import sklearn
from scipy.sparse import csr_matrix, hstack
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from handoff_service.redaction import CONTACT, find, labelled

DATA_PATH = Path(__file__).resolve().parent / "data" / "sensitive_messages.csv"
SEED = 20261202
SENSITIVE = "sensitive"
NOT_SENSITIVE = "not_sensitive"
#: Probability of ``sensitive`` above which a message is handed over. Chosen for precision:
#: a false positive sends an answerable question to a person (slow for the customer, costly for
#: the desk), a false negative still reaches the search, whose fallback offers a person too.
THRESHOLD = 0.5


@dataclass(frozen=True)
class Example:
    text: str
    language: str
    label: str


def load_examples(path: Path) -> list[Example]:
    with path.open(encoding="utf-8", newline="") as handle:
        rows = [Example(**row) for row in csv.DictReader(handle)]
    unknown = {row.label for row in rows} - {SENSITIVE, NOT_SENSITIVE}
    if unknown:
        raise ValueError(f"{path}: unknown labels {sorted(unknown)}")
    return rows


class SensitiveClassifier:
    """Binary logistic regression over stacked word and character TF-IDF features.

    (The vectorisers are stacked by hand: sklearn's FeatureUnion costs about a millisecond per
    call in parallelism bookkeeping.)"""

    def __init__(self, vectorizers: list[TfidfVectorizer], head: LogisticRegression):
        self.vectorizers = vectorizers
        self.head = head
        self._positive = list(head.classes_).index(SENSITIVE)

    @classmethod
    def train(cls, examples: list[Example]) -> SensitiveClassifier:
        texts = [e.text for e in examples]
        vectorizers = [
            TfidfVectorizer(
                strip_accents="unicode", lowercase=True, ngram_range=(1, 2), sublinear_tf=True
            ),
            TfidfVectorizer(
                strip_accents="unicode",
                lowercase=True,
                analyzer="char_wb",
                ngram_range=(3, 5),
                sublinear_tf=True,
            ),
        ]
        matrix = hstack([v.fit_transform(texts) for v in vectorizers]).tocsr()
        head = LogisticRegression(
            C=10.0, solver="liblinear", class_weight="balanced", random_state=SEED
        ).fit(matrix, [e.label for e in examples])
        return cls(vectorizers, head)

    def _vectorise(self, texts: list[str]) -> csr_matrix:
        return hstack([v.transform(texts) for v in self.vectorizers]).tocsr()

    def probabilities(self, texts: list[str]) -> list[float]:
        """Probability that each text is sensitive."""
        # the inputs are our own well-formed arrays: skip sklearn's per-call validation
        with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
            proba = self.head.predict_proba(self._vectorise(texts))
        return [float(p[self._positive]) for p in proba]


CLASSIFIER = SensitiveClassifier.train(load_examples(DATA_PATH))


def contains_personal_data(text: str | None) -> bool:
    """Whether the text carries a card number, IBAN, account number, CVV or identity-document
    number (a phone number or e-mail address is contact data the form asks for, not this), or
    carried one: Rasa's chat channel (bot/redacting_channel.py) has replaced it by its label."""
    if not text:
        return False
    return bool(labelled(text) - CONTACT) or any(f.kind not in CONTACT for f in find(text))


def is_sensitive(text: str | None) -> bool:
    """Whether a person, not an article, must handle this message."""
    if not text or not text.strip():
        return False
    return contains_personal_data(text) or CLASSIFIER.probabilities([text])[0] >= THRESHOLD
