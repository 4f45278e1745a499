"""Due dates in business days, in the organisation's time zone, with holidays and caps; due
when the business hours of the last day end (per queue); business time for paused clocks.

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
    assert _due(friday) == dt.datetime(2026, 12, 1, 18, 0, tzinfo=MADRID)  # Tuesday, closing


def test_a_queue_with_its_own_hours_is_due_when_they_end() -> None:
    levels = ServiceLevels.model_validate(
        {
            "targets": TARGETS,
            "business_hours": {
                "default": {"start": "09:00", "end": "17:30"},
                "queues": {"billing": {"start": "08:00", "end": "16:00"}},
            },
        }
    )
    friday = dt.datetime(2026, 11, 27, 17, 0, tzinfo=MADRID)
    args = (friday, RequestType.SOLICITUD, Priority.NORMAL, MADRID)
    assert levels.due_at(*args, "billing") == dt.datetime(2026, 12, 1, 16, 0, tzinfo=MADRID)
    assert levels.due_at(*args, "general") == dt.datetime(2026, 12, 1, 17, 30, tzinfo=MADRID)
    assert levels.due_at(*args) == levels.due_at(*args, "general")  # no queue: the default


def test_business_hours_must_be_ordered() -> None:
    with pytest.raises(ValueError, match="start before they end"):
        ServiceLevels.model_validate(
            {"targets": TARGETS, "business_hours": {"default": {"start": "18:00", "end": "09:00"}}}
        )


def test_business_time_counts_only_open_hours_of_business_days() -> None:
    # Fri 4 Dec 17:00 -> Wed 9 Dec 10:00 (Madrid, 9:00-18:00): Fri 1 h; Mon 7 9 h; Tue 8 Dec
    # is a holiday; Wed 1 h. Weekend and nights do not count.
    start = dt.datetime(2026, 12, 4, 17, 0, tzinfo=MADRID)
    end = dt.datetime(2026, 12, 9, 10, 0, tzinfo=MADRID)
    assert LEVELS.business_time(start, end, None, MADRID) == dt.timedelta(hours=11)
    saturday = dt.datetime(2026, 12, 5, 10, 0, tzinfo=MADRID)
    sunday = dt.datetime(2026, 12, 6, 20, 0, tzinfo=MADRID)
    assert LEVELS.business_time(saturday, sunday, None, MADRID) == dt.timedelta()


def test_adding_business_time_skips_nights_weekends_and_holidays() -> None:
    friday_5pm = dt.datetime(2026, 12, 4, 17, 0, tzinfo=MADRID)
    later = LEVELS.add_business_time(friday_5pm, dt.timedelta(hours=11), None, MADRID)
    assert later == dt.datetime(2026, 12, 9, 10, 0, tzinfo=MADRID)  # the inverse of the above
    assert later.tzinfo is dt.UTC
    # from outside business hours (Sunday) counting starts when Monday opens
    sunday = dt.datetime(2026, 12, 6, 12, 0, tzinfo=MADRID)
    monday = LEVELS.add_business_time(sunday, dt.timedelta(hours=2), None, MADRID)
    assert monday == dt.datetime(2026, 12, 7, 11, 0, tzinfo=MADRID)
    assert LEVELS.add_business_time(sunday, dt.timedelta(), None, MADRID) == sunday


def test_business_time_is_right_across_a_dst_change() -> None:
    # Sun 29 Mar 2026 clocks go forward in Madrid; Fri 17:00 -> Mon 10:00 is 2 business hours
    start = dt.datetime(2026, 3, 27, 17, 0, tzinfo=MADRID)
    end = dt.datetime(2026, 3, 30, 10, 0, tzinfo=MADRID)
    assert LEVELS.business_time(start, end, None, MADRID) == dt.timedelta(hours=2)
    assert LEVELS.add_business_time(start, dt.timedelta(hours=2), None, MADRID) == end


def test_pausing_request_types_are_configured() -> None:
    levels = ServiceLevels.model_validate(
        {"targets": TARGETS, "pause_while_waiting": ["peticion", "consulta"]}
    )
    assert levels.pauses("peticion") and levels.pauses(RequestType.CONSULTA)
    assert not levels.pauses("queja") and not LEVELS.pauses("peticion")


def test_the_weekend_cannot_be_every_day() -> None:
    with pytest.raises(ValueError, match="whole week"):
        ServiceLevels.model_validate({"targets": TARGETS, "weekend": list(range(7))})


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
    # a legal response deadline (quejas, reclamos) does not stop while we wait on the customer
    assert not levels.pauses(RequestType.QUEJA) and not levels.pauses(RequestType.RECLAMO)
    assert levels.pauses(RequestType.PETICION)
    assert levels.hours("billing") != levels.hours(None) == levels.hours("no-such-queue")


def test_the_documented_example() -> None:
    """docs/service-levels.md: a peticion in billing, created Fri 27 Nov 2026 17:00, paused
    Mon 30 Nov 10:00 - Wed 2 Dec 12:00."""
    levels = ServiceLevels.load(Settings().service_levels_path)
    created = dt.datetime(2026, 11, 27, 17, 0, tzinfo=MADRID)
    due = levels.due_at(created, RequestType.PETICION, Priority.NORMAL, MADRID, "billing")
    assert due == dt.datetime(2026, 12, 14, 16, 0, tzinfo=MADRID)
    paused = levels.business_time(
        dt.datetime(2026, 11, 30, 10, 0, tzinfo=MADRID),
        dt.datetime(2026, 12, 2, 12, 0, tzinfo=MADRID),
        "billing",
        MADRID,
    )
    assert paused == dt.timedelta(hours=18)
    moved = levels.add_business_time(due, paused, "billing", MADRID)
    assert moved == dt.datetime(2026, 12, 17, 10, 0, tzinfo=MADRID)
    queja = levels.due_at(created, RequestType.QUEJA, Priority.NORMAL, MADRID, "billing")
    assert queja == dt.datetime(2026, 12, 21, 16, 0, tzinfo=MADRID)
