"""Care plans over REST (team side). Portal and partner routes live in the access app."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Router, Schema

from careloop.accounts.permissions import actor_from_request, require_permission
from careloop.audit.services import record_event
from careloop.careplans import export, rules, selectors, services
from careloop.careplans.models import CarePlan
from careloop.core.actor import Actor
from careloop.core.errors import NotFound
from careloop.registry.models import Patient

router = Router(tags=["careplans"])


class PlanOut(Schema):
    id: int
    patient_id: int
    title: str
    status: str
    current_version: int
    last_reviewed_on: dt.date | None
    review_due_on: dt.date | None
    document: dict[str, Any]


class VersionOut(Schema):
    number: int
    author: str
    reason: str
    created_at: dt.datetime
    document: dict[str, Any]


class DiffOut(Schema):
    section: str
    change: str
    text: str


class CommentOut(Schema):
    id: int
    author: str
    role: str
    kind: str
    body: str
    created_at: dt.datetime


class CreateIn(Schema):
    templates: list[str] = []
    reason: str = "Plan created"


class VersionIn(Schema):
    document: dict[str, Any]
    reason: str
    base_version: int | None = None
    reviewed: bool = False


class TemplateIn(Schema):
    key: str


class CommentIn(Schema):
    body: str
    kind: str = "comment"


class ReviewIn(Schema):
    reason: str
    due: dt.date


def _actor(request: HttpRequest, permission: str) -> Actor:
    return require_permission(actor_from_request(request), permission)


def _plan(actor: Actor, plan_id: int, audit: str = "") -> CarePlan:
    assert actor.organization_id is not None
    plan = selectors.plan(organization_id=actor.organization_id, plan_id=plan_id)
    if audit:
        record_event(actor=actor, action=audit, patient_id=plan.patient_id, object_type="CarePlan",
                     object_id=str(plan.pk))
    return plan


def _out(plan: CarePlan) -> dict[str, Any]:
    return {"id": plan.pk, "patient_id": plan.patient_id, "title": plan.title, "status": plan.status,
            "current_version": plan.current_version, "last_reviewed_on": plan.last_reviewed_on,
            "review_due_on": plan.review_due_on, "document": selectors.current_document(plan=plan)}


@router.get("/templates", response=dict[str, str])
def list_templates(request: HttpRequest) -> dict[str, str]:
    _actor(request, "careplan.read")
    return {k: str(v["label"]) for k, v in rules.templates().items()}


@router.get("/patients/{patient_id}", response=list[PlanOut])
def patient_plans(request: HttpRequest, patient_id: int) -> list[dict[str, Any]]:
    actor = _actor(request, "careplan.read")
    assert actor.organization_id is not None
    if not Patient.objects.filter(organization_id=actor.organization_id, pk=patient_id).exists():
        raise NotFound("patient not found")
    plans = list(selectors.plans_for_patient(organization_id=actor.organization_id, patient_id=patient_id))
    record_event(actor=actor, action="careplan.listed", patient_id=patient_id, object_type="Patient",
                 object_id=str(patient_id))
    return [_out(p) for p in plans]


@router.post("/patients/{patient_id}", response={201: PlanOut})
def create_plan(request: HttpRequest, patient_id: int, body: CreateIn) -> tuple[int, dict[str, Any]]:
    actor = _actor(request, "careplan.write")
    assert actor.organization_id is not None
    plan = services.create_plan(organization_id=actor.organization_id, patient_id=patient_id, actor=actor,
                                templates=body.templates, reason=body.reason)
    return 201, _out(plan)


@router.post("/patients/{patient_id}/review", response={201: dict[str, int]})
def request_review(request: HttpRequest, patient_id: int, body: ReviewIn) -> tuple[int, dict[str, int]]:
    actor = _actor(request, "careplan.write")
    assert actor.organization_id is not None
    patient = Patient.objects.filter(organization_id=actor.organization_id, pk=patient_id).first()
    if patient is None:
        raise NotFound("patient not found")
    task = services.request_review(patient=patient, reason=body.reason, due=body.due, actor=actor)
    return 201, {"task_id": task.pk}


@router.get("/{plan_id}", response=PlanOut)
def get_plan(request: HttpRequest, plan_id: int) -> dict[str, Any]:
    actor = _actor(request, "careplan.read")
    return _out(_plan(actor, plan_id, "careplan.viewed"))


@router.get("/{plan_id}/versions", response=list[VersionOut])
def list_versions(request: HttpRequest, plan_id: int) -> list[dict[str, Any]]:
    actor = _actor(request, "careplan.read")
    plan = _plan(actor, plan_id, "careplan.history_viewed")
    return [{"number": v.number, "author": v.author_name, "reason": v.reason, "created_at": v.created_at,
             "document": v.document} for v in selectors.versions(plan=plan)]


@router.post("/{plan_id}/versions", response={201: VersionOut})
def save_version(request: HttpRequest, plan_id: int, body: VersionIn) -> tuple[int, dict[str, Any]]:
    actor = _actor(request, "careplan.write")
    assert actor.organization_id is not None
    v = services.save_version(organization_id=actor.organization_id, plan_id=plan_id, document=body.document,
                              reason=body.reason, actor=actor, base_version=body.base_version, reviewed=body.reviewed)
    return 201, {"number": v.number, "author": v.author_name, "reason": v.reason, "created_at": v.created_at,
                 "document": v.document}


@router.get("/{plan_id}/diff", response=list[DiffOut])
def diff(request: HttpRequest, plan_id: int, a: int, b: int) -> list[dict[str, str]]:
    actor = _actor(request, "careplan.read")
    plan = _plan(actor, plan_id, "careplan.history_viewed")
    return [{"section": d.section, "change": d.change, "text": d.text} for d in selectors.diff(plan=plan, a=a, b=b)]


@router.post("/{plan_id}/templates", response={201: dict[str, int]})
def add_template(request: HttpRequest, plan_id: int, body: TemplateIn) -> tuple[int, dict[str, int]]:
    actor = _actor(request, "careplan.write")
    assert actor.organization_id is not None
    v = services.apply_template(organization_id=actor.organization_id, plan_id=plan_id, key=body.key, actor=actor)
    return 201, {"version": v.number}


@router.get("/{plan_id}/comments", response=list[CommentOut])
def list_comments(request: HttpRequest, plan_id: int) -> list[dict[str, Any]]:
    actor = _actor(request, "careplan.read")
    plan = _plan(actor, plan_id, "careplan.comments_viewed")
    return [{"id": c.pk, "author": c.author_name, "role": c.author_role, "kind": c.kind, "body": c.body,
             "created_at": c.created_at} for c in selectors.comments(plan=plan)]


@router.post("/{plan_id}/comments", response={201: CommentOut})
def add_comment(request: HttpRequest, plan_id: int, body: CommentIn) -> tuple[int, dict[str, Any]]:
    actor = _actor(request, "careplan.read")
    assert actor.organization_id is not None
    c = services.add_comment(organization_id=actor.organization_id, plan_id=plan_id, actor=actor, body=body.body,
                             kind=body.kind)
    return 201, {"id": c.pk, "author": c.author_name, "role": c.author_role, "kind": c.kind, "body": c.body,
                 "created_at": c.created_at}


@router.get("/{plan_id}/fhir")
def fhir_bundle(request: HttpRequest, plan_id: int) -> HttpResponse:
    import orjson

    actor = _actor(request, "careplan.read")
    plan = _plan(actor, plan_id, "careplan.exported")
    return HttpResponse(orjson.dumps(export.fhir_bundle(plan)), content_type="application/fhir+json")


@router.get("/{plan_id}/pdf")
def pdf(request: HttpRequest, plan_id: int) -> HttpResponse:
    actor = _actor(request, "careplan.read")
    plan = _plan(actor, plan_id, "careplan.exported")
    response = HttpResponse(export.pdf_bytes(plan), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="care-plan-{plan.pk}.pdf"'
    return response
