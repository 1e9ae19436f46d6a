"""Insights UI: the leader dashboard (actual vs potential revenue by program and APCM level, capture, revenue
per coordinator FTE, staffing need, enrollment scenarios) and its CSV download. Staff with ``insights.view``
only, tenant-scoped, audited in ``services``. Drill-down links go to the programs cohort (eligible, not
enrolled) and the billing month, shown only to roles that may open them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from functools import wraps
from typing import Any

from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.http import require_GET

from careloop.accounts import rules as access
from careloop.accounts.permissions import actor_from_request
from careloop.clinics.models import Organization
from careloop.core import clock
from careloop.core.actor import Actor
from careloop.core.errors import CareloopError, PermissionDenied
from careloop.insights import services

View = Callable[..., HttpResponse]


def staff_view(permission: str) -> Callable[[Callable[..., HttpResponse]], View]:
    def decorate(fn: Callable[..., HttpResponse]) -> View:
        @wraps(fn)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                return HttpResponseRedirect(f"/login/?next={request.path}")
            try:
                actor = actor_from_request(request)
                if actor.organization_id is None or not access.has_permission(actor.role, permission):
                    raise PermissionDenied(f"role {actor.role!r} may not {permission}")
                with transaction.atomic():
                    return fn(request, actor, *args, **kwargs)
            except CareloopError as exc:
                return render(request, "web/error.html", {"status": exc.status_code, "message": str(exc)},
                              status=exc.status_code)

        return wrapper

    return decorate


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
