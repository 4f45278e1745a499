"""Due dates in business days, in the organisation's time zone, with holidays and caps."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from handoff_service.due_dates import ServiceLevels
from handoff_service.settings import Settings
from handoff_service.vocabulary import Priority, RequestType

MADRID = ZoneInfo("Europe/Madrid")
LEVELS = ServiceLevels.model_validate(
    {
        "targets": {
            "peticion": 10,
            "queja": 15,
            "reclamo": 15,
            "consulta": 30,
            "sugerencia": 30,
            "solicitud": 2,
        },
        "priority_caps": {"urgent": 1},
        "holidays": ["2026-12-08", "2026-12-25"],
    }
)


def _due(created: dt.datetime, rtype: str = "solicitud", priority: str = "normal") -> dt.datetime:
    return LEVELS.due_at(created, RequestType(rtype), Priority(priority), MADRID).astimezone(MADRID)


def test_weekends_are_skipped() -> None:
    friday = dt.datetime(2026, 11, 27, 10, 0, tzinfo=MADRID)
    assert _due(friday) == dt.datetime(2026, 12, 1, 23, 59, 59, tzinfo=MADRID)  # Tuesday


def test_holidays_are_skipped() -> None:
    # Mon 7 Dec + 2 business days: Tue 8 is a holiday -> Wed 9, Thu 10
    monday = dt.datetime(2026, 12, 7, 9, 0, tzinfo=MADRID)
    assert _due(monday).date() == dt.date(2026, 12, 10)


def test_days_are_counted_in_the_organisation_time_zone() -> None:
    # Sunday 23:30 UTC is already Monday 00:30 in Madrid: counting starts on Monday
    late_sunday_utc = dt.datetime(2026, 11, 29, 23, 30, tzinfo=dt.UTC)
    assert _due(late_sunday_utc).date() == dt.date(2026, 12, 2)
    # the same instant counted in New York (still Sunday) gives Tuesday
    ny = LEVELS.due_at(
        late_sunday_utc, RequestType.SOLICITUD, Priority.NORMAL, ZoneInfo("America/New_York")
    )
    assert ny.astimezone(ZoneInfo("America/New_York")).date() == dt.date(2026, 12, 1)


def test_priority_caps_shorten_the_target() -> None:
    wednesday = dt.datetime(2026, 11, 25, 12, 0, tzinfo=MADRID)
    # 15 business days from Wed 25 Nov, skipping the 8 Dec holiday: Thu 17 Dec
    assert _due(wednesday, "queja").date() == dt.date(2026, 12, 17)
    assert _due(wednesday, "queja", "urgent").date() == dt.date(2026, 11, 26)


def test_due_dates_are_utc_and_aware() -> None:
    due = LEVELS.due_at(
        dt.datetime(2026, 11, 25, tzinfo=dt.UTC), RequestType.PETICION, Priority.LOW, MADRID
    )
    assert due.tzinfo is dt.UTC


def test_every_request_type_needs_a_target() -> None:
    with pytest.raises(ValueError, match="lack targets"):
        ServiceLevels.model_validate({"targets": {"queja": 15}})


def test_shipped_service_levels_follow_the_pqr_targets() -> None:
    levels = ServiceLevels.load(Settings().service_levels_path)
    assert levels.targets[RequestType.QUEJA] == levels.targets[RequestType.RECLAMO] == 15
    assert levels.targets[RequestType.PETICION] == 10
    assert levels.targets[RequestType.SUGERENCIA] == 30
    assert dt.date(2026, 12, 25) in levels.holidays
