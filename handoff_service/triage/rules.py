"""Ordered routing rules from YAML: each ticket is checked against one rule at a time, in file
order; the first rule that matches decides the queue. The last rule must match everything.

A rule's ``when`` may test (all given conditions must hold; lists mean "any of"):
``category``, ``request_type``, ``priority``, ``language``, ``channel``, ``reason``,
``keywords`` (any keyword in the customer's messages or the summary; accent/case-insensitive),
``customer_has`` (customer fields that must be present: name, email, phone, order_number),
``email_domains`` (customer e-mail domain).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from handoff_service.triage.text import fold
from handoff_service.vocabulary import (
    Category,
    Channel,
    HandoffReason,
    Language,
    Priority,
    RequestType,
)


class Condition(BaseModel):
    model_config = ConfigDict(extra="forbid")

    category: list[Category] | None = None
    request_type: list[RequestType] | None = None
    priority: list[Priority] | None = None
    language: list[Language] | None = None
    channel: list[Channel] | None = None
    reason: list[HandoffReason] | None = None
    keywords: list[str] | None = None
    customer_has: list[str] | None = None
    email_domains: list[str] | None = None

    @model_validator(mode="after")
    def _known_fields(self) -> Condition:
        known = {"name", "email", "phone", "order_number"}
        unknown = set(self.customer_has or []) - known
        if unknown:
            raise ValueError(f"customer_has: unknown fields {sorted(unknown)}; use {sorted(known)}")
        return self

    _keywords: re.Pattern[str] | None = PrivateAttr(default=None)

    def model_post_init(self, _context: object) -> None:
        if self.keywords:
            alternatives = "|".join(re.escape(fold(k)) for k in self.keywords)
            self._keywords = re.compile(rf"\b(?:{alternatives})\b")

    def is_empty(self) -> bool:
        return not any(v is not None for v in self.model_dump().values())


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    queue: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=64)
    when: Condition = Field(default_factory=Condition)


@dataclass(frozen=True)
class TicketFacts:
    """What the rules can look at."""

    category: Category
    request_type: RequestType
    priority: Priority
    language: Language
    channel: Channel
    reason: HandoffReason
    text: str
    customer: dict[str, str | None]


class RoutingRules(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rules: list[Rule] = Field(min_length=1)

    @model_validator(mode="after")
    def _default_last(self) -> RoutingRules:
        if not self.rules[-1].when.is_empty():
            raise ValueError("the last routing rule must be the default (no 'when' conditions)")
        names = [r.name for r in self.rules]
        if len(names) != len(set(names)):
            raise ValueError("routing rule names must be unique")
        return self

    @classmethod
    def load(cls, path: Path) -> RoutingRules:
        with path.open(encoding="utf-8") as handle:
            return cls.model_validate(yaml.safe_load(handle))

    @property
    def queues(self) -> set[str]:
        """The configured queues: the ones the rules route to (a ticket moves only to one)."""
        return {rule.queue for rule in self.rules}

    def route(self, facts: TicketFacts) -> Rule:
        folded = fold(facts.text)
        for rule in self.rules:
            if _matches(rule.when, facts, folded):
                return rule
        raise AssertionError("unreachable: the default rule matches everything")


def _matches(cond: Condition, facts: TicketFacts, folded_text: str) -> bool:
    checks = [
        (cond.category, facts.category),
        (cond.request_type, facts.request_type),
        (cond.priority, facts.priority),
        (cond.language, facts.language),
        (cond.channel, facts.channel),
        (cond.reason, facts.reason),
    ]
    if any(allowed is not None and value not in allowed for allowed, value in checks):
        return False
    if cond.keywords is not None and (
        cond._keywords is None or not cond._keywords.search(folded_text)
    ):
        return False
    if cond.customer_has is not None and not all(facts.customer.get(f) for f in cond.customer_has):
        return False
    if cond.email_domains is not None:
        email = facts.customer.get("email") or ""
        domain = email.rpartition("@")[2].lower()
        if domain not in {d.lower() for d in cond.email_domains}:
            return False
    return True
