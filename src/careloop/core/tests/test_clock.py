"""core.clock: federal holidays (with weekend observance), business-day arithmetic, months, clinic zone."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from careloop.core import clock

D = dt.date


def test_federal_holidays_2025() -> None:
    assert sorted(clock.federal_holidays(2025)) == [
        D(2025, 1, 1), D(2025, 1, 20), D(2025, 2, 17), D(2025, 5, 26), D(2025, 6, 19), D(2025, 7, 4),
        D(2025, 9, 1), D(2025, 10, 13), D(2025, 11, 11), D(2025, 11, 27), D(2025, 12, 25),
    ]


def test_federal_holidays_2026_observes_july_4th_on_friday() -> None:
    # 2026-07-04 is a Saturday: observed Friday 2026-07-03.
    assert sorted(clock.federal_holidays(2026)) == [
        D(2026, 1, 1), D(2026, 1, 19), D(2026, 2, 16), D(2026, 5, 25), D(2026, 6, 19), D(2026, 7, 3),
        D(2026, 9, 7), D(2026, 10, 12), D(2026, 11, 11), D(2026, 11, 26), D(2026, 12, 25),
    ]
    assert D(2026, 7, 4) not in clock.federal_holidays(2026)


def test_federal_holidays_2027_weekend_observances() -> None:
    # Juneteenth (Sat) -> Fri 06-18; July 4 (Sun) -> Mon 07-05; Christmas (Sat) -> Fri 12-24;
    # New Year's Day 2028 (Sat) -> Fri 2027-12-31, which belongs to 2027.
    assert sorted(clock.federal_holidays(2027)) == [
        D(2027, 1, 1), D(2027, 1, 18), D(2027, 2, 15), D(2027, 5, 31), D(2027, 6, 18), D(2027, 7, 5),
        D(2027, 9, 6), D(2027, 10, 11), D(2027, 11, 11), D(2027, 11, 25), D(2027, 12, 24), D(2027, 12, 31),
    ]


def test_new_years_day_observed_in_previous_year_is_not_in_the_new_year() -> None:
    assert D(2027, 12, 31) not in clock.federal_holidays(2028)
    assert D(2028, 1, 1) not in clock.federal_holidays(2028)
    assert min(clock.federal_holidays(2028)) == D(2028, 1, 17)  # MLK Day


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (D(2026, 7, 3), False),  # observed Independence Day
        (D(2026, 7, 4), False),  # Saturday
        (D(2026, 7, 6), True),
        (D(2027, 12, 31), False),  # observed New Year's Day 2028
        (D(2026, 11, 27), True),  # day after Thanksgiving is not a federal holiday
        (D(2026, 3, 8), False),  # Sunday
        (D(2026, 3, 9), True),
    ],
)
def test_is_business_day(day: dt.date, expected: bool) -> None:
    assert clock.is_business_day(day) is expected


@pytest.mark.parametrize(
    ("start", "n", "expected"),
    [
        (D(2026, 3, 9), 0, D(2026, 3, 9)),  # zero days: the start itself
        (D(2026, 3, 9), 1, D(2026, 3, 10)),  # Mon -> Tue
        (D(2026, 3, 6), 1, D(2026, 3, 9)),  # Fri -> Mon over a weekend
        (D(2026, 3, 7), 1, D(2026, 3, 9)),  # from a Saturday
        (D(2026, 3, 6), 2, D(2026, 3, 10)),
        (D(2026, 7, 2), 1, D(2026, 7, 6)),  # observed July 4th (Fri) + weekend
        (D(2026, 7, 2), 2, D(2026, 7, 7)),
        (D(2025, 12, 24), 2, D(2025, 12, 29)),  # Christmas Thu, then Fri, then Mon
        (D(2026, 11, 25), 2, D(2026, 11, 30)),  # Thanksgiving
        (D(2026, 1, 30), 1, D(2026, 2, 2)),  # month end on a Friday
        (D(2026, 2, 27), 2, D(2026, 3, 3)),  # month end, non-leap February
        (D(2028, 2, 28), 1, D(2028, 2, 29)),  # leap day is a business day (Tue)
        (D(2026, 12, 31), 1, D(2027, 1, 4)),  # New Year's Day (Fri) + weekend across the year end
        (D(2027, 12, 23), 1, D(2027, 12, 27)),  # observed Christmas (Fri 12-24) + weekend
        (D(2027, 12, 23), 5, D(2028, 1, 3)),  # ... and observed New Year's Day (Fri 12-31)
        (D(2026, 1, 16), 1, D(2026, 1, 20)),  # MLK Day Monday
        (D(2026, 1, 1), 10, D(2026, 1, 15)),  # Jan 2, 5-9, 12-15
    ],
)
def test_add_business_days(start: dt.date, n: int, expected: dt.date) -> None:
    assert clock.add_business_days(start, n) == expected


def test_month_bounds_and_month_of() -> None:
    assert clock.month_bounds(2028, 2) == (D(2028, 2, 1), D(2028, 2, 29))
    assert clock.month_bounds(2026, 2) == (D(2026, 2, 1), D(2026, 2, 28))
    assert clock.month_bounds(2026, 12) == (D(2026, 12, 1), D(2026, 12, 31))
    assert clock.month_of(D(2026, 3, 9)) == "2026-03"


def test_today_is_taken_in_the_clinic_time_zone() -> None:
    # 03:00 UTC on March 1st is still February 28th in New York (UTC-5).
    with time_machine.travel(dt.datetime(2026, 3, 1, 3, 0, tzinfo=dt.UTC), tick=False):
        assert clock.now() == dt.datetime(2026, 3, 1, 3, 0, tzinfo=dt.UTC)
        assert clock.today("America/New_York") == D(2026, 2, 28)
        assert clock.today("UTC") == D(2026, 3, 1)
        assert clock.today("Pacific/Honolulu") == D(2026, 2, 28)
