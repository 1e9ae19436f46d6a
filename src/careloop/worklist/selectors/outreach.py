"""Outreach reads: contact history and the TCM interactive-contact evidence."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import QuerySet

from careloop.worklist.models import OutreachAttempt, TimeEntry
from careloop.worklist.rules import timeline
from careloop.worklist.rules.timeline import Attempt, TcmContactEvidence


def contact_history(*, organization_id: int, patient_id: int, limit: int = 50) -> QuerySet[OutreachAttempt]:
    return (
        OutreachAttempt.objects.filter(organization_id=organization_id, patient_id=patient_id)
        .select_related("user", "task")
        .order_by("-at", "-pk")[:limit]
    )


def tcm_contact_evidence(
    *, organization_id: int, patient_id: int, start: dt.datetime, end: dt.datetime
) -> TcmContactEvidence:
    """Evidence for TCM-002 between ``start`` (discharge) and ``end`` (the 2nd business day's end): an
    interactive contact, or at least two timely attempts on an interactive channel (cms-rules 3.3)."""
    rows = OutreachAttempt.objects.filter(
        organization_id=organization_id, patient_id=patient_id, at__gte=start, at__lte=end
    ).values_list("pk", "at", "channel", "outcome")
    return timeline.tcm_contact_evidence([Attempt(*r) for r in rows], start, end)


def patients_contacted_in_month(*, organization_id: int, month: str, zone: ZoneInfo) -> list[QuerySet[Any]]:
    """Subqueries of ``patient_id`` values with a contact this month: an outreach attempt that reached them,
    or time logged as real-time interactive communication. For set-based jobs (``exclude(patient_id__in=q)``
    for each)."""
    start, end = timeline.month_utc_bounds(month, zone)
    first, last = timeline.month_dates(month)
    reached = OutreachAttempt.objects.filter(
        organization_id=organization_id, outcome="reached", at__gte=start, at__lt=end
    ).values("patient_id")
    interactive = TimeEntry.objects.filter(
        organization_id=organization_id, interactive=True, voided=False, service_date__gte=first,
        service_date__lte=last,
    ).values("patient_id")
    return [reached, interactive]
