"""Access reads. Portal and partner users only ever see their own patients; everything is org-scoped."""

from __future__ import annotations

import datetime as dt

from django.db.models import Q, QuerySet

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
from careloop.careplans import selectors as plans
from careloop.careplans.models import CarePlan
from careloop.core.actor import Actor


def portal_patient_ids(*, actor: Actor, today: dt.date) -> list[int]:
    """The patient the user is, plus those who consented to the user as caregiver (not revoked)."""
    if actor.user_id is None or actor.organization_id is None:
        return []
    org = actor.organization_id
    if actor.role == "patient":
        return list(PortalAccount.objects.filter(organization_id=org, user_id=actor.user_id)
                    .values_list("patient_id", flat=True))
    if actor.role == "caregiver":
        return sorted(set(ProxyAccess.objects.filter(organization_id=org, caregiver_id=actor.user_id, revoked=False,
                                                     consent_date__lte=today).values_list("patient_id", flat=True)))
    return []


def active_shares(*, actor: Actor, now: dt.datetime) -> QuerySet[PartnerShare]:
    if actor.role != "partner" or actor.user_id is None or actor.organization_id is None:
        return PartnerShare.objects.none()
    return PartnerShare.objects.filter(organization_id=actor.organization_id, partner_id=actor.user_id,
                                       revoked=False, expires_at__gt=now).select_related("patient")


def partner_plans(*, actor: Actor, now: dt.datetime) -> list[CarePlan]:
    shares = list(active_shares(actor=actor, now=now))
    whole = [s.patient_id for s in shares if s.plan_id is None]
    single = [s.plan_id for s in shares if s.plan_id is not None]
    if actor.organization_id is None or not shares:
        return []
    return list(CarePlan.objects.filter(Q(patient_id__in=whole) | Q(pk__in=single),
                                        organization_id=actor.organization_id).select_related("patient")
                .order_by("patient__family", "-pk"))


def portal_plans(*, actor: Actor, today: dt.date) -> list[CarePlan]:
    if actor.organization_id is None:
        return []
    ids = portal_patient_ids(actor=actor, today=today)
    return list(plans.plans_for_patients(organization_id=actor.organization_id, patient_ids=ids))


def visible_plan(*, actor: Actor, plan_id: int, now: dt.datetime, today: dt.date) -> CarePlan | None:
    """The plan when this portal or partner user may see it, else None."""
    pool = partner_plans(actor=actor, now=now) if actor.role == "partner" else portal_plans(actor=actor, today=today)
    return next((p for p in pool if p.pk == plan_id), None)


def protocol(*, organization_id: int) -> AfterHoursProtocol | None:
    return AfterHoursProtocol.objects.filter(organization_id=organization_id).order_by("-pk").first()


def on_call_at(*, organization_id: int, at: dt.datetime) -> QuerySet[OnCallShift]:
    return OnCallShift.objects.filter(organization_id=organization_id, starts_at__lte=at, ends_at__gt=at) \
        .select_related("clinician")


def shifts(*, organization_id: int, start: dt.datetime, end: dt.datetime) -> QuerySet[OnCallShift]:
    return OnCallShift.objects.filter(organization_id=organization_id, ends_at__gt=start, starts_at__lt=end) \
        .select_related("clinician").order_by("starts_at")


def messages(*, organization_id: int, patient_id: int) -> QuerySet[SecureMessage]:
    return SecureMessage.objects.filter(organization_id=organization_id, patient_id=patient_id).order_by("-sent_at")


def notices(*, organization_id: int, patient_id: int) -> QuerySet[AccessNotice]:
    return AccessNotice.objects.filter(organization_id=organization_id, patient_id=patient_id).order_by("-told_on")


def after_hours_contacts(*, organization_id: int, patient_id: int) -> QuerySet[AfterHoursContact]:
    return AfterHoursContact.objects.filter(organization_id=organization_id, patient_id=patient_id) \
        .order_by("-occurred_at")


def proxies(*, organization_id: int, patient_id: int) -> QuerySet[ProxyAccess]:
    return ProxyAccess.objects.filter(organization_id=organization_id, patient_id=patient_id).select_related(
        "caregiver").order_by("-pk")


def shares_for_patient(*, organization_id: int, patient_id: int) -> QuerySet[PartnerShare]:
    return PartnerShare.objects.filter(organization_id=organization_id, patient_id=patient_id).select_related(
        "partner").order_by("-pk")


