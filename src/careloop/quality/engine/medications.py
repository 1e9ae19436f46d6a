"""Medication supply periods (the ``CumulativeMedicationDuration`` library's ``medicationRequestPeriod``).

The supply of one order covers ``days supplied x (1 + refills)`` days from the first day it can be taken: the
start of the dosage bounds, else the day it was written, else the start of its validity period. Days supplied is
the expected supply duration, else quantity / (dose x doses per day). Without either, a dosage bounds period
with an end gives the period directly.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from careloop.quality.engine.fhir import has_code, parse_date, period_span, quantity
from careloop.quality.engine.period import Span, day_start

_PER_DAY_FACTOR = {
    "h": 24.0, "hour": 24.0, "hours": 24.0,
    "min": 24.0 * 60, "minute": 24.0 * 60, "minutes": 24.0 * 60,
    "s": 24.0 * 3600, "second": 24.0 * 3600, "seconds": 24.0 * 3600,
    "d": 1.0, "day": 1.0, "days": 1.0,
    "wk": 1 / 7, "week": 1 / 7, "weeks": 1 / 7,
    "mo": 1 / 30, "month": 1 / 30, "months": 1 / 30,
    "a": 1 / 365, "year": 1 / 365, "years": 1 / 365,
}

_DAYS_PER_UNIT = {
    "d": 1.0, "day": 1.0, "days": 1.0,
    "wk": 7.0, "week": 7.0, "weeks": 7.0,
    "h": 1 / 24, "hour": 1 / 24, "hours": 1 / 24,
    "mo": 30.0, "month": 30.0, "months": 30.0,
    "a": 365.0, "year": 365.0, "years": 365.0,
}

_SNOMED = "http://snomed.info/sct"
# SNOMED CT frequency codes the library maps to doses per day.
_FREQUENCY_CODES = {
    "229797004": 1.0, "229799001": 2.0, "229798009": 3.0, "307439001": 4.0, "396125000": 1.0, "307470009": 2.0,
    "396126004": 0.67, "307469008": 3.0, "225756002": 6.0, "307468000": 4.0, "396143001": 0.33,
    "396131002": 0.5, "396140003": 3.0, "396139000": 4.0, "225754004": 8.0, "396127008": 8.0,
    "225752000": 12.0, "396109005": 4.0, "396108002": 3.0, "396107007": 2.0, "396111001": 4.0,
}


def _single(items: object) -> Mapping[str, Any] | None:
    if isinstance(items, list) and len(items) == 1 and isinstance(items[0], dict):
        return items[0]
    return None


def doses_per_day(dosage: Mapping[str, Any] | None) -> float | None:
    """``Coalesce(ToDaily(frequency, period), Count(timeOfDay), 1.0)``."""
    if dosage is None:
        return 1.0
    timing = dosage.get("timing") or {}
    repeat = timing.get("repeat") or {}
    frequency = repeat.get("frequencyMax", repeat.get("frequency"))
    period, unit = repeat.get("period"), repeat.get("periodUnit")
    if isinstance(frequency, int | float) and isinstance(period, int | float) and period and unit in _PER_DAY_FACTOR:
        return float(frequency) * _PER_DAY_FACTOR[unit] / float(period)
    code = timing.get("code")
    if isinstance(code, dict):
        for snomed_code, per_day in _FREQUENCY_CODES.items():
            if has_code(code, (_SNOMED, snomed_code)):
                return per_day
    times = repeat.get("timeOfDay")
    if isinstance(times, list):
        return float(len(times))  # Count() of an empty list is 0: no usable schedule
    return 0.0


def _dose_value(dosage: Mapping[str, Any] | None) -> float | None:
    dose_and_rate = _single((dosage or {}).get("doseAndRate"))
    if dose_and_rate is None:
        return None
    if isinstance(dose_and_rate.get("doseRange"), dict):
        dose = quantity(dose_and_rate["doseRange"].get("high"))
    else:
        dose = quantity(dose_and_rate.get("doseQuantity"))
    return dose.value if dose is not None else None


def days_supplied(request: Mapping[str, Any]) -> float | None:
    """Total days supplied including refills (CMS156 ``medicationRequestPeriodInDays``)."""
    dispense = request.get("dispenseRequest") or {}
    refills = dispense.get("numberOfRepeatsAllowed")
    refills = refills if isinstance(refills, int) and not isinstance(refills, bool) else 0
    duration = quantity(dispense.get("expectedSupplyDuration"))
    days: float | None = None
    if duration is not None and duration.unit in _DAYS_PER_UNIT:
        days = duration.value * _DAYS_PER_UNIT[duration.unit]
    else:
        dosage = _single(request.get("dosageInstruction"))
        supply = quantity(dispense.get("quantity"))
        dose = _dose_value(dosage)
        per_day = doses_per_day(dosage)
        if supply is not None and dose and per_day:
            days = supply.value / (dose * per_day)
    return days * (1 + refills) if days is not None else None


def _bounds(request: Mapping[str, Any]) -> Span | None:
    dosage = _single(request.get("dosageInstruction"))
    repeat = ((dosage or {}).get("timing") or {}).get("repeat") or {}
    return period_span(repeat.get("boundsPeriod"))


def start_date(request: Mapping[str, Any]) -> dt.date | None:
    bounds = _bounds(request)
    if bounds is not None and bounds.start.date() is not None:
        return bounds.start.date()
    authored = parse_date(request.get("authoredOn"))
    if authored is not None:
        return authored
    validity = period_span((request.get("dispenseRequest") or {}).get("validityPeriod"))
    return validity.start.date() if validity is not None else None


def request_period(request: Mapping[str, Any]) -> Span | None:
    """``medicationRequestPeriod()``: the days an order's supply covers, as whole days (start of each day)."""
    first = start_date(request)
    if first is None:
        return None
    total = days_supplied(request)
    if total is not None:
        last = first + dt.timedelta(days=int(total) - 1)
        return Span.of(day_start(first), day_start(last))
    bounds = _bounds(request)
    if bounds is not None and bounds.has_end and bounds.end.date() is not None:
        last_day = bounds.end.date()
        assert last_day is not None
        return Span.of(day_start(first), day_start(last_day))
    return None

