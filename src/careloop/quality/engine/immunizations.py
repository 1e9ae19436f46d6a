"""Immunizations given (Immunization, Status ``isImmunizationAdministered``) or recorded as a procedure."""

from __future__ import annotations

from careloop.quality.engine.context import Context
from careloop.quality.engine.fhir import Code
from careloop.quality.engine.period import Point, Span, within
from careloop.quality.engine.qicore import is_completed, resources


def vaccinated_within(ctx: Context, window: Span, vaccines: str, procedures: str | None = None,
                      codes: tuple[Code, ...] = ()) -> bool:
    """A completed immunization with a vaccine in ``vaccines`` (or a completed procedure in ``procedures``)
    given on a day within the window."""
    data = ctx.data
    for imm in resources(ctx, "Immunization", vaccines, codes=codes):
        span = data.span(imm, "occurrence")
        if is_completed(imm) and span is not None and within(span.start, window, day=True) is True:
            return True
    if procedures is None:
        return False
    for proc in resources(ctx, "Procedure", procedures):
        span = data.span(proc, "performed")
        if is_completed(proc) and span is not None and within(span.start, window, day=True) is True:
            return True
    return False


def died_during(ctx: Context, window: Span) -> bool:
    """Patient.deceased within the window (a bare ``deceasedBoolean: true`` counts: the date is unknown)."""
    patient = ctx.data.patient
    if patient.get("deceasedBoolean") is True:
        return True
    when = ctx.data.point(patient, "deceasedDateTime")
    return isinstance(when, Point) and within(when, window, day=True) is True
