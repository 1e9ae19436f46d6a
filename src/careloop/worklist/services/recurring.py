"""Recurring work: rules that create tasks on a schedule, set-based, deduplicated per patient and period.

Monthly check-in: every patient with a designated care-team member in force during the month (until the
programs/enrollment issue lands, that is what "enrolled" means) and no contact yet this month gets one
``monthly_checkin`` task, dedupe key ``monthly_checkin:<patient>:<YYYY-MM>``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from careloop.clinics.models import Organization
from careloop.core import clock
from careloop.core.actor import Actor
from careloop.programs import selectors as programs
from careloop.worklist import selectors
from careloop.worklist.rules import timeline
from careloop.worklist.services._common import require
from careloop.worklist.services.tasks import BulkCreateResult, TaskSpec, create_tasks_bulk


@dataclass
class RecurringResult:
    month: str
    candidates: int
    created: int
    existing: int


def monthly_checkin_key(patient_id: int, month: str) -> str:
    return f"monthly_checkin:{patient_id}:{month}"


def run_monthly_checkins(
    *, organization_id: int, month: str, actor: Actor, now: dt.datetime | None = None
) -> RecurringResult:
    require(actor, organization_id, "worklist.team")
    now = now or clock.now()
    tz = Organization.objects.filter(pk=organization_id).values_list("time_zone", flat=True).get()
    zone = clock.clinic_zone(tz)
    first, last = timeline.month_dates(month)
    qs = programs.designations_in_period(organization_id=organization_id, first=first, last=last)
    for contacted in selectors.patients_contacted_in_month(organization_id=organization_id, month=month, zone=zone):
        qs = qs.exclude(patient_id__in=contacted)
    patient_ids = sorted(set(qs.values_list("patient_id", flat=True)))
    due, deadline = timeline.monthly_checkin_times(month, now=now, zone=zone)
    label = dt.date(first.year, first.month, 1).strftime("%B %Y")
    specs = [
        TaskSpec(
            patient_id=pid, task_type="monthly_checkin", reason=f"Monthly check-in for {label}: no contact yet",
            dedupe_key=monthly_checkin_key(pid, month), source_type="RecurringRule", source_id="monthly_checkin",
            due_at=due, deadline_at=deadline,
        )
        for pid in patient_ids
    ]
    result: BulkCreateResult = create_tasks_bulk(organization_id=organization_id, specs=specs, actor=actor)
    return RecurringResult(month, len(specs), len(result.created_ids), result.existing)


def run_recurring(*, month: str | None = None, now: dt.datetime | None = None) -> dict[int, RecurringResult]:
    """Every recurring rule for every organization (the scheduler's daily job). ``month`` defaults to the
    current clinic-local month of each organization."""
    now = now or clock.now()
    out: dict[int, RecurringResult] = {}
    for org_id, tz in Organization.objects.values_list("pk", "time_zone"):
        key = month or timeline.month_key(now.astimezone(clock.clinic_zone(tz)).date())
        out[org_id] = run_monthly_checkins(organization_id=org_id, month=key, now=now,
                                           actor=Actor.system(org_id, "worklist recurring"))
    return out
