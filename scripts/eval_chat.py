"""Answer quality through the running bot (not a test): what a customer gets in the chat.

Every question of a labelled set (tests/eval/test.yml by default) is sent as the first message of
a fresh conversation (``metadata.language``) to the REST channel of a running Rasa server
(``--url``) or of a Rasa server and action server it starts itself (default; needs a trained
model in bot/models and the KB index), exactly as the website widget sends it. The first reply is
classified from what the customer sees:

- ``answered``: the bot showed one article (its help-centre link) and asked whether it helped;
- ``clarify``: the bot offered articles as buttons;
- ``no_article``: the bot offered a person or said it was not sure (fallback, handoff, other).

Per language it reports, for in-scope questions: ``right_answered`` (the right topic answered),
``right_in_clarify`` (the right topic among the buttons), ``right_first_reply`` (either),
``wrong_answered`` (a confident answer with another topic: the error that matters most),
``no_article``; for out-of-scope questions: ``answered`` (a confident wrong answer), ``clarify``,
``no_article``; the same for each held-out set of questions no article answers given with
``--unanswerable`` (tests/eval/unanswerable_shop.yml, unanswerable_other.yml; ``--split``).
The model the action server served is recorded with the figures. Writes
var/reports/eval_chat.json.

    .venv/bin/python scripts/eval_chat.py [--url http://localhost:5005] [--set FILE] [--limit N]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import sys
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bot")]

import httpx  # noqa: E402

from knowledge.embedding import model_identity  # noqa: E402
from knowledge.evalset import EvalSet, OutOfScope, UnanswerableSet  # noqa: E402
from knowledge.settings import LANGUAGES, KnowledgeSettings  # noqa: E402
from tests.bot.servers import ServerError, rasa_url_for  # noqa: E402

_CHOOSE = re.compile(r'^/choose_article\{"article_id":"(?P<id>[^"]+)"\}$')


def first_reply(messages: list[dict[str, Any]], help_center_url: str) -> tuple[str, list[str]]:
    """``(kind, topics)`` of the bot's reply: answered with one topic, clarify with the offered
    topics, or no_article."""
    payloads = [b.get("payload", "") for m in messages for b in m.get("buttons", [])]
    offered = [match["id"] for p in payloads if (match := _CHOOSE.match(p))]
    if offered:
        return "clarify", [article_id.rsplit("-", 1)[0] for article_id in offered]
    link = re.compile(re.escape(help_center_url) + r"/(?:en|es)/(?P<topic>[a-z0-9-]+)")
    for message in messages:
        match = link.search(message.get("text") or "")
        if match and "/affirm" in payloads:
            return "answered", [match["topic"]]
    return "no_article", []


def ask(client: httpx.Client, webhook: str, text: str, language: str) -> list[dict[str, Any]]:
    body = {
        "sender": f"eval-{uuid.uuid4().hex}",
        "message": text,
        "metadata": {"language": language},
    }
    response = client.post(webhook, json=body)
    response.raise_for_status()
    return response.json()


def no_article_shares(
    client: httpx.Client, webhook: str, questions: list[OutOfScope], help_center_url: str
) -> dict[str, dict[str, float | int | None]]:
    """Per language: how many questions, and the shares answered (a confident wrong answer),
    clarify and no_article (right) of questions no article answers."""
    kinds: dict[str, Counter[str]] = {lang: Counter() for lang in LANGUAGES}
    for q in questions:
        kind, _ = first_reply(ask(client, webhook, q.text, q.language), help_center_url)
        kinds[q.language][kind] += 1
    return {
        lang: {
            "questions": sum(kinds[lang].values()),
            **{k: _share(kinds[lang][k], sum(kinds[lang].values())) for k in _NO_ARTICLE_KINDS},
        }
        for lang in LANGUAGES
    }


_NO_ARTICLE_KINDS = ("answered", "clarify", "no_article")


def evaluate_chat(
    url: str,
    evalset: EvalSet,
    help_center_url: str,
    unanswerable_sets: dict[str, list[OutOfScope]] | None = None,
) -> dict[str, Any]:
    """Per-language outcome shares (module docstring) and the in-scope misses; for each of
    ``unanswerable_sets`` (name -> questions no article answers) the shares of
    :func:`no_article_shares`."""
    webhook = f"{url.rstrip('/')}/webhooks/rest/webhook"
    in_scope: dict[str, Counter[str]] = {lang: Counter() for lang in LANGUAGES}
    out_of_scope: dict[str, Counter[str]] = {lang: Counter() for lang in LANGUAGES}
    misses: list[dict[str, Any]] = []
    with httpx.Client(timeout=60.0) as client:
        for q in evalset.in_scope:
            kind, topics = first_reply(ask(client, webhook, q.text, q.language), help_center_url)
            right = q.topic in topics
            outcome = {
                ("answered", True): "right_answered",
                ("answered", False): "wrong_answered",
                ("clarify", True): "right_in_clarify",
                ("clarify", False): "clarify_without_right",
            }.get((kind, right), "no_article")
            in_scope[q.language][outcome] += 1
            if outcome != "right_answered":
                misses.append(
                    {
                        "text": q.text,
                        "language": q.language,
                        "topic": q.topic,
                        "outcome": outcome,
                        "got": topics,
                    }
                )
        for q in evalset.out_of_scope:
            kind, _ = first_reply(ask(client, webhook, q.text, q.language), help_center_url)
            out_of_scope[q.language][kind] += 1
        unanswerable = {
            name: no_article_shares(client, webhook, questions, help_center_url)
            for name, questions in (unanswerable_sets or {}).items()
        }
    report: dict[str, Any] = {}
    for lang in LANGUAGES:
        n_in, n_out = sum(in_scope[lang].values()), sum(out_of_scope[lang].values())
        shares = {
            key: _share(in_scope[lang][key], n_in)
            for key in (
                "right_answered",
                "right_in_clarify",
                "wrong_answered",
                "no_article",
                "clarify_without_right",
            )
        }
        shares["right_first_reply"] = _share(
            in_scope[lang]["right_answered"] + in_scope[lang]["right_in_clarify"], n_in
        )
        report[lang] = {
            "in_scope": {"questions": n_in, **shares},
            "out_of_scope": {
                "questions": n_out,
                **{
                    kind: _share(out_of_scope[lang][kind], n_out)
                    for kind in ("answered", "clarify", "no_article")
                },
            },
        }
    report["unanswerable"] = unanswerable
    report["misses"] = misses
    return report


def _share(count: int, total: int) -> float | None:
    return round(count / total, 4) if total else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="running Rasa server; default: start Rasa + actions here")
    parser.add_argument("--set", type=Path, default=ROOT / "tests" / "eval" / "test.yml")
    parser.add_argument(
        "--unanswerable",
        type=Path,
        action="append",
        default=[],
        help="also a held-out set of questions no article answers (repeatable)",
    )
    parser.add_argument("--split", choices=("dev", "test"), default="test")
    parser.add_argument("--limit", type=int, default=0, help="only the first N of each part")
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "reports" / "eval_chat.json")
    args = parser.parse_args(argv)
    evalset = EvalSet.load(args.set)
    if args.limit > 0:
        evalset = EvalSet(
            in_scope=evalset.in_scope[: args.limit], out_of_scope=evalset.out_of_scope[: args.limit]
        )
    unanswerable = {
        path.stem: UnanswerableSet.load(path).split(args.split) for path in args.unanswerable
    }
    settings = KnowledgeSettings()  # what the action server it starts reads from this env
    try:
        with rasa_url_for(args.url, "eval-chat-") as url:
            report = evaluate_chat(url, evalset, settings.help_center_url, unanswerable)
    except ServerError as exc:  # no trained model, or a server did not start
        print(exc, file=sys.stderr)
        return 2
    report = {
        "evaluation": "eval_chat",
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "set": str(args.set),
        "unanswerable_split": args.split,
        "through": url if args.url else "Rasa server + action server started here (REST)",
        "model": {
            "path": str(settings.model_path),
            "identity": model_identity(settings.model_path),
        },
        **report,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    for lang in LANGUAGES:
        i, o = report[lang]["in_scope"], report[lang]["out_of_scope"]
        print(
            f"{lang}: in scope {i['questions']}: right answered {i['right_answered']}, right in "
            f"clarify {i['right_in_clarify']}, right first reply {i['right_first_reply']}, wrong "
            f"answered {i['wrong_answered']}, no article {i['no_article']}; out of scope "
            f"{o['questions']}: answered {o['answered']}, clarify {o['clarify']}"
        )
    for name, shares in report["unanswerable"].items():
        for lang in LANGUAGES:
            u = shares[lang]
            print(
                f"{name} ({args.split}) {lang}: {u['questions']} questions: answered (wrong) "
                f"{u['answered']}, clarify {u['clarify']}, no article {u['no_article']}"
            )
    print(f"report: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
