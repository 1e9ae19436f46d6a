"""Queue, task, team, absence, notification and ping routes."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import orjson
from django.db import transaction
from django.http import HttpRequest, HttpResponse

from careloop.accounts import rules as access
from careloop.accounts.models import User
from careloop.audit.services import record_event
from careloop.core import clock
from careloop.core.errors import NotFound, PermissionDenied
from careloop.worklist import selectors, services
from careloop.worklist.api import schemas as s
from careloop.worklist.api._common import actor_with, audit_listing, org, queue_row
from careloop.worklist.api.router import router
from careloop.worklist.models import CareTask
from careloop.worklist.scripts import SCRIPTS
from careloop.worklist.selectors.tasks import QUEUE_FIELDS

OWN_OR_TEAM = ("worklist.own", "worklist.team")


@router.get("/ping")
def ping(request: HttpRequest) -> dict[str, Any]:
    """A trivial authenticated route (the benchmark's ceiling): authentication and the role check only."""
    actor = actor_with(request, *OWN_OR_TEAM)
    return {"ok": True, "user_id": actor.user_id}


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    return value.replace(tzinfo=dt.UTC) if value is not None and value.tzinfo is None else value


@router.get("/queue", response=s.QueuePage)
def queue(  # noqa: PLR0913 - query parameters
    request: HttpRequest,
    limit: int = 50,
    offset: int = 0,
    type: str = "",
    program: str = "",
    due_before: dt.datetime | None = None,
    patient_id: int | None = None,
    status: str = "",
    user_id: int | None = None,
    unassigned: bool = False,
    snoozed: bool = False,
) -> HttpResponse:
    """My queue in priority order (``limit`` at most 200). Team leads may pass ``user_id`` for a colleague's
    queue; ``unassigned=true`` lists unassigned tasks (staff: those for their own role). Naive
    ``due_before`` times are UTC."""
    actor = actor_with(request, *OWN_OR_TEAM)
    lead = access.has_permission(actor.role, "worklist.team")
    target: int | None = actor.user_id
    role = ""
    if unassigned:
        target, role = None, ("" if lead else actor.role)
    elif user_id is not None and user_id != actor.user_id:
        if not lead:
            raise PermissionDenied("only a team lead can see another person's queue")
        if not User.objects.filter(organization_id=org(actor), pk=user_id).exists():
            raise NotFound("user not found")
        target = user_id
    filters = selectors.QueueFilters(task_type=type, program=program, due_before=_aware(due_before),
                                     patient_id=patient_id, status=status, include_snoozed=snoozed)
    rows, more = selectors.queue(organization_id=org(actor), user_id=target, now=clock.now(), filters=filters,
                                 role=role, limit=limit, offset=offset)
    audit_listing(actor, "task.listed", (r["patient_id"] for r in rows))
    start = max(offset, 0)
    body = {"results": [queue_row(r) for r in rows], "has_more": more,
            "next_offset": start + len(rows) if more else None}
    # Already shaped like QueuePage (the documented schema): serialize directly, skipping a second validation.
    return HttpResponse(orjson.dumps(body), content_type="application/json")


def _task_out(organization_id: int, task: CareTask) -> dict[str, Any]:
    row = CareTask.objects.filter(pk=task.pk).values(*QUEUE_FIELDS).get()
    out = queue_row(row)
    out.update(
        dedupe_key=task.dedupe_key, risk_tier=task.risk_tier, value_note=task.value_note,
        assignment_reason=task.assignment_reason, status_reason=task.status_reason, completed_at=task.completed_at,
        created_at=task.created_at,
        events=list(selectors.task_events(organization_id=organization_id, task_id=task.pk).values(
            "at", "kind", "actor_name", "from_value", "to_value", "reason")),
    )
    return out


@router.get("/tasks/{int:task_id}", response=s.TaskOut)
def task_detail(request: HttpRequest, task_id: int) -> dict[str, Any]:
    actor = actor_with(request, *OWN_OR_TEAM)
    task = selectors.task_by_id(organization_id=org(actor), task_id=task_id)
    with transaction.atomic():
        record_event(actor=actor, action="task.viewed", patient_id=task.patient_id, object_type="CareTask",
                     object_id=str(task.pk))
    return _task_out(org(actor), task)


@router.post("/tasks", response={201: s.TaskOut})
def create_task(request: HttpRequest, body: s.TaskIn) -> tuple[int, dict[str, Any]]:
    actor = actor_with(request, *OWN_OR_TEAM)
    task = services.create_task(
        organization_id=org(actor), patient_id=body.patient_id, task_type=body.task_type, reason=body.reason,
        dedupe_key=body.dedupe_key or f"manual:{uuid.uuid4().hex}", due_at=_aware(body.due_at),
        deadline_at=_aware(body.deadline_at), program=body.program, assigned_role=body.assigned_role,
        value_note=body.value_note, source_type=body.source_type, source_id=body.source_id, actor=actor,
    )
    return 201, _task_out(org(actor), task)


@router.post("/tasks/{int:task_id}/status", response=s.TaskOut)
def change_status(request: HttpRequest, task_id: int, body: s.StatusIn) -> dict[str, Any]:
    actor = actor_with(request, *OWN_OR_TEAM)
    task = services.change_status(organization_id=org(actor), task_id=task_id, status=body.status,
                                  reason=body.reason, actor=actor)
    return _task_out(org(actor), task)


@router.post("/tasks/{int:task_id}/assign", response=s.TaskOut)
def assign(request: HttpRequest, task_id: int, body: s.AssignIn) -> dict[str, Any]:
    actor = actor_with(request, *OWN_OR_TEAM)
    task = services.reassign_task(organization_id=org(actor), task_id=task_id, user_id=body.user_id,
                                  reason=body.reason, actor=actor)
    return _task_out(org(actor), task)


@router.post("/tasks/{int:task_id}/snooze", response=s.TaskOut)
def snooze(request: HttpRequest, task_id: int, body: s.SnoozeIn) -> dict[str, Any]:
    actor = actor_with(request, *OWN_OR_TEAM)
    until = _aware(body.until)
    assert until is not None
    task = services.snooze_task(organization_id=org(actor), task_id=task_id, until=until, reason=body.reason,
                                actor=actor)
    return _task_out(org(actor), task)


@router.post("/tasks/bulk", response=s.BulkOut)
def bulk(request: HttpRequest, body: s.BulkIn) -> dict[str, Any]:
    actor = actor_with(request, *OWN_OR_TEAM)
    outcome = services.bulk_action(organization_id=org(actor), task_ids=body.task_ids, action=body.action,
                                   user_id=body.user_id, until=_aware(body.until), reason=body.reason, actor=actor)
    return {"done": outcome.done, "skipped": outcome.skipped}


@router.get("/team", response=list[s.WorkloadOut])
def team(request: HttpRequest) -> list[Any]:
    """Caseload, capacity, queued, overdue and at-risk tasks per person (team leads)."""
    actor = actor_with(request, "worklist.team")
    zone = selectors.organization_zone(org(actor))
    rows = selectors.team_workload(organization_id=org(actor), now=clock.now(), today=clock.today(str(zone)))
    with transaction.atomic():
        record_event(actor=actor, action="worklist.team_viewed", object_type="Organization",
                     object_id=str(org(actor)))
    return rows


@router.get("/notifications", response=list[s.NotificationOut])
def notifications(request: HttpRequest, unread: bool = False, limit: int = 50) -> list[Any]:
    actor = actor_with(request, *OWN_OR_TEAM)
    assert actor.user_id is not None
    rows = selectors.notifications_for(organization_id=org(actor), user_id=actor.user_id, unread_only=unread)
    return list(rows[: min(max(limit, 1), 200)])


@router.post("/notifications/read")
def read_notifications(request: HttpRequest, body: s.ReadIn) -> dict[str, int]:
    actor = actor_with(request, *OWN_OR_TEAM)
    return {"marked": services.mark_notifications_read(organization_id=org(actor), actor=actor,
                                                       notification_ids=body.ids)}


@router.get("/absences", response=list[s.AbsenceOut])
def absences(request: HttpRequest) -> list[Any]:
    actor = actor_with(request, *OWN_OR_TEAM)
    today = clock.today(str(selectors.organization_zone(org(actor))))
    mine = None if access.has_permission(actor.role, "worklist.team") else actor.user_id
    return list(selectors.upcoming_absences(organization_id=org(actor), today=today, user_id=mine))


@router.post("/absences", response={201: s.AbsenceOut})
def add_absence(request: HttpRequest, body: s.AbsenceIn) -> tuple[int, dict[str, Any]]:
    """Record an absence; by default the person's tasks due before they are back move to colleagues."""
    actor = actor_with(request, *OWN_OR_TEAM)
    absence, moved = services.record_absence(organization_id=org(actor), user_id=body.user_id, start=body.start,
                                             end=body.end, reason=body.reason, rebalance=body.rebalance, actor=actor)
    return 201, {"id": absence.pk, "user_id": absence.user_id, "start": absence.start, "end": absence.end,
                 "reason": absence.reason, "moved": moved}


@router.get("/scripts", response=list[s.ScriptOut])
def scripts(request: HttpRequest) -> list[dict[str, str]]:
    actor_with(request, *OWN_OR_TEAM)
    return [{"key": k, "title": t, "text": x} for k, (t, x) in SCRIPTS.items()]
