"""Portal (patients, caregivers), partner view and the on-call schedule page. Portal and partner pages only
ever show the user's own patients (access.selectors does the scoping; services audit every read)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.http import require_http_methods, require_POST

from careloop.access import selectors, services
from careloop.accounts import rules as access_rules
from careloop.accounts.models import User
from careloop.careplans import export
from careloop.careplans import rules as plan_rules
from careloop.careplans import selectors as plans
from careloop.careplans.services import clinic_today, clinic_zone
from careloop.careplans.views import guarded
from careloop.core import clock
from careloop.core.actor import Actor
from careloop.core.errors import ValidationFailed
from careloop.registry.models import Patient


def _org(actor: Actor) -> int:
    assert actor.organization_id is not None
    return actor.organization_id


def _plan_cards(actor: Actor, pool: list[Any]) -> list[dict[str, Any]]:
    cards = []
    for p in pool:
        plan = services.view_plan(actor=actor, plan_id=p.pk)
        v = plans.version(plan=plan)
        cards.append({"plan": plan, "v": v, "comments": plans.comments(plan=plan),
                      "sections": plan_rules.plain_language(v.document, plans.done_action_ids(plan=plan))})
    return cards


@guarded("portal.use")
def portal(request: HttpRequest, actor: Actor, result: Any = None, error: str = "") -> HttpResponse:
    today = clinic_today(_org(actor))
    ids = selectors.portal_patient_ids(actor=actor, today=today)
    patients = list(Patient.objects.filter(organization_id=_org(actor), pk__in=ids).order_by("family"))
    proto = selectors.protocol(organization_id=_org(actor))
    return render(request, "access/portal.html", {
        "cards": _plan_cards(actor, selectors.portal_plans(actor=actor, today=today)), "patients": patients,
        "messages_by_patient": [(pt, list(selectors.messages(organization_id=_org(actor), patient_id=pt.pk)[:20]))
                                for pt in patients],
        "protocol": proto, "default_instructions": services.DEFAULT_INSTRUCTIONS, "result": result, "error": error,
    }, status=400 if error else 200)


@require_POST
@guarded("portal.use")
def portal_comment(request: HttpRequest, actor: Actor, plan_id: int) -> HttpResponse:
    kind = "goal_proposal" if request.POST.get("kind") == "goal_proposal" else "comment"
    services.comment_on_plan(actor=actor, plan_id=plan_id, body=request.POST.get("body", ""), kind=kind)
    return HttpResponseRedirect(f"/portal/#plan-{plan_id}")


@require_POST
@guarded("portal.use")
def portal_done(request: HttpRequest, actor: Actor, plan_id: int, action_id: str) -> HttpResponse:
    services.mark_action_done(actor=actor, plan_id=plan_id, action_id=action_id)
    return HttpResponseRedirect(f"/portal/#plan-{plan_id}")


@require_POST
@guarded("portal.use")
def portal_message(request: HttpRequest, actor: Actor) -> HttpResponse:
    try:
        result = services.send_message(actor=actor, patient_id=int(request.POST.get("patient_id") or 0),
                                       body=request.POST.get("body", ""))
    except ValidationFailed as exc:
        return portal.__wrapped__(request, actor, error=str(exc))  # type: ignore[attr-defined,no-any-return]
    return portal.__wrapped__(request, actor, result=result)  # type: ignore[attr-defined,no-any-return]


@guarded("portal.use")
def portal_pdf(request: HttpRequest, actor: Actor, plan_id: int) -> HttpResponse:
    plan = services.view_plan(actor=actor, plan_id=plan_id)
    response = HttpResponse(export.pdf_bytes(plan), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="my-care-plan-{plan.pk}.pdf"'
    return response


@guarded("partner.use")
def partner(request: HttpRequest, actor: Actor) -> HttpResponse:
    shares = list(selectors.active_shares(actor=actor, now=clock.now()))
    return render(request, "access/partner.html", {
        "cards": _plan_cards(actor, selectors.partner_plans(actor=actor, now=clock.now())), "shares": shares})


@require_POST
@guarded("partner.use")
def partner_comment(request: HttpRequest, actor: Actor, plan_id: int) -> HttpResponse:
    services.comment_on_plan(actor=actor, plan_id=plan_id, body=request.POST.get("body", ""))
    return HttpResponseRedirect(f"/partner/#plan-{plan_id}")


def _dt(value: str, zone: Any) -> dt.datetime:
    try:
        return dt.datetime.fromisoformat(value).replace(tzinfo=zone)
    except ValueError as exc:
        raise ValidationFailed("bad date and time", field_errors={"when": value}) from exc


@require_http_methods(["GET", "POST"])
@guarded("oncall.read")
def on_call(request: HttpRequest, actor: Actor) -> HttpResponse:
    zone = clinic_zone(_org(actor))
    can_manage = access_rules.has_permission(actor.role, "access.manage")
    error = ""
    if request.method == "POST" and can_manage:
        try:
            if request.POST.get("form") == "protocol":
                services.set_protocol(organization_id=_org(actor), nurse_line_phone=request.POST.get("phone", ""),
                                      instructions=request.POST.get("instructions", ""), actor=actor)
            else:
                services.add_on_call_shift(
                    organization_id=_org(actor), clinician_id=int(request.POST.get("clinician") or 0),
                    starts_at=_dt(request.POST.get("starts_at", ""), zone),
                    ends_at=_dt(request.POST.get("ends_at", ""), zone), phone=request.POST.get("phone", ""),
                    actor=actor)
            return HttpResponseRedirect("/access/on-call/")
        except ValidationFailed as exc:
            error = f"{exc}: " + "; ".join(f"{k} {v}" for k, v in (exc.field_errors or {}).items())
    now = clock.now()
    return render(request, "access/on_call.html", {
        "shifts": selectors.shifts(organization_id=_org(actor), start=now - dt.timedelta(days=1),
                                   end=now + dt.timedelta(days=28)),
        "now_on_call": list(selectors.on_call_at(organization_id=_org(actor), at=now)),
        "protocol": selectors.protocol(organization_id=_org(actor)), "can_manage": can_manage, "error": error,
        "clinicians": User.objects.filter(organization_id=_org(actor), role__in=["provider", "nurse"],
                                          is_active=True).order_by("last_name", "username"),
        "zone": str(zone),
    }, status=400 if error else 200)
