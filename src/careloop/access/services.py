"""Access use-cases: portal links, caregiver proxies, partner shares, messages, after-hours protocol, on-call."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from careloop.access import rules, selectors
from careloop.access.choices import ContactChannel, MessageSender, NoticeMethod, PartnerKind
from careloop.access.models import (
    AccessNotice,
    AfterHoursContact,
    AfterHoursProtocol,
    OnCallShift,
    PartnerShare,
    PortalAccount,
    ProxyAccess,
    SecureMessage,
)
from careloop.accounts.models import User
from careloop.accounts.permissions import require_permission
from careloop.audit.services import record_event
from careloop.careplans import services as careplans
from careloop.careplans.models import CarePlan
from careloop.clinics.models import Organization
from careloop.core import clock
from careloop.core.actor import Actor
from careloop.core.errors import NotFound, PermissionDenied, ValidationFailed
from careloop.registry.models import Patient
from careloop.worklist.models import CareTask
from careloop.worklist.services import create_task

DEFAULT_INSTRUCTIONS = ("If this is an emergency, call 911. For urgent questions when the office is closed, "
                        "call the nurse line.")


@dataclass(frozen=True)
class MessageResult:
    message: SecureMessage
    task: CareTask
    show_instructions: bool
    instructions: str
    nurse_line_phone: str
    urgent_terms: list[str]


def _zone(organization_id: int) -> Any:
    tz = Organization.objects.filter(pk=organization_id).values_list("time_zone", flat=True).first()
    return clock.clinic_zone(tz)


def _patient(organization_id: int, patient_id: int) -> Patient:
    p = Patient.objects.filter(organization_id=organization_id, pk=patient_id).first()
    if p is None:
        raise NotFound("patient not found")
    return p


def _user(organization_id: int, user_id: int, role: str) -> User:
    u = User.objects.filter(organization_id=organization_id, pk=user_id, role=role).first()
    if u is None:
        raise ValidationFailed(f"no {role} user {user_id}", field_errors={"user": f"must be a {role} in this clinic"})
    return u


def _manage(actor: Actor, organization_id: int) -> None:
    require_permission(actor, "access.manage")
    if actor.organization_id != organization_id:
        raise PermissionDenied("other organization")


def _audit(actor: Actor, action: str, patient_id: int | None, obj: Any, **detail: Any) -> None:
    record_event(actor=actor, organization_id=actor.organization_id, action=action, patient_id=patient_id,
                 object_type=type(obj).__name__, object_id=str(obj.pk), detail=detail or None)


@transaction.atomic
def link_portal_account(*, organization_id: int, patient_id: int, user_id: int, actor: Actor) -> PortalAccount:
    _manage(actor, organization_id)
    _patient(organization_id, patient_id)
    _user(organization_id, user_id, "patient")
    acct, _ = PortalAccount.objects.update_or_create(user_id=user_id, defaults={
        "organization_id": organization_id, "patient_id": patient_id})
    _audit(actor, "access.portal_linked", patient_id, acct)
    return acct


@transaction.atomic
def grant_proxy(*, organization_id: int, patient_id: int, caregiver_id: int, consent_date: dt.date, actor: Actor,
                relationship: str = "") -> ProxyAccess:
    _manage(actor, organization_id)
    _patient(organization_id, patient_id)
    _user(organization_id, caregiver_id, "caregiver")
    proxy = ProxyAccess.objects.create(organization_id=organization_id, patient_id=patient_id,
                                       caregiver_id=caregiver_id, consent_date=consent_date,
                                       relationship=relationship[:64])
    _audit(actor, "access.proxy_granted", patient_id, proxy, consent_date=consent_date.isoformat())
    return proxy


@transaction.atomic
def revoke_proxy(*, organization_id: int, proxy_id: int, actor: Actor) -> ProxyAccess:
    _manage(actor, organization_id)
    proxy = ProxyAccess.objects.filter(organization_id=organization_id, pk=proxy_id).first()
    if proxy is None:
        raise NotFound("proxy access not found")
    proxy.revoked, proxy.revoked_at = True, clock.now()
    proxy.save(update_fields=["revoked", "revoked_at", "updated_at"])
    _audit(actor, "access.proxy_revoked", proxy.patient_id, proxy)
    return proxy


@transaction.atomic
def share_with_partner(*, organization_id: int, patient_id: int, partner_id: int, partner_kind: str,
                       expires_at: dt.datetime, actor: Actor, plan_id: int | None = None) -> PartnerShare:
    _manage(actor, organization_id)
    _patient(organization_id, patient_id)
    _user(organization_id, partner_id, "partner")
    if partner_kind not in PartnerKind.values:
        raise ValidationFailed("bad partner kind", field_errors={"partner_kind": partner_kind})
    if expires_at <= clock.now():
        raise ValidationFailed("expiry must be in the future", field_errors={"expires_at": "in the past"})
    if plan_id is not None and not CarePlan.objects.filter(organization_id=organization_id, pk=plan_id,
                                                           patient_id=patient_id).exists():
        raise NotFound("care plan not found for this patient")
    share = PartnerShare.objects.create(organization_id=organization_id, patient_id=patient_id, plan_id=plan_id,
                                        partner_id=partner_id, partner_kind=partner_kind, expires_at=expires_at,
                                        shared_by=actor.username[:150])
    _audit(actor, "access.partner_shared", patient_id, share, expires_at=expires_at.isoformat())
    return share


@transaction.atomic
def revoke_share(*, organization_id: int, share_id: int, actor: Actor) -> PartnerShare:
    _manage(actor, organization_id)
    share = PartnerShare.objects.filter(organization_id=organization_id, pk=share_id).first()
    if share is None:
        raise NotFound("share not found")
    share.revoked = True
    share.save(update_fields=["revoked", "updated_at"])
    _audit(actor, "access.partner_share_revoked", share.patient_id, share)
    return share


@transaction.atomic
def set_protocol(*, organization_id: int, nurse_line_phone: str, instructions: str, actor: Actor,
                 office_open: dt.time = dt.time(8), office_close: dt.time = dt.time(17),
                 response_business_days: int = 1) -> AfterHoursProtocol:
    _manage(actor, organization_id)
    errors = {}
    if not nurse_line_phone.strip():
        errors["nurse_line_phone"] = "required"
    if not instructions.strip():
        errors["instructions"] = "required"
    if office_open >= office_close:
        errors["office_close"] = "must be after opening"
    if not 1 <= response_business_days <= 5:
        errors["response_business_days"] = "1 to 5"
    if errors:
        raise ValidationFailed("invalid protocol", field_errors=errors)
    p = AfterHoursProtocol.objects.create(organization_id=organization_id, nurse_line_phone=nurse_line_phone[:40],
                                          instructions=instructions, office_open=office_open,
                                          office_close=office_close, response_business_days=response_business_days)
    _audit(actor, "access.protocol_set", None, p)
    return p


@transaction.atomic
def add_on_call_shift(*, organization_id: int, clinician_id: int, starts_at: dt.datetime, ends_at: dt.datetime,
                      actor: Actor, phone: str = "") -> OnCallShift:
    _manage(actor, organization_id)
    if ends_at <= starts_at:
        raise ValidationFailed("shift ends before it starts", field_errors={"ends_at": "must be after starts_at"})
    if not User.objects.filter(organization_id=organization_id, pk=clinician_id,
                               role__in=["provider", "nurse"]).exists():
        raise ValidationFailed("on-call must be a provider or nurse", field_errors={"clinician": "provider or nurse"})
    shift = OnCallShift.objects.create(organization_id=organization_id, clinician_id=clinician_id,
                                       starts_at=starts_at, ends_at=ends_at, phone=phone[:40])
    _audit(actor, "access.on_call_added", None, shift)
    return shift


@transaction.atomic
def record_access_notice(*, organization_id: int, patient_id: int, told_on: dt.date, method: str, actor: Actor,
                         note: str = "") -> AccessNotice:
    require_permission(actor, "careplan.write")
    _patient(organization_id, patient_id)
    if method not in NoticeMethod.values:
        raise ValidationFailed("bad method", field_errors={"method": method})
    n = AccessNotice.objects.create(organization_id=organization_id, patient_id=patient_id, told_on=told_on,
                                    method=method, recorded_by=actor.username[:150], note=note[:300])
    _audit(actor, "access.notice_recorded", patient_id, n, method=method)
    return n


def _protocol_values(organization_id: int) -> tuple[str, str, dt.time, dt.time, int]:
    p = selectors.protocol(organization_id=organization_id)
    if p is None:
        return "", DEFAULT_INSTRUCTIONS, dt.time(8), dt.time(17), 1
    return p.nurse_line_phone, p.instructions, p.office_open, p.office_close, p.response_business_days


def send_message(*, actor: Actor, patient_id: int, body: str) -> MessageResult:
    """A patient's or caregiver's message: stored, routed to the designated member's queue as a
    ``message_response`` task with a response deadline, and answered at once with the after-hours
    instructions when it is urgent or sent outside office hours (then also logged as an after-hours contact)."""
    require_permission(actor, "portal.use")
    org_id = actor.organization_id
    assert org_id is not None
    zone = _zone(org_id)
    now = clock.now()
    local = now.astimezone(zone)
    if patient_id not in selectors.portal_patient_ids(actor=actor, today=local.date()):
        raise PermissionDenied("not your patient")
    if not body.strip():
        raise ValidationFailed("empty message", field_errors={"body": "required"})
    phone, instructions, opens, closes, days = _protocol_values(org_id)
    terms = rules.urgent_terms(body)
    after = rules.is_after_hours(local, office_open=opens, office_close=closes)
    deadline = rules.response_deadline(local, business_days=days, office_close=closes)
    system = Actor.system(org_id, "secure messaging")
    with transaction.atomic():
        msg = SecureMessage.objects.create(
            organization_id=org_id, patient_id=patient_id, sender_id=actor.user_id, sender_name=actor.username[:150],
            sender_kind=MessageSender.PATIENT if actor.role == "patient" else MessageSender.CAREGIVER,
            body=body[:8000], sent_at=now, urgent_terms=terms, after_hours=after)
        due = rules.next_business_morning(local, office_open=opens) if after else None
        reason = ("URGENT terms: " + ", ".join(terms) + ". " if terms else "") + f"Portal message: {body[:300]}"
        task = create_task(organization_id=org_id, patient_id=patient_id, task_type="message_response",
                           reason=reason, dedupe_key=f"message:{msg.pk}", actor=system, source_type="SecureMessage",
                           source_id=str(msg.pk), due_at=min(due, deadline) if due else None, deadline_at=deadline,
                           value_note="urgent keywords" if terms else "")
        msg.task_id = task.pk
        msg.save(update_fields=["task_id", "updated_at"])
        if after:
            AfterHoursContact.objects.create(organization_id=org_id, patient_id=patient_id,
                                             channel=ContactChannel.MESSAGE, occurred_at=now,
                                             handled_by="portal (instructions shown)", summary=body[:2000],
                                             message=msg, followup_task_id=task.pk)
        _audit(actor, "message.sent", patient_id, msg, urgent=bool(terms), after_hours=after, task_id=task.pk)
    return MessageResult(msg, task, bool(terms) or after, instructions, phone, terms)


def reply_message(*, actor: Actor, patient_id: int, body: str) -> SecureMessage:
    require_permission(actor, "careplan.write")
    org_id = actor.organization_id
    assert org_id is not None
    _patient(org_id, patient_id)
    if not body.strip():
        raise ValidationFailed("empty message", field_errors={"body": "required"})
    with transaction.atomic():
        msg = SecureMessage.objects.create(organization_id=org_id, patient_id=patient_id, sender_id=actor.user_id,
                                           sender_name=actor.username[:150], sender_kind=MessageSender.TEAM,
                                           body=body[:8000], sent_at=clock.now())
        _audit(actor, "message.replied", patient_id, msg)
    return msg


def log_after_hours_call(*, actor: Actor, patient_id: int, summary: str,
                         occurred_at: dt.datetime | None = None) -> AfterHoursContact:
    """The on-call clinician's call: written to the chart, and a follow-up task due the next business morning."""
    require_permission(actor, "oncall.log")
    org_id = actor.organization_id
    assert org_id is not None
    _patient(org_id, patient_id)
    if not summary.strip():
        raise ValidationFailed("summary required", field_errors={"summary": "required"})
    occurred_at = occurred_at or clock.now()
    _, _, opens, _, _ = _protocol_values(org_id)
    due = rules.next_business_morning(occurred_at.astimezone(_zone(org_id)), office_open=opens)
    with transaction.atomic():
        contact = AfterHoursContact.objects.create(organization_id=org_id, patient_id=patient_id,
                                                   channel=ContactChannel.CALL, occurred_at=occurred_at,
                                                   handled_by=actor.username[:150], summary=summary[:4000])
        task = create_task(organization_id=org_id, patient_id=patient_id, task_type="other",
                           reason=f"After-hours call follow-up: {summary[:300]}",
                           dedupe_key=f"after-hours-call:{contact.pk}", actor=actor, source_type="AfterHoursContact",
                           source_id=str(contact.pk), due_at=due)
        contact.followup_task_id = task.pk
        contact.save(update_fields=["followup_task_id", "updated_at"])
        _audit(actor, "access.after_hours_call_logged", patient_id, contact, task_id=task.pk)
    return contact


def _visible(actor: Actor, plan_id: int) -> CarePlan:
    if actor.role not in ("patient", "caregiver", "partner"):
        raise PermissionDenied("portal and partner users only")
    assert actor.organization_id is not None
    now = clock.now()
    plan = selectors.visible_plan(actor=actor, plan_id=plan_id, now=now,
                                  today=now.astimezone(_zone(actor.organization_id)).date())
    if plan is None:
        record_event(actor=actor, action="careplan.access_denied", object_type="CarePlan", object_id=str(plan_id),
                     outcome="denied")
        raise NotFound("care plan not found")
    return plan


def view_plan(*, actor: Actor, plan_id: int) -> CarePlan:
    """A portal or partner read of a plan, audited."""
    plan = _visible(actor, plan_id)
    record_event(actor=actor, action="careplan.viewed", patient_id=plan.patient_id, object_type="CarePlan",
                 object_id=str(plan.pk), detail={"via": "partner" if actor.role == "partner" else "portal"})
    return plan


def comment_on_plan(*, actor: Actor, plan_id: int, body: str, kind: str = "comment") -> Any:
    plan = _visible(actor, plan_id)
    if actor.role == "partner" and kind != "comment":
        raise PermissionDenied("partners may comment only")
    assert actor.organization_id is not None
    return careplans.add_comment(organization_id=actor.organization_id, plan_id=plan.pk, actor=actor, body=body,
                                 kind=kind, access_verified=True)


def mark_action_done(*, actor: Actor, plan_id: int, action_id: str) -> Any:
    if actor.role == "partner":
        raise PermissionDenied("partners may not mark actions done")
    plan = _visible(actor, plan_id)
    assert actor.organization_id is not None
    return careplans.mark_action_done(organization_id=actor.organization_id, plan_id=plan.pk, action_id=action_id,
                                      actor=actor, access_verified=True)
