"""Due dates in business days, in the organisation's time zone, with holidays and caps.

Holidays come from the `holidays` package: Spain's national calendar unless a region is given.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from handoff_service.due_dates import ServiceLevels
from handoff_service.settings import Settings
from handoff_service.vocabulary import Priority, RequestType

MADRID = ZoneInfo("Europe/Madrid")
TARGETS = {
    "peticion": 10,
    "queja": 15,
    "reclamo": 15,
    "consulta": 30,
    "sugerencia": 30,
    "solicitud": 2,
}
LEVELS = ServiceLevels.model_validate({"targets": TARGETS, "priority_caps": {"urgent": 1}})


def _due(created: dt.datetime, rtype: str = "solicitud", priority: str = "normal") -> dt.datetime:
    return LEVELS.due_at(created, RequestType(rtype), Priority(priority), MADRID).astimezone(MADRID)


def test_weekends_are_skipped() -> None:
    friday = dt.datetime(2026, 11, 27, 10, 0, tzinfo=MADRID)
    assert _due(friday) == dt.datetime(2026, 12, 1, 23, 59, 59, tzinfo=MADRID)  # Tuesday


def test_holidays_are_skipped() -> None:
    # Mon 7 Dec + 2 business days: Tue 8 is a holiday -> Wed 9, Thu 10
    monday = dt.datetime(2026, 12, 7, 9, 0, tzinfo=MADRID)
    assert _due(monday).date() == dt.date(2026, 12, 10)


def test_holidays_are_known_in_years_no_list_covered() -> None:
    # Tue 24 Dec 2030 + 2 business days: Wed 25 is Christmas -> Thu 26, Fri 27
    christmas_eve = dt.datetime(2030, 12, 24, 9, 0, tzinfo=MADRID)
    assert _due(christmas_eve).date() == dt.date(2030, 12, 27)
    assert LEVELS.is_holiday(dt.date(2028, 10, 12))  # Fiesta Nacional, a Thursday


def test_a_region_adds_its_own_holidays() -> None:
    # Fri 28 Apr 2028 + 2 business days; Mon 1 May is Labour Day everywhere in Spain,
    # Tue 2 May is the Comunidad de Madrid's day
    madrid = ServiceLevels.model_validate({"targets": TARGETS, "holiday_subdivision": "MD"})
    friday = dt.datetime(2028, 4, 28, 17, 0, tzinfo=MADRID)
    national = LEVELS.due_at(friday, RequestType.SOLICITUD, Priority.NORMAL, MADRID)
    regional = madrid.due_at(friday, RequestType.SOLICITUD, Priority.NORMAL, MADRID)
    assert national.astimezone(MADRID).date() == dt.date(2028, 5, 3)
    assert regional.astimezone(MADRID).date() == dt.date(2028, 5, 4)


def test_company_holidays_are_skipped_too() -> None:
    levels = ServiceLevels.model_validate({"targets": TARGETS, "company_holidays": ["2029-03-05"]})
    friday = dt.datetime(2029, 3, 2, 12, 0, tzinfo=MADRID)
    due = levels.due_at(friday, RequestType.SOLICITUD, Priority.NORMAL, MADRID)
    assert due.astimezone(MADRID).date() == dt.date(2029, 3, 7)  # Mon 5 is off: Tue 6, Wed 7


@pytest.mark.parametrize(("country", "region"), [("ES", "XX"), ("QQ", None)])
def test_an_unknown_calendar_fails_at_load(country: str, region: str | None) -> None:
    with pytest.raises(ValueError, match="no holiday calendar"):
        ServiceLevels.model_validate(
            {"targets": TARGETS, "holiday_country": country, "holiday_subdivision": region}
        )


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
    assert levels.holiday_country == "ES"
    assert levels.is_holiday(dt.date(2026, 12, 25)) and levels.is_holiday(dt.date(2031, 1, 6))
