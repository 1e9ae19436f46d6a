"""Patient-level routes (the chart panel): open tasks, outreach, TCM evidence, time, the timer, month minutes."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.http import HttpRequest

from careloop.audit.services import EventSpec, record_event, record_events
from careloop.core import clock
from careloop.core.errors import ValidationFailed
from careloop.registry import selectors as registry
from careloop.worklist import selectors, services
from careloop.worklist.api import schemas as s
from careloop.worklist.api._common import actor_with, org, queue_row
from careloop.worklist.api.router import router
from careloop.worklist.rules import timeline
from careloop.worklist.selectors.tasks import QUEUE_FIELDS

OWN_OR_TEAM = ("worklist.own", "worklist.team")


def _month(month: str, organization_id: int) -> str:
    if not month:
        return timeline.month_key(clock.today(str(selectors.organization_zone(organization_id))))
    try:
        timeline.parse_month(month)
    except ValueError as exc:
        raise ValidationFailed(str(exc), field_errors={"month": "YYYY-MM"}) from exc
    return month


@router.get("/patients/{int:patient_id}/tasks", response=list[s.QueueTaskOut])
def patient_tasks(request: HttpRequest, patient_id: int) -> list[dict[str, Any]]:
    actor = actor_with(request, *OWN_OR_TEAM)
    registry.patient_by_id(actor=actor, patient_id=patient_id)
    rows = selectors.patient_open_tasks(organization_id=org(actor), patient_id=patient_id).values(*QUEUE_FIELDS)
    with transaction.atomic():
        record_event(actor=actor, action="task.listed", patient_id=patient_id, object_type="Patient",
                     object_id=str(patient_id))
    return [queue_row(r) for r in rows]


@router.get("/patients/{int:patient_id}/outreach", response=list[s.OutreachOut])
def outreach_history(request: HttpRequest, patient_id: int, limit: int = 50) -> list[Any]:
    actor = actor_with(request, *OWN_OR_TEAM)
    registry.patient_by_id(actor=actor, patient_id=patient_id)
    rows = list(selectors.contact_history(organization_id=org(actor), patient_id=patient_id,
                                          limit=min(max(limit, 1), 200)))
    with transaction.atomic():
        record_event(actor=actor, action="outreach.viewed", patient_id=patient_id, object_type="Patient",
                     object_id=str(patient_id))
    return rows


@router.post("/patients/{int:patient_id}/outreach", response={201: s.OutreachOut})
def log_outreach(request: HttpRequest, patient_id: int, body: s.OutreachIn) -> tuple[int, Any]:
    actor = actor_with(request, "worklist.own")
    at = body.at.replace(tzinfo=dt.UTC) if body.at is not None and body.at.tzinfo is None else body.at
    attempt = services.log_outreach(
        organization_id=org(actor), patient_id=patient_id, channel=body.channel, outcome=body.outcome, at=at,
        task_id=body.task_id, note=body.note, script_key=body.script_key, minutes=body.minutes,
        program=body.program, actor=actor,
    )
    return 201, attempt


@router.get("/patients/{int:patient_id}/tcm-evidence", response=s.TcmEvidenceOut)
def tcm_evidence(request: HttpRequest, patient_id: int, start: dt.datetime, end: dt.datetime) -> Any:
    """TCM-002 evidence between two times: an interactive contact, or at least two timely attempts."""
    actor = actor_with(request, *OWN_OR_TEAM, "time.read")
    registry.patient_by_id(actor=actor, patient_id=patient_id)
    start = start.replace(tzinfo=dt.UTC) if start.tzinfo is None else start
    end = end.replace(tzinfo=dt.UTC) if end.tzinfo is None else end
    evidence = selectors.tcm_contact_evidence(organization_id=org(actor), patient_id=patient_id, start=start, end=end)
    with transaction.atomic():
        record_event(actor=actor, action="outreach.viewed", patient_id=patient_id, object_type="Patient",
                     object_id=str(patient_id), detail={"purpose": "tcm-evidence"})
    return evidence


def _totals(organization_id: int, patient_id: int, month: str) -> list[dict[str, Any]]:
    data = selectors.patient_month_minutes(organization_id=organization_id, patient_id=patient_id, month=month)
    return [{"program": p, **v} for p, v in data.items()]


@router.get("/patients/{int:patient_id}/time", response=s.PatientTimeOut)
def patient_time(request: HttpRequest, patient_id: int, month: str = "") -> dict[str, Any]:
    """This month's (or ``month``'s) minutes by program and the entries behind them (voided ones included)."""
    actor = actor_with(request, "time.read")
    registry.patient_by_id(actor=actor, patient_id=patient_id)
    month = _month(month, org(actor))
    entries = list(selectors.patient_time_entries(organization_id=org(actor), patient_id=patient_id, month=month))
    with transaction.atomic():
        record_event(actor=actor, action="time_entry.viewed", patient_id=patient_id, object_type="Patient",
                     object_id=str(patient_id), detail={"month": month})
    return {"month": month, "totals": _totals(org(actor), patient_id, month), "entries": entries}


@router.post("/patients/{int:patient_id}/time", response={201: s.TimeEntryOut})
def add_time(request: HttpRequest, patient_id: int, body: s.TimeEntryIn) -> tuple[int, Any]:
    actor = actor_with(request, "time.write", "time.edit_any")
    entry = services.add_time_entry(
        organization_id=org(actor), patient_id=patient_id, minutes=body.minutes, activity=body.activity,
        program=body.program, interactive=body.interactive, service_date=body.service_date,
        start_time=body.start_time, staff_user_id=body.staff_user_id, staff_type=body.staff_type, note=body.note,
        task_id=body.task_id, actor=actor,
    )
    return 201, entry


@router.patch("/time/{int:entry_id}", response=s.TimeEntryOut)
def edit_time(request: HttpRequest, entry_id: int, body: s.TimeEditIn) -> Any:
    actor = actor_with(request, "time.write", "time.edit_any")
    changes = body.dict(exclude_unset=True)
    reason = changes.pop("reason")
    return services.edit_time_entry(organization_id=org(actor), entry_id=entry_id, changes=changes, reason=reason,
                                    actor=actor)


@router.post("/time/{int:entry_id}/void", response=s.TimeEntryOut)
def void_time(request: HttpRequest, entry_id: int, body: s.VoidIn) -> Any:
    actor = actor_with(request, "time.write", "time.edit_any")
    return services.void_time_entry(organization_id=org(actor), entry_id=entry_id, reason=body.reason, actor=actor)


@router.get("/time/{int:entry_id}/revisions", response=list[s.RevisionOut])
def time_revisions(request: HttpRequest, entry_id: int) -> list[Any]:
    actor = actor_with(request, "time.read")
    rows = list(selectors.time_entry_revisions(organization_id=org(actor), entry_id=entry_id).select_related("entry"))
    if rows:
        with transaction.atomic():
            record_event(actor=actor, action="time_entry.viewed", patient_id=rows[0].entry.patient_id,
                         object_type="TimeEntry", object_id=str(entry_id))
    return rows


def _timer_out(timer: Any) -> dict[str, Any]:
    if timer is None:
        return {"running": False}
    return {"running": True, "patient_id": timer.patient_id, "program": timer.program, "activity": timer.activity,
            "started_at": timer.started_at,
            "elapsed_seconds": int((clock.now() - timer.started_at).total_seconds())}


@router.get("/timer", response=s.TimerOut)
def timer(request: HttpRequest) -> dict[str, Any]:
    actor = actor_with(request, "time.write")
    assert actor.user_id is not None
    return _timer_out(selectors.running_timer(organization_id=org(actor), user_id=actor.user_id))


@router.post("/timer/start", response=s.TimerOut)
def timer_start(request: HttpRequest, body: s.TimerStartIn) -> dict[str, Any]:
    actor = actor_with(request, "time.write")
    return _timer_out(services.start_timer(organization_id=org(actor), patient_id=body.patient_id,
                                           program=body.program, activity=body.activity, task_id=body.task_id,
                                           actor=actor))


@router.post("/timer/stop", response=s.TimerStopOut)
def timer_stop(request: HttpRequest, body: s.TimerStopIn) -> dict[str, Any]:
    actor = actor_with(request, "time.write")
    entry = services.stop_timer(organization_id=org(actor), interactive=body.interactive, note=body.note,
                                program=body.program, activity=body.activity, actor=actor)
    return {"entry": entry}


@router.get("/minutes", response=s.MonthMinutesPage)
def month_minutes(
    request: HttpRequest, month: str = "", patient_id: int | None = None, limit: int = 100, offset: int = 0
) -> dict[str, Any]:
    """Minutes per (patient, program) for a clinic-local month: what the billing run reads."""
    actor = actor_with(request, "time.read")
    month = _month(month, org(actor))
    data = selectors.minutes_by_program(organization_id=org(actor), month=month,
                                        patient_ids=None if patient_id is None else [patient_id])
    keys = sorted(data)
    page = keys[max(offset, 0) : max(offset, 0) + min(max(limit, 1), 1000)]
    with transaction.atomic():
        record_events(actor=actor, events=[EventSpec("time_entry.viewed", pid, "Patient", str(pid))
                                           for pid in dict.fromkeys(k[0] for k in page)])
    return {"month": month, "count": len(keys),
            "results": [{"patient_id": k[0], "program": k[1], **data[k]} for k in page]}
