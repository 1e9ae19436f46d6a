"""Insights UI: the leader dashboard (actual vs potential revenue by program and APCM level, capture, revenue
per coordinator FTE, staffing need, enrollment scenarios) and its CSV download. Staff with ``insights.view``
only, tenant-scoped, audited in ``services``. Drill-down links go to the programs cohort (eligible, not
enrolled) and the billing month, shown only to roles that may open them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from careloop.accounts import rules as access
from careloop.accounts.permissions import staff_view as shared_staff_view
from careloop.clinics.models import Organization
from careloop.core import clock
from careloop.core.actor import Actor
from careloop.insights import services

View = Callable[..., HttpResponse]


def staff_view(permission: str) -> Callable[[Callable[..., HttpResponse]], View]:
    return shared_staff_view(permission, atomic=True)


def previous_month(today: dt.date) -> str:
    last = today.replace(day=1) - dt.timedelta(days=1)
    return f"{last.year:04d}-{last.month:02d}"


def _month(request: HttpRequest, actor: Actor) -> str:
    month = (request.GET.get("month") or "").strip()
    if month:
        return month
    org = Organization.objects.get(pk=actor.organization_id or 0)
    return previous_month(clock.today(org.time_zone))


def _bar(part: Any, whole: Any) -> int:
    return 0 if not whole else max(0, min(100, round(100 * float(part) / float(whole))))


@require_GET
@staff_view(services.PERMISSION)
def dashboard(request: HttpRequest, actor: Actor) -> HttpResponse:
    month = _month(request, actor)
    report = services.revenue_report(actor=actor, month=month)
    top = max([r.potential for r in report.rows] + [r.actual for r in report.rows] + [0])
    bars = [(r, _bar(r.potential, top), _bar(r.actual, top)) for r in report.rows]
    return render(request, "insights/dashboard.html", {
        "month": month, "r": report, "bars": bars, "t": report.totals, "c": report.current,
        "can_cohort": access.has_permission(actor.role, "program.read"),
        "can_billing": access.has_permission(actor.role, "billing.view"),
        "has_cost": report.assumptions.annual_cost_per_fte is not None,
        "roles": sorted(report.assumptions.roles),
        "recent_top": max([m.allowed for m in report.recent] + [Decimal("0.01")]),
    })


@require_GET
@staff_view(services.PERMISSION)
def revenue_csv(request: HttpRequest, actor: Actor) -> HttpResponse:
    month = _month(request, actor)
    response = HttpResponse(services.export_csv(actor=actor, month=month), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="careloop-revenue-{month}.csv"'
    return response
