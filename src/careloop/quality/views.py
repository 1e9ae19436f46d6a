"""Quality UI: the practice dashboard (rates per measure, MVP summary, utilization), gap drill-down with CSV export
and bulk task creation, and the chart panel (open and closed gaps, a task button per open gap, loaded by HTMX).
Staff only, permission-checked, tenant-scoped; the reads are audited in ``reports``."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST

from careloop.accounts import rules as access
from careloop.accounts.permissions import staff_view as shared_staff_view
from careloop.core.actor import Actor
from careloop.quality import clinicians, reports
from careloop.quality.api import period_bounds
from careloop.quality.utilization import utilization_report

View = Callable[..., HttpResponse]


def staff_view(permission: str) -> Callable[[Callable[..., HttpResponse]], View]:
    return shared_staff_view(permission, atomic=True)


@require_GET
@staff_view("quality.read")
def dashboard(request: HttpRequest, actor: Actor) -> HttpResponse:
    first, last = period_bounds(request.GET.get("period", ""))
    rows = reports.measure_performance(actor=actor, first=first, last=last)
    trends = reports.monthly_trends(actor=actor, year=first.year)
    months = sorted({month for t in trends for month in t["points"]})
    return render(request, "quality/dashboard.html", {
        "period": f"{first}:{last}", "rows": rows, "mvp": reports.mvp_summary(rows),
        "util": utilization_report(actor=actor, first=first, last=last), "year": first.year, "months": months,
        "trends": [{"measure": t["measure"], "rates": [t["points"].get(m) for m in months]} for t in trends],
    })


@require_GET
@staff_view("quality.read")
def gap_list(request: HttpRequest, actor: Actor) -> HttpResponse:
    first, last = period_bounds(request.GET.get("period", ""))
    measure, status = request.GET.get("measure", ""), request.GET.get("status", "open")
    rows = reports.gap_patients(actor=actor, first=first, last=last, measure=measure or None, status=status)
    if request.GET.get("format") == "csv":
        response = HttpResponse(reports.gaps_csv(rows), content_type="text/csv")
        response["Content-Disposition"] = f'attachment; filename="care-gaps-{measure or "all"}-{first}-{last}.csv"'
        return response
    return render(request, "quality/gaps.html", {
        "period": f"{first}:{last}", "measure": measure, "status": status, "rows": rows,
        "can_task": access.has_permission(actor.role, "quality.tasks"), "message": request.GET.get("message", ""),
    })


@require_POST
@staff_view("quality.tasks")
def gap_tasks(request: HttpRequest, actor: Actor) -> HttpResponse:
    period = request.POST.get("period", "")
    first, last = period_bounds(period)
    measure = request.POST.get("measure", "")
    out = reports.create_gap_tasks(actor=actor, first=first, last=last, measure=measure or None)
    message = f"{len(out.created_ids)} tasks created, {out.existing} already existed"
    return HttpResponseRedirect(f"/quality/gaps/?period={first}:{last}&measure={measure}&message={message}")


def _panel(request: HttpRequest, actor: Actor, patient_id: int, message: str = "") -> HttpResponse:
    gaps = reports.patient_gaps(actor=actor, patient_id=patient_id)
    return render(request, "quality/_panel.html", {
        "patient_id": patient_id, "open": [g for g in gaps if g["status"] == "open"],
        "closed": [g for g in gaps if g["status"] == "closed"], "message": message,
        "can_task": access.has_permission(actor.role, "quality.tasks"),
    })


@require_GET
@staff_view("quality.read")
def panel(request: HttpRequest, actor: Actor, patient_id: int) -> HttpResponse:
    return _panel(request, actor, patient_id)


@require_POST
@staff_view("quality.tasks")
def gap_task(request: HttpRequest, actor: Actor, patient_id: int, gap_id: int) -> HttpResponse:
    import datetime as dt

    out = reports.create_gap_tasks(actor=actor, first=dt.date.min, last=dt.date.max, gap_id=gap_id)
    return _panel(request, actor, patient_id, message="Task created." if out.created_ids else "Task already exists.")


@require_GET
@staff_view("quality.read")
def clinician_dashboard(request: HttpRequest, actor: Actor) -> HttpResponse:
    """Rates per measure per attributed clinician (leaders and administrators: all; others: their own)."""
    first, last = period_bounds(request.GET.get("period", ""))
    rows = clinicians.clinician_performance(actor=actor, first=first, last=last)
    return render(request, "quality/clinicians.html", {"period": f"{first}:{last}", "clinicians": rows})


@require_GET
@staff_view("quality.read")
def clinician_gap_list(request: HttpRequest, actor: Actor, clinician_id: int) -> HttpResponse:
    first, last = period_bounds(request.GET.get("period", ""))
    measure, status = request.GET.get("measure", ""), request.GET.get("status", "open")
    rows = clinicians.clinician_gaps(actor=actor, clinician_id=clinician_id, first=first, last=last,
                                     measure=measure or None, status=status)
    if request.GET.get("format") == "csv":
        response = HttpResponse(reports.gaps_csv(rows), content_type="text/csv")
        response["Content-Disposition"] = (
            f'attachment; filename="care-gaps-clinician-{clinician_id}-{measure or "all"}-{first}-{last}.csv"')
        return response
    return render(request, "quality/gaps.html", {
        "period": f"{first}:{last}", "measure": measure, "status": status, "rows": rows,
        "clinician_id": clinician_id, "can_task": False, "message": "",
    })
