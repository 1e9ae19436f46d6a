"""Transition deadline arithmetic and medication reconciliation: tables of cases (pure, no database)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from careloop.transitions import rules
from careloop.transitions.rules import Med

NY = ZoneInfo("America/New_York")


@pytest.mark.parametrize(("discharged_local", "contact_due"), [
    (dt.datetime(2026, 3, 9, 10), dt.date(2026, 3, 11)),  # Mon -> Wed
    (dt.datetime(2026, 3, 12, 15), dt.date(2026, 3, 16)),  # Thu -> Mon
    (dt.datetime(2026, 3, 13, 9), dt.date(2026, 3, 17)),  # Fri -> Tue
    (dt.datetime(2026, 3, 14, 9), dt.date(2026, 3, 17)),  # Sat -> Tue
    (dt.datetime(2026, 3, 15, 23, 30), dt.date(2026, 3, 17)),  # Sun late -> Tue
    (dt.datetime(2026, 11, 25, 12), dt.date(2026, 11, 30)),  # Wed before Thanksgiving -> Mon
    (dt.datetime(2026, 11, 27, 12), dt.date(2026, 12, 1)),  # Fri after Thanksgiving -> Tue
    (dt.datetime(2026, 12, 24, 8), dt.date(2026, 12, 29)),  # Thu, Christmas Fri -> Tue
    (dt.datetime(2026, 12, 31, 8), dt.date(2027, 1, 5)),  # year end, New Year's Day Fri -> Tue
    (dt.datetime(2026, 1, 30, 8), dt.date(2026, 2, 3)),  # month end Fri -> Tue
    (dt.datetime(2026, 7, 2, 8), dt.date(2026, 7, 7)),  # Thu; July 4 Sat observed Fri 3 -> Tue
    (dt.datetime(2026, 5, 22, 8), dt.date(2026, 5, 27)),  # Fri before Memorial Day -> Wed
])
def test_contact_due_is_end_of_second_business_day(discharged_local: dt.datetime, contact_due: dt.date) -> None:
    d = rules.deadlines(discharged_local.replace(tzinfo=NY), NY)
    assert d.contact_due == dt.datetime.combine(contact_due, dt.time(23, 59, 59), NY)


def test_discharge_late_evening_utc_counts_in_the_clinic_zone() -> None:
    # 02:00 UTC Saturday is still Friday 21:00 in New York: the discharge day is Friday.
    d = rules.deadlines(dt.datetime(2026, 3, 14, 2, 0, tzinfo=dt.UTC), NY)
    assert d.contact_due.date() == dt.date(2026, 3, 17)
    assert d.followup_due.date() == dt.date(2026, 3, 20)


@pytest.mark.parametrize(("day", "d7", "d14"), [
    (dt.date(2026, 3, 9), dt.date(2026, 3, 16), dt.date(2026, 3, 23)),
    (dt.date(2026, 1, 28), dt.date(2026, 2, 4), dt.date(2026, 2, 11)),  # across a month end
    (dt.date(2026, 2, 20), dt.date(2026, 2, 27), dt.date(2026, 3, 6)),  # February
    (dt.date(2026, 12, 25), dt.date(2027, 1, 1), dt.date(2027, 1, 8)),  # calendar days ignore holidays
])
def test_visit_and_followup_windows_are_calendar_days(day: dt.date, d7: dt.date, d14: dt.date) -> None:
    d = rules.deadlines(dt.datetime.combine(day, dt.time(12), NY), NY)
    assert (d.followup_due.date(), d.visit_due_high.date(), d.visit_due_moderate.date()) == (d7, d7, d14)
    assert d.medrec_due == d.visit_due_moderate
    assert d.visit_due_high.time() == dt.time(23, 59, 59)


@pytest.mark.parametrize(("class_code", "facility", "setting"), [
    ("IMP", "General Hospital", "inpatient"), ("OBSENC", "", "observation"), ("EMER", "", "emergency"),
    ("IMP", "Maple SNF", "snf"), ("IMP", "Oak Skilled Nursing", "snf"), ("AMB", "", None), ("VR", "", None),
])
def test_setting_for(class_code: str, facility: str, setting: str | None) -> None:
    assert rules.setting_for(class_code, facility) == setting


@pytest.mark.parametrize(("disposition", "tcm"), [
    ("01", True), ("home", True), ("", True), ("06", True), ("03", False), ("snf", False), ("50", False),
    ("51", False), ("20", False), ("exp", False), ("EXP", False),
])
def test_tcm_clock_by_disposition(disposition: str, tcm: bool) -> None:
    assert rules.starts_tcm_clock(disposition) is tcm


def test_readmission_window() -> None:
    out = dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)
    assert rules.is_readmission(out, out + dt.timedelta(days=30))
    assert not rules.is_readmission(out, out + dt.timedelta(days=30, seconds=1))
    assert not rules.is_readmission(out, out - dt.timedelta(hours=1))
    assert not rules.is_readmission(None, out)


def test_countdown() -> None:
    now = dt.datetime(2026, 3, 9, 12, tzinfo=dt.UTC)
    assert rules.remaining(now + dt.timedelta(days=2, hours=3), now) == "2d 3h"
    assert rules.remaining(now + dt.timedelta(hours=5, minutes=10), now) == "5h"
    assert rules.remaining(now - dt.timedelta(days=1, hours=1), now) == "overdue 1d 1h"


def test_reconcile_worksheet() -> None:
    discharge = [
        Med("197361", "Amlodipine 5 MG Oral Tablet", "5 mg daily"),  # unchanged (RxNorm)
        Med("", "Metformin 500 mg tablet", "1000 mg twice daily"),  # changed (by name)
        Med("312961", "Simvastatin 20 MG", "20 mg nightly"),  # new
    ]
    clinic = [
        Med("197361", "amlodipine 5mg", "5 mg daily"),
        Med("860975", "METFORMIN 500 MG TABLET", "500 mg twice daily"),
        Med("310798", "Hydrochlorothiazide 25 MG", "25 mg daily"),  # stopped
    ]
    lines = rules.reconcile(discharge, clinic)
    assert [(ln.change, ln.display) for ln in lines] == [
        ("new", "Simvastatin 20 MG"),
        ("changed", "Metformin 500 mg tablet"),
        ("stopped", "Hydrochlorothiazide 25 MG"),
        ("unchanged", "Amlodipine 5 MG Oral Tablet"),
    ]
    changed = lines[1]
    assert (changed.rxnorm, changed.discharge_dosage, changed.clinic_dosage) == (
        "860975", "1000 mg twice daily", "500 mg twice daily")


def test_reconcile_empty_lists() -> None:
    assert rules.reconcile([], []) == []
    assert [ln.change for ln in rules.reconcile([], [Med("1", "A")])] == ["stopped"]
