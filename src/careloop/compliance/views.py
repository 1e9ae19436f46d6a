"""Compliance UI: the leader page (practice capabilities with the platform's suggested evidence, clinician
pathways, APCM element coverage for a month with the list of gaps) and the evidence-packet download used from
the patient chart and the billing pages. Permission-checked, tenant-scoped, audited."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST

from careloop.accounts import rules as access
from careloop.accounts.permissions import staff_view
from careloop.compliance import selectors, services
from careloop.compliance.api import capability_board, checked_month, coverage_for
from careloop.compliance.choices import CapabilityKey, PerformancePathway
from careloop.core.actor import Actor
from careloop.core.errors import ValidationFailed

View = Callable[..., HttpResponse]



def _org(actor: Actor) -> int:
    assert actor.organization_id is not None
    return actor.organization_id


def _date(value: str, name: str) -> dt.date | None:
    if not value.strip():
        return None
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError as exc:
        raise ValidationFailed(f"{name}: a date (YYYY-MM-DD)", field_errors={name: "YYYY-MM-DD"}) from exc


def _page(request: HttpRequest, actor: Actor, *, error: str = "", status: int = 200) -> HttpResponse:
    org = _org(actor)
    month = checked_month(request.GET.get("month", "") or request.POST.get("month", ""), org)
    year = int(month[:4])
    summary = coverage_for(actor, org, month)
    return render(request, "compliance/dashboard.html", {
        "month": month, "year": year, "board": capability_board(org, month), "summary": summary,
        "gaps": summary.gaps[:200], "pathways": list(selectors.pathways(organization_id=org, year=year)),
        "practitioners": list(selectors.billing_practitioners(organization_id=org)),
        "pathway_choices": PerformancePathway.choices, "capability_choices": CapabilityKey.choices,
        "can_manage": access.has_permission(actor.role, "compliance.manage"),
        "can_packet": access.has_permission(actor.role, "compliance.packet"), "error": error,
    }, status=status)


@require_GET
@staff_view("compliance.read")
def dashboard(request: HttpRequest, actor: Actor) -> HttpResponse:
    return _page(request, actor)


@require_POST
@staff_view("compliance.manage")
def add_capability(request: HttpRequest, actor: Actor) -> HttpResponse:
    post = request.POST
    try:
        start = _date(post.get("effective_from", ""), "effective_from")
        if start is None:
            raise ValidationFailed("effective_from is required", field_errors={"effective_from": "required"})
        services.record_capability(actor=actor, key=post.get("key", ""), effective_from=start,
                                   effective_to=_date(post.get("effective_to", ""), "effective_to"),
                                   evidence=post.get("evidence", ""), evidence_link=post.get("evidence_link", ""))
    except ValidationFailed as exc:
        detail = "; ".join(f"{k}: {v}" for k, v in exc.field_errors.items())
        return _page(request, actor, error=f"{exc} ({detail})" if detail else str(exc), status=400)
    return HttpResponseRedirect(f"/compliance/?month={post.get('month', '')}")


@require_POST
@staff_view("compliance.manage")
def end_capability(request: HttpRequest, actor: Actor, capability_id: int) -> HttpResponse:
    try:
        end = _date(request.POST.get("effective_to", ""), "effective_to")
        if end is None:
            raise ValidationFailed("effective_to is required", field_errors={"effective_to": "required"})
        services.end_capability(actor=actor, capability_id=capability_id, effective_to=end)
    except ValidationFailed as exc:
        return _page(request, actor, error=str(exc), status=400)
    return HttpResponseRedirect(f"/compliance/?month={request.POST.get('month', '')}")


@require_POST
@staff_view("compliance.manage")
def add_pathway(request: HttpRequest, actor: Actor) -> HttpResponse:
    post = request.POST
    try:
        services.record_pathway(actor=actor, practitioner_id=int(post.get("practitioner_id") or 0),
                                performance_year=int(post.get("performance_year") or 0),
                                pathway=post.get("pathway", ""), evidence=post.get("evidence", ""),
                                evidence_link=post.get("evidence_link", ""))
    except (ValidationFailed, ValueError) as exc:
        return _page(request, actor, error=str(exc), status=400)
    return HttpResponseRedirect(f"/compliance/?month={post.get('month', '')}")


@require_GET
@staff_view("compliance.packet")
def packet(request: HttpRequest, actor: Actor, patient_id: int) -> HttpResponse:
    month = checked_month(request.GET.get("month", ""), _org(actor))
    p = services.evidence_packet(actor=actor, patient_id=patient_id, month=month,
                                 fmt=request.GET.get("format", "pdf"))
    response = HttpResponse(p.content, content_type=p.content_type)
    response["Content-Disposition"] = f'attachment; filename="{p.filename}"'
    return response
