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
import datetime as dt
import json
import logging
import sys
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
    report = lint_kb(kb_dir, model, index_dir, similarity, settings.help_center_url)
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
    import httpx

    from knowledge.gap_report import FORMATS
    from knowledge.gaps import GapsSource, check_against_kb, cluster_gaps, fetch_gaps

    if args.days < 0:
        raise UsageError("--days must be >= 0")
    since = dt.datetime.now(dt.UTC) - dt.timedelta(days=args.days) if args.days else None
    flags = {"handoff_service_url": args.service_url, "handoff_agent_token": args.token}
    source = GapsSource(**{name: value for name, value in flags.items() if value})
    if source.handoff_agent_token is None:
        raise UsageError(
            "needs an agent token of the handoff service: --token or HANDOFF_AGENT_TOKEN"
        )
    url = source.handoff_service_url
    try:
        gaps = fetch_gaps(
            url,
            source.handoff_agent_token.get_secret_value(),
            since,
            args.language,
            tickets=args.tickets,
        )
    except httpx.HTTPError as exc:
        print(f"kb gaps: cannot read the handoff service at {url}: {exc}", file=sys.stderr)
        return PROBLEMS
    clusters = []
    if gaps:
        settings = _settings(args)
        clusters = cluster_gaps(gaps, _model(settings), args.distance)
        clusters = [c for c in clusters if c.count >= args.min_count][: args.top or None]
        if args.check_kb and clusters:
            from knowledge.search import KnowledgeBase

            check_against_kb(clusters, KnowledgeBase.from_settings(settings))
    else:
        print("no unanswered questions recorded in that period", file=sys.stderr)
    text = FORMATS[args.format](clusters)
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"{len(clusters)} topics from {len(gaps)} questions written to {args.output}")
    else:
        sys.stdout.write(text)
    return OK


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
    gaps.add_argument(
        "--service-url",
        help="handoff service holding the records (default: HANDOFF_SERVICE_URL or "
        "http://127.0.0.1:8000)",
    )
    gaps.add_argument(
        "--token", help="agent or admin token of the handoff service (default: HANDOFF_AGENT_TOKEN)"
    )
    gaps.add_argument(
        "--days", type=int, default=7, help="look back this many days (0 = all; default 7)"
    )
    gaps.add_argument("-l", "--language", choices=LANGUAGES, help="only this language")
    gaps.add_argument(
        "--tickets",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also count handoff tickets whose conversation was not recorded (default: yes)",
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
