"""Time primitives: uncertain points, day-precision timing phrases, calendar arithmetic, ages."""

from __future__ import annotations

import datetime as dt

import pytest

from careloop.quality.engine.fhir import parse_point, period_span
from careloop.quality.engine.period import (
    MAX,
    UTC,
    MeasurementPeriod,
    Point,
    Span,
    add_months,
    age_in_years,
    all3,
    any3,
    during,
    ends_during,
    lt,
    not3,
    overlaps,
    overlaps_after,
    overlaps_before,
    same,
    within,
)

MP = MeasurementPeriod.calendar_year(2026)


def at(text: str) -> Point:
    point = parse_point(text)
    assert point is not None
    return point


def span(start: str, end: str) -> Span:
    return Span(at(start), at(end))


def test_measurement_period_parse_and_bounds() -> None:
    mp = MeasurementPeriod.parse("2026-01-01:2026-12-31")
    assert mp == MP
    assert mp.start.lo == dt.datetime(2026, 1, 1, tzinfo=UTC)
    assert mp.end.lo == dt.datetime(2026, 12, 31, 23, 59, 59, 999000, tzinfo=UTC)
    assert str(mp) == "2026-01-01:2026-12-31"


@pytest.mark.parametrize("text", ["2026-01-01", "2026-01-01:2025-12-31", "2026-13-01:2026-12-31", "x:y"])
def test_measurement_period_rejects_bad_text(text: str) -> None:
    with pytest.raises(ValueError, match="measurement period"):
        MeasurementPeriod.parse(text)


@pytest.mark.parametrize(
    ("text", "lo", "hi"),
    [
        ("2026-03-04T10:20:30.123+00:00", "2026-03-04T10:20:30.123", "2026-03-04T10:20:30.123"),
        ("2026-03-04T10:20:30Z", "2026-03-04T10:20:30.000", "2026-03-04T10:20:30.999"),
        ("2026-03-04T05:20:30.000-05:00", "2026-03-04T10:20:30.000", "2026-03-04T10:20:30.000"),
        ("2026-03-04", "2026-03-04T00:00:00.000", "2026-03-04T23:59:59.999"),
        ("2026-02", "2026-02-01T00:00:00.000", "2026-02-28T23:59:59.999"),
        ("2026", "2026-01-01T00:00:00.000", "2026-12-31T23:59:59.999"),
    ],
)
def test_parse_point_keeps_precision_as_uncertainty(text: str, lo: str, hi: str) -> None:
    point = at(text)
    assert point.lo == dt.datetime.fromisoformat(lo + "+00:00")
    assert point.hi == dt.datetime.fromisoformat(hi + "+00:00")


def test_parse_point_refuses_impossible_values() -> None:
    assert parse_point("2026-02-30") is None
    assert parse_point("soon") is None
    assert parse_point(None) is None


def test_period_without_end_runs_to_end_of_time_and_without_start_is_unknown() -> None:
    open_end = period_span({"start": "2026-05-01T00:00:00Z"})
    assert open_end is not None and open_end.end == Point.at(MAX) and not open_end.has_end
    open_start = period_span({"end": "2026-05-01T00:00:00.000Z"})
    assert open_start is not None and not open_start.has_start
    assert during(open_start, MP.span, day=True) is None  # it might have started before the period


def test_day_precision_edges_of_the_period() -> None:
    assert within(at("2026-12-31T23:59:59.999Z"), MP.span) is True
    assert within(at("2027-01-01T00:00:00.000Z"), MP.span) is False
    assert within(at("2025-12-31T23:59:59.999Z"), MP.span, day=True) is False
    assert within(at("2026-01-01"), MP.span) is True  # a whole day inside the period
    assert within(at("2026-12"), MP.span, day=True) is True


def test_uncertain_comparisons_return_unknown() -> None:
    day = at("2026-06-01")
    noon = at("2026-06-01T12:00:00.000Z")
    assert lt(day, noon) is None
    assert same(day, noon, day=True) is True
    assert lt(day, at("2026-06-02T00:00:00.000Z")) is True


def test_interval_relations() -> None:
    x = span("2025-12-01T00:00:00.000Z", "2026-01-01T08:00:00.000Z")
    assert overlaps(x, MP.span, day=True) is True
    assert overlaps_before(x, MP.span, day=True) is True
    assert overlaps_after(x, MP.span, day=True) is False
    assert ends_during(x, MP.span, day=True) is True
    assert during(x, MP.span, day=True) is False
    later = span("2026-12-31T00:00:00.000Z", "2027-01-02T00:00:00.000Z")
    assert overlaps_after(later, MP.span, day=True) is True


def test_unknown_end_is_at_least_its_start() -> None:
    started_in_period = Span(at("2026-03-01"), Point(at("2026-03-01").lo, MAX))
    assert overlaps(started_in_period, MP.span) is True
    started_before = Span(at("2025-03-01"), Point(at("2025-03-01").lo, MAX))
    assert overlaps(started_before, MP.span) is None


def test_three_valued_logic() -> None:
    assert all3(True, None) is None and all3(False, None) is False
    assert any3(False, None) is None and any3(True, None) is True
    assert not3(None) is None and not3(True) is False


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        ("2026-01-31", 1, "2026-02-28"),
        ("2024-02-29", -12, "2023-02-28"),
        ("2026-01-01", -14, "2024-11-01"),
        ("2026-07-31", 6, "2027-01-31"),
    ],
)
def test_add_months_clamps_to_month_end(start: str, months: int, expected: str) -> None:
    moment = dt.datetime.fromisoformat(start + "T00:00:00+00:00")
    assert add_months(moment, months).date() == dt.date.fromisoformat(expected)


@pytest.mark.parametrize(
    ("birth", "on", "age"),
    [
        ("2008-12-31", "2026-12-31", 18),  # 18th birthday on the last day of the period
        ("2009-01-01", "2026-12-31", 17),
        ("1951-01-01", "2026-12-31", 75),
        ("1950-12-31", "2026-12-31", 76),
        ("2008-02-29", "2026-02-28", 17),  # leap-day birthday: a year older on Mar 1
        ("2008-02-29", "2026-03-01", 18),
    ],
)
def test_age_in_years(birth: str, on: str, age: int) -> None:
    assert age_in_years(dt.date.fromisoformat(birth), dt.date.fromisoformat(on)) == age
