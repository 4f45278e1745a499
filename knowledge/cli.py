"""``kb``: the content editors' command-line tool (``kb --help``, ``kb <command> --help``).

Commands: ``new`` (article from the template), ``lint`` (check every article), ``reindex``
(update the search index, embedding only what changed), ``search`` (what the bot would do with a
question), ``gaps`` (what customers asked that the bot could not answer, grouped into topics).

Exit codes: 0 success, 1 problems found (lint errors, invalid articles, failed command),
2 usage errors (bad flags, missing values). Configuration comes from the same environment
variables as the bot (``knowledge.settings.KnowledgeSettings``: NIVEL0_KB_DIR, NIVEL0_INDEX_DIR,
NIVEL0_EMBEDDING_MODEL, NIVEL0_CALIBRATION, ...; ``kb gaps`` also HANDOFF_SERVICE_URL and
HANDOFF_AGENT_TOKEN); flags override.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
import logging
import os
import sys
import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path

from knowledge.settings import LANGUAGES, KnowledgeSettings

OK, PROBLEMS, USAGE = 0, 1, 2


class UsageError(Exception):
    """Wrong or missing input from the user: exit code 2 with the message."""


# --- kb new ----------------------------------------------------------------------------------


def cmd_new(args: argparse.Namespace) -> int:
    from knowledge.articles import Category
    from knowledge.new_article import NewArticleError, create_article

    title = args.title or _ask("Title", None)
    language = args.language or _ask("Language", LANGUAGES)
    category = args.category or _ask("Category", [c.value for c in Category])
    try:
        article = create_article(_settings(args).kb_dir, title, language, category, args.topic)
    except NewArticleError as exc:
        raise UsageError(str(exc)) from exc
    print(f"created {article.path} (id {article.id})")
    print(
        "It is a DRAFT: the bot ignores it. Replace every TODO, add 3-8 customer questions, "
        "write the other language's version, run `kb lint`, then set `status: published`."
    )
    return OK


def _ask(label: str, choices: Sequence[str] | None) -> str:
    """Prompt on a terminal; a missing flag is a usage error when stdin is not one."""
    flag = f"--{label.lower()}"
    if not sys.stdin.isatty():
        raise UsageError(f"{flag} is required (stdin is not a terminal, so kb cannot ask)")
    hint = f" ({'/'.join(choices)})" if choices else ""
    while True:
        answer = input(f"{label}{hint}: ").strip()
        if answer and (choices is None or answer in choices):
            return answer
        print(f"please enter {'one of ' + ', '.join(choices) if choices else 'a value'}")


# --- kb lint ---------------------------------------------------------------------------------


def cmd_lint(args: argparse.Namespace) -> int:
    from knowledge.lint import DEFAULT_SIMILARITY, SimilarityThresholds, lint_kb

    settings = _settings(args)
    kb_dir = _existing_kb_dir(settings)
    model = index_dir = None
    if not args.no_embeddings:
        model, index_dir = _model(settings), settings.index_dir
    similarity = {
        lang: SimilarityThresholds(
            collision=args.collision_threshold or t.collision,
            duplicate=args.duplicate_threshold or t.duplicate,
        )
        for lang, t in DEFAULT_SIMILARITY.items()
    }
    report = lint_kb(kb_dir, model, index_dir, similarity)
    if args.format == "json":
        print(
            json.dumps(
                {
                    "files": report.files,
                    "errors": len(report.errors),
                    "warnings": len(report.warnings),
                    "findings": [
                        {
                            "severity": f.severity,
                            "code": f.code,
                            "path": str(f.path) if f.path else None,
                            "message": f.message,
                        }
                        for f in report.findings
                    ],
                },
                ensure_ascii=False,
                indent=2,
            )
        )
    else:
        for finding in report.findings:
            print(finding)
        skipped = " (embedding checks skipped)" if args.no_embeddings else ""
        print(
            f"{report.files} files, {len(report.articles)} valid articles: "
            f"{len(report.errors)} errors, {len(report.warnings)} warnings{skipped}"
        )
    failed = report.errors or (args.strict and report.warnings)
    return PROBLEMS if failed else OK


# --- kb reindex ------------------------------------------------------------------------------


def cmd_reindex(args: argparse.Namespace) -> int:
    from knowledge.index import reindex

    settings = _settings(args)
    _existing_kb_dir(settings)
    result = reindex(settings, progress=not args.quiet)
    print(result.summary())
    for error in result.errors:
        print(f"invalid (not indexed): {error}", file=sys.stderr)
    return PROBLEMS if result.errors else OK


# --- kb search -------------------------------------------------------------------------------


def cmd_search(args: argparse.Namespace) -> int:
    from knowledge.search import KnowledgeBase

    if args.k < 1:
        raise UsageError("-k must be at least 1")
    kb = KnowledgeBase.from_settings(_settings(args))
    _, reason = kb.clean_query(args.question)
    languages = [args.language] if args.language else list(LANGUAGES)
    if kb.calibration.model_identity is None:
        print(
            f"note: no calibration for model {kb.model.identity}; the bot uses the same "
            "conservative default thresholds (run `python -m knowledge.calibrate`)"
        )
    for n, language in enumerate(languages):
        if n:
            print()
        outcome = kb.search(args.question, language, k=args.k)
        t = kb.thresholds(language)
        shown = {h.article.id for h in outcome.hits}
        print(f"[{language}] band: {outcome.band.value.upper()} ({outcome.reason})")
        print(
            f"  thresholds: answer >= {t.answer_min:.3f} and margin >= {t.answer_margin:.3f}; "
            f"clarify >= {t.clarify_min:.3f}; lexical weight {t.lexical_weight:.2f}"
        )
        if reason:
            print(f"  the question is not searched: {reason}")
            continue
        hits = kb.rank(args.question, language, k=args.k)
        print(f"  {'#':>2} {'score':>6} {'dense':>6} {'lexic':>6}  bot  article")
        for rank, hit in enumerate(hits, 1):
            mark = "<-" if hit.article.id in shown else ""
            print(
                f"  {rank:>2} {hit.score:6.3f} {hit.dense:6.3f} {hit.lexical:6.3f}  {mark:<3}  "
                f"{hit.article.id}: {hit.article.title}"
            )
        if not hits:
            print("  (no published articles in this language)")
    return OK


# --- kb gaps ---------------------------------------------------------------------------------


def cmd_gaps(args: argparse.Namespace) -> int:
    from knowledge.embedding import load_model
    from knowledge.gaps import (
        cluster_gaps,
        fetch_ticket_gaps,
        merge_ticket_gaps,
        read_gaps,
        ticket_client,
    )

    if args.days < 0:
        raise UsageError("--days must be >= 0")
    since = dt.datetime.now(dt.UTC) - dt.timedelta(days=args.days) if args.days else None
    db = Path(args.db) if args.db else None
    gaps = read_gaps(db, since)
    url, token = os.environ.get("HANDOFF_SERVICE_URL"), os.environ.get("HANDOFF_AGENT_TOKEN")
    if args.tickets and not (url and token):
        raise UsageError("--tickets needs HANDOFF_SERVICE_URL and HANDOFF_AGENT_TOKEN")
    if args.tickets is not False and url and token:
        import httpx

        try:
            with ticket_client(url, token) as client:
                gaps = merge_ticket_gaps(gaps, fetch_ticket_gaps(client, since))
        except httpx.HTTPError as exc:
            print(f"kb gaps: cannot read tickets from {url}: {exc}", file=sys.stderr)
            return PROBLEMS
    if args.language:
        gaps = [g for g in gaps if g.language == args.language]
    if not gaps:
        print("no unanswered questions recorded in that period", file=sys.stderr)
        clusters = []
    else:
        clusters = cluster_gaps(gaps, load_model(Settings.from_env().model_path), args.distance)
    clusters = [c for c in clusters if c.count >= args.min_count][: args.top or None]
    if args.check_kb and clusters:
        from knowledge.gaps import check_against_kb
        from knowledge.search import KnowledgeBase

        check_against_kb(clusters, KnowledgeBase.from_env())
    text = {"table": _gaps_table, "csv": _gaps_csv, "json": _gaps_json}[args.format](clusters)
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"{len(clusters)} topics from {len(gaps)} questions written to {args.output}")
    else:
        sys.stdout.write(text)
    return OK


def _gaps_table(clusters) -> str:
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


def _gaps_csv(clusters) -> str:
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


def _gaps_json(clusters) -> str:
    rows = [{"rank": n, **c.as_dict()} for n, c in enumerate(clusters, 1)]
    return json.dumps(rows, ensure_ascii=False, indent=2) + "\n"


# --- shared ----------------------------------------------------------------------------------


def _settings(args: argparse.Namespace) -> KnowledgeSettings:
    """The knowledge settings from the environment, with ``--kb-dir``/``--index-dir`` applied
    (relative flags are taken from the working directory, as a shell user expects)."""
    overrides = {
        name: Path(value).resolve()
        for name in ("kb_dir", "index_dir")
        if (value := getattr(args, name, None))
    }
    try:
        return KnowledgeSettings(**overrides)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc


def _existing_kb_dir(settings: KnowledgeSettings) -> Path:
    if not settings.kb_dir.is_dir():
        raise UsageError(
            f"KB directory {settings.kb_dir} does not exist (set NIVEL0_KB_DIR or --kb-dir)"
        )
    return settings.kb_dir


def _model(settings: KnowledgeSettings):
    from knowledge.embedding import served_model

    try:
        return served_model(settings)
    except FileNotFoundError as exc:
        raise UsageError(str(exc)) from exc


def _probability(value: str) -> float:
    number = float(value)
    if not 0.0 < number <= 1.0:
        raise argparse.ArgumentTypeError(f"must be in (0, 1], got {value}")
    return number


def build_parser() -> argparse.ArgumentParser:
    from knowledge.articles import Category
    from knowledge.gaps import DEFAULT_DISTANCE

    parser = argparse.ArgumentParser(
        prog="kb",
        description="Knowledge-base tools for content editors (articles in NIVEL0_KB_DIR, "
        "default kb_articles/).",
        epilog="Exit codes: 0 ok, 1 problems found, 2 usage error. `kb COMMAND --help` for more.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="show log messages")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, func: Callable[[argparse.Namespace], int], help: str):
        sub = commands.add_parser(name, help=help, description=help)
        sub.set_defaults(func=func)
        sub.add_argument("--kb-dir", help="KB directory (default: NIVEL0_KB_DIR or kb_articles)")
        return sub

    new = command("new", cmd_new, "create an article from the template, as a draft")
    new.add_argument("--title", help="the article's title, as a customer would ask it")
    new.add_argument("--language", choices=LANGUAGES, help="language of the article")
    new.add_argument(
        "--category", choices=[c.value for c in Category], help="category (docs/kb-format.md)"
    )
    new.add_argument(
        "--topic", help="topic slug, the same in every language (default: from the title)"
    )

    lint = command("lint", cmd_lint, "check every article; exit code 1 if there are errors")
    lint.add_argument("--index-dir", help="vector cache (default: NIVEL0_INDEX_DIR or var/index)")
    lint.add_argument(
        "--no-embeddings",
        action="store_true",
        help="skip the near-duplicate and question-collision checks (no model needed)",
    )
    lint.add_argument("--strict", action="store_true", help="warnings also fail (exit code 1)")
    lint.add_argument(
        "--collision-threshold",
        type=_probability,
        help="cosine from which two questions collide (default per language: en 0.92, es 0.95)",
    )
    lint.add_argument(
        "--duplicate-threshold",
        type=_probability,
        help="cosine from which two articles are near-duplicates (default: en 0.90, es 0.96)",
    )
    lint.add_argument("--format", choices=("text", "json"), default="text")

    reindex = command(
        "reindex", cmd_reindex, "update the search index, embedding only changed articles"
    )
    reindex.add_argument("--index-dir", help="index (default: NIVEL0_INDEX_DIR or var/index)")
    reindex.add_argument("-q", "--quiet", action="store_true", help="no progress bar")

    search = command(
        "search", cmd_search, "show the top articles, scores and band the bot would apply"
    )
    search.add_argument("question", help="the customer's question (quote it)")
    search.add_argument(
        "-l", "--language", choices=LANGUAGES, help="customer's language (default: both)"
    )
    search.add_argument("-k", type=int, default=5, help="how many articles to show (default 5)")

    gaps = command(
        "gaps", cmd_gaps, "group the questions the bot could not answer into topics to write"
    )
    gaps.add_argument("--db", help="gaps database (default: NIVEL0_GAPS_DB or var/gaps.db)")
    gaps.add_argument(
        "--days", type=int, default=7, help="look back this many days (0 = all; default 7)"
    )
    gaps.add_argument("-l", "--language", choices=LANGUAGES, help="only this language")
    gaps.add_argument(
        "--tickets",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="also read handoff tickets (default: when HANDOFF_SERVICE_URL and "
        "HANDOFF_AGENT_TOKEN are set)",
    )
    gaps.add_argument(
        "--distance",
        type=_probability,
        default=DEFAULT_DISTANCE,
        help=f"merge questions closer than this (1 - similarity; default {DEFAULT_DISTANCE})",
    )
    gaps.add_argument(
        "--check-kb",
        action="store_true",
        help="also show what the bot answers to each topic now (band and article): topics "
        "already answered need no new article",
    )
    gaps.add_argument("--min-count", type=int, default=1, help="hide smaller topics")
    gaps.add_argument("--top", type=int, default=0, help="show only the N largest (0 = all)")
    gaps.add_argument("--format", choices=("table", "csv", "json"), default="table")
    gaps.add_argument("-o", "--output", help="write to this file instead of stdout")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)  # exits with 2 on bad usage
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.CRITICAL,  # kb reports problems itself
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return args.func(args)
    except UsageError as exc:
        print(f"kb {args.command}: error: {exc}", file=sys.stderr)
        return USAGE
    except KeyboardInterrupt:
        print(f"kb {args.command}: interrupted", file=sys.stderr)
        return PROBLEMS


if __name__ == "__main__":
    sys.exit(main())
