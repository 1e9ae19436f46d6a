"""Quality over REST (``/api/quality/...``): measure performance (practice and per clinician), the MVP summary,
care-gap lists (JSON or CSV), a patient's gaps, gap-closure tasks and utilization. Role-checked (``quality.*``),
scoped to the caller's organization and audited in ``reports`` and ``clinicians``."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from ninja import Router

from careloop.accounts.permissions import actor_from_request
from careloop.core import clock
from careloop.core.errors import ValidationFailed
from careloop.quality import clinicians, reports
from careloop.quality.engine.period import MeasurementPeriod
from careloop.quality.utilization import utilization_report

router = Router(tags=["quality"])


def period_bounds(text: str) -> tuple[dt.date, dt.date]:
    """``START:END``, or the current calendar year when empty."""
    if not text:
        year = clock.today().year
        return dt.date(year, 1, 1), dt.date(year, 12, 31)
    try:
        mp = MeasurementPeriod.parse(text)
    except ValueError as exc:
        raise ValidationFailed(str(exc), field_errors={"period": str(exc)}) from None
    return mp.first, mp.last


@router.get("/measures")
def measures(request: HttpRequest, period: str = "") -> dict[str, Any]:
    first, last = period_bounds(period)
    with transaction.atomic():
        rows = reports.measure_performance(actor=actor_from_request(request), first=first, last=last)
    return {"period": f"{first}:{last}", "measures": rows, "mvp": reports.mvp_summary(rows)}


@router.get("/measures/{measure}/trend")
def trend(request: HttpRequest, measure: str, year: int = 0) -> list[dict[str, Any]]:
    return reports.monthly_trend(actor=actor_from_request(request), measure=measure.upper(),
                                 year=year or clock.today().year)


@router.get("/gaps", response={200: Any})
def gaps(request: HttpRequest, period: str = "", measure: str = "", status: str = "open",
         format: str = "json") -> Any:  # noqa: A002 - the query parameter's name
    first, last = period_bounds(period)
    with transaction.atomic():
        rows = reports.gap_patients(actor=actor_from_request(request), first=first, last=last,
                                    measure=measure or None, status=status)
    if format == "csv":
        response = HttpResponse(reports.gaps_csv(rows), content_type="text/csv")
        response["Content-Disposition"] = f'attachment; filename="care-gaps-{measure or "all"}-{first}-{last}.csv"'
        return response
    return rows


@router.get("/clinicians")
def clinician_measures(request: HttpRequest, period: str = "") -> dict[str, Any]:
    """Rates per measure per attributed clinician (leaders and administrators: all; others: their own)."""
    first, last = period_bounds(period)
    with transaction.atomic():
        rows = clinicians.clinician_performance(actor=actor_from_request(request), first=first, last=last)
    return {"period": f"{first}:{last}", "clinicians": rows}


@router.get("/clinicians/{clinician_id}/gaps", response={200: Any})
def clinician_gaps(request: HttpRequest, clinician_id: int, period: str = "", measure: str = "",
                   status: str = "open", format: str = "json") -> Any:  # noqa: A002 - the query parameter's name
    first, last = period_bounds(period)
    with transaction.atomic():
        rows = clinicians.clinician_gaps(actor=actor_from_request(request), clinician_id=clinician_id, first=first,
                                         last=last, measure=measure or None, status=status)
    if format == "csv":
        response = HttpResponse(reports.gaps_csv(rows), content_type="text/csv")
        response["Content-Disposition"] = (
            f'attachment; filename="care-gaps-clinician-{clinician_id}-{measure or "all"}-{first}-{last}.csv"')
        return response
    return rows


@router.get("/patients/{patient_id}/gaps")
def patient_gaps(request: HttpRequest, patient_id: int) -> list[dict[str, Any]]:
    with transaction.atomic():
        return reports.patient_gaps(actor=actor_from_request(request), patient_id=patient_id)


@router.post("/gaps/{gap_id}/task")
def gap_task(request: HttpRequest, gap_id: int) -> dict[str, Any]:
    with transaction.atomic():
        out = reports.create_gap_tasks(actor=actor_from_request(request), first=dt.date.min, last=dt.date.max,
                                       gap_id=gap_id)
    return {"created": out.created_ids, "existing": out.existing}


@router.post("/gaps/tasks")
def gap_tasks(request: HttpRequest, period: str = "", measure: str = "") -> dict[str, Any]:
    first, last = period_bounds(period)
    with transaction.atomic():
        out = reports.create_gap_tasks(actor=actor_from_request(request), first=first, last=last,
                                       measure=measure or None)
    return {"created": len(out.created_ids), "existing": out.existing}


@router.get("/utilization")
def utilization(request: HttpRequest, period: str = "") -> dict[str, Any]:
    first, last = period_bounds(period)
    return utilization_report(actor=actor_from_request(request), first=first, last=last)
