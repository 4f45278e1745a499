"""Labelled question sets (tests/eval/*.yml) used by calibration, evaluation and benchmarks.

Format::

    in_scope:     [{text, language, topic}]   # a search is right when hit.article.topic == topic
    out_of_scope: [{text, language}]          # the right outcome is FALLBACK

and held-out sets of questions the KB does not answer (tests/eval/unanswerable_*.yml: this
shop's questions no article answers, other domains' questions that share words with the KB),
split into ``dev`` (for calibration) and ``test``::

    dev:  [{text, language}]
    test: [{text, language}]

and scripted multi-turn conversations (tests/eval/dialogues.yml, :class:`DialogueSet`)::

    dialogues: [{name, language, widget, steps: [{say, switch_to, expect | expect_one_of}]}]
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class InScope(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    text: str
    language: Literal["en", "es"]
    topic: str


class OutOfScope(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    text: str
    language: Literal["en", "es"]


class EvalSet(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    in_scope: list[InScope]
    out_of_scope: list[OutOfScope] = []

    @classmethod
    def load(cls, path: Path | str) -> EvalSet:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        return cls.model_validate(data)

    def texts(self) -> list[str]:
        return [q.text for q in self.in_scope] + [q.text for q in self.out_of_scope]


class UnanswerableSet(BaseModel):
    """Questions no article answers, split into dev and test; the right outcome is no article."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    dev: list[OutOfScope]
    test: list[OutOfScope]

    @classmethod
    def load(cls, path: Path | str) -> UnanswerableSet:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        return cls.model_validate(data)

    def split(self, name: Literal["dev", "test"]) -> list[OutOfScope]:
        return self.dev if name == "dev" else self.test


# ---- multi-turn dialogues (tests/eval/dialogues.yml, scripts/eval_chat.py --dialogues) ---------


class Expectation(BaseModel):
    """What the customer must see in the bot's reply to one message; every field given must
    hold (scripts/eval_chat.py checks them against the domain responses the reply is made of).

    - ``responses``: exactly these responses of bot/domain.yml, in this order, and no others;
    - ``answered``: the reply shows exactly one article, of this topic (or of one of these);
    - ``offered``: this topic is among the clarify buttons;
    - ``picked``: the reply shows exactly one article, the n-th (from 1) of the clarify buttons
      of the previous reply ("the second one" -> 2);
    - ``no_article``: no article is shown or offered;
    - ``language``: every bot message (and the link of a shown article) is in this language;
    - ``redacted``: whether the chat channel replaced personal data in the customer's message.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    responses: list[str] | None = None
    answered: list[str] | None = None
    offered: str | None = None
    picked: int | None = Field(default=None, ge=1)
    no_article: bool = False
    language: Literal["en", "es"] | None = None
    redacted: bool | None = None

    @field_validator("answered", mode="before")
    @classmethod
    def _one_or_more_topics(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value

    @model_validator(mode="after")
    def _expects_something_consistent(self) -> Expectation:
        checks = (
            self.responses,
            self.answered,
            self.offered,
            self.picked,
            self.language,
            self.redacted,
        )
        if all(check is None for check in checks) and not self.no_article:
            raise ValueError("an expectation must expect something")
        if self.no_article and (self.answered or self.offered or self.picked):
            raise ValueError("no_article contradicts answered/offered/picked")
        return self


class DialogueStep(BaseModel):
    """One customer message (text or button payload such as ``/deny``) and its expectation:
    ``expect``, or ``expect_one_of`` (alternatives: the step passes when any of them holds).

    ``switch_to``: with this message the customer changes language; the widget (when the
    dialogue uses it) declares the new language from this message on.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    say: str
    switch_to: Literal["en", "es"] | None = None
    expect: Expectation | None = None
    expect_one_of: list[Expectation] | None = None

    @model_validator(mode="after")
    def _exactly_one_expectation(self) -> DialogueStep:
        if (self.expect is None) == (not self.expect_one_of):
            raise ValueError("a step needs exactly one of expect, expect_one_of (non-empty)")
        return self

    def alternatives(self) -> list[Expectation]:
        return [self.expect] if self.expect is not None else list(self.expect_one_of or [])


class Dialogue(BaseModel):
    """A scripted conversation, run in a fresh conversation (sender).

    ``language``: the customer's language at the start. ``widget``: the messages carry
    ``metadata.language`` as the website's widget sends them; without it the bot detects the
    language from the words (as for an API client).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    language: Literal["en", "es"]
    widget: bool = True
    steps: list[DialogueStep]

    @model_validator(mode="after")
    def _has_steps(self) -> Dialogue:
        if not self.steps:
            raise ValueError(f"dialogue {self.name!r} has no steps")
        return self


class DialogueSet(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    dialogues: list[Dialogue]

    @model_validator(mode="after")
    def _unique_names(self) -> DialogueSet:
        names = [d.name for d in self.dialogues]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"duplicate dialogue names: {duplicates}")
        return self

    @classmethod
    def load(cls, path: Path | str) -> DialogueSet:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        return cls.model_validate(data)
