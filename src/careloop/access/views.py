"""Portal (patients, caregivers), partner view and the on-call schedule page. Portal and partner pages only
ever show the user's own patients (access.selectors does the scoping; services audit every read)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.http import require_http_methods, require_POST

from careloop.access import selectors, services
from careloop.access.choices import NoticeMethod, PartnerKind
from careloop.accounts import rules as access_rules
from careloop.accounts.models import User
from careloop.accounts.permissions import staff_view
from careloop.careplans import export
from careloop.careplans import rules as plan_rules
from careloop.careplans import selectors as plans
from careloop.careplans.services import clinic_today, clinic_zone
from careloop.core import clock
from careloop.core.actor import Actor
from careloop.core.errors import NotFound, ValidationFailed
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


@staff_view("portal.use")
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
@staff_view("portal.use")
def portal_comment(request: HttpRequest, actor: Actor, plan_id: int) -> HttpResponse:
    kind = "goal_proposal" if request.POST.get("kind") == "goal_proposal" else "comment"
    services.comment_on_plan(actor=actor, plan_id=plan_id, body=request.POST.get("body", ""), kind=kind)
    return HttpResponseRedirect(f"/portal/#plan-{plan_id}")


@require_POST
@staff_view("portal.use")
def portal_done(request: HttpRequest, actor: Actor, plan_id: int, action_id: str) -> HttpResponse:
    services.mark_action_done(actor=actor, plan_id=plan_id, action_id=action_id)
    return HttpResponseRedirect(f"/portal/#plan-{plan_id}")


@require_POST
@staff_view("portal.use")
def portal_message(request: HttpRequest, actor: Actor) -> HttpResponse:
    try:
        result = services.send_message(actor=actor, patient_id=int(request.POST.get("patient_id") or 0),
                                       body=request.POST.get("body", ""))
    except ValidationFailed as exc:
        return portal.__wrapped__(request, actor, error=str(exc))  # type: ignore[attr-defined,no-any-return]
    return portal.__wrapped__(request, actor, result=result)  # type: ignore[attr-defined,no-any-return]


@staff_view("portal.use")
def portal_pdf(request: HttpRequest, actor: Actor, plan_id: int) -> HttpResponse:
    plan = services.view_plan(actor=actor, plan_id=plan_id)
    response = HttpResponse(export.pdf_bytes(plan), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="my-care-plan-{plan.pk}.pdf"'
    return response


@staff_view("partner.use")
def partner(request: HttpRequest, actor: Actor) -> HttpResponse:
    shares = list(selectors.active_shares(actor=actor, now=clock.now()))
    return render(request, "access/partner.html", {
        "cards": _plan_cards(actor, selectors.partner_plans(actor=actor, now=clock.now())), "shares": shares})


@require_POST
@staff_view("partner.use")
def partner_comment(request: HttpRequest, actor: Actor, plan_id: int) -> HttpResponse:
    services.comment_on_plan(actor=actor, plan_id=plan_id, body=request.POST.get("body", ""))
    return HttpResponseRedirect(f"/partner/#plan-{plan_id}")


def _dt(value: str, zone: Any) -> dt.datetime:
    try:
        return dt.datetime.fromisoformat(value).replace(tzinfo=zone)
    except ValueError as exc:
        raise ValidationFailed("bad date and time", field_errors={"when": value}) from exc


@require_http_methods(["GET", "POST"])
@staff_view("oncall.read")
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


# ---------- the chart panel: notices, messages and replies, after-hours calls, proxies and partner shares ----------


def panel_context(role: str, patient: Patient, error: str = "", message: str = "") -> dict[str, Any]:
    if not access_rules.has_permission(role, "careplan.read"):
        return {"show": False}
    org, pid = patient.organization_id, patient.pk
    can_manage = access_rules.has_permission(role, "access.manage")
    users = User.objects.filter(organization_id=org, is_active=True).order_by("last_name", "username")
    return {
        "show": True, "p": patient, "error": error, "message": message,
        "messages": list(selectors.messages(organization_id=org, patient_id=pid)[:10]),
        "notices": list(selectors.notices(organization_id=org, patient_id=pid)[:5]),
        "contacts": list(selectors.after_hours_contacts(organization_id=org, patient_id=pid)[:10]),
        "proxies": list(selectors.proxies(organization_id=org, patient_id=pid)),
        "shares": list(selectors.shares_for_patient(organization_id=org, patient_id=pid)),
        "can_write": access_rules.has_permission(role, "careplan.write"),
        "can_log": access_rules.has_permission(role, "oncall.log"),
        "can_manage": can_manage,
        "caregivers": list(users.filter(role="caregiver")) if can_manage else [],
        "partners": list(users.filter(role="partner")) if can_manage else [],
        "portal_users": list(users.filter(role="patient")) if can_manage else [],
        "plans": list(plans.plans_for_patient(organization_id=org, patient_id=pid)) if can_manage else [],
        "notice_methods": NoticeMethod.choices, "partner_kinds": PartnerKind.choices,
    }


def _panel_response(request: HttpRequest, actor: Actor, patient_id: int, error: str = "",
                    message: str = "") -> HttpResponse:
    patient = Patient.objects.filter(organization_id=_org(actor), pk=patient_id).first()
    if patient is None:
        raise NotFound("patient not found")
    return render(request, "access/_panel.html", panel_context(actor.role, patient, error, message),
                  status=400 if error else 200)


@staff_view("careplan.read")
def patient_panel(request: HttpRequest, actor: Actor, patient_id: int) -> HttpResponse:
    return _panel_response(request, actor, patient_id)


def _date(value: str, name: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise ValidationFailed(f"{name} must be YYYY-MM-DD", field_errors={name: value}) from exc


PANEL_ACTIONS = ("notice", "reply", "call", "portal", "proxy", "proxy-revoke", "share", "share-revoke")


@require_POST
@staff_view("careplan.read")
def patient_panel_action(request: HttpRequest, actor: Actor, patient_id: int, action: str) -> HttpResponse:
    """One staff action from the chart's access panel. The service checks the action's own permission
    (careplan.write, oncall.log or access.manage) and audits; a validation error re-renders the panel."""
    org, post = _org(actor), request.POST
    if not Patient.objects.filter(organization_id=org, pk=patient_id).exists():
        raise NotFound("patient not found")
    try:
        if action == "notice":
            services.record_access_notice(organization_id=org, patient_id=patient_id, actor=actor,
                                          told_on=_date(post.get("told_on", ""), "told_on"),
                                          method=post.get("method", ""), note=post.get("note", ""))
            done = "Notice recorded."
        elif action == "reply":
            services.reply_message(actor=actor, patient_id=patient_id, body=post.get("body", ""))
            done = "Reply sent."
        elif action == "call":
            services.log_after_hours_call(actor=actor, patient_id=patient_id, summary=post.get("summary", ""))
            done = "After-hours call logged; follow-up task created."
        elif action == "portal":
            services.link_portal_account(organization_id=org, patient_id=patient_id, actor=actor,
                                         user_id=int(post.get("user") or 0))
            done = "Portal account linked."
        elif action == "proxy":
            services.grant_proxy(organization_id=org, patient_id=patient_id, actor=actor,
                                 caregiver_id=int(post.get("caregiver") or 0),
                                 consent_date=_date(post.get("consent_date", ""), "consent_date"),
                                 relationship=post.get("relationship", ""))
            done = "Caregiver access granted."
        elif action == "proxy-revoke":
            row = selectors.proxies(organization_id=org, patient_id=patient_id).filter(pk=int(post.get("id") or 0))
            if not row.exists():
                raise NotFound("proxy access not found")
            services.revoke_proxy(organization_id=org, proxy_id=int(post["id"]), actor=actor)
            done = "Caregiver access revoked."
        elif action == "share":
            zone = clinic_zone(org)
            expires = dt.datetime.combine(_date(post.get("expires_on", ""), "expires_on"), dt.time(23, 59), zone)
            services.share_with_partner(organization_id=org, patient_id=patient_id, actor=actor,
                                        partner_id=int(post.get("partner") or 0),
                                        partner_kind=post.get("partner_kind", ""), expires_at=expires,
                                        plan_id=int(post["plan"]) if post.get("plan") else None)
            done = "Plan shared."
        elif action == "share-revoke":
            share = selectors.shares_for_patient(organization_id=org, patient_id=patient_id).filter(
                pk=int(post.get("id") or 0))
            if not share.exists():
                raise NotFound("share not found")
            services.revoke_share(organization_id=org, share_id=int(post["id"]), actor=actor)
            done = "Share revoked."
        else:
            raise NotFound("unknown action")
    except ValidationFailed as exc:
        detail = "; ".join(f"{k}: {v}" for k, v in (exc.field_errors or {}).items())
        return _panel_response(request, actor, patient_id, error=f"{exc}" + (f" ({detail})" if detail else ""))
    except ValueError:
        return _panel_response(request, actor, patient_id, error="invalid form values")
    return _panel_response(request, actor, patient_id, message=done)
