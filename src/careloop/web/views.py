"""UI shell: login with MFA, patient list with search, patient chart. Thin: selectors do the work."""

from __future__ import annotations

from django.contrib.auth import login, logout
from django.core.paginator import Paginator
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from careloop.accounts import rules
from careloop.accounts.permissions import client_ip, staff_view
from careloop.accounts.services import authenticate_with_lockout
from careloop.audit.services import EventSpec, record_events
from careloop.core.actor import Actor
from careloop.registry import selectors


def healthz(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")


def home(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return HttpResponseRedirect("/login/")
    role = getattr(request.user, "role", "")
    if rules.has_permission(role, "patient.read"):
        return HttpResponseRedirect("/patients/")
    return render(request, "web/home.html", {})


@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    error = ""
    if request.method == "POST":
        username = request.POST.get("username", "").strip()
        password = request.POST.get("password", "")
        user, reason = authenticate_with_lockout(
            request, username=username, password=password, source_ip=client_ip(request)
        )
        if user is not None:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            nxt = request.GET.get("next", "/")
            return HttpResponseRedirect(nxt if nxt.startswith("/") and not nxt.startswith("//") else "/")
        error = (
            "This account is locked after repeated failed sign-ins. Try again later or ask an administrator."
            if reason == "locked"
            else "Wrong username or password."
        )
    timeout = request.GET.get("timeout") == "1"
    return render(request, "web/login.html", {"error": error, "timeout": timeout}, status=401 if error else 200)


def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    return HttpResponseRedirect("/login/")


@require_http_methods(["GET", "POST"])
def mfa_enroll(request: HttpRequest) -> HttpResponse:
    from careloop.web import mfa

    return mfa.enroll(request)


@require_http_methods(["GET", "POST"])
def mfa_verify(request: HttpRequest) -> HttpResponse:
    from careloop.web import mfa

    return mfa.verify(request)


@staff_view("patient.read")
def patient_list(request: HttpRequest, actor: Actor) -> HttpResponse:
    params = request.GET

    def _int(name: str) -> int | None:
        try:
            return int(params[name]) if params.get(name) else None
        except ValueError:
            return None

    qs = selectors.patients_matching(
        actor=actor,
        q=params.get("q", ""),
        sex=params.get("sex", ""),
        age_min=_int("age_min"),
        age_max=_int("age_max"),
        coverage_kind=params.get("coverage", ""),
        icd10_prefix=params.get("condition", ""),
    )
    page = Paginator(qs, 50).get_page(params.get("page"))
    with transaction.atomic():
        record_events(actor=actor, events=[EventSpec("patient.listed", p.pk, "Patient", str(p.pk)) for p in page])
    template = "web/_patient_rows.html" if getattr(request, "htmx", False) else "web/patient_list.html"
    return render(request, template, {"page": page, "params": params})


@staff_view("patient.read")
def patient_chart(request: HttpRequest, actor: Actor, patient_id: int) -> HttpResponse:
    chart = selectors.patient_chart(actor=actor, patient_id=patient_id)
    with transaction.atomic():
        record_events(actor=actor, events=[EventSpec("patient.chart_viewed", patient_id, "Patient", str(patient_id))])
    return render(request, "web/patient_chart.html", {"chart": chart, "p": chart.patient})


@staff_view("org.manage")
def security_settings(request: HttpRequest, actor: Actor) -> HttpResponse:
    """Organization security policy: an administrator can make two-step sign-in mandatory for staff."""
    from careloop.accounts.services import set_org_mfa_requirement
    from careloop.clinics.models import Organization

    org = Organization.objects.get(pk=actor.organization_id or 0)
    saved = False
    if request.method == "POST":
        set_org_mfa_requirement(organization=org, required=request.POST.get("require_mfa") == "on", actor=actor)
        org.refresh_from_db()
        saved = True
    return render(request, "web/security.html", {"org": org, "saved": saved})


@staff_view("audit.read")
def audit_home(request: HttpRequest, actor: Actor) -> HttpResponse:
    from careloop.audit.models import AuditEvent

    events = AuditEvent.objects.filter(organization_id=actor.organization_id).order_by("-at", "-chain", "-seq")[:200]
    return render(request, "web/audit.html", {"events": events})
