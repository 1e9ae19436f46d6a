"""The patient-chart panel: open tasks, contact history, this month's minutes, timer, call log and time forms.

Loaded into the chart with HTMX (``hx-get`` on load) and re-rendered in place by its own forms.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_POST

from careloop.accounts import rules as access
from careloop.accounts.permissions import staff_view
from careloop.audit.services import record_event
from careloop.clinics.models import Organization
from careloop.core import clock
from careloop.core.actor import Actor
from careloop.core.errors import CareloopError
from careloop.programs import selectors as programs
from careloop.programs.choices import Program
from careloop.registry import selectors as registry
from careloop.worklist import selectors, services
from careloop.worklist.choices import Activity, Channel, Outcome, StaffType
from careloop.worklist.rules import timeline
from careloop.worklist.scripts import script_for
from careloop.worklist.views._common import int_or_none, org, parse_date, parse_time, source_url

PANEL = ("worklist.own", "worklist.team")


def _context(actor: Actor, patient_id: int, message: str = "", error: str = "") -> dict[str, Any]:
    patient = registry.patient_by_id(actor=actor, patient_id=patient_id)
    organization = Organization.objects.get(pk=org(actor))
    zone = clock.clinic_zone(organization.time_zone)
    today = clock.today(str(zone))
    month = timeline.month_key(today)
    tasks = list(selectors.patient_open_tasks(organization_id=org(actor), patient_id=patient_id)[:50])
    for t in tasks:
        t.source_url = source_url(t.source_type, t.source_id, t.patient_id)  # type: ignore[attr-defined]
    top = tasks[0].task_type if tasks else "monthly_checkin"
    key, title, text = script_for(top, patient=f"{patient.given} {patient.family}".strip(), clinic=organization.name)
    timer = selectors.running_timer(organization_id=org(actor), user_id=actor.user_id) if actor.user_id else None
    can_time = access.has_permission(actor.role, "time.write")
    return {
        "p": patient, "tasks": tasks, "attempts": selectors.contact_history(organization_id=org(actor),
                                                                            patient_id=patient_id, limit=10),
        "month": month, "minutes": selectors.patient_month_minutes(organization_id=org(actor),
                                                                   patient_id=patient_id, month=month),
        "entries": selectors.patient_time_entries(organization_id=org(actor), patient_id=patient_id, month=month),
        "timer": timer, "timer_here": timer is not None and timer.patient_id == patient_id,
        "elapsed": int((clock.now() - timer.started_at).total_seconds() // 60) if timer else 0,
        "designated": programs.designated_member(organization_id=org(actor), patient_id=patient_id, on=today),
        "script": {"key": key, "title": title, "text": text}, "today": today.isoformat(),
        "channels": Channel.choices, "outcomes": Outcome.choices, "programs": Program.choices,
        "activities": Activity.choices, "staff_types": StaffType.choices, "can_time": can_time,
        "can_outreach": access.has_permission(actor.role, "worklist.own"), "message": message, "error": error,
    }


def _render(request: HttpRequest, actor: Actor, patient_id: int, message: str = "", error: str = "") -> HttpResponse:
    context = _context(actor, patient_id, message, error)
    with transaction.atomic():
        record_event(actor=actor, action="worklist.panel_viewed", patient_id=patient_id, object_type="Patient",
                     object_id=str(patient_id))
    return render(request, "worklist/_panel.html", context)


@staff_view(*PANEL)
def panel(request: HttpRequest, actor: Actor, patient_id: int) -> HttpResponse:
    return _render(request, actor, patient_id)


@require_POST
@staff_view(*PANEL)
def panel_action(request: HttpRequest, actor: Actor, patient_id: int, action: str) -> HttpResponse:
    """One form post from the panel, then the panel again (with what happened, or what was wrong)."""
    post = request.POST
    message = ""
    try:
        if action == "timer-start":
            services.start_timer(organization_id=org(actor), patient_id=patient_id, program=post.get("program", ""),
                                 activity=post.get("activity") or Activity.CARE_COORDINATION,
                                 task_id=int_or_none(post.get("task_id"), "task_id"), actor=actor)
            message = "Timer started."
        elif action == "timer-stop":
            entry = services.stop_timer(organization_id=org(actor), interactive=post.get("interactive") == "on",
                                        note=post.get("note", ""), actor=actor)
            message = f"Logged {entry.minutes} min." if entry else "Under a minute: nothing logged."
        elif action == "timer-cancel":
            services.cancel_timer(organization_id=org(actor), actor=actor)
            message = "Timer discarded."
        elif action == "outreach":
            services.log_outreach(
                organization_id=org(actor), patient_id=patient_id, channel=post.get("channel", ""),
                outcome=post.get("outcome", ""), task_id=int_or_none(post.get("task_id"), "task_id"),
                note=post.get("note", ""), script_key=post.get("script_key", ""),
                minutes=int_or_none(post.get("minutes"), "minutes"), program=post.get("program", ""), actor=actor,
            )
            message = "Attempt logged."
        elif action == "time":
            services.add_time_entry(
                organization_id=org(actor), patient_id=patient_id,
                minutes=int_or_none(post.get("minutes"), "minutes") or 0, activity=post.get("activity", ""),
                program=post.get("program", ""), interactive=post.get("interactive") == "on",
                service_date=parse_date(post.get("service_date"), "service_date"),
                start_time=parse_time(post.get("start_time"), "start_time"), note=post.get("note", ""), actor=actor,
            )
            message = "Time added."
        elif action == "status":
            services.change_status(organization_id=org(actor), task_id=int_or_none(post.get("task_id"), "task_id")
                                   or 0, status=post.get("status", ""), reason=post.get("reason", ""), actor=actor)
            message = "Task updated."
        else:
            return _render(request, actor, patient_id, error=f"unknown action {action}")
    except CareloopError as exc:
        registry.patient_by_id(actor=actor, patient_id=patient_id)  # an unknown patient stays a 404
        return _render(request, actor, patient_id, error=str(exc))
    return _render(request, actor, patient_id, message=message)
