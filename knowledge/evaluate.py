"""``python -m knowledge.evaluate [--set tests/eval/test.yml] [--out var/reports/eval.json]``.

Runs every question of a labelled set through :meth:`KnowledgeBase.search` (exactly what the bot
gets) and :meth:`KnowledgeBase.rank` (full ranking), and reports overall and per language:

- ``recall@1``, ``recall@3``: share of in-scope queries whose topic is among the first 1 / 3
  ranked articles (ranking only, whatever the band).
- ``mrr``: mean reciprocal rank of the right topic over in-scope queries (full ranking).
- ``answer_rate``: share of in-scope queries that got ANSWER with the right topic.
- ``clarify_has_topic``: share of in-scope queries that got CLARIFY with the right topic among the
  offered candidates.
- ``oos_precision``: of the queries that got FALLBACK, the share that are out of scope;
  ``oos_recall``: of the out-of-scope queries, the share that got FALLBACK ("OOS = FALLBACK").
- ``false_answer_rate``: (in-scope queries answered (band ANSWER) with an article of the wrong
  topic + out-of-scope queries that got ANSWER) / (all queries, in-scope + out-of-scope). This is
  the rate of confidently wrong replies the calibration keeps <= 0.05. CLARIFY is never a false
  answer: the customer chooses.
- ``bands``: band counts for in-scope and out-of-scope queries.

Goals: recall@1 >= 0.90, recall@3 >= 0.97, false_answer_rate <= 0.05.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections import Counter
from pathlib import Path

from knowledge.bands import Band
from knowledge.evalset import EvalSet
from knowledge.search import KnowledgeBase
from knowledge.settings import LANGUAGES, KnowledgeSettings, project_path

GOALS = {"recall@1": 0.90, "recall@3": 0.97, "false_answer_rate": 0.05}


def _ratio(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def evaluate(kb: KnowledgeBase, evalset: EvalSet) -> dict:
    """Metrics (see module docstring) overall and per language, plus the misses to inspect."""
    rows = []
    for q in evalset.in_scope:
        outcome = kb.search(q.text, q.language, k=3)
        ranking = [h.article.topic for h in kb.rank(q.text, q.language, k=len(kb.articles()))]
        rank = ranking.index(q.topic) + 1 if q.topic in ranking else None
        rows.append(
            {
                "text": q.text,
                "language": q.language,
                "topic": q.topic,
                "in_scope": True,
                "band": outcome.band,
                "got": [h.article.topic for h in outcome.hits],
                "rank": rank,
                "top": ranking[:3],
            }
        )
    for q in evalset.out_of_scope:
        outcome = kb.search(q.text, q.language, k=3)
        rows.append(
            {
                "text": q.text,
                "language": q.language,
                "topic": None,
                "in_scope": False,
                "band": outcome.band,
                "got": [h.article.topic for h in outcome.hits],
                "rank": None,
                "top": [],
            }
        )
    report = {"overall": _metrics(rows)}
    for lang in LANGUAGES:
        report[lang] = _metrics([r for r in rows if r["language"] == lang])
    report["misses"] = [
        {k: v for k, v in r.items() if k != "in_scope"}
        for r in rows
        if (r["in_scope"] and r["rank"] != 1) or _false_answer(r)
    ]
    return report


def _false_answer(row: dict) -> bool:
    return row["band"] == Band.ANSWER and (not row["in_scope"] or row["got"][0] != row["topic"])


def _metrics(rows: list[dict]) -> dict:
    ins = [r for r in rows if r["in_scope"]]
    oos = [r for r in rows if not r["in_scope"]]
    fallbacks = [r for r in rows if r["band"] == Band.FALLBACK]
    return {
        "queries": len(rows),
        "in_scope": len(ins),
        "out_of_scope": len(oos),
        "recall@1": _ratio(sum(r["rank"] == 1 for r in ins), len(ins)),
        "recall@3": _ratio(sum(r["rank"] is not None and r["rank"] <= 3 for r in ins), len(ins)),
        "mrr": round(sum(1 / r["rank"] for r in ins if r["rank"]) / len(ins), 4) if ins else None,
        "answer_rate": _ratio(
            sum(r["band"] == Band.ANSWER and r["got"][0] == r["topic"] for r in ins), len(ins)
        ),
        "clarify_has_topic": _ratio(
            sum(r["band"] == Band.CLARIFY and r["topic"] in r["got"] for r in ins), len(ins)
        ),
        "oos_precision": _ratio(sum(not r["in_scope"] for r in fallbacks), len(fallbacks)),
        "oos_recall": _ratio(sum(r["band"] == Band.FALLBACK for r in oos), len(oos)),
        "false_answer_rate": _ratio(sum(_false_answer(r) for r in rows), len(rows)),
        "false_answers": sum(_false_answer(r) for r in rows),
        "bands": {
            "in_scope": _band_counts(ins),
            "out_of_scope": _band_counts(oos),
        },
    }


def _band_counts(rows: list[dict]) -> dict[str, int]:
    counts = Counter(str(r["band"]) for r in rows)
    return {str(band): counts.get(str(band), 0) for band in Band}


def summary_lines(report: dict) -> list[str]:
    lines = []
    for group in ("overall", *LANGUAGES):
        m = report[group]
        lines.append(
            f"{group:8} R@1={m['recall@1']} R@3={m['recall@3']} MRR={m['mrr']} "
            f"answer={m['answer_rate']} clarify_ok={m['clarify_has_topic']} "
            f"FA={m['false_answer_rate']} OOS P/R={m['oos_precision']}/{m['oos_recall']} "
            f"bands in={m['bands']['in_scope']} oos={m['bands']['out_of_scope']}"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", default=project_path("tests/eval/test.yml"), type=Path)
    parser.add_argument("--out", default=project_path("var/reports/eval.json"), type=Path)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    kb = KnowledgeBase.from_settings(KnowledgeSettings())
    report = evaluate(kb, EvalSet.load(args.set))
    report["set"] = str(args.set)
    report["model"] = {
        "name": kb.model.name,
        "identity": kb.model.identity,
        "precision": kb.model.precision,
    }
    report["thresholds"] = kb.calibration.languages_json()
    report["goals"] = GOALS
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print("\n".join(summary_lines(report)))
    print(f"report: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
