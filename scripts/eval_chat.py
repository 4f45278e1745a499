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
The model the action server served is recorded with the figures.

With ``--dialogues`` (tests/eval/dialogues.yml) it also runs scripted multi-turn conversations,
each in a fresh conversation, and checks every step: each bot message of the reply is mapped to
the bot/domain.yml response it was made from (:class:`ResponseClassifier`), with the article
topic of an answer and the topics of clarify buttons, and compared with the step's expectation
(:func:`check`; ``responses`` is an exact, ordered list). The report's ``dialogues`` section has,
per language, steps and dialogues passed, and every failed step with what was expected and what
was seen. Writes var/reports/eval_chat.json.

    .venv/bin/python scripts/eval_chat.py [--url http://localhost:5005] [--set FILE] [--limit N]
        [--dialogues tests/eval/dialogues.yml]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import sys
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bot")]

import httpx  # noqa: E402
import yaml  # noqa: E402

from knowledge.embedding import model_identity  # noqa: E402
from knowledge.evalset import (  # noqa: E402
    Dialogue,
    DialogueSet,
    EvalSet,
    Expectation,
    OutOfScope,
    UnanswerableSet,
)
from knowledge.settings import LANGUAGES, KnowledgeSettings  # noqa: E402
from tests.bot.servers import ServerError, rasa_url_for  # noqa: E402

DOMAIN_PATH = ROOT / "bot" / "domain.yml"

_CHOOSE = re.compile(r'^/choose_article\{"article_id":"(?P<id>[^"]+)"\}$')


def article_link(help_center_url: str) -> re.Pattern[str]:
    """An article's help-centre link (``knowledge.articles.article_url``): language, topic."""
    return re.compile(
        re.escape(help_center_url.rstrip("/")) + r"/(?P<language>en|es)/(?P<topic>[a-z0-9-]+)"
    )


def offered_topics(messages: list[dict[str, Any]]) -> list[str]:
    """Topics of the ``/choose_article`` buttons (article id ``<topic>-<language>``)."""
    payloads = [b.get("payload", "") for m in messages for b in m.get("buttons", [])]
    return [match["id"].rsplit("-", 1)[0] for p in payloads if (match := _CHOOSE.match(p))]


def first_reply(messages: list[dict[str, Any]], help_center_url: str) -> tuple[str, list[str]]:
    """``(kind, topics)`` of the bot's reply: answered with one topic, clarify with the offered
    topics, or no_article."""
    offered = offered_topics(messages)
    if offered:
        return "clarify", offered
    payloads = [b.get("payload", "") for m in messages for b in m.get("buttons", [])]
    link = article_link(help_center_url)
    for message in messages:
        match = link.search(message.get("text") or "")
        if match and "/affirm" in payloads:
            return "answered", [match["topic"]]
    return "no_article", []


def send(
    client: httpx.Client,
    webhook: str,
    sender: str,
    text: str,
    metadata: dict[str, Any] | None,
) -> list[dict[str, Any]]:
    """One customer message through the REST channel, as the widget sends it; the bot's reply."""
    body: dict[str, Any] = {"sender": sender, "message": text}
    if metadata is not None:
        body["metadata"] = metadata
    response = client.post(webhook, json=body)
    response.raise_for_status()
    return response.json()


def ask(client: httpx.Client, webhook: str, text: str, language: str) -> list[dict[str, Any]]:
    """``text`` as the first message of a fresh conversation."""
    return send(client, webhook, f"eval-{uuid.uuid4().hex}", text, {"language": language})


# ---- multi-turn dialogues ---------------------------------------------------------------------

#: What a bot message that matches no response of the domain is classified as.
UNKNOWN = "unknown"
#: The language of a response variation without a condition: the domain's default is English.
DEFAULT_VARIATION_LANGUAGE = "en"
_PLACEHOLDER = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*\}")
#: The key of the chat channel's custom message with the redacted text
#: (bot/redacting_channel.py, which imports Rasa: not importable here).
REDACTED = "redacted"


@dataclass(frozen=True)
class BotMessage:
    """One bot message of a REST reply, as the domain response it was made from.

    ``language``: of the matched variation (None when unknown); ``topic``, ``link_language``:
    of the help-centre link in the text; ``offered``: topics of its clarify buttons.
    """

    response: str
    language: str | None
    text: str
    topic: str | None = None
    link_language: str | None = None
    offered: tuple[str, ...] = ()


@dataclass(frozen=True)
class Turn:
    """The bot's reply to one customer message. ``redacted``: the chat channel sent back the
    message with personal data replaced (``{"custom": {"redacted": ...}}``, not a response)."""

    messages: list[BotMessage] = field(default_factory=list)
    redacted: bool = False

    @property
    def responses(self) -> list[str]:
        return [m.response for m in self.messages]

    @property
    def answered(self) -> list[str]:
        """Topics of the articles shown (``utter_answer``); ``"?"`` for an answer without link."""
        return [m.topic or "?" for m in self.messages if m.response == "utter_answer"]

    @property
    def offered(self) -> list[str]:
        return [topic for m in self.messages for topic in m.offered]

    def seen(self) -> dict[str, Any]:
        """What the customer saw, for the report."""
        return {
            "responses": self.responses,
            "languages": [m.language for m in self.messages],
            "answered": self.answered,
            "offered": self.offered,
            "redacted": self.redacted,
            "texts": [m.text for m in self.messages],
        }


class ResponseClassifier:
    """Maps a bot message of the REST reply to the domain response it was made from.

    Every text variation of every response in bot/domain.yml (both languages) becomes a
    pattern, its ``{placeholders}`` wildcards; a message is the response whose pattern matches
    its whole text, the one with the most literal characters when several do ("OK, {customer_name}."
    also matches "OK, I'll use ana@example.com."), else :data:`UNKNOWN`.
    """

    def __init__(self, domain: dict[str, Any], help_center_url: str) -> None:
        self._patterns: list[tuple[int, re.Pattern[str], str, str]] = []
        for name, variations in (domain.get("responses") or {}).items():
            for variation in variations:
                if "text" not in variation:
                    continue
                literal = _PLACEHOLDER.split(variation["text"])
                pattern = re.compile("(.+?)".join(map(re.escape, literal)), re.DOTALL)
                self._patterns.append(
                    (sum(map(len, literal)), pattern, name, variation_language(variation))
                )
        self._patterns.sort(key=lambda item: -item[0])
        self._link = article_link(help_center_url)

    @classmethod
    def load(cls, help_center_url: str, path: Path = DOMAIN_PATH) -> ResponseClassifier:
        return cls(yaml.safe_load(path.read_text(encoding="utf-8")), help_center_url)

    def classify(self, message: dict[str, Any]) -> BotMessage:
        text = message.get("text")
        if not isinstance(text, str):
            return BotMessage(UNKNOWN, None, json.dumps(message, ensure_ascii=False))
        response, language = next(
            ((name, lang) for _, pattern, name, lang in self._patterns if pattern.fullmatch(text)),
            (UNKNOWN, None),
        )
        link = self._link.search(text)
        return BotMessage(
            response,
            language,
            text,
            topic=link["topic"] if link else None,
            link_language=link["language"] if link else None,
            offered=tuple(offered_topics([message])),
        )

    def turn(self, messages: list[dict[str, Any]]) -> Turn:
        return Turn(
            [self.classify(m) for m in messages if not _is_redaction(m)],
            redacted=any(map(_is_redaction, messages)),
        )


def _is_redaction(message: dict[str, Any]) -> bool:
    custom = message.get("custom")
    return isinstance(custom, dict) and REDACTED in custom


def variation_language(variation: dict[str, Any]) -> str:
    """The ``language`` slot value a response variation is conditioned on (domain default: en)."""
    for condition in variation.get("condition") or []:
        if condition.get("name") == "language":
            return str(condition.get("value"))
    return DEFAULT_VARIATION_LANGUAGE


def check(expectation: Expectation, turn: Turn, previous: Turn | None = None) -> list[str]:
    """Why ``turn`` does not meet ``expectation`` (empty when it does); ``previous``: the reply
    before it (for ``picked``). See :class:`knowledge.evalset.Expectation` for the fields."""
    problems: list[str] = []
    if expectation.responses is not None and turn.responses != expectation.responses:
        problems.append(f"responses: expected {expectation.responses}, saw {turn.responses}")
    if expectation.answered is not None and (
        len(turn.answered) != 1 or turn.answered[0] not in expectation.answered
    ):
        problems.append(f"answered: expected one of {expectation.answered}, saw {turn.answered}")
    if expectation.offered is not None and expectation.offered not in turn.offered:
        problems.append(f"offered: expected {expectation.offered} among {turn.offered}")
    if expectation.picked is not None:
        candidates = previous.offered if previous is not None else []
        wanted = candidates[expectation.picked - 1 : expectation.picked]
        if not wanted or turn.answered != wanted:
            problems.append(
                f"picked: expected candidate {expectation.picked} of {candidates}, "
                f"saw {turn.answered}"
            )
    if expectation.no_article and (turn.answered or turn.offered):
        problems.append(f"no_article: saw answered {turn.answered}, offered {turn.offered}")
    if expectation.language is not None:
        seen = [m.language for m in turn.messages] + [
            m.link_language for m in turn.messages if m.link_language
        ]
        if not seen or any(language != expectation.language for language in seen):
            problems.append(f"language: expected {expectation.language}, saw {seen}")
    if expectation.redacted is not None and turn.redacted != expectation.redacted:
        problems.append(f"redacted: expected {expectation.redacted}, saw {turn.redacted}")
    return problems


def run_dialogue(
    client: httpx.Client, webhook: str, dialogue: Dialogue, classifier: ResponseClassifier
) -> list[dict[str, Any]]:
    """Every step of ``dialogue`` in one fresh conversation: passed (any alternative holds),
    what was expected, what was seen and, when it failed, why. A failed step does not stop
    the dialogue (later steps may fail because of it: ``after_failure``)."""
    sender = f"eval-dialogue-{uuid.uuid4().hex}"
    language = dialogue.language
    results: list[dict[str, Any]] = []
    previous: Turn | None = None
    for number, step in enumerate(dialogue.steps, start=1):
        language = step.switch_to or language
        metadata = {"language": language} if dialogue.widget else None
        turn = classifier.turn(send(client, webhook, sender, step.say, metadata))
        problems = [check(e, turn, previous) for e in step.alternatives()]
        previous = turn
        passed = any(not p for p in problems)
        results.append(
            {
                "step": number,
                "say": _shorten(step.say),
                "passed": passed,
                "after_failure": any(not r["passed"] for r in results),
                "expected": [e.model_dump(exclude_defaults=True) for e in step.alternatives()],
                "seen": turn.seen(),
                "problems": [] if passed else problems,
            }
        )
    return results


def evaluate_dialogues(
    client: httpx.Client,
    webhook: str,
    dialogues: DialogueSet,
    classifier: ResponseClassifier,
) -> dict[str, Any]:
    """Per language (of the dialogue's start): steps and dialogues passed; the failed steps;
    every dialogue's steps with pass/fail and the responses seen."""
    runs = [
        (dialogue, run_dialogue(client, webhook, dialogue, classifier))
        for dialogue in dialogues.dialogues
    ]
    section: dict[str, Any] = {
        "rule": "a step passes when every field of one of its expectations holds; "
        "responses: the exact, ordered list of domain responses of the reply",
    }
    for lang in LANGUAGES:
        mine = [steps for dialogue, steps in runs if dialogue.language == lang]
        section[lang] = {
            "steps": sum(len(steps) for steps in mine),
            "steps_passed": sum(s["passed"] for steps in mine for s in steps),
            "dialogues": len(mine),
            "dialogues_passed": sum(all(s["passed"] for s in steps) for steps in mine),
        }
    section["failed_steps"] = [
        {"dialogue": dialogue.name, "language": dialogue.language, **step}
        for dialogue, steps in runs
        for step in steps
        if not step["passed"]
    ]
    section["runs"] = [
        {
            "dialogue": dialogue.name,
            "language": dialogue.language,
            "passed": all(s["passed"] for s in steps),
            "steps": [
                {"say": s["say"], "passed": s["passed"], "responses": s["seen"]["responses"]}
                for s in steps
            ],
        }
        for dialogue, steps in runs
    ]
    return section


def _shorten(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


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
    dialogues: DialogueSet | None = None,
) -> dict[str, Any]:
    """Per-language outcome shares (module docstring) and the in-scope misses; for each of
    ``unanswerable_sets`` (name -> questions no article answers) the shares of
    :func:`no_article_shares`; with ``dialogues``, :func:`evaluate_dialogues`."""
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
        dialogue_section = (
            evaluate_dialogues(client, webhook, dialogues, ResponseClassifier.load(help_center_url))
            if dialogues is not None
            else None
        )
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
    if dialogue_section is not None:
        report["dialogues"] = dialogue_section
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
    parser.add_argument(
        "--dialogues", type=Path, help="also run these scripted multi-turn conversations"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "reports" / "eval_chat.json")
    args = parser.parse_args(argv)
    dialogues = DialogueSet.load(args.dialogues) if args.dialogues else None
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
            report = evaluate_chat(url, evalset, settings.help_center_url, unanswerable, dialogues)
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
    if args.dialogues:
        report["dialogues"] = {"file": str(args.dialogues), **report["dialogues"]}
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
    if args.dialogues:
        for lang in LANGUAGES:
            d = report["dialogues"][lang]
            print(
                f"dialogues {lang}: steps passed {d['steps_passed']}/{d['steps']}, "
                f"dialogues passed {d['dialogues_passed']}/{d['dialogues']}"
            )
    print(f"report: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
