"""Care-task use-cases: create (one, or set-based for population jobs), status changes, snooze, bulk actions.

Other apps create tasks only through ``create_task`` / ``create_tasks_bulk``. The dedupe key is unique per
organization (a database constraint): the same trigger returns the task it already created, also when two
requests race (the loser's INSERT fails inside a savepoint and it returns the winner's row).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction

from careloop.accounts import rules as access
from careloop.audit.services import EventSpec, record_event, record_events
from careloop.core import clock
from careloop.core.actor import Actor
from careloop.core.db import insert_returning, keyed_tenant_column, select_rows
from careloop.core.errors import CareloopError, NotFound, PermissionDenied, ValidationFailed
from careloop.programs.choices import PROGRAM_CODES
from careloop.registry.models import Patient
from careloop.worklist import selectors
from careloop.worklist.choices import TaskEventKind, TaskStatus, TaskType
from careloop.worklist.models import CareTask
from careloop.worklist.rules import priority as prio
from careloop.worklist.rules import status as status_rules
from careloop.worklist.rules.timeline import default_due_at
from careloop.worklist.services._common import (
    at_risk_hours,
    can_work,
    check_org,
    event,
    event_rows,
    require,
    zone_of,
)
from careloop.worklist.services.assignment import decide_assignments, reassign_task

MAX_SNOOZE = dt.timedelta(days=90)


@dataclass(frozen=True)
class TaskSpec:
    patient_id: int
    task_type: str
    reason: str
    dedupe_key: str
    source_type: str = ""
    source_id: str = ""
    due_at: dt.datetime | None = None
    deadline_at: dt.datetime | None = None
    program: str = ""
    assigned_role: str = ""
    value_note: str = ""
    care_team_id: int | None = None


@dataclass
class BulkCreateResult:
    created_ids: list[int] = field(default_factory=list)
    existing: int = 0


def _may_create(actor: Actor, organization_id: int) -> None:
    """Any staff member's workflow (or a system job) may create tasks in its own organization."""
    check_org(actor, organization_id)
    if actor.role != "system" and not access.is_staff_role(actor.role):
        raise PermissionDenied(f"role {actor.role!r} may not create tasks")


_TASK_TYPES = frozenset(TaskType.values)


def _validate(spec: TaskSpec) -> dict[str, str]:
    errors: dict[str, str] = {}
    if spec.task_type not in _TASK_TYPES:
        errors["task_type"] = f"unknown task type {spec.task_type!r}"
    if spec.program and spec.program not in PROGRAM_CODES:
        errors["program"] = f"unknown program {spec.program!r}"
    if not spec.reason.strip():
        errors["reason"] = "required"
    if not spec.dedupe_key.strip() or len(spec.dedupe_key) > 200:
        errors["dedupe_key"] = "required, at most 200 characters"
    for name in ("due_at", "deadline_at"):
        value = getattr(spec, name)
        if value is not None and value.tzinfo is None:
            errors[name] = "must include a time zone"
    return errors


def create_task(
    *,
    organization_id: int,
    patient_id: int,
    task_type: str,
    reason: str,
    dedupe_key: str,
    actor: Actor,
    source_type: str = "",
    source_id: str = "",
    due_at: dt.datetime | None = None,
    deadline_at: dt.datetime | None = None,
    program: str = "",
    assigned_role: str = "",
    value_note: str = "",
    care_team_id: int | None = None,
) -> CareTask:
    """Create a task for a patient, prioritized and assigned, or return the one ``dedupe_key`` already made."""
    _may_create(actor, organization_id)
    spec = TaskSpec(patient_id, task_type, reason, dedupe_key, source_type, source_id, due_at, deadline_at,
                    program, assigned_role, value_note, care_team_id)
    errors = _validate(spec)
    if errors:
        raise ValidationFailed("invalid task", field_errors=errors)
    existing = CareTask.objects.filter(organization_id=organization_id, dedupe_key=dedupe_key).first()
    if existing is not None:
        return existing
    if not Patient.objects.filter(organization_id=organization_id, pk=patient_id).exists():
        raise NotFound("patient not found")
    zone = zone_of(organization_id)
    now = clock.now()
    task = _build(organization_id, [spec], actor, now, zone)[0]
    try:
        with transaction.atomic():
            task.save(force_insert=True)
            event(task, TaskEventKind.CREATED, actor, now, to_value=task.status, reason=reason)
            if task.assigned_user_id is not None:
                event(task, TaskEventKind.ASSIGNED, actor, now, to_value=str(task.assigned_user_id),
                      reason=task.assignment_reason)
            record_event(actor=actor, organization_id=organization_id, action="task.created",
                         patient_id=patient_id, object_type="CareTask", object_id=str(task.pk),
                         detail={"type": task_type, "dedupe_key": dedupe_key,
                                 "assigned_user_id": task.assigned_user_id})
    except IntegrityError:
        winner = CareTask.objects.filter(organization_id=organization_id, dedupe_key=dedupe_key).first()
        if winner is None:
            raise
        return winner
    return task


def _build(
    organization_id: int, specs: Sequence[TaskSpec], actor: Actor, now: dt.datetime, zone: ZoneInfo
) -> list[CareTask]:
    return [CareTask(**dict(zip(_BULK_ATTNAMES, row, strict=True)))
            for row in _build_rows(organization_id, specs, actor, now, zone)]


_BULK_COLUMNS = [
    "organization", "patient", "task_type", "reason", "source_type", "source_id", "dedupe_key", "status",
    "in_queue", "due_at", "deadline_at", "priority", "priority_explanation", "priority_valid_until", "risk_tier",
    "value_note", "at_risk", "program", "assigned_role", "assigned_user", "assignment_reason", "care_team",
    "created_by", "created_at", "updated_at",
]
_BULK_ATTNAMES = [CareTask._meta.get_field(f).attname for f in _BULK_COLUMNS]  # type: ignore[union-attr]
_REASON, _ASSIGNED_USER, _ASSIGNMENT_REASON = 3, 19, 20  # positions in a built row


def _build_rows(
    organization_id: int, specs: Sequence[TaskSpec], actor: Actor, now: dt.datetime, zone: ZoneInfo
) -> list[list[object]]:
    """The new tasks' column values (``_BULK_COLUMNS`` order): prioritized and assigned. Priority and
    deadline risk are pure functions of their inputs at ``now``: computed once per distinct input (the tasks
    of one batch of discharges share their deadlines), the results shared by the rows."""
    today = now.astimezone(zone).date()
    tiers = selectors.risk_tiers(organization_id=organization_id, patient_ids={s.patient_id for s in specs})
    decisions = decide_assignments(
        organization_id=organization_id,
        items=[(s.patient_id, s.task_type, s.assigned_role, s.care_team_id) for s in specs],
        on=today,
    )
    hours = at_risk_hours()
    priorities: dict[tuple[object, ...], prio.Priority] = {}
    risky: dict[dt.datetime | None, bool] = {}
    created_by = actor.username[:150]
    rows: list[list[object]] = []
    for s, d in zip(specs, decisions, strict=True):
        due = s.due_at or default_due_at(s.task_type, now=now, deadline_at=s.deadline_at)
        tier = tiers[s.patient_id]
        key = (s.task_type, due, s.deadline_at, tier, s.value_note)
        p = priorities.get(key)
        if p is None:
            p = priorities[key] = prio.compute_priority(
                prio.PriorityInput(s.task_type, due, s.deadline_at, tier, s.value_note), now=now, zone=zone)
        at_risk = risky.get(s.deadline_at)
        if at_risk is None:
            at_risk = risky[s.deadline_at] = prio.deadline_at_risk(s.deadline_at, now=now, zone=zone,
                                                                   threshold_hours=hours)
        rows.append([
            organization_id, s.patient_id, s.task_type, s.reason[:500], s.source_type[:64], s.source_id[:128],
            s.dedupe_key, TaskStatus.REQUESTED, True, due, s.deadline_at, p.score, p.explanation, p.valid_until,
            tier, s.value_note[:300], at_risk, s.program, d.role, d.user_id, d.reason[:300], s.care_team_id,
            created_by, now, now,
        ])
    return rows


def create_tasks_bulk(
    *, organization_id: int, specs: Sequence[TaskSpec], actor: Actor, batch_size: int = 5000
) -> BulkCreateResult:
    """Set-based ``create_task`` for population jobs: per batch a few queries and one INSERT per table.
    Specs whose dedupe key already exists (or repeats in ``specs``) are counted in ``existing``; unknown
    a patient outside the organization fails the batch (NotFound)."""
    _may_create(actor, organization_id)
    result = BulkCreateResult()
    zone = selectors.organization_zone(organization_id)
    seen: set[str] = set()
    unique: list[TaskSpec] = []
    for s in specs:
        errors = _validate(s)
        if errors:
            raise ValidationFailed(f"invalid task for patient {s.patient_id}", field_errors=errors)
        if s.dedupe_key in seen:
            result.existing += 1
            continue
        seen.add(s.dedupe_key)
        unique.append(s)
    for i in range(0, len(unique), batch_size):
        _bulk_batch(organization_id, unique[i : i + batch_size], actor, zone, result)
    return result


def _in(values: Sequence[object]) -> str:
    return ", ".join(["%s"] * len(values))


def _bulk_batch(organization_id: int, batch: Sequence[TaskSpec], actor: Actor, zone: ZoneInfo,
                result: BulkCreateResult) -> None:
    now = clock.now()
    keys = [s.dedupe_key for s in batch]
    with transaction.atomic():
        have: set[str] = set()
        for j in range(0, len(keys), 900):
            chunk = keys[j : j + 900]
            have.update(k for (k,) in select_rows(CareTask, ("dedupe_key",),
                                                  f"organization_id = %s AND dedupe_key IN ({_in(chunk)})",
                                                  [organization_id, *chunk]))
        todo = [s for s in batch if s.dedupe_key not in have]
        result.existing += len(batch) - len(todo)
        if not todo:
            return
        pids = sorted({s.patient_id for s in todo})
        known: set[int] = set()
        for j in range(0, len(pids), 900):
            chunk_ids = pids[j : j + 900]
            known.update(pk for (pk,) in select_rows(Patient, ("id",),
                                                     f"{keyed_tenant_column()} = %s AND id IN ({_in(chunk_ids)})",
                                                     [organization_id, *chunk_ids]))
        if set(pids) - known:
            raise NotFound(f"patients not found: {sorted(set(pids) - known)[:10]}")
        rows = _build_rows(organization_id, todo, actor, now, zone)
        # The new ids come back from the INSERT; a key another transaction inserted meanwhile is skipped (ON
        # CONFLICT DO NOTHING) and not returned: counted as existing.
        made: dict[str, int] = dict(insert_returning(CareTask, _BULK_COLUMNS, rows, returning=("dedupe_key", "id"),
                                                     ignore_conflicts=True))
        result.existing += len(rows) - len(made)
        history = []
        events = []
        for s, row in zip(todo, rows, strict=True):
            tid = made.get(s.dedupe_key)
            if tid is None:
                continue
            history.append((tid, TaskEventKind.CREATED.value, "", TaskStatus.REQUESTED.value, str(row[_REASON])))
            uid = row[_ASSIGNED_USER]
            if uid is not None:
                history.append((tid, TaskEventKind.ASSIGNED.value, "", str(uid), str(row[_ASSIGNMENT_REASON])))
            result.created_ids.append(tid)
            events.append(EventSpec("task.created", s.patient_id, "CareTask", str(tid),
                                    detail={"dedupe_key": s.dedupe_key}))
        event_rows(organization_id, history, actor, now)
        record_events(actor=actor, organization_id=organization_id, events=events)


def _locked(organization_id: int, task_id: int) -> CareTask:
    task = CareTask.objects.select_for_update().filter(organization_id=organization_id, pk=task_id).first()
    if task is None:
        raise NotFound("task not found")
    return task


def change_status(*, organization_id: int, task_id: int, status: str, actor: Actor, reason: str = "") -> CareTask:
    """Move a task along the transition table (``choices.TRANSITIONS``); history row and audit event."""
    require(actor, organization_id, "worklist.own", "worklist.team")
    now = clock.now()
    with transaction.atomic():
        task = _locked(organization_id, task_id)
        if not can_work(actor, task):
            raise PermissionDenied("this task is assigned to someone else")
        problem = status_rules.transition_problem(task.status, status, reason)
        if problem:
            raise ValidationFailed(problem, field_errors={"status": problem})
        before = task.status
        task.status = status
        task.in_queue = status_rules.in_queue(status)
        task.status_reason = reason[:300]
        task.completed_at = now if status == TaskStatus.COMPLETED else None
        if not task.in_queue:
            task.snoozed_until = None
        task.save(update_fields=["status", "in_queue", "status_reason", "completed_at", "snoozed_until",
                                 "updated_at"])
        event(task, TaskEventKind.STATUS_CHANGED, actor, now, from_value=before, to_value=status, reason=reason)
        record_event(actor=actor, organization_id=organization_id, action="task.status_changed",
                     patient_id=task.patient_id, object_type="CareTask", object_id=str(task.pk),
                     detail={"from": before, "to": status, "reason": reason})
    return task


def snooze_task(
    *, organization_id: int, task_id: int, until: dt.datetime, actor: Actor, reason: str = ""
) -> CareTask:
    """Hide a queued task from the queue until ``until`` (at most 90 days). Escalation skips it meanwhile."""
    require(actor, organization_id, "worklist.own", "worklist.team")
    now = clock.now()
    if until.tzinfo is None or not now < until <= now + MAX_SNOOZE:
        raise ValidationFailed("snooze until a time within the next 90 days", field_errors={"until": "out of range"})
    with transaction.atomic():
        task = _locked(organization_id, task_id)
        if not can_work(actor, task):
            raise PermissionDenied("this task is assigned to someone else")
        if not task.in_queue:
            raise ValidationFailed(f"a {task.status} task cannot be snoozed")
        task.snoozed_until = until
        task.save(update_fields=["snoozed_until", "updated_at"])
        event(task, TaskEventKind.SNOOZED, actor, now, to_value=until.isoformat(), reason=reason)
        record_event(actor=actor, organization_id=organization_id, action="task.snoozed",
                     patient_id=task.patient_id, object_type="CareTask", object_id=str(task.pk),
                     detail={"until": until.isoformat(), "reason": reason})
    return task


@dataclass
class BulkOutcome:
    done: list[int] = field(default_factory=list)
    skipped: dict[int, str] = field(default_factory=dict)


def bulk_action(
    *, organization_id: int, task_ids: Sequence[int], action: str, actor: Actor, user_id: int | None = None,
    until: dt.datetime | None = None, reason: str = "",
) -> BulkOutcome:
    """Complete, reassign or snooze several tasks; each one succeeds or is skipped with the reason why."""
    if action not in ("complete", "reassign", "snooze"):
        raise ValidationFailed(f"unknown action {action!r}", field_errors={"action": "complete, reassign or snooze"})
    if len(task_ids) > 200:
        raise ValidationFailed("at most 200 tasks at a time", field_errors={"task_ids": "too many"})
    if action == "snooze" and until is None:
        raise ValidationFailed("snooze needs a time", field_errors={"until": "required"})
    if action == "reassign" and not reason.strip():
        raise ValidationFailed("a reason is required to reassign", field_errors={"reason": "required"})
    outcome = BulkOutcome()
    for tid in dict.fromkeys(task_ids):
        try:
            if action == "complete":
                change_status(organization_id=organization_id, task_id=tid, status=TaskStatus.COMPLETED,
                              actor=actor, reason=reason)
            elif action == "reassign":
                reassign_task(organization_id=organization_id, task_id=tid, user_id=user_id, reason=reason,
                              actor=actor)
            else:
                assert until is not None
                snooze_task(organization_id=organization_id, task_id=tid, until=until, actor=actor, reason=reason)
            outcome.done.append(tid)
        except CareloopError as exc:
            outcome.skipped[tid] = str(exc)
    return outcome
