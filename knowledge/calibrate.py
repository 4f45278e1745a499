"""``python -m knowledge.calibrate [--set tests/eval/dev.yml]``: choose search thresholds on data.

Only dev data is used: the dev set and, as more out-of-scope questions, the dev halves of the
held-out sets of questions no article answers (``--unanswerable``, default
tests/eval/unanswerable_{shop,other}.yml; never test.yml nor a test half). For each language
and each candidate lexical weight of the hybrid score, :func:`choose_thresholds` picks

1. ``answer_min`` and ``answer_margin`` that maximise the number of correct ANSWERs while keeping
   the false-answer rate (see :mod:`knowledge.evaluate`) <= ``--max-false-answer-rate`` (0.05)
   with ``--confidence`` (0.9, one-sided Clopper-Pearson bound on the dev count: ~90 dev queries
   per language allowed 1 false answer, not 4; the point estimate alone overshot 0.05 on new
   queries; with the unanswerable dev halves, ~175 per language allow 4); ties go to fewer
   false answers, then the stricter thresholds;
2. ``clarify_min`` (<= answer_min) that maximises (share of in-scope queries whose topic is
   offered, as the answer or among the CLARIFY buttons) + (share of out-of-scope queries that get
   FALLBACK).

Thresholds are placed midway between the last accepted and the next dev score, so dev outcomes
are unchanged but the cut does not sit exactly on a dev point. The lexical weight kept is the one
with most correct answers, then best Recall@1, then the smallest weight (TF-IDF is only used if it
measurably helps). The result, with the model identity, the sweep and the dev metrics, is stored
under the model's identity in ``NIVEL0_CALIBRATION`` (default knowledge/calibration.json); entries
of other models in that file are kept.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from scipy.stats import beta

from knowledge.bands import Band, Calibration, Thresholds, assign_bands
from knowledge.evalset import EvalSet, UnanswerableSet
from knowledge.evaluate import evaluate, summary_lines
from knowledge.search import KnowledgeBase
from knowledge.settings import LANGUAGES, KnowledgeSettings, project_path

#: Held-out sets of questions no article answers; their dev halves join the dev set's
#: out-of-scope questions (their test halves are for ``scripts/eval_chat.py``).
UNANSWERABLE = ("tests/eval/unanswerable_shop.yml", "tests/eval/unanswerable_other.yml")
LEXICAL_WEIGHTS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6)
MARGINS = tuple(round(m, 3) for m in np.arange(0.0, 0.1501, 0.005))
DEFAULT_CONFIDENCE = 0.9
_NOT_SEARCHED = -10.0  # score row for input that search() never scores (empty, too long, ...)


@dataclass(frozen=True)
class Choice:
    thresholds: Thresholds
    correct_answers: int
    false_answers: int
    queries: int
    recall_at_1: float
    offered_or_fallback: float  # the clarify objective


def _midpoint(value: float, values: np.ndarray) -> float:
    """Halfway between ``value`` and the next smaller distinct value (or value - 0.01)."""
    lower = values[values < value]
    below = lower.max() if lower.size else value - 0.02
    return float(round((value + below) / 2, 4))


def allowed_false_answers(queries: int, max_rate: float, confidence: float) -> int:
    """Most false answers on ``queries`` dev queries that still keep the rate <= ``max_rate``.

    With ``confidence`` 0 this is the point estimate (floor(max_rate * queries)). Otherwise the
    one-sided Clopper-Pearson upper bound of the rate must stay <= ``max_rate``: with ~90 dev
    queries per language the point estimate is too noisy to promise the rate on new queries.
    """
    if confidence <= 0:
        return math.floor(max_rate * queries + 1e-9)
    allowed = 0
    for false in range(queries):
        if beta.ppf(confidence, false + 1, queries - false) > max_rate:
            break
        allowed = false
    return allowed


def choose_thresholds(
    scores: np.ndarray,
    topics: list[str],
    labels: list[str | None],
    max_false_answer_rate: float,
    lexical_weight: float = 0.0,
    k: int = 3,
    confidence: float = 0.0,
) -> Choice:
    """Thresholds for one language from per-article scores (queries x articles).

    ``topics[j]`` is the topic of column j, ``labels[i]`` the right topic of query i (None for
    out-of-scope). Rows of queries that are never searched hold a very low score.
    """
    labels_arr = np.array([label or "" for label in labels], dtype=object)
    in_scope = np.array([label is not None for label in labels])
    order = np.argsort(-scores, axis=1, kind="stable")
    ranked_scores = np.take_along_axis(scores, order, axis=1)
    best = ranked_scores[:, 0]
    second = ranked_scores[:, 1] if scores.shape[1] > 1 else np.full(len(best), -1.0)
    topic_arr = np.array(topics, dtype=object)
    ranked_topics = topic_arr[order[:, :k]]
    top_correct = in_scope & (ranked_topics[:, 0] == labels_arr)
    n = len(labels)
    max_false = allowed_false_answers(n, max_false_answer_rate, confidence)

    searched_best = np.unique(best[best > _NOT_SEARCHED])
    key_best: tuple | None = None
    for margin in MARGINS:
        clear = best - second >= margin
        for answer_min in [*searched_best, np.inf]:
            answer = clear & (best >= answer_min)
            correct = int((answer & top_correct).sum())
            false = int((answer & ~top_correct).sum())
            if false > max_false:
                continue
            key = (correct, -false, answer_min, margin)
            if key_best is None or key > key_best:
                key_best = key
    assert key_best is not None  # answer_min = inf always satisfies the constraint
    correct, neg_false, answer_value, margin = key_best
    answer_min = (
        _midpoint(answer_value, searched_best) if np.isfinite(answer_value) else float("inf")
    )

    best_clarify: tuple[float, float] | None = None
    for clarify_value in [*searched_best[searched_best <= answer_value], np.inf]:
        clarify_min = (
            _midpoint(clarify_value, searched_best) if np.isfinite(clarify_value) else answer_min
        )
        clarify_min = min(clarify_min, answer_min)
        bands = assign_bands(best, second, Thresholds(answer_min, margin, clarify_min))
        offered = (
            (ranked_topics == labels_arr[:, None]) & (ranked_scores[:, :k] >= clarify_min)
        ).any(axis=1)
        offered_ok = ((bands == Band.ANSWER) & top_correct) | ((bands == Band.CLARIFY) & offered)
        objective = _share(offered_ok[in_scope]) + _share(bands[~in_scope] == Band.FALLBACK)
        if best_clarify is None or (objective, clarify_min) > best_clarify:
            best_clarify = (objective, clarify_min)
    assert best_clarify is not None
    objective, clarify_min = best_clarify
    return Choice(
        thresholds=Thresholds(
            answer_min=answer_min,
            answer_margin=float(margin),
            clarify_min=float(clarify_min),
            lexical_weight=lexical_weight,
        ),
        correct_answers=correct,
        false_answers=-neg_false,
        queries=n,
        recall_at_1=round(_share(top_correct[in_scope]), 4),
        offered_or_fallback=round(objective, 4),
    )


def _share(mask: np.ndarray) -> float:
    return float(mask.mean()) if mask.size else 0.0


def calibrate(
    kb: KnowledgeBase,
    dev: EvalSet,
    max_false_answer_rate: float,
    lexical_weights: tuple[float, ...] = LEXICAL_WEIGHTS,
    confidence: float = 0.0,
) -> dict:
    """Per-language thresholds and the lexical-weight sweep behind them."""
    languages: dict[str, Thresholds] = {}
    sweep: dict[str, list[dict]] = {}
    for lang in LANGUAGES:
        queries = [(q.text, q.topic) for q in dev.in_scope if q.language == lang]
        queries += [(q.text, None) for q in dev.out_of_scope if q.language == lang]
        articles = kb.articles(lang)
        if not queries or not articles:
            continue
        cleaned = [kb.clean_query(text) for text, _ in queries]
        searched = [i for i, (_, reason) in enumerate(cleaned) if not reason]
        scores = kb.scores([cleaned[i][0] for i in searched], lang)
        topics = [a.topic for a in scores.articles]
        labels = [label for _, label in queries]
        choices = []
        for weight in lexical_weights:
            matrix = np.full((len(queries), len(topics)), _NOT_SEARCHED)
            matrix[searched] = scores.combined(weight)
            choices.append(
                choose_thresholds(
                    matrix, topics, labels, max_false_answer_rate, weight, confidence=confidence
                )
            )
        sweep[lang] = [{**asdict(c), "thresholds": asdict(c.thresholds)} for c in choices]
        best = max(
            choices,
            key=lambda c: (c.correct_answers, c.recall_at_1, -c.thresholds.lexical_weight),
        )
        languages[lang] = best.thresholds
    return {"languages": languages, "sweep": sweep}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", default=project_path("tests/eval/dev.yml"), type=Path)
    parser.add_argument(
        "--unanswerable",
        nargs="*",
        default=[project_path(path) for path in UNANSWERABLE],
        type=Path,
        help="held-out sets of questions no article answers: their dev halves count as "
        "out-of-scope dev questions (none: the dev set alone)",
    )
    parser.add_argument("--max-false-answer-rate", default=0.05, type=float)
    parser.add_argument(
        "--confidence",
        default=DEFAULT_CONFIDENCE,
        type=float,
        help="one-sided confidence that the false-answer rate stays under the cap (0 = point "
        "estimate on dev)",
    )
    parser.add_argument(
        "--lexical-weights",
        default=",".join(str(w) for w in LEXICAL_WEIGHTS),
        help="candidate TF-IDF weights, comma-separated (0 = embeddings only)",
    )
    args = parser.parse_args(argv)
    if args.set.name == "test.yml":
        parser.error("calibrate on the dev set, never on test.yml")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    settings = KnowledgeSettings()
    kb = KnowledgeBase.from_settings(settings)
    dev = EvalSet.load(args.set)
    unanswerable = [q for path in args.unanswerable for q in UnanswerableSet.load(path).dev]
    dev = EvalSet(in_scope=dev.in_scope, out_of_scope=[*dev.out_of_scope, *unanswerable])
    weights = tuple(float(w) for w in args.lexical_weights.split(","))
    result = calibrate(kb, dev, args.max_false_answer_rate, weights, args.confidence)
    kb.calibration = Calibration(kb.model.identity, result["languages"])
    dev_report = evaluate(kb, dev)
    entry = {
        "model": {"name": kb.model.name, "path": str(kb.model.path), "identity": kb.model.identity},
        "dev_set": str(args.set),
        "unanswerable_dev": [str(path) for path in args.unanswerable],
        "max_false_answer_rate": args.max_false_answer_rate,
        "confidence": args.confidence,
        "languages": kb.calibration.languages_json(),
        "dev_metrics": {group: dev_report[group] for group in ("overall", *LANGUAGES)},
        "lexical_weight_sweep": result["sweep"],
    }
    path = settings.calibration
    existing = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    models = {**existing.get("models", {}), kb.model.identity: entry}
    output = {"written_by": "python -m knowledge.calibrate", "models": models}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(output, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    for lang, t in kb.calibration.languages.items():
        print(f"{lang}: {t}")
    print("\n".join(summary_lines(dev_report)))
    print(f"written {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
