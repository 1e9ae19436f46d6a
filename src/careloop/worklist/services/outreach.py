"""Outreach log: every attempt to reach a patient, with channel and outcome, optionally for a task."""

from __future__ import annotations

import datetime as dt

from django.db import transaction

from careloop.audit.services import record_event
from careloop.core import clock
from careloop.core.actor import Actor
from careloop.core.errors import NotFound, PermissionDenied, ValidationFailed
from careloop.programs.choices import PROGRAM_CODES
from careloop.registry.models import Patient
from careloop.worklist.choices import Channel, Outcome, TaskEventKind, TaskStatus
from careloop.worklist.models import CareTask, OutreachAttempt, TimeEntry
from careloop.worklist.scripts import SCRIPTS
from careloop.worklist.services._common import can_work, event, require

REAL_TIME_CHANNELS = frozenset({Channel.PHONE, Channel.VIDEO, Channel.IN_PERSON})
FUTURE_TOLERANCE = dt.timedelta(minutes=5)


def log_outreach(
    *,
    organization_id: int,
    patient_id: int,
    channel: str,
    outcome: str,
    actor: Actor,
    at: dt.datetime | None = None,
    task_id: int | None = None,
    note: str = "",
    script_key: str = "",
    minutes: int | None = None,
    program: str = "",
) -> OutreachAttempt:
    """Record an attempt. With ``task_id`` a requested/ready task moves to in-progress. With ``minutes`` (and a
    program, or the task's) the call's time is logged too, as real-time interactive when the patient was
    reached by phone, video or in person."""
    require(actor, organization_id, "worklist.own")
    errors: dict[str, str] = {}
    if channel not in Channel.values:
        errors["channel"] = f"unknown channel {channel!r}"
    if outcome not in Outcome.values:
        errors["outcome"] = f"unknown outcome {outcome!r}"
    if script_key and script_key not in SCRIPTS:
        errors["script_key"] = "unknown script"
    now = clock.now()
    at = at or now
    if at.tzinfo is None or at > now + FUTURE_TOLERANCE:
        errors["at"] = "must be a past time with a time zone"
    if minutes is not None and not 1 <= minutes <= 600:
        errors["minutes"] = "between 1 and 600"
    if errors:
        raise ValidationFailed("invalid outreach attempt", field_errors=errors)
    if not Patient.objects.filter(organization_id=organization_id, pk=patient_id).exists():
        raise NotFound("patient not found")
    with transaction.atomic():
        task = None
        if task_id is not None:
            task = CareTask.objects.select_for_update().filter(
                organization_id=organization_id, pk=task_id, patient_id=patient_id
            ).first()
            if task is None:
                raise NotFound("task not found for this patient")
            if not can_work(actor, task):
                raise PermissionDenied("this task is assigned to someone else")
        attempt = OutreachAttempt.objects.create(
            organization_id=organization_id, patient_id=patient_id, task=task, user_id=actor.user_id, at=at,
            channel=channel, outcome=outcome, note=note, script_key=script_key,
        )
        record_event(actor=actor, organization_id=organization_id, action="outreach.logged", patient_id=patient_id,
                     object_type="OutreachAttempt", object_id=str(attempt.pk),
                     detail={"channel": channel, "outcome": outcome, "task_id": task_id})
        if task is not None and task.status in (TaskStatus.REQUESTED, TaskStatus.READY):
            before = task.status
            task.status = TaskStatus.IN_PROGRESS
            task.save(update_fields=["status", "updated_at"])
            event(task, TaskEventKind.STATUS_CHANGED, actor, now, from_value=before, to_value=task.status,
                  reason=f"outreach attempt: {outcome}")
        if minutes is not None:
            _log_call_time(organization_id, attempt, task, minutes, program, actor)
    return attempt


def _log_call_time(
    organization_id: int, attempt: OutreachAttempt, task: CareTask | None, minutes: int, program: str, actor: Actor
) -> TimeEntry:
    from careloop.worklist.services.time import add_time_entry

    program = program or (task.program if task is not None else "")
    if program not in PROGRAM_CODES:
        raise ValidationFailed("a program is needed to log the call's time", field_errors={"program": "required"})
    zone = clock.clinic_zone(attempt.organization.time_zone)
    local = attempt.at.astimezone(zone)
    return add_time_entry(
        organization_id=organization_id, patient_id=attempt.patient_id, minutes=minutes, activity="outreach",
        program=program, interactive=attempt.outcome == Outcome.REACHED and attempt.channel in REAL_TIME_CHANNELS,
        service_date=local.date(), start_time=local.time().replace(second=0, microsecond=0), actor=actor,
        task_id=task.pk if task is not None else None, outreach_id=attempt.pk, source="outreach",
    )
