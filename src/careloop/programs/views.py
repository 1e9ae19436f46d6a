"""Program UI: the chart panel (eligibility this month, enrollments and consent, the enroll form) loaded by HTMX,
and the enroll-first page. Staff only, permission-checked, tenant-scoped, audited."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST

from careloop.accounts import rules as access
from careloop.accounts.permissions import staff_view
from careloop.audit.services import EventSpec, record_event, record_events
from careloop.clinics.models import Organization, Practitioner
from careloop.core import clock
from careloop.core.actor import Actor
from careloop.core.errors import NotFound, ValidationFailed
from careloop.programs import rules, selectors, services
from careloop.programs.choices import ENROLLABLE, Disclosure, Program
from careloop.registry.models import Patient

View = Callable[..., HttpResponse]



def _org(actor: Actor) -> Organization:
    return Organization.objects.get(pk=actor.organization_id or 0)


def _panel(request: HttpRequest, actor: Actor, patient_id: int, errors: dict[str, str] | None = None,
           message: str = "") -> HttpResponse:
    org = _org(actor)
    patient = Patient.objects.filter(organization_id=org.pk, pk=patient_id).first()
    if patient is None:
        raise NotFound("patient not found")
    month = clock.month_of(clock.today(org.time_zone))
    decisions = selectors.eligibility_for(organization_id=org.pk, patient_id=patient_id, month=month)
    enrollments = list(selectors.enrollments_for(organization_id=org.pk, patient_id=patient_id))
    record_event(actor=actor, action="enrollment.viewed", patient_id=patient_id, object_type="Patient",
                 object_id=str(patient_id), detail={"month": month})
    return render(request, "programs/_panel.html", {
        "p": patient, "month": month, "decisions": decisions, "enrollments": enrollments,
        "apcm": next((d for d in decisions if d.program == Program.APCM), None),
        "can_enroll": access.has_permission(actor.role, "program.enroll"),
        "can_qmb": access.has_permission(actor.role, "qmb.manage"),
        "qmb_periods": selectors.qmb_periods(organization_id=org.pk, patient_id=patient_id),
        "device_days": selectors.device_days(organization_id=org.pk, patient_id=patient_id, month=month),
        "programs": [(v, label) for v, label in Program.choices if v in ENROLLABLE],
        "disclosures": Disclosure.choices,
        "practitioners": Practitioner.objects.filter(organization_id=org.pk, is_billing_practitioner=True)
        .order_by("family", "given"),
        "errors": errors or {}, "message": message,
    })


@require_GET
@staff_view("program.read")
def panel(request: HttpRequest, actor: Actor, patient_id: int) -> HttpResponse:
    return _panel(request, actor, patient_id)


@require_POST
@staff_view("program.enroll")
def enroll(request: HttpRequest, actor: Actor, patient_id: int) -> HttpResponse:
    assert actor.organization_id is not None and actor.user_id is not None
    post = request.POST
    try:
        start = dt.date.fromisoformat(post["start"]) if post.get("start") else None
        practitioner = int(post.get("billing_practitioner_id") or 0)
        services.enroll_patient(
            organization_id=actor.organization_id, patient_id=patient_id, program=post.get("program", ""),
            billing_practitioner_id=practitioner, start=start, actor=actor,
            consent=services.ConsentIn(method=post.get("method", ""), disclosures=tuple(post.getlist("disclosures")),
                                       obtained_by_user_id=actor.user_id, obtained_at=clock.now(),
                                       evidence=post.get("evidence", "")),
        )
    except ValidationFailed as exc:
        return _panel(request, actor, patient_id, errors=exc.field_errors or {"form": str(exc)}, message=str(exc))
    except ValueError:
        return _panel(request, actor, patient_id, errors={"start": "YYYY-MM-DD"}, message="invalid date")
    return _panel(request, actor, patient_id, message="Enrolled.")


@require_POST
@staff_view("qmb.manage")
def qmb_enter(request: HttpRequest, actor: Actor, patient_id: int) -> HttpResponse:
    assert actor.organization_id is not None
    post = request.POST
    try:
        start = dt.date.fromisoformat(post.get("start", ""))
        end = dt.date.fromisoformat(post["end"]) if post.get("end") else None
    except ValueError:
        return _panel(request, actor, patient_id, errors={"qmb": "dates are YYYY-MM-DD"}, message="invalid date")
    try:
        services.record_qmb_period(organization_id=actor.organization_id, patient_id=patient_id, start=start, end=end,
                                   evidence=post.get("evidence", ""), source=post.get("source", "manual"), actor=actor)
    except ValidationFailed as exc:
        return _panel(request, actor, patient_id, errors={"qmb": str(exc)}, message=str(exc))
    return _panel(request, actor, patient_id, message="QMB period recorded.")


@require_POST
@staff_view("program.enroll")
def device_day(request: HttpRequest, actor: Actor, patient_id: int) -> HttpResponse:
    assert actor.organization_id is not None
    post = request.POST
    try:
        day = dt.date.fromisoformat(post.get("day", ""))
        readings = int(post.get("readings") or 1)
    except ValueError:
        return _panel(request, actor, patient_id, errors={"device": "day YYYY-MM-DD, readings a number"},
                      message="invalid device day")
    try:
        services.record_device_day(organization_id=actor.organization_id, patient_id=patient_id,
                                   kind=post.get("kind", ""), day=day, readings=readings, actor=actor)
    except ValidationFailed as exc:
        return _panel(request, actor, patient_id, errors={"device": str(exc)}, message=str(exc))
    return _panel(request, actor, patient_id, message="Device day recorded.")


@require_POST
@staff_view("program.enroll")
def disenroll(request: HttpRequest, actor: Actor, patient_id: int, enrollment_id: int) -> HttpResponse:
    assert actor.organization_id is not None
    row = selectors.enrollment(organization_id=actor.organization_id, enrollment_id=enrollment_id)
    if row is None or row.patient_id != patient_id:
        raise NotFound("enrollment not found")
    services.disenroll_patient(organization_id=actor.organization_id, enrollment_id=enrollment_id, actor=actor,
                               reason=request.POST.get("reason", ""))
    return _panel(request, actor, patient_id, message="Disenrollment takes effect at the end of the month.")


@require_GET
@staff_view("program.read")
def enroll_first_page(request: HttpRequest, actor: Actor) -> HttpResponse:
    org = _org(actor)
    month = request.GET.get("month") or clock.month_of(clock.today(org.time_zone))
    try:
        dt.date.fromisoformat(f"{month}-01")
    except ValueError as exc:
        raise ValidationFailed("month must be YYYY-MM") from exc
    result = selectors.enroll_first(organization_id=org.pk, month=month, limit=100)
    record_events(actor=actor, events=[EventSpec("enroll_first.viewed", r.patient_id, "Patient", str(r.patient_id))
                                       for r in result.rows] or [EventSpec("enroll_first.viewed")])
    return render(request, "programs/enroll_first.html", {"result": result, "month": month})


def _month_param(request: HttpRequest, org: Organization) -> str:
    month = request.GET.get("month") or clock.month_of(clock.today(org.time_zone))
    try:
        dt.date.fromisoformat(f"{month}-01")
    except ValueError as exc:
        raise ValidationFailed("month must be YYYY-MM") from exc
    return month


@require_GET
@staff_view("program.read")
def population_page(request: HttpRequest, actor: Actor) -> HttpResponse:
    """Aggregates only: no patient is listed, so the view is audited as one population read."""
    org = _org(actor)
    month = _month_param(request, org)
    summary = selectors.population_summary(organization_id=org.pk, month=month)
    record_event(actor=actor, action="population.viewed", object_type="Organization", object_id=str(org.pk))
    return render(request, "programs/population.html", {"s": summary, "month": month})


COHORT_FILTERS = ("tier", "program", "level", "enrolled")
COHORT_PAGE = 100


@require_GET
@staff_view("program.read")
def cohort_page(request: HttpRequest, actor: Actor) -> HttpResponse:
    org = _org(actor)
    month = _month_param(request, org)
    filters = {k: request.GET.get(k, "") for k in COHORT_FILTERS}
    rows = selectors.cohort(organization_id=org.pk, month=month, **filters)
    if request.GET.get("format") == "csv":
        response = HttpResponse(content_type="text/csv")
        response["Content-Disposition"] = f'attachment; filename="cohort-{month}.csv"'
        writer = csv.writer(response)
        writer.writerow(["patient_id", "name", "birth_date", "tier", "apcm_level", "eligible", "enrolled"])
        for r in rows:
            writer.writerow([r.patient_id, r.name, r.birth_date or "", r.tier, r.apcm_level, " ".join(r.eligible),
                             " ".join(r.enrolled)])
        shown = rows
        action = "cohort.exported"
    else:
        try:
            page_no = max(1, int(request.GET.get("page", "1")))
        except ValueError:
            page_no = 1
        shown = rows[(page_no - 1) * COHORT_PAGE: page_no * COHORT_PAGE]
        action = "cohort.listed"
        query = "&".join(f"{k}={v}" for k, v in (("month", month), *filters.items()) if v)
        response = render(request, "programs/cohort.html", {
            "rows": shown, "total": len(rows), "month": month, "f": filters, "query": query, "page": page_no,
            "next_page": page_no + 1 if page_no * COHORT_PAGE < len(rows) else None,
            "prev_page": page_no - 1 if page_no > 1 else None, "programs": sorted(ENROLLABLE),
            "tiers": rules.TIER_ORDER, "levels": ("G0556", "G0557", "G0558"),
        })
    with transaction.atomic():
        record_events(actor=actor, events=[EventSpec(action, r.patient_id, "Patient", str(r.patient_id))
                                           for r in shown] or [EventSpec(action)])
    return response
