"""Time tracking: a server-side timer per user, manual entries, edits with history, voids. Audited.

``TimeEntry`` rows are what the monthly billing run reads (``selectors.minutes_by_program``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction

from careloop.accounts import rules as access
from careloop.accounts.models import User
from careloop.audit.services import record_event
from careloop.core import clock
from careloop.core.actor import Actor
from careloop.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from careloop.programs.choices import PROGRAM_CODES
from careloop.registry.models import Patient
from careloop.worklist.choices import Activity, StaffType, TimeSource
from careloop.worklist.models import CareTask, RunningTimer, TimeEntry, TimeEntryRevision
from careloop.worklist.rules import timeline
from careloop.worklist.services._common import require, user_id_of, zone_of

EDITABLE = ("minutes", "activity", "program", "interactive", "service_date", "started_at", "note", "staff_type")


def _check_choices(program: str | None, activity: str | None, staff_type: str | None = None) -> dict[str, str]:
    errors: dict[str, str] = {}
    if program is not None and program not in PROGRAM_CODES:
        errors["program"] = f"unknown program {program!r}"
    if activity is not None and activity not in Activity.values:
        errors["activity"] = f"unknown activity {activity!r}"
    if staff_type is not None and staff_type not in StaffType.values:
        errors["staff_type"] = f"unknown staff type {staff_type!r}"
    return errors


def _patient(organization_id: int, patient_id: int) -> None:
    if not Patient.objects.filter(organization_id=organization_id, pk=patient_id).exists():
        raise NotFound("patient not found")


def _task(organization_id: int, patient_id: int, task_id: int | None) -> None:
    if task_id is not None and not CareTask.objects.filter(
        organization_id=organization_id, pk=task_id, patient_id=patient_id
    ).exists():
        raise NotFound("task not found for this patient")


def start_timer(
    *, organization_id: int, patient_id: int, program: str, actor: Actor, activity: str = Activity.CARE_COORDINATION,
    task_id: int | None = None,
) -> RunningTimer:
    """Start the actor's timer on a patient (the same patient again: the running timer is returned)."""
    require(actor, organization_id, "time.write")
    errors = _check_choices(program, activity)
    if errors:
        raise ValidationFailed("invalid timer", field_errors=errors)
    _patient(organization_id, patient_id)
    _task(organization_id, patient_id, task_id)
    with transaction.atomic():
        running = RunningTimer.objects.select_for_update().filter(user_id=user_id_of(actor)).first()
        if running is not None:
            if running.patient_id == patient_id and running.organization_id == organization_id:
                return running
            raise Conflict("a timer is already running for another patient: stop it first")
        timer = RunningTimer.objects.create(
            organization_id=organization_id, user_id=user_id_of(actor), patient_id=patient_id, started_at=clock.now(),
            program=program, activity=activity, task_id=task_id,
        )
        record_event(actor=actor, organization_id=organization_id, action="timer.started", patient_id=patient_id,
                     object_type="RunningTimer", object_id=str(timer.pk), detail={"program": program})
    return timer


def stop_timer(
    *, organization_id: int, actor: Actor, interactive: bool = False, note: str = "", program: str | None = None,
    activity: str | None = None,
) -> TimeEntry | None:
    """Stop the actor's timer and log its whole minutes (None when it ran under a minute: nothing to bill)."""
    require(actor, organization_id, "time.write")
    errors = _check_choices(program, activity)
    if errors:
        raise ValidationFailed("invalid time entry", field_errors=errors)
    zone = zone_of(organization_id)
    now = clock.now()
    with transaction.atomic():
        timer = RunningTimer.objects.select_for_update().filter(
            organization_id=organization_id, user_id=user_id_of(actor)
        ).first()
        if timer is None:
            raise NotFound("no timer is running")
        minutes = timeline.timer_minutes(timer.started_at, now)
        timer.delete()
        if minutes < 1:
            record_event(actor=actor, organization_id=organization_id, action="timer.discarded",
                         patient_id=timer.patient_id, object_type="RunningTimer", object_id=str(timer.pk))
            return None
        entry = _create_entry(
            organization_id=organization_id, patient_id=timer.patient_id, staff_id=user_id_of(actor),
            staff_type=timeline.staff_type_for_role(actor.role), minutes=minutes,
            activity=activity or timer.activity, program=program or timer.program, interactive=interactive,
            service_date=timeline.local_date(timer.started_at, zone), started_at=timer.started_at, note=note,
            source=TimeSource.TIMER, task_id=timer.task_id, outreach_id=None, actor=actor,
        )
    return entry


def cancel_timer(*, organization_id: int, actor: Actor) -> None:
    require(actor, organization_id, "time.write")
    with transaction.atomic():
        timer = RunningTimer.objects.filter(organization_id=organization_id, user_id=user_id_of(actor)).first()
        if timer is not None:
            timer.delete()
            record_event(actor=actor, organization_id=organization_id, action="timer.discarded",
                         patient_id=timer.patient_id, object_type="RunningTimer", object_id=str(timer.pk))


def add_time_entry(
    *,
    organization_id: int,
    patient_id: int,
    minutes: int,
    activity: str,
    program: str,
    interactive: bool,
    service_date: dt.date,
    actor: Actor,
    start_time: dt.time | None = None,
    staff_user_id: int | None = None,
    staff_type: str | None = None,
    note: str = "",
    task_id: int | None = None,
    outreach_id: int | None = None,
    source: str = TimeSource.MANUAL,
) -> TimeEntry:
    """Log minutes by hand. ``service_date`` is the clinic-local date; ``start_time`` local wall time. Time for
    another staff member needs ``time.edit_any``. The staff type defaults from their role."""
    require(actor, organization_id, "time.write", "time.edit_any")
    staff_id = staff_user_id or actor.user_id
    if staff_id is None:
        raise ValidationFailed("whose time is it?", field_errors={"staff_user_id": "required"})
    if staff_id != actor.user_id and not access.has_permission(actor.role, "time.edit_any"):
        raise PermissionDenied("only an administrator or leader can log time for someone else")
    if staff_id == actor.user_id and not access.has_permission(actor.role, "time.write"):
        raise PermissionDenied(f"role {actor.role!r} does not log care-management time")
    staff = User.objects.filter(organization_id=organization_id, pk=staff_id, is_active=True).first()
    if staff is None:
        raise NotFound("staff member not found")
    if staff.role not in access.CLINICAL:
        raise ValidationFailed("only clinical staff and billing practitioners log care-management time",
                               field_errors={"staff_user_id": "not a clinical role"})
    zone = zone_of(organization_id)
    errors = _check_choices(program, activity, staff_type) | timeline.entry_problems(
        minutes=minutes, service_date=service_date, today=clock.today(str(zone))
    )
    if errors:
        raise ValidationFailed("invalid time entry", field_errors=errors)
    _patient(organization_id, patient_id)
    _task(organization_id, patient_id, task_id)
    started_at = dt.datetime.combine(service_date, start_time, zone) if start_time is not None else None
    with transaction.atomic():
        return _create_entry(
            organization_id=organization_id, patient_id=patient_id, staff_id=staff_id,
            staff_type=staff_type or timeline.staff_type_for_role(staff.role), minutes=minutes, activity=activity,
            program=program, interactive=interactive, service_date=service_date, started_at=started_at, note=note,
            source=source, task_id=task_id, outreach_id=outreach_id, actor=actor,
        )


def _create_entry(*, organization_id: int, patient_id: int, staff_id: int, actor: Actor, **fields: Any
                  ) -> TimeEntry:
    entry = TimeEntry.objects.create(organization_id=organization_id, patient_id=patient_id, staff_id=staff_id,
                                     created_by_id=actor.user_id, **fields)
    record_event(actor=actor, organization_id=organization_id, action="time_entry.created", patient_id=patient_id,
                 object_type="TimeEntry", object_id=str(entry.pk),
                 detail={"minutes": entry.minutes, "program": entry.program, "staff_id": staff_id,
                         "service_date": entry.service_date.isoformat()})
    return entry


def _snapshot(entry: TimeEntry) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in EDITABLE:
        value = getattr(entry, name)
        if isinstance(value, dt.datetime):
            value = value.astimezone(dt.UTC).isoformat()
        elif isinstance(value, dt.date):
            value = value.isoformat()
        out[name] = value
    out["voided"] = entry.voided
    return out


def _editable_entry(organization_id: int, entry_id: int, actor: Actor) -> TimeEntry:
    entry = TimeEntry.objects.select_for_update().filter(organization_id=organization_id, pk=entry_id).first()
    if entry is None:
        raise NotFound("time entry not found")
    own = actor.user_id is not None and actor.user_id in (entry.staff_id, entry.created_by_id)
    if not (access.has_permission(actor.role, "time.edit_any") or (own and access.has_permission(actor.role,
                                                                                                  "time.write"))):
        raise PermissionDenied("only the staff member who logged it, an administrator or a leader can change it")
    if entry.voided:
        raise ValidationFailed("a voided entry cannot be changed")
    return entry


def edit_time_entry(
    *, organization_id: int, entry_id: int, changes: dict[str, Any], reason: str, actor: Actor
) -> TimeEntry:
    """Change fields of an entry; the old values, who, when and why are kept in a ``TimeEntryRevision``.
    ``changes`` may hold ``EDITABLE`` fields, with ``start_time`` (local wall time) instead of ``started_at``."""
    require(actor, organization_id, "time.write", "time.edit_any")
    if not reason.strip():
        raise ValidationFailed("a reason is required to change a time entry", field_errors={"reason": "required"})
    unknown = set(changes) - set(EDITABLE) - {"start_time"} - {"started_at"}
    if unknown:
        raise ValidationFailed("these fields cannot be changed", field_errors={k: "not editable" for k in unknown})
    zone = zone_of(organization_id)
    with transaction.atomic():
        entry = _editable_entry(organization_id, entry_id, actor)
        before = _snapshot(entry)
        for name, value in changes.items():
            if name != "start_time":
                setattr(entry, name, value)
        if "start_time" in changes:
            st = changes["start_time"]
            entry.started_at = dt.datetime.combine(entry.service_date, st, zone) if st is not None else None
        elif "service_date" in changes and entry.started_at is not None and "started_at" not in changes:
            wall = entry.started_at.astimezone(zone).time()
            entry.started_at = dt.datetime.combine(entry.service_date, wall, zone)
        errors = _check_choices(entry.program, entry.activity, entry.staff_type) | timeline.entry_problems(
            minutes=entry.minutes, service_date=entry.service_date, today=clock.today(str(zone))
        )
        if errors:
            raise ValidationFailed("invalid time entry", field_errors=errors)
        after = _snapshot(entry)
        changed = {k: v for k, v in before.items() if after[k] != v}
        if not changed:
            return entry
        entry.save()
        TimeEntryRevision.objects.create(entry=entry, at=clock.now(), user_id=actor.user_id,
                                         actor_name=actor.username, reason=reason[:300], old_values=changed,
                                         new_values={k: after[k] for k in changed})
        record_event(actor=actor, organization_id=organization_id, action="time_entry.edited",
                     patient_id=entry.patient_id, object_type="TimeEntry", object_id=str(entry.pk),
                     detail={"old": changed, "new": {k: after[k] for k in changed}, "reason": reason})
    return entry


def void_time_entry(*, organization_id: int, entry_id: int, reason: str, actor: Actor) -> TimeEntry:
    """Soft-delete: the entry stays, marked void with who, when and why, and stops counting."""
    require(actor, organization_id, "time.write", "time.edit_any")
    if not reason.strip():
        raise ValidationFailed("a reason is required to void a time entry", field_errors={"reason": "required"})
    now = clock.now()
    with transaction.atomic():
        entry = _editable_entry(organization_id, entry_id, actor)
        entry.voided, entry.voided_at, entry.voided_by_id, entry.void_reason = True, now, actor.user_id, reason[:300]
        entry.save(update_fields=["voided", "voided_at", "voided_by", "void_reason", "updated_at"])
        TimeEntryRevision.objects.create(entry=entry, at=now, user_id=actor.user_id, actor_name=actor.username,
                                         reason=reason[:300], old_values={"voided": False},
                                         new_values={"voided": True})
        record_event(actor=actor, organization_id=organization_id, action="time_entry.voided",
                     patient_id=entry.patient_id, object_type="TimeEntry", object_id=str(entry.pk),
                     detail={"reason": reason, "minutes": entry.minutes})
    return entry
