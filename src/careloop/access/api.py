"""Access over REST: portal (patient, caregiver), partner, messages, proxies, shares, protocol and on-call."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema

from careloop.access import selectors, services
from careloop.accounts.permissions import actor_from_request, require_permission
from careloop.audit.services import record_event
from careloop.careplans import rules as plan_rules
from careloop.careplans import selectors as plans
from careloop.core import clock
from careloop.core.actor import Actor
from careloop.core.errors import NotFound
from careloop.registry.models import Patient

router = Router(tags=["access"])


class PlainPlanOut(Schema):
    id: int
    patient_id: int
    version: int
    sections: list[dict[str, Any]]


class CommentIn(Schema):
    body: str
    kind: str = "comment"


class MessageIn(Schema):
    patient_id: int
    body: str


class MessageOut(Schema):
    id: int
    task_id: int | None
    show_instructions: bool
    instructions: str
    nurse_line_phone: str
    urgent_terms: list[str]


class ProxyIn(Schema):
    caregiver_id: int
    consent_date: dt.date
    relationship: str = ""


class ShareIn(Schema):
    partner_id: int
    partner_kind: str
    expires_at: dt.datetime
    plan_id: int | None = None


class ProtocolIn(Schema):
    nurse_line_phone: str
    instructions: str
    office_open: dt.time = dt.time(8)
    office_close: dt.time = dt.time(17)
    response_business_days: int = 1


class ShiftIn(Schema):
    clinician_id: int
    starts_at: dt.datetime
    ends_at: dt.datetime
    phone: str = ""


class NoticeIn(Schema):
    told_on: dt.date
    method: str
    note: str = ""


class CallIn(Schema):
    summary: str
    occurred_at: dt.datetime | None = None


def _actor(request: HttpRequest, permission: str) -> Actor:
    return require_permission(actor_from_request(request), permission)


def _plain(actor: Actor, plan_id: int) -> dict[str, Any]:
    plan = services.view_plan(actor=actor, plan_id=plan_id)
    v = plans.version(plan=plan)
    return {"id": plan.pk, "patient_id": plan.patient_id, "version": v.number,
            "sections": plan_rules.plain_language(v.document, plans.done_action_ids(plan=plan))}


def _today(actor: Actor) -> dt.date:
    from careloop.careplans.services import clinic_today

    assert actor.organization_id is not None
    return clinic_today(actor.organization_id)


@router.get("/portal/plans", response=list[dict[str, Any]])
def portal_plans(request: HttpRequest) -> list[dict[str, Any]]:
    actor = _actor(request, "portal.use")
    return [{"id": p.pk, "patient_id": p.patient_id, "title": p.title}
            for p in selectors.portal_plans(actor=actor, today=_today(actor))]


@router.get("/portal/plans/{plan_id}", response=PlainPlanOut)
def portal_plan(request: HttpRequest, plan_id: int) -> dict[str, Any]:
    return _plain(_actor(request, "portal.use"), plan_id)


@router.post("/portal/plans/{plan_id}/comments", response={201: dict[str, int]})
def portal_comment(request: HttpRequest, plan_id: int, body: CommentIn) -> tuple[int, dict[str, int]]:
    actor = _actor(request, "portal.use")
    c = services.comment_on_plan(actor=actor, plan_id=plan_id, body=body.body, kind=body.kind)
    return 201, {"id": c.pk}


@router.post("/portal/plans/{plan_id}/actions/{action_id}/done", response={201: dict[str, int]})
def portal_done(request: HttpRequest, plan_id: int, action_id: str) -> tuple[int, dict[str, int]]:
    actor = _actor(request, "portal.use")
    d = services.mark_action_done(actor=actor, plan_id=plan_id, action_id=action_id)
    return 201, {"id": d.pk}


@router.post("/portal/messages", response={201: MessageOut})
def send_message(request: HttpRequest, body: MessageIn) -> tuple[int, dict[str, Any]]:
    actor = _actor(request, "portal.use")
    r = services.send_message(actor=actor, patient_id=body.patient_id, body=body.body)
    return 201, {"id": r.message.pk, "task_id": r.task.pk, "show_instructions": r.show_instructions,
                 "instructions": r.instructions, "nurse_line_phone": r.nurse_line_phone, "urgent_terms": r.urgent_terms}


@router.get("/partner/plans", response=list[dict[str, Any]])
def partner_plans(request: HttpRequest) -> list[dict[str, Any]]:
    actor = _actor(request, "partner.use")
    return [{"id": p.pk, "patient_id": p.patient_id, "title": p.title}
            for p in selectors.partner_plans(actor=actor, now=clock.now())]


@router.get("/partner/plans/{plan_id}", response=PlainPlanOut)
def partner_plan(request: HttpRequest, plan_id: int) -> dict[str, Any]:
    return _plain(_actor(request, "partner.use"), plan_id)


@router.post("/partner/plans/{plan_id}/comments", response={201: dict[str, int]})
def partner_comment(request: HttpRequest, plan_id: int, body: CommentIn) -> tuple[int, dict[str, int]]:
    actor = _actor(request, "partner.use")
    c = services.comment_on_plan(actor=actor, plan_id=plan_id, body=body.body)
    return 201, {"id": c.pk}


@router.post("/patients/{patient_id}/proxies", response={201: dict[str, int]})
def grant_proxy(request: HttpRequest, patient_id: int, body: ProxyIn) -> tuple[int, dict[str, int]]:
    actor = _actor(request, "access.manage")
    assert actor.organization_id is not None
    p = services.grant_proxy(organization_id=actor.organization_id, patient_id=patient_id,
                             caregiver_id=body.caregiver_id, consent_date=body.consent_date,
                             relationship=body.relationship, actor=actor)
    return 201, {"id": p.pk}


@router.post("/proxies/{proxy_id}/revoke", response=dict[str, int])
def revoke_proxy(request: HttpRequest, proxy_id: int) -> dict[str, int]:
    actor = _actor(request, "access.manage")
    assert actor.organization_id is not None
    return {"id": services.revoke_proxy(organization_id=actor.organization_id, proxy_id=proxy_id, actor=actor).pk}


@router.post("/patients/{patient_id}/shares", response={201: dict[str, int]})
def share(request: HttpRequest, patient_id: int, body: ShareIn) -> tuple[int, dict[str, int]]:
    actor = _actor(request, "access.manage")
    assert actor.organization_id is not None
    s = services.share_with_partner(organization_id=actor.organization_id, patient_id=patient_id,
                                    partner_id=body.partner_id, partner_kind=body.partner_kind,
                                    expires_at=body.expires_at, plan_id=body.plan_id, actor=actor)
    return 201, {"id": s.pk}


@router.post("/shares/{share_id}/revoke", response=dict[str, int])
def revoke_share(request: HttpRequest, share_id: int) -> dict[str, int]:
    actor = _actor(request, "access.manage")
    assert actor.organization_id is not None
    return {"id": services.revoke_share(organization_id=actor.organization_id, share_id=share_id, actor=actor).pk}


@router.post("/patients/{patient_id}/notices", response={201: dict[str, int]})
def notice(request: HttpRequest, patient_id: int, body: NoticeIn) -> tuple[int, dict[str, int]]:
    actor = _actor(request, "careplan.write")
    assert actor.organization_id is not None
    n = services.record_access_notice(organization_id=actor.organization_id, patient_id=patient_id,
                                      told_on=body.told_on, method=body.method, note=body.note, actor=actor)
    return 201, {"id": n.pk}


@router.post("/patients/{patient_id}/after-hours-calls", response={201: dict[str, int]})
def after_hours_call(request: HttpRequest, patient_id: int, body: CallIn) -> tuple[int, dict[str, int]]:
    actor = _actor(request, "oncall.log")
    c = services.log_after_hours_call(actor=actor, patient_id=patient_id, summary=body.summary,
                                      occurred_at=body.occurred_at)
    return 201, {"id": c.pk, "task_id": c.followup_task_id or 0}


@router.get("/patients/{patient_id}/messages", response=list[dict[str, Any]])
def patient_messages(request: HttpRequest, patient_id: int) -> list[dict[str, Any]]:
    actor = _actor(request, "careplan.read")
    assert actor.organization_id is not None
    if not Patient.objects.filter(organization_id=actor.organization_id, pk=patient_id).exists():
        raise NotFound("patient not found")
    rows = list(selectors.messages(organization_id=actor.organization_id, patient_id=patient_id))
    record_event(actor=actor, action="message.listed", patient_id=patient_id, object_type="Patient",
                 object_id=str(patient_id))
    return [{"id": m.pk, "sender": m.sender_name, "kind": m.sender_kind, "body": m.body,
             "sent_at": m.sent_at.isoformat(), "urgent_terms": m.urgent_terms, "after_hours": m.after_hours,
             "task_id": m.task_id} for m in rows]


@router.get("/protocol", response=dict[str, Any])
def get_protocol(request: HttpRequest) -> dict[str, Any]:
    actor = _actor(request, "oncall.read")
    assert actor.organization_id is not None
    p = selectors.protocol(organization_id=actor.organization_id)
    if p is None:
        return {"nurse_line_phone": "", "instructions": services.DEFAULT_INSTRUCTIONS}
    return {"nurse_line_phone": p.nurse_line_phone, "instructions": p.instructions,
            "office_open": p.office_open.isoformat(), "office_close": p.office_close.isoformat(),
            "response_business_days": p.response_business_days}


@router.post("/protocol", response={201: dict[str, int]})
def set_protocol(request: HttpRequest, body: ProtocolIn) -> tuple[int, dict[str, int]]:
    actor = _actor(request, "access.manage")
    assert actor.organization_id is not None
    p = services.set_protocol(organization_id=actor.organization_id, actor=actor, **body.dict())
    return 201, {"id": p.pk}


@router.get("/on-call", response=list[dict[str, Any]])
def on_call(request: HttpRequest, days: int = 14) -> list[dict[str, Any]]:
    actor = _actor(request, "oncall.read")
    assert actor.organization_id is not None
    now = clock.now()
    rows = selectors.shifts(organization_id=actor.organization_id, start=now,
                            end=now + dt.timedelta(days=max(1, min(days, 90))))
    return [{"id": s.pk, "clinician_id": s.clinician_id, "clinician": str(s.clinician),
             "starts_at": s.starts_at.isoformat(), "ends_at": s.ends_at.isoformat(), "phone": s.phone} for s in rows]


@router.post("/on-call", response={201: dict[str, int]})
def add_shift(request: HttpRequest, body: ShiftIn) -> tuple[int, dict[str, int]]:
    actor = _actor(request, "access.manage")
    assert actor.organization_id is not None
    s = services.add_on_call_shift(organization_id=actor.organization_id, clinician_id=body.clinician_id,
                                   starts_at=body.starts_at, ends_at=body.ends_at, phone=body.phone, actor=actor)
    return 201, {"id": s.pk}
