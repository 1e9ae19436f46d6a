"""Billing UI: the month page (explained decisions: codes, units, amounts, denials and held lines with their
reasons and rule ids), one patient-month's decision with its trace and corrections, the run button and the CSV
download. The 837P download is served by careloop.interop.x12.views (billing does not import interop).
Staff only, permission-checked, tenant-scoped, audited."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import orjson
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_POST

from careloop.accounts import rules as access
from careloop.accounts.permissions import staff_view
from careloop.audit.services import EventSpec, record_event, record_events
from careloop.billing import exports, selectors, services
from careloop.billing.evidence import EvidenceProvider, configured_provider
from careloop.clinics.models import Organization
from careloop.core import clock
from careloop.core.actor import Actor
from careloop.core.errors import NotFound, ValidationFailed
from careloop.registry.models import Patient

View = Callable[..., HttpResponse]
PAGE = 200



def _org(actor: Actor) -> Organization:
    return Organization.objects.get(pk=actor.organization_id or 0)


def previous_month(today: dt.date) -> str:
    first = today.replace(day=1) - dt.timedelta(days=1)
    return f"{first.year:04d}-{first.month:02d}"


def _month(request: HttpRequest, org: Organization) -> str:
    month = (request.GET.get("month") or request.POST.get("month") or "").strip()
    if not month:
        return previous_month(clock.today(org.time_zone))
    selectors.month_bounds(month)  # ValidationFailed on a bad month
    return month


def evidence_provider() -> EvidenceProvider | None:
    return configured_provider()


@require_GET
@staff_view("billing.view")
def month_page(request: HttpRequest, actor: Actor) -> HttpResponse:
    org = _org(actor)
    month = _month(request, org)
    status = request.GET.get("status", "")
    try:
        offset = max(0, int(request.GET.get("offset", "0")))
    except ValueError:
        offset = 0
    rows, total = selectors.month_rows(organization_id=org.pk, month=month, status=status, limit=PAGE,
                                       offset=offset)
    summary = selectors.month_summary(organization_id=org.pk, month=month)
    run = selectors.runs(organization_id=org.pk, month=month).first()
    with transaction.atomic():
        record_events(actor=actor, events=[EventSpec("billing.month_viewed", r.patient_id, "PatientMonth",
                                                     f"{r.patient_id}:{month}") for r in rows])
    return render(request, "billing/month.html", {
        "month": month, "rows": rows, "total": total, "summary": summary, "run": run, "status": status,
        "offset": offset, "next_offset": offset + PAGE if offset + PAGE < total else None,
        "prev_offset": max(0, offset - PAGE) if offset else None,
        "can_run": access.has_permission(actor.role, "billing.run"),
        "can_export": access.has_permission(actor.role, "billing.export"),
        "practice_type": org.practice_type, "institutional": org.practice_type in ("rhc", "fqhc"),
        "message": request.GET.get("message", ""),
    })


@require_GET
@staff_view("billing.view")
def patient_month(request: HttpRequest, actor: Actor, month: str, patient_id: int) -> HttpResponse:
    org = _org(actor)
    selectors.month_bounds(month)
    patient = Patient.objects.filter(organization_id=org.pk, pk=patient_id).first()
    decision = selectors.decision_for(organization_id=org.pk, patient_id=patient_id, month=month)
    if patient is None or decision is None:
        raise NotFound("no billing decision for this patient and month")
    lines = list(selectors.lines(organization_id=org.pk, month=month, patient_id=patient_id,
                                 statuses=["billable", "denied", "flagged", "void"]))
    corrections = list(selectors.corrections(organization_id=org.pk, month=month, patient_id=patient_id))
    with transaction.atomic():
        record_event(actor=actor, action="billing.decision_viewed", patient_id=patient_id,
                     object_type="PatientMonthDecision", object_id=str(decision.pk))
    return render(request, "billing/patient_month.html", {
        "month": month, "patient": patient, "decision": decision, "lines": lines, "corrections": corrections,
        "facts_json": orjson.dumps(decision.facts, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode(),
        "trace": (decision.decision or {}).get("trace") or [],
        "warnings": (decision.decision or {}).get("warnings") or [],
    })


@require_POST
@staff_view("billing.run")
def run_month(request: HttpRequest, actor: Actor) -> HttpResponse:
    org = _org(actor)
    month = _month(request, org)
    try:
        counts = services.run_billing_month(organization=org, month=month, actor=actor,
                                            evidence=evidence_provider())
    except ValidationFailed as exc:
        return HttpResponseRedirect("/billing/?" + urlencode({"month": month, "message": str(exc)[:200]}))
    message = (f"Run done: {counts.patients} patients, {counts.decided} decided, {counts.unchanged} unchanged, "
               f"{counts.corrections} corrections")
    return HttpResponseRedirect("/billing/?" + urlencode({"month": month, "message": message}))


@require_GET
@staff_view("billing.export")
def month_csv(request: HttpRequest, actor: Actor, month: str) -> HttpResponse:
    org = _org(actor)
    selectors.month_bounds(month)
    text = exports.month_csv(organization_id=org.pk, month=month, actor=actor)
    response = HttpResponse(text, content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="careloop-claims-{month}.csv"'
    return response
