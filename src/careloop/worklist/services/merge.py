"""A patient merge (HL7 A40, registry ``merge_patients``): the merged patient's work moves to the surviving one."""

from __future__ import annotations

from django.db import transaction

from careloop.audit.services import merge_events, record_events
from careloop.core import clock
from careloop.core.actor import Actor
from careloop.worklist.models import CareTask, OutreachAttempt, RunningTimer, TimeEntry
from careloop.worklist.services._common import require

_MOVED = (("CareTask", CareTask), ("OutreachAttempt", OutreachAttempt), ("TimeEntry", TimeEntry),
          ("RunningTimer", RunningTimer))


def move_patient_work(*, organization_id: int, merged_id: int, surviving_id: int, actor: Actor) -> dict[str, int]:
    """Move the merged patient's tasks, outreach attempts, time entries (so the month's minutes per program add up
    on one patient for billing) and running timers to the surviving patient, in the caller's transaction (or its
    own). Task dedupe keys are kept (they name the trigger, which stays unique). One audit event per kind moved on
    each patient's trail. Returns the counts moved by kind."""
    require(actor, organization_id, "worklist.team", "worklist.own")
    moved: dict[str, int] = {}
    with transaction.atomic():
        for name, model in _MOVED:
            fields: dict[str, object] = {"patient_id": surviving_id}
            if any(f.name == "updated_at" for f in model._meta.get_fields()):
                fields["updated_at"] = clock.now()
            n = model.objects.filter(organization_id=organization_id, patient_id=merged_id).update(**fields)
            if n:
                moved[name] = n
        if moved:
            record_events(actor=actor, organization_id=organization_id, events=merge_events(
                "worklist", merged_id=merged_id, surviving_id=surviving_id, moved=moved))
    return moved
