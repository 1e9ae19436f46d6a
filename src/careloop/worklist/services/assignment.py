"""Assignment use-cases: automatic assignment (continuity, then role and capacity), manual reassignment,
absences and rebalancing while someone is away."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import replace

from django.db import transaction

from careloop.accounts.models import User
from careloop.audit.services import EventSpec, record_event, record_events
from careloop.core import clock
from careloop.core.actor import Actor
from careloop.core.errors import NotFound, PermissionDenied, ValidationFailed
from careloop.programs import selectors as programs
from careloop.worklist import selectors
from careloop.worklist.choices import NotificationKind, TaskEventKind
from careloop.worklist.models import CareTask, StaffAbsence
from careloop.worklist.rules import assignment as rules
from careloop.worklist.services._common import can_work, event, is_team_lead, notify_after_commit, require, zone_of


def decide_assignments(
    *,
    organization_id: int,
    items: Sequence[tuple[int, str, str, int | None]],
    on: dt.date,
    exclude: Sequence[int] = (),
) -> list[rules.Decision]:
    """One decision per (patient id, task type, role, care team id), taking capacity as it fills up."""
    if not items:
        return []
    designated = programs.designated_users(organization_id=organization_id, patient_ids={i[0] for i in items}, on=on)
    roles = {role or rules.default_role(task_type) for _, task_type, role, _ in items}
    candidates = selectors.assignment_candidates(organization_id=organization_id, on=on, roles=roles)
    missing = set(designated.values()) - {c.user_id for c in candidates}
    extra = {c.user_id: c for c in selectors.assignment_candidates(organization_id=organization_id, on=on,
                                                                    user_ids=missing)} if missing else {}
    pool = {c.user_id: c for c in candidates}
    decisions = []
    for patient_id, task_type, role, team_id in items:
        uid = designated.get(patient_id)
        d = rules.choose_assignee(
            task_type=task_type, role=role, designated=(pool.get(uid) or extra.get(uid)) if uid else None,
            candidates=list(pool.values()), care_team_id=team_id, exclude=exclude,
        )
        if d.user_id is not None and d.user_id != uid and d.user_id in pool:
            taken = pool[d.user_id]
            pool[d.user_id] = replace(taken, caseload=taken.caseload + 1)
        decisions.append(d)
    return decisions


def _staff_user(organization_id: int, user_id: int) -> User:
    user = User.objects.filter(organization_id=organization_id, pk=user_id, is_active=True).first()
    if user is None:
        raise NotFound("user not found")
    if user.role not in rules.CLINICAL:
        raise ValidationFailed(f"a {user.role} has no work queue", field_errors={"user_id": "not a clinical role"})
    return user


def reassign_task(*, organization_id: int, task_id: int, user_id: int | None, reason: str, actor: Actor) -> CareTask:
    """Hand a task to ``user_id`` (None: back to the unassigned pool of its role). A reason is required and
    kept in the task's history. The assignee may hand off their own task; team leads may move any task."""
    require(actor, organization_id, "worklist.own", "worklist.team")
    if not reason.strip():
        raise ValidationFailed("a reason is required to reassign a task", field_errors={"reason": "required"})
    target = _staff_user(organization_id, user_id) if user_id is not None else None
    now = clock.now()
    with transaction.atomic():
        task = CareTask.objects.select_for_update().filter(organization_id=organization_id, pk=task_id).first()
        if task is None:
            raise NotFound("task not found")
        if not (is_team_lead(actor) or (task.assigned_user_id is not None and task.assigned_user_id == actor.user_id)
                or (task.assigned_user_id is None and user_id == actor.user_id and can_work(actor, task))):
            raise PermissionDenied("only the assignee or a team lead can reassign this task")
        if not task.in_queue and task.status != "on-hold":
            raise ValidationFailed(f"a {task.status} task cannot be reassigned")
        before = task.assigned_user_id
        if before == user_id:
            return task
        task.assigned_user_id = user_id
        if target is not None:
            task.assigned_role = target.role
        task.assignment_reason = f"reassigned by {actor.username}: {reason}"[:300]
        task.save(update_fields=["assigned_user", "assigned_role", "assignment_reason", "updated_at"])
        event(task, TaskEventKind.REASSIGNED, actor, now, from_value=str(before or ""), to_value=str(user_id or ""),
              reason=reason)
        record_event(actor=actor, organization_id=organization_id, action="task.reassigned",
                     patient_id=task.patient_id, object_type="CareTask", object_id=str(task.pk),
                     detail={"from": before, "to": user_id, "reason": reason})
        if user_id is not None and user_id != actor.user_id:
            notify_after_commit([(organization_id, user_id, task.pk, NotificationKind.REASSIGNED,
                                  f"{actor.username} gave you a task: {task.reason} ({reason})")])
    return task


def record_absence(
    *, organization_id: int, user_id: int, start: dt.date, end: dt.date, actor: Actor, reason: str = "",
    rebalance: bool = True,
) -> tuple[StaffAbsence, list[tuple[int, int | None]]]:
    """Record that ``user_id`` is away [start, end]; by default move their queued tasks due before they are
    back to colleagues (``rebalance_for_absence``). Staff may record their own absence; leads anyone's."""
    require(actor, organization_id, "worklist.own", "worklist.team")
    if user_id != actor.user_id and not is_team_lead(actor):
        raise PermissionDenied("only a team lead can record someone else's absence")
    if end < start:
        raise ValidationFailed("the absence ends before it starts", field_errors={"end": "before start"})
    _staff_user(organization_id, user_id)
    with transaction.atomic():
        absence = StaffAbsence.objects.create(organization_id=organization_id, user_id=user_id, start=start,
                                              end=end, reason=reason[:200])
        record_event(actor=actor, organization_id=organization_id, action="absence.recorded",
                     object_type="StaffAbsence", object_id=str(absence.pk),
                     detail={"user_id": user_id, "start": start.isoformat(), "end": end.isoformat()})
        moved = rebalance_for_absence(organization_id=organization_id, absence_id=absence.pk, actor=actor) \
            if rebalance else []
    return absence, moved


def rebalance_for_absence(*, organization_id: int, absence_id: int, actor: Actor) -> list[tuple[int, int | None]]:
    """Move the away member's queued tasks that fall due before they are back (due on or before the last day
    away, clinic time) to someone else by the assignment rules (the designated member is skipped because they
    are the one away). Returns (task id, new user id or None) pairs."""
    require(actor, organization_id, "worklist.own", "worklist.team")
    absence = StaffAbsence.objects.filter(organization_id=organization_id, pk=absence_id).first()
    if absence is None:
        raise NotFound("absence not found")
    zone = zone_of(organization_id)
    now = clock.now()
    on = max(absence.start, clock.today(str(zone)))
    back = dt.datetime.combine(absence.end + dt.timedelta(days=1), dt.time(0), zone)
    moved: list[tuple[int, int | None]] = []
    with transaction.atomic():
        tasks = list(
            CareTask.objects.select_for_update()
            .filter(organization_id=organization_id, assigned_user_id=absence.user_id, in_queue=True, due_at__lt=back)
            .order_by("-priority", "due_at", "id")
        )
        decisions = decide_assignments(
            organization_id=organization_id,
            items=[(t.patient_id, t.task_type, t.assigned_role, t.care_team_id) for t in tasks],
            on=on, exclude=[absence.user_id],
        )
        label = f"{absence.start.isoformat()} to {absence.end.isoformat()}"
        specs, notes = [], []
        for task, d in zip(tasks, decisions, strict=True):
            reason = f"assignee away {label}; {d.reason}"
            task.assigned_user_id = d.user_id
            task.assignment_reason = reason[:300]
            task.save(update_fields=["assigned_user", "assignment_reason", "updated_at"])
            event(task, TaskEventKind.REASSIGNED, actor, now, from_value=str(absence.user_id),
                  to_value=str(d.user_id or ""), reason=reason)
            specs.append(EventSpec("task.reassigned", task.patient_id, "CareTask", str(task.pk),
                                   detail={"from": absence.user_id, "to": d.user_id, "reason": "absence"}))
            if d.user_id is not None:
                notes.append((organization_id, d.user_id, task.pk, NotificationKind.REASSIGNED,
                              f"Covering while a colleague is away ({label}): {task.reason}"))
            moved.append((task.pk, d.user_id))
        record_events(actor=actor, organization_id=organization_id, events=specs)
        notify_after_commit(notes)
    return moved
