"""Labelled question sets (tests/eval/*.yml) used by calibration, evaluation and benchmarks.

Format::

    in_scope:     [{text, language, topic}]   # a search is right when hit.article.topic == topic
    out_of_scope: [{text, language}]          # the right outcome is FALLBACK

and held-out sets of questions the KB does not answer (tests/eval/unanswerable_*.yml: this
shop's questions no article answers, other domains' questions that share words with the KB),
split into ``dev`` (for calibration) and ``test``::

    dev:  [{text, language}]
    test: [{text, language}]
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict


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
