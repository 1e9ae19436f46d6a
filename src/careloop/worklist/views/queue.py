"""My queue, bulk actions, a task's page, the team view and notifications."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_POST

from careloop.accounts import rules as access
from careloop.accounts.models import User
from careloop.accounts.permissions import staff_view
from careloop.audit.services import EventSpec, record_event, record_events
from careloop.core import clock
from careloop.core.actor import Actor
from careloop.core.errors import CareloopError, NotFound, PermissionDenied
from careloop.programs.choices import Program
from careloop.worklist import selectors, services
from careloop.worklist.choices import TRANSITIONS, TaskStatus, TaskType
from careloop.worklist.rules.assignment import CLINICAL
from careloop.worklist.views._common import int_or_none, org, source_url

OWN_OR_TEAM = ("worklist.own", "worklist.team")
SNOOZE_CHOICES = {"1d": dt.timedelta(days=1), "3d": dt.timedelta(days=3), "7d": dt.timedelta(days=7)}


def _colleagues(actor: Actor) -> list[Any]:
    return list(
        User.objects.filter(organization_id=org(actor), is_active=True, role__in=sorted(CLINICAL))
        .order_by("role", "last_name", "username")
        .values("pk", "username", "first_name", "last_name", "role")
    )


def _due_before(window: str, now: dt.datetime, actor: Actor) -> dt.datetime | None:
    if window == "overdue":
        return now
    if window == "today":
        zone = selectors.organization_zone(org(actor))
        return dt.datetime.combine(now.astimezone(zone).date() + dt.timedelta(days=1), dt.time(0), zone)
    if window == "week":
        return now + dt.timedelta(days=7)
    return None


def _queue_context(request: HttpRequest, actor: Actor, message: str = "") -> dict[str, Any]:
    params = request.GET if request.method == "GET" else request.POST
    lead = access.has_permission(actor.role, "worklist.team")
    who = params.get("who", "")
    target: int | None = actor.user_id
    role = ""
    if who == "unassigned":
        target, role = None, ("" if lead else actor.role)
    elif who and lead:
        target = int_or_none(who, "who")
        if target is None or not User.objects.filter(organization_id=org(actor), pk=target).exists():
            raise NotFound("user not found")
    elif who and int_or_none(who, "who") != actor.user_id:
        raise PermissionDenied("only a team lead can see another person's queue")
    now = clock.now()
    page = max(int_or_none(params.get("page"), "page") or 1, 1)
    filters = selectors.QueueFilters(
        task_type=params.get("type", ""), program=params.get("program", ""),
        due_before=_due_before(params.get("due", ""), now, actor), patient_name=params.get("patient", ""),
    )
    rows, more = selectors.queue(organization_id=org(actor), user_id=target, now=now, filters=filters, role=role,
                                 limit=50, offset=(page - 1) * 50)
    for r in rows:
        r["source_url"] = source_url(r["source_type"], r["source_id"], r["patient_id"])
        r["overdue"] = r["due_at"] < now
    with transaction.atomic():
        record_events(actor=actor, events=[EventSpec("task.listed", pid, "Patient", str(pid))
                                           for pid in dict.fromkeys(r["patient_id"] for r in rows)])
    return {
        "rows": rows, "more": more, "page": page, "params": params, "lead": lead, "who": who, "message": message,
        "task_types": TaskType.choices, "programs": Program.choices, "colleagues": _colleagues(actor),
    }


@staff_view(*OWN_OR_TEAM)
def my_queue(request: HttpRequest, actor: Actor) -> HttpResponse:
    context = _queue_context(request, actor)
    template = "worklist/_queue_rows.html" if getattr(request, "htmx", False) else "worklist/queue.html"
    return render(request, template, context)


@require_POST
@staff_view(*OWN_OR_TEAM)
def bulk(request: HttpRequest, actor: Actor) -> HttpResponse:
    ids = [i for i in (int_or_none(v, "task_ids") for v in request.POST.getlist("task_ids")) if i is not None]
    action = request.POST.get("action", "")
    until = None
    if action == "snooze":
        until = clock.now() + SNOOZE_CHOICES.get(request.POST.get("snooze", "1d"), dt.timedelta(days=1))
    try:
        outcome = services.bulk_action(
            organization_id=org(actor), task_ids=ids, action=action, actor=actor,
            user_id=int_or_none(request.POST.get("user_id"), "user_id"), until=until,
            reason=request.POST.get("reason", ""),
        )
        message = f"{action}: {len(outcome.done)} done" + (
            f", {len(outcome.skipped)} skipped ({'; '.join(sorted(set(outcome.skipped.values())))})"
            if outcome.skipped else ""
        )
    except CareloopError as exc:
        message = str(exc)
    context = _queue_context(request, actor, message)
    template = "worklist/_queue_rows.html" if getattr(request, "htmx", False) else "worklist/queue.html"
    return render(request, template, context)


@staff_view(*OWN_OR_TEAM)
def task_page(request: HttpRequest, actor: Actor, task_id: int) -> HttpResponse:
    message = ""
    if request.method == "POST":
        try:
            op = request.POST.get("op", "")
            if op == "status":
                services.change_status(organization_id=org(actor), task_id=task_id,
                                       status=request.POST.get("status", ""), reason=request.POST.get("reason", ""),
                                       actor=actor)
            elif op == "assign":
                services.reassign_task(organization_id=org(actor), task_id=task_id,
                                       user_id=int_or_none(request.POST.get("user_id"), "user_id"),
                                       reason=request.POST.get("reason", ""), actor=actor)
            message = "Saved."
        except CareloopError as exc:
            message = str(exc)
    task = selectors.task_by_id(organization_id=org(actor), task_id=task_id)
    with transaction.atomic():
        record_event(actor=actor, action="task.viewed", patient_id=task.patient_id, object_type="CareTask",
                     object_id=str(task.pk))
    return render(request, "worklist/task.html", {
        "task": task, "events": selectors.task_events(organization_id=org(actor), task_id=task.pk),
        "next_statuses": [(s, TaskStatus(s).label) for s in sorted(TRANSITIONS[task.status])],
        "colleagues": _colleagues(actor), "message": message,
        "source_url": source_url(task.source_type, task.source_id, task.patient_id),
        "assignee": task.assigned_user_id and User.objects.filter(pk=task.assigned_user_id).first(),
    })


@staff_view("worklist.team")
def team(request: HttpRequest, actor: Actor) -> HttpResponse:
    zone = selectors.organization_zone(org(actor))
    rows = selectors.team_workload(organization_id=org(actor), now=clock.now(), today=clock.today(str(zone)))
    absences = selectors.upcoming_absences(organization_id=org(actor), today=clock.today(str(zone)))
    with transaction.atomic():
        record_event(actor=actor, action="worklist.team_viewed", object_type="Organization",
                     object_id=str(org(actor)))
    return render(request, "worklist/team.html", {"rows": rows, "absences": absences})


@staff_view(*OWN_OR_TEAM)
def notifications(request: HttpRequest, actor: Actor) -> HttpResponse:
    assert actor.user_id is not None
    if request.method == "POST":
        services.mark_notifications_read(organization_id=org(actor), actor=actor)
    rows = list(selectors.notifications_for(organization_id=org(actor), user_id=actor.user_id)[:100])
    return render(request, "worklist/notifications.html", {"rows": rows})
