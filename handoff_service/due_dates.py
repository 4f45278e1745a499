"""Due dates: response targets per request type, counted in business days.

A ticket created on day D with a target of N business days is due at the end of the N-th
business day after D (23:59:59 in the organisation's time zone), so a Friday-evening ticket
with a 1-day target is due Monday night. Weekends and holidays do not count: the public holidays
of a country and optionally one of its regions, from the ``holidays`` package (maintained
calendars for every year, so due dates do not go silently wrong when a hand-kept list ends),
plus the organisation's own days. Optional per-priority caps shorten the target (an urgent
ticket is never due in 15 days).
"""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path
from zoneinfo import ZoneInfo

import holidays
import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from handoff_service.vocabulary import Priority, RequestType


class ServiceLevels(BaseModel):
    model_config = ConfigDict(extra="forbid")

    targets: dict[RequestType, int] = Field(description="Business days per request type.")
    priority_caps: dict[Priority, int] = Field(default_factory=dict)
    holiday_country: str = Field(
        default="ES", description="ISO 3166-1 code of the public-holiday calendar."
    )
    holiday_subdivision: str | None = Field(
        default=None,
        description="Region whose own holidays count too (ISO 3166-2 suffix, e.g. MD: Madrid).",
    )
    company_holidays: list[dt.date] = Field(
        default_factory=list, description="The organisation's own non-working days."
    )
    weekend: list[int] = Field(default=[5, 6], description="ISO weekday numbers - 1 (Mon=0).")

    _calendar: holidays.HolidayBase = PrivateAttr()
    # the calendar computes a year's holidays on first lookup: one request at a time does it
    _calendar_lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    def model_post_init(self, _context: object) -> None:
        missing = set(RequestType) - set(self.targets)
        if missing:
            raise ValueError(f"service levels lack targets for: {sorted(m.value for m in missing)}")
        if any(days < 1 for days in [*self.targets.values(), *self.priority_caps.values()]):
            raise ValueError("targets and caps must be at least 1 business day")
        try:
            self._calendar = holidays.country_holidays(
                self.holiday_country, subdiv=self.holiday_subdivision
            )
        except NotImplementedError as exc:  # how the package says "no such calendar"
            raise ValueError(f"no holiday calendar: {exc}") from exc

    @classmethod
    def load(cls, path: Path) -> ServiceLevels:
        with path.open(encoding="utf-8") as handle:
            return cls.model_validate(yaml.safe_load(handle))

    def business_days(self, request_type: RequestType, priority: Priority) -> int:
        days = self.targets[request_type]
        cap = self.priority_caps.get(priority)
        return min(days, cap) if cap else days

    def is_holiday(self, day: dt.date) -> bool:
        if day in self.company_holidays:
            return True
        with self._calendar_lock:
            return day in self._calendar

    def is_business_day(self, day: dt.date) -> bool:
        return day.weekday() not in self.weekend and not self.is_holiday(day)

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
