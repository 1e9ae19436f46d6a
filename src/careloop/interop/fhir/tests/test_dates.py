"""interop.fhir.dates: FHIR date/dateTime parsing that refuses impossible values."""

from __future__ import annotations

import datetime as dt

import pytest

from careloop.interop.fhir.dates import BadDate, parse_date, parse_datetime

UTC = dt.UTC


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("2020", dt.date(2020, 1, 1)),
        ("2020-02", dt.date(2020, 2, 1)),
        ("2020-02-29", dt.date(2020, 2, 29)),
        ("2020-02-29T23:30:00-05:00", dt.date(2020, 2, 29)),  # the date as written, not converted to UTC
    ],
)
def test_parse_date(value: str | None, expected: dt.date | None) -> None:
    assert parse_date(value, "X.date") == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2021-02-29", "X.date: '2021-02-29' is not a real date (day is out of range for month)"),
        ("2026-02-30", "X.date: '2026-02-30' is not a real date (day is out of range for month)"),
        ("2020-00", "X.date: '2020-00' is not a real date (month must be in 1..12)"),
        ("20200101", "X.date: '20200101' is not a FHIR date"),
        ("2020/01/01", "X.date: '2020/01/01' is not a FHIR date"),
        ("", "X.date: '' is not a FHIR date"),
        (2020, "X.date: expected a date string, got int"),
        ("2020-01-01T24:61:00Z", "X.date: '2020-01-01T24:61:00Z' is not a FHIR dateTime"),
    ],
)
def test_parse_date_refuses(value: object, message: str) -> None:
    with pytest.raises(BadDate) as exc:
        parse_date(value, "X.date")
    assert str(exc.value) == message


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("2025-03-01", (dt.datetime(2025, 3, 1, tzinfo=UTC), "")),
        ("2025-03", (dt.datetime(2025, 3, 1, tzinfo=UTC), "")),
        ("2025-03-01T10:00:00-05:00", (dt.datetime(2025, 3, 1, 15, 0, tzinfo=UTC), "-05:00")),
        ("2025-03-01T10:00:00+05:30", (dt.datetime(2025, 3, 1, 4, 30, tzinfo=UTC), "+05:30")),
        ("2025-03-01T10:00:00-03:30", (dt.datetime(2025, 3, 1, 13, 30, tzinfo=UTC), "-03:30")),
        ("2025-03-01T10:00:00Z", (dt.datetime(2025, 3, 1, 10, 0, tzinfo=UTC), "+00:00")),
        ("2025-03-01T10:00:00.250+00:00", (dt.datetime(2025, 3, 1, 10, 0, 0, 250000, tzinfo=UTC), "+00:00")),
        ("2025-03-01T10:00:00", (dt.datetime(2025, 3, 1, 10, 0, tzinfo=UTC), "")),  # no zone: taken as UTC
    ],
)
def test_parse_datetime(value: str | None, expected: tuple[dt.datetime, str] | None) -> None:
    assert parse_datetime(value, "X.when") == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2025-02-29T10:00:00Z", "X.when: '2025-02-29T10:00:00Z' is not a FHIR dateTime"),
        ("2025-03-01T25:00:00Z", "X.when: '2025-03-01T25:00:00Z' is not a FHIR dateTime"),
        ("2025-02-30", "X.when: '2025-02-30' is not a real date (day is out of range for month)"),
        ("yesterday", "X.when: 'yesterday' is not a FHIR date"),
        (1740787200, "X.when: expected a dateTime string, got int"),
    ],
)
def test_parse_datetime_refuses(value: object, message: str) -> None:
    with pytest.raises(BadDate) as exc:
        parse_datetime(value, "X.when")
    assert str(exc.value) == message
