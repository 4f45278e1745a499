"""The ``kb gaps`` report: topics (:class:`knowledge.gaps.GapCluster`) as a table, CSV or JSON."""

from __future__ import annotations

import csv
import io
import json
import textwrap
from collections.abc import Callable, Sequence

from knowledge.gaps import GapCluster

CSV_FIELDS = (
    "rank",
    "count",
    "conversations",
    "language",
    "label",
    "terms",
    "reasons",
    "examples",
    "kb_band",
    "kb_article",
)


def as_table(clusters: Sequence[GapCluster]) -> str:
    """For a terminal: one numbered topic per block, with its words, reasons and examples."""
    if not clusters:
        return ""
    lines = [f"{'#':>3} {'count':>5} {'convs':>5} lang  topic (most central question) / words"]
    for n, c in enumerate(clusters, 1):
        reasons = ", ".join(f"{k} {v}" for k, v in c.reasons.items())
        lines.append(f"{n:>3} {c.count:>5} {c.conversations:>5} {c.language:<4}  {c.label}")
        lines.append(f"{'':>21}words: {', '.join(c.terms)}; {reasons}")
        if c.kb_band:
            lines.append(f"{'':>21}KB now: {c.kb_band} {c.kb_article or ''}".rstrip())
        lines += [
            f"{'':>21}e.g. " + textwrap.shorten(example, 100, placeholder="…")
            for example in c.examples
        ]
    return "\n".join(lines) + "\n"


def as_csv(clusters: Sequence[GapCluster]) -> str:
    """One row per topic (``CSV_FIELDS``); lists joined with spaces, examples with `` | ``."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for n, c in enumerate(clusters, 1):
        writer.writerow(
            {
                "rank": n,
                "count": c.count,
                "conversations": c.conversations,
                "language": c.language,
                "label": c.label,
                "terms": " ".join(c.terms),
                "reasons": " ".join(f"{k}={v}" for k, v in c.reasons.items()),
                "examples": " | ".join(c.examples),
                "kb_band": c.kb_band or "",
                "kb_article": c.kb_article or "",
            }
        )
    return out.getvalue()


def as_json(clusters: Sequence[GapCluster]) -> str:
    rows = [{"rank": n, **c.as_dict()} for n, c in enumerate(clusters, 1)]
    return json.dumps(rows, ensure_ascii=False, indent=2) + "\n"


FORMATS: dict[str, Callable[[Sequence[GapCluster]], str]] = {
    "table": as_table,
    "csv": as_csv,
    "json": as_json,
}
