"""Category and priority classifier: TF-IDF (word + character n-grams) + logistic regression.

Trained on ``data/labelled_requests.csv`` (columns: text, language, category, priority).
Training is deterministic (fixed seed), takes seconds, and the fitted model is cached in
``HANDOFF_TRIAGE_MODEL_PATH`` with the SHA-256 of its training data, the model layout version
and the scikit-learn version, so any change retrains automatically. The cache is a pickle:
only point the path at files this service wrote.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import joblib
import sklearn
from scipy.sparse import csr_matrix, hstack
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import classification_report, f1_score
from sklearn.model_selection import train_test_split

from handoff_service.vocabulary import Category, Priority

logger = logging.getLogger(__name__)

MODEL_FORMAT = 3  # bump when TriageClassifier's attributes change
SEED = 20261125
TEST_SIZE = 0.25


@dataclass(frozen=True)
class Example:
    text: str
    language: str
    category: str
    priority: str


@dataclass(frozen=True)
class Prediction:
    category: Category
    category_confidence: float
    priority: Priority
    priority_confidence: float


def load_examples(path: Path) -> list[Example]:
    with path.open(encoding="utf-8", newline="") as handle:
        rows = [Example(**row) for row in csv.DictReader(handle)]
    for row in rows:
        Category(row.category)
        Priority(row.priority)
    return rows


def _cache_key(data_sha256: str) -> str:
    """A cached model is reused only for the same data, model layout and scikit-learn."""
    return f"{data_sha256}:format-{MODEL_FORMAT}:sklearn-{sklearn.__version__}"


def _vectorizers() -> list[TfidfVectorizer]:
    """Word uni/bigrams and character 3-5-grams (robust to typos and to ES/EN morphology)."""
    return [
        TfidfVectorizer(strip_accents="unicode", ngram_range=(1, 2), sublinear_tf=True),
        TfidfVectorizer(
            strip_accents="unicode", analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True
        ),
    ]


def _head() -> LogisticRegression:
    return LogisticRegression(C=10.0, max_iter=2000, class_weight="balanced", random_state=SEED)


class TriageClassifier:
    """Two logistic-regression heads (category, priority) over one shared TF-IDF vectoriser,
    so a prediction vectorises the text once. (The vectorisers are stacked by hand: sklearn's
    FeatureUnion costs about a millisecond per call in parallelism bookkeeping.)"""

    def __init__(
        self,
        vectorizers: list[TfidfVectorizer],
        category: LogisticRegression,
        priority: LogisticRegression,
        data_sha256: str,
    ):
        self.vectorizers = vectorizers
        self.category = category
        self.priority = priority
        self.data_sha256 = data_sha256
        self.cache_key = _cache_key(data_sha256)

    @classmethod
    def train(cls, examples: list[Example], data_sha256: str = "") -> TriageClassifier:
        texts = [e.text for e in examples]
        vectorizers = _vectorizers()
        matrix = hstack([v.fit_transform(texts) for v in vectorizers]).tocsr()
        category = _head().fit(matrix, [e.category for e in examples])
        priority = _head().fit(matrix, [e.priority for e in examples])
        return cls(vectorizers, category, priority, data_sha256)

    def _vectorise(self, texts: list[str]) -> csr_matrix:
        return hstack([v.transform(texts) for v in self.vectorizers]).tocsr()

    def predict_labels(self, texts: list[str], target: str) -> list[str]:
        head = self.category if target == "category" else self.priority
        return [str(label) for label in head.predict(self._vectorise(texts))]

    def predict(self, text: str) -> Prediction:
        # the inputs are our own well-formed arrays: skip sklearn's per-call validation
        with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
            vector = self._vectorise([text])
            cat_proba = self.category.predict_proba(vector)[0]
            pri_proba = self.priority.predict_proba(vector)[0]
        ci, pi = int(cat_proba.argmax()), int(pri_proba.argmax())
        return Prediction(
            category=Category(self.category.classes_[ci]),
            category_confidence=round(float(cat_proba[ci]), 4),
            priority=Priority(self.priority.classes_[pi]),
            priority_confidence=round(float(pri_proba[pi]), 4),
        )

    @classmethod
    def load_or_train(cls, data_path: Path, model_path: Path) -> TriageClassifier:
        """The cached model if it was trained on this exact data file, else train and cache."""
        digest = hashlib.sha256(data_path.read_bytes()).hexdigest()
        if model_path.exists():
            try:
                cached = joblib.load(model_path)
                if getattr(cached, "cache_key", None) == _cache_key(digest):
                    return cached
            except Exception as exc:  # a corrupt or incompatible cache is just retrained
                logger.warning("ignoring unusable triage model cache %s: %s", model_path, exc)
        model = cls.train(load_examples(data_path), digest)
        model_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = model_path.with_suffix(".tmp")
        joblib.dump(model, tmp)
        tmp.replace(model_path)
        logger.info("trained triage classifier", extra={"model_path": str(model_path)})
        return model


def evaluate(data_path: Path) -> dict[str, object]:
    """Macro-F1 of both heads, each on a held-out split stratified by its own labels (seeded).

    The model is trained on the rest with exactly the production code path."""
    examples = load_examples(data_path)
    report: dict[str, object] = {
        "data": str(data_path),
        "examples": len(examples),
        "test_size": TEST_SIZE,
        "seed": SEED,
    }
    for target in ("category", "priority"):
        labels = [getattr(e, target) for e in examples]
        train, test = train_test_split(
            examples, test_size=TEST_SIZE, random_state=SEED, stratify=labels
        )
        model = TriageClassifier.train(train)
        truth = [getattr(e, target) for e in test]
        predicted = model.predict_labels([e.text for e in test], target)
        report[target] = {
            "macro_f1": round(float(f1_score(truth, predicted, average="macro")), 4),
            "train": len(train),
            "test": len(test),
            "per_class": classification_report(truth, predicted, output_dict=True, zero_division=0),
        }
    return report


def write_evaluation(data_path: Path, out_path: Path) -> dict[str, object]:
    report = evaluate(data_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return report
