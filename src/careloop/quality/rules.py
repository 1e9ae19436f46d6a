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


def evaluate_patient(
    measure: Measure, data: PatientData, period: MeasurementPeriod, valuesets: ValueSetIndex
) -> MeasureResult:
    return evaluate(measure, Context(data, period, valuesets))


def evaluate_bundle(
    measure: Measure, bundle: Mapping[str, Any], period: MeasurementPeriod, valuesets: ValueSetIndex
) -> MeasureResult:
    """Evaluate one patient's standalone Bundle (type collection or similar)."""
    return evaluate_patient(measure, PatientData.from_bundle(bundle), period, valuesets)
