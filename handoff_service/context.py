"""Everything a request needs besides its database session, built once per app."""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from handoff_service.due_dates import ServiceLevels
from handoff_service.metrics import Metrics
from handoff_service.ratelimit import RateLimits
from handoff_service.settings import Settings
from handoff_service.triage.classifier import TriageClassifier
from handoff_service.triage.rules import RoutingRules


@dataclass
class AppContext:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    classifier: TriageClassifier
    rules: RoutingRules
    levels: ServiceLevels
    timezone: ZoneInfo
    metrics: Metrics
    rate_limits: RateLimits
