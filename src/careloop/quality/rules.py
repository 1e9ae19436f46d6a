"""Measure evaluation as a pure function: a patient's FHIR Bundle, a period and value sets in; counts out.

No database, no clock: callers pass the measurement period and the value sets (from a folder or from
``selectors.valueset_index``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from careloop.quality.engine.context import Context
from careloop.quality.engine.fhir import PatientData
from careloop.quality.engine.period import MeasurementPeriod
from careloop.quality.engine.valuesets import ValueSetIndex
from careloop.quality.measures.base import Measure, MeasureResult, evaluate

# The context of the last patient evaluated: measures evaluated in turn for one patient share it (a Context holds
# nothing of its own but the period as an interval and references to the patient's caches).
_last: tuple[PatientData, MeasurementPeriod, ValueSetIndex, Context] | None = None


def evaluate_patient(
    measure: Measure, data: PatientData, period: MeasurementPeriod, valuesets: ValueSetIndex
) -> MeasureResult:
    global _last
    last = _last
    if last is not None and last[0] is data and last[2] is valuesets and last[1] == period:
        ctx = last[3]
    else:
        ctx = Context(data, period, valuesets)
        _last = (data, period, valuesets, ctx)
    return evaluate(measure, ctx)


def evaluate_bundle(
    measure: Measure, bundle: Mapping[str, Any], period: MeasurementPeriod, valuesets: ValueSetIndex
) -> MeasureResult:
    """Evaluate one patient's standalone Bundle (type collection or similar)."""
    return evaluate_patient(measure, PatientData.from_bundle(bundle), period, valuesets)
