"""Time-entry reads. ``minutes_by_program`` is what the monthly billing run reads: one SQL aggregate."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import Case, IntegerField, QuerySet, Sum, Value, When

from careloop.worklist.models import RunningTimer, TimeEntry, TimeEntryRevision
from careloop.worklist.rules.timeline import month_dates

MinutesKey = tuple[int, str]


def minutes_by_program(
    *, organization_id: int, patient_ids: Iterable[int] | None, month: str
) -> dict[MinutesKey, dict[str, Any]]:
    """(patient id, program) -> {"total", "interactive", "by_staff_type": {staff type: minutes}} for the
    clinic-local calendar ``month`` ("YYYY-MM"), voided entries excluded. ``patient_ids`` None: everyone.

    The month is by date of service, which is the clinic-local date, so an entry at 23:30 local on the 31st
    belongs to that month whatever its UTC time.
    """
    first, last = month_dates(month)
    qs = TimeEntry.objects.filter(
        organization_id=organization_id, service_date__gte=first, service_date__lte=last, voided=False
    )
    ids = None if patient_ids is None else sorted(set(patient_ids))
    out: dict[MinutesKey, dict[str, Any]] = {}
    chunks = [None] if ids is None else [ids[i : i + 900] for i in range(0, len(ids), 900)]
    for chunk in chunks:
        part = qs if chunk is None else qs.filter(patient_id__in=chunk)
        rows = (
            part.values("patient_id", "program", "staff_type")
            .annotate(
                total=Sum("minutes"),
                interactive=Sum(Case(When(interactive=True, then="minutes"), default=Value(0),
                                     output_field=IntegerField())),
            )
            .order_by()
        )
        for r in rows:
            key = (r["patient_id"], r["program"])
            slot = out.setdefault(key, {"total": 0, "interactive": 0, "by_staff_type": {}})
            slot["total"] += r["total"]
            slot["interactive"] += r["interactive"]
            slot["by_staff_type"][r["staff_type"]] = slot["by_staff_type"].get(r["staff_type"], 0) + r["total"]
    return out


def patient_month_minutes(*, organization_id: int, patient_id: int, month: str) -> dict[str, dict[str, Any]]:
    """program -> totals for one patient and month (the chart's running total)."""
    data = minutes_by_program(organization_id=organization_id, patient_ids=[patient_id], month=month)
    return {program: v for (_, program), v in sorted(data.items())}


def patient_time_entries(
    *, organization_id: int, patient_id: int, month: str | None = None, include_voided: bool = True
) -> QuerySet[TimeEntry]:
    qs = TimeEntry.objects.filter(organization_id=organization_id, patient_id=patient_id)
    if month:
        first, last = month_dates(month)
        qs = qs.filter(service_date__gte=first, service_date__lte=last)
    if not include_voided:
        qs = qs.filter(voided=False)
    return qs.select_related("staff").order_by("-service_date", "-started_at", "-pk")


def time_entry_revisions(*, organization_id: int, entry_id: int) -> QuerySet[TimeEntryRevision]:
    return TimeEntryRevision.objects.filter(entry__organization_id=organization_id, entry_id=entry_id).order_by(
        "at", "pk"
    )


def running_timer(*, organization_id: int, user_id: int) -> RunningTimer | None:
    return (
        RunningTimer.objects.filter(organization_id=organization_id, user_id=user_id)
        .select_related("patient")
        .first()
    )
