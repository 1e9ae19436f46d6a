"""Program orchestration that creates care tasks (worklist sits above programs in the layering, so the task
side of enrollment lives here): enrollment calls for the top of the enroll-first list, and a scheduling task
for every open enrollment whose initiating visit (cms-rules 2.5) is missing."""

from __future__ import annotations

from careloop.core.actor import Actor
from careloop.programs import selectors as programs
from careloop.worklist.choices import TaskType
from careloop.worklist.services.tasks import BulkCreateResult, TaskSpec, create_tasks_bulk


def create_enrollment_calls(*, organization_id: int, month: str, top: int, actor: Actor) -> BulkCreateResult:
    """One enrollment-call task per patient in the top ``top`` of the month's enroll-first list (capacity-aware);
    deduplicated per patient, program and month, so a rerun creates nothing new."""
    ranked = programs.enroll_first(organization_id=organization_id, month=month, limit=top)
    specs = [
        TaskSpec(
            patient_id=r.patient_id, task_type=TaskType.ENROLLMENT_CALL, program=r.program,
            reason=f"Offer {r.program}{' ' + r.level if r.level else ''}: eligible {month}, {r.tier} risk, "
                   f"about ${r.value:.2f}/month",
            dedupe_key=f"programs:enroll-call:{r.program}:{r.patient_id}:{month}",
            source_type="EnrollFirst", source_id=month, value_note=f"score {r.score:.2f}",
        )
        for r in ranked.rows
    ]
    return create_tasks_bulk(organization_id=organization_id, specs=specs, actor=actor)


def create_initiating_visit_tasks(*, organization_id: int, actor: Actor) -> BulkCreateResult:
    """Schedule an initiating visit (E/M, AWV or IPPE) for each open enrollment that needs one."""
    specs = [
        TaskSpec(
            patient_id=e.patient_id, task_type=TaskType.FOLLOWUP_VISIT_SCHEDULING, program=e.program,
            reason=f"Schedule the initiating visit for {e.program} (not seen by the practice in the window)",
            dedupe_key=f"programs:initiating-visit:{e.pk}", source_type="Enrollment", source_id=str(e.pk),
        )
        for e in programs.enrollments_missing_visit(organization_id=organization_id)
    ]
    return create_tasks_bulk(organization_id=organization_id, specs=specs, actor=actor)
