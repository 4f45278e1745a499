"""Due dates: response targets per request type, counted in business days and business hours.

A ticket created on day D with a target of N business days is due when the business hours of
the N-th business day after D end (e.g. 18:00 in the organisation's time zone; each queue can
have its own hours), so a Friday-evening ticket with a 1-day target is due Monday at closing
time. The day is what the customer is told ("no later than Monday 30 November").

Weekends and holidays do not count: the public holidays of a country and optionally one of its
regions, from the ``holidays`` package (maintained calendars for every year, so due dates do
not go silently wrong when a hand-kept list ends), plus the organisation's own days. Optional
per-priority caps shorten the target (an urgent ticket is never due in 15 days).

While a ticket waits on the customer its clock may stop (``pause_while_waiting``, per request
type); the due instant then moves later by the business time the pause lasted, counted in the
business hours of the ticket's queue (:meth:`ServiceLevels.business_time`,
:meth:`ServiceLevels.add_business_time`).
"""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path
from zoneinfo import ZoneInfo

import holidays
import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from handoff_service.vocabulary import Priority, RequestType


class Hours(BaseModel):
    """Opening hours of a business day, local time of the organisation (end exclusive)."""

    model_config = ConfigDict(extra="forbid")

    start: dt.time = Field(default=dt.time(9, 0), description="When the business day starts.")
    end: dt.time = Field(default=dt.time(18, 0), description="When it ends: the due time.")

    @model_validator(mode="after")
    def _ordered(self) -> Hours:
        if self.start >= self.end:
            raise ValueError(f"business hours must start before they end: {self.start}-{self.end}")
        return self


class BusinessHours(BaseModel):
    """The hours of every queue: ``default`` unless the queue has its own."""

    model_config = ConfigDict(extra="forbid")

    default: Hours = Field(default_factory=Hours)
    queues: dict[str, Hours] = Field(
        default_factory=dict, description="Queue name (routing_rules.yml) -> its own hours."
    )


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
    pause_while_waiting: list[RequestType] = Field(
        default_factory=list,
        description="Request types whose clock stops while the ticket waits on the customer.",
    )
    business_hours: BusinessHours = Field(default_factory=BusinessHours)

    _calendar: holidays.HolidayBase = PrivateAttr()
    # the calendar computes a year's holidays on first lookup: one request at a time does it
    _calendar_lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    def model_post_init(self, _context: object) -> None:
        missing = set(RequestType) - set(self.targets)
        if missing:
            raise ValueError(f"service levels lack targets for: {sorted(m.value for m in missing)}")
        if any(days < 1 for days in [*self.targets.values(), *self.priority_caps.values()]):
            raise ValueError("targets and caps must be at least 1 business day")
        if set(range(7)) <= set(self.weekend):
            raise ValueError("the weekend cannot be the whole week")
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

    def pauses(self, request_type: RequestType | str) -> bool:
        """Whether the clock of this request type stops while waiting on the customer."""
        return RequestType(request_type) in self.pause_while_waiting

    def hours(self, queue: str | None) -> Hours:
        """The business hours of ``queue`` (None: the default hours)."""
        if queue is None:
            return self.business_hours.default
        return self.business_hours.queues.get(queue, self.business_hours.default)

    def _window(
        self, day: dt.date, hours: Hours, timezone: ZoneInfo
    ) -> tuple[dt.datetime, dt.datetime]:
        """The business hours of ``day`` as UTC instants (arithmetic across DST stays right)."""
        opens = dt.datetime.combine(day, hours.start, tzinfo=timezone).astimezone(dt.UTC)
        closes = dt.datetime.combine(day, hours.end, tzinfo=timezone).astimezone(dt.UTC)
        return opens, closes

    def business_time(
        self, start: dt.datetime, end: dt.datetime, queue: str | None, timezone: ZoneInfo
    ) -> dt.timedelta:
        """How much of ``start``..``end`` (aware) falls within the queue's business hours on
        business days: the time a pause really took from the agents."""
        hours = self.hours(queue)
        total = dt.timedelta()
        day = start.astimezone(timezone).date()
        last = end.astimezone(timezone).date()
        while day <= last:
            if self.is_business_day(day):
                opens, closes = self._window(day, hours, timezone)
                overlap = min(end, closes) - max(start, opens)
                if overlap > dt.timedelta():
                    total += overlap
            day += dt.timedelta(days=1)
        return total

    def add_business_time(
        self, moment: dt.datetime, amount: dt.timedelta, queue: str | None, timezone: ZoneInfo
    ) -> dt.datetime:
        """``moment`` (aware) moved later by ``amount`` of the queue's business time (UTC).

        Time outside business hours does not count: two business hours after Friday 17:00 on
        9:00-18:00 hours is Monday 10:00.
        """
        moment = moment.astimezone(dt.UTC)
        if amount <= dt.timedelta():
            return moment
        hours = self.hours(queue)
        remaining = amount
        day = moment.astimezone(timezone).date()
        while True:
            if self.is_business_day(day):
                opens, closes = self._window(day, hours, timezone)
                begin = max(moment, opens)
                if begin < closes:
                    if remaining <= closes - begin:
                        return begin + remaining
                    remaining -= closes - begin
            day += dt.timedelta(days=1)

    def due_at(
        self,
        created_at: dt.datetime,
        request_type: RequestType,
        priority: Priority,
        timezone: ZoneInfo,
        queue: str | None = None,
    ) -> dt.datetime:
        """The due instant (UTC) for a ticket created at ``created_at`` (aware) in ``queue``:
        the end of the queue's business hours on the N-th business day."""
        local_day = created_at.astimezone(timezone).date()
        due_day = self.add_business_days(local_day, self.business_days(request_type, priority))
        return self._window(due_day, self.hours(queue), timezone)[1]
