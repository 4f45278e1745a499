"""Due dates: response targets per request type, counted in business days.

A ticket created on day D with a target of N business days is due at the end of the N-th
business day after D (23:59:59 in the organisation's time zone), so a Friday-evening ticket
with a 1-day target is due Monday night. Weekends and the configured holidays do not count.
Optional per-priority caps shorten the target (an urgent ticket is never due in 15 days).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml
from pydantic import BaseModel, ConfigDict, Field

from handoff_service.vocabulary import Priority, RequestType


class ServiceLevels(BaseModel):
    model_config = ConfigDict(extra="forbid")

    targets: dict[RequestType, int] = Field(description="Business days per request type.")
    priority_caps: dict[Priority, int] = Field(default_factory=dict)
    holidays: list[dt.date] = Field(default_factory=list)
    weekend: list[int] = Field(default=[5, 6], description="ISO weekday numbers - 1 (Mon=0).")

    def model_post_init(self, _context: object) -> None:
        missing = set(RequestType) - set(self.targets)
        if missing:
            raise ValueError(f"service levels lack targets for: {sorted(m.value for m in missing)}")
        if any(days < 1 for days in [*self.targets.values(), *self.priority_caps.values()]):
            raise ValueError("targets and caps must be at least 1 business day")

    @classmethod
    def load(cls, path: Path) -> ServiceLevels:
        with path.open(encoding="utf-8") as handle:
            return cls.model_validate(yaml.safe_load(handle))

    def business_days(self, request_type: RequestType, priority: Priority) -> int:
        days = self.targets[request_type]
        cap = self.priority_caps.get(priority)
        return min(days, cap) if cap else days

    def is_business_day(self, day: dt.date) -> bool:
        return day.weekday() not in self.weekend and day not in self._holiday_set

    @property
    def _holiday_set(self) -> frozenset[dt.date]:
        return frozenset(self.holidays)

    def add_business_days(self, start: dt.date, days: int) -> dt.date:
        day = start
        remaining = days
        while remaining:
            day += dt.timedelta(days=1)
            if self.is_business_day(day):
                remaining -= 1
        return day

    def due_at(
        self,
        created_at: dt.datetime,
        request_type: RequestType,
        priority: Priority,
        timezone: ZoneInfo,
    ) -> dt.datetime:
        """The due instant (UTC) for a ticket created at ``created_at`` (aware)."""
        local_day = created_at.astimezone(timezone).date()
        due_day = self.add_business_days(local_day, self.business_days(request_type, priority))
        end_of_day = dt.datetime.combine(due_day, dt.time(23, 59, 59), tzinfo=timezone)
        return end_of_day.astimezone(dt.UTC)
