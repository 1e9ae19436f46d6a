"""Care-plan write use-cases. Every change is a new immutable version; every write is audited."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction

from careloop.accounts import rules as access_rules
from careloop.accounts.permissions import require_permission
from careloop.audit.services import record_event
from careloop.careplans import rules
from careloop.careplans.choices import CommentKind
from careloop.careplans.models import ActionCompletion, CarePlan, CarePlanVersion, PlanComment
from careloop.clinics.models import Organization
from careloop.core import clock
from careloop.core.actor import Actor
from careloop.core.errors import NotFound, PermissionDenied, ValidationFailed
from careloop.registry.models import Condition, Patient
from careloop.worklist.models import CareTask
from careloop.worklist.services import create_task

REVIEW_HOUR = 9


def clinic_zone(organization_id: int) -> Any:
    tz = Organization.objects.filter(pk=organization_id).values_list("time_zone", flat=True).first()
    return clock.clinic_zone(tz)


def clinic_today(organization_id: int) -> dt.date:
    return clock.now().astimezone(clinic_zone(organization_id)).date()


def _task_actor(actor: Actor, organization_id: int) -> Actor:
    return actor if access_rules.is_staff_role(actor.role) else Actor.system(organization_id, "careplans")


def _plan(organization_id: int, plan_id: int) -> CarePlan:
    plan = CarePlan.objects.filter(organization_id=organization_id, pk=plan_id).first()
    if plan is None:
        raise NotFound("care plan not found")
    return plan


def _conditions(organization_id: int, patient_id: int) -> list[dict[str, Any]]:
    rows = Condition.objects.filter(organization_id=organization_id, patient_id=patient_id).exclude(
        clinical_status__in=["resolved", "inactive"]).values("id", "icd10", "display")
    return [dict(r) for r in rows]


def _at_morning(organization_id: int, day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(REVIEW_HOUR), tzinfo=clinic_zone(organization_id))


def _create_tasks(plan: CarePlan, intents: list[rules.TaskIntent], actor: Actor, today: dt.date) -> list[CareTask]:
    tasks = []
    for it in intents:
        tasks.append(create_task(
            organization_id=plan.organization_id, patient_id=plan.patient_id, task_type=it.task_type,
            reason=f"Care plan: {it.text}", dedupe_key=f"careplan:{plan.pk}:{it.key}", actor=_task_actor(
                actor, plan.organization_id), source_type="careplan", source_id=str(plan.pk),
            due_at=_at_morning(plan.organization_id, today + dt.timedelta(days=it.due_days)),
            assigned_role=it.role if it.role in access_rules.CLINICAL else "",
        ))
    return tasks


def _new_version(plan: CarePlan, document: rules.Doc, reason: str, actor: Actor) -> CarePlanVersion:
    if not reason.strip():
        raise ValidationFailed("a reason is required", field_errors={"reason": "required"})
    errors = rules.validate_document(document)
    if errors:
        raise ValidationFailed("invalid care plan", field_errors=errors)
    document = rules.normalize(document)
    current = plan.versions.order_by("-number").first()
    if current is not None and current.document == document:
        raise ValidationFailed("nothing changed", field_errors={"document": "no changes since the last version"})
    plan.current_version += 1
    version = CarePlanVersion(plan=plan, number=plan.current_version, document=document, author_id=actor.user_id,
                              author_name=actor.username[:150], reason=reason[:500], created_at=clock.now())
    version.save(force_insert=True)
    plan.save(update_fields=["current_version", "last_reviewed_on", "review_due_on", "status", "updated_at"])
    record_event(actor=actor, organization_id=plan.organization_id, action="careplan.version_saved",
                 patient_id=plan.patient_id, object_type="CarePlan", object_id=str(plan.pk),
                 detail={"version": version.number, "reason": reason[:200]})
    return version


def create_plan(
    *, organization_id: int, patient_id: int, actor: Actor, templates: list[str], reason: str = "Plan created"
) -> CarePlan:
    """A new plan for the patient (pre-filled from condition templates) and the tasks the templates imply."""
    require_permission(actor, "careplan.write")
    if actor.organization_id != organization_id:
        raise PermissionDenied("other organization")
    if not Patient.objects.filter(organization_id=organization_id, pk=patient_id).exists():
        raise NotFound("patient not found")
    unknown = [t for t in templates if t not in rules.templates()]
    if unknown:
        raise ValidationFailed("unknown template", field_errors={"templates": ", ".join(unknown)})
    today = clinic_today(organization_id)
    doc, intents = rules.empty_document(), []
    conditions = _conditions(organization_id, patient_id)
    for key in templates:
        doc, more = rules.apply_template(doc, key, today=today, conditions=conditions)
        intents += more
    with transaction.atomic():
        plan = CarePlan.objects.create(organization_id=organization_id, patient_id=patient_id,
                                       last_reviewed_on=today, review_due_on=rules.next_review_due(today))
        _new_version(plan, doc, reason, actor)
        _create_tasks(plan, intents, actor, today)
    return plan


def save_version(
    *, organization_id: int, plan_id: int, document: rules.Doc, reason: str, actor: Actor,
    base_version: int | None = None, reviewed: bool = False,
) -> CarePlanVersion:
    """Save an edited document as the next version. ``base_version`` guards against overwriting a newer edit."""
    require_permission(actor, "careplan.write")
    with transaction.atomic():
        plan = _plan(organization_id, plan_id)
        CarePlan.objects.select_for_update().filter(pk=plan.pk).first()
        plan.refresh_from_db()
        if base_version is not None and base_version != plan.current_version:
            raise ValidationFailed("the plan changed meanwhile; reload it",
                                   field_errors={"base_version": f"current is {plan.current_version}"})
        if reviewed:
            today = clinic_today(organization_id)
            plan.last_reviewed_on, plan.review_due_on = today, rules.next_review_due(today)
        return _new_version(plan, document, reason, actor)


def apply_template(*, organization_id: int, plan_id: int, key: str, actor: Actor) -> CarePlanVersion:
    require_permission(actor, "careplan.write")
    if key not in rules.templates():
        raise ValidationFailed("unknown template", field_errors={"template": key})
    plan = _plan(organization_id, plan_id)
    today = clinic_today(organization_id)
    current = plan.versions.order_by("-number").first()
    base = current.document if current else rules.empty_document()
    doc, intents = rules.apply_template(base, key, today=today,
                                        conditions=_conditions(organization_id, plan.patient_id))
    with transaction.atomic():
        version = _new_version(plan, doc, f"Template added: {rules.templates()[key]['label']}", actor)
        _create_tasks(plan, intents, actor, today)
    return version


def request_review(
    patient: Patient, reason: str, due: dt.date | dt.datetime, *, actor: Actor | None = None
) -> CareTask:
    """A care-plan review task (after a discharge, or the yearly check). One per patient and due date.
    Called by transitions after each discharge; ``due`` is a clinic-local date (09:00) or an aware datetime."""
    org_id = patient.organization_id
    actor = actor or Actor.system(org_id, "careplans")
    due_at = due if isinstance(due, dt.datetime) else _at_morning(org_id, due)
    day = due_at.astimezone(clinic_zone(org_id)).date()
    return create_task(organization_id=org_id, patient_id=patient.pk, task_type="care_plan_review",
                       reason=reason or "Care plan review", dedupe_key=f"careplan-review:{patient.pk}:{day}",
                       actor=_task_actor(actor, org_id), due_at=due_at, deadline_at=due_at,
                       source_type="careplan")


def run_yearly_reviews(*, organization_id: int, today: dt.date | None = None) -> int:
    """Recurring check: every active plan whose review is due (12 months after the last one) gets a task."""
    today = today or clinic_today(organization_id)
    n = 0
    plans = CarePlan.objects.filter(organization_id=organization_id, status="active",
                                    review_due_on__lte=today).select_related("patient")
    for plan in plans:
        assert plan.review_due_on is not None
        request_review(patient=plan.patient, reason="Yearly care plan review", due=max(plan.review_due_on, today))
        n += 1
    return n


def _check_contributor(actor: Actor, plan: CarePlan, access_verified: bool) -> None:
    if actor.organization_id != plan.organization_id:
        raise PermissionDenied("other organization")
    if access_rules.is_staff_role(actor.role):
        require_permission(actor, "careplan.read")
    elif not access_verified:
        raise PermissionDenied("portal and partner access is checked by the access app")


def add_comment(
    *, organization_id: int, plan_id: int, actor: Actor, body: str, kind: str = CommentKind.COMMENT,
    access_verified: bool = False,
) -> PlanComment:
    plan = _plan(organization_id, plan_id)
    _check_contributor(actor, plan, access_verified)
    if not body.strip():
        raise ValidationFailed("empty comment", field_errors={"body": "required"})
    if kind not in CommentKind.values:
        raise ValidationFailed("bad kind", field_errors={"kind": kind})
    with transaction.atomic():
        c = PlanComment.objects.create(organization_id=organization_id, plan=plan, author_id=actor.user_id,
                                       author_name=actor.username[:150], author_role=actor.role, kind=kind,
                                       body=body[:4000])
        record_event(actor=actor, organization_id=organization_id, action=f"careplan.{kind}_added",
                     patient_id=plan.patient_id, object_type="PlanComment", object_id=str(c.pk))
    return c


def mark_action_done(
    *, organization_id: int, plan_id: int, action_id: str, actor: Actor, access_verified: bool = False
) -> ActionCompletion:
    plan = _plan(organization_id, plan_id)
    _check_contributor(actor, plan, access_verified)
    current = plan.versions.order_by("-number").first()
    ids = {i["id"] for i in (current.document["self_management"] if current else [])}
    if action_id not in ids:
        raise NotFound("no such self-management action")
    with transaction.atomic():
        done = ActionCompletion.objects.create(organization_id=organization_id, plan=plan, action_id=action_id,
                                               done_on=clinic_today(organization_id), by_id=actor.user_id,
                                               by_name=actor.username[:150])
        record_event(actor=actor, organization_id=organization_id, action="careplan.action_done",
                     patient_id=plan.patient_id, object_type="CarePlan", object_id=str(plan.pk),
                     detail={"action_id": action_id})
    return done
