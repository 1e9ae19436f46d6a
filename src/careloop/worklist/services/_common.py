"""Shared helpers for worklist services: access checks, the clinic's zone, task history rows, notifications."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction

from careloop.accounts import rules as access
from careloop.clinics.models import Organization
from careloop.core import clock
from careloop.core.actor import Actor
from careloop.core.db import insert_returning, insert_rows
from careloop.core.errors import NotFound, PermissionDenied
from careloop.core.jobs import after_commit
from careloop.worklist.models import CareTask, Notification, TaskEvent


def check_org(actor: Actor, organization_id: int) -> None:
    """The actor acts inside ``organization_id`` (system actors may be organization-less)."""
    if actor.organization_id != organization_id and not (actor.role == "system" and actor.organization_id is None):
        raise NotFound("not found")


def require(actor: Actor, organization_id: int, *permissions: str) -> None:
    """The actor is in the organization and holds one of ``permissions`` (system actors hold all)."""
    check_org(actor, organization_id)
    if actor.role == "system":
        return
    if not any(access.has_permission(actor.role, p) for p in permissions):
        raise PermissionDenied(f"role {actor.role!r} may not {' or '.join(permissions)}")


def user_id_of(actor: Actor) -> int:
    """The acting person's id (system actors have none, and cannot do personal things like run a timer)."""
    if actor.user_id is None:
        raise PermissionDenied("this needs a signed-in staff member")
    return actor.user_id


def is_team_lead(actor: Actor) -> bool:
    return actor.role == "system" or access.has_permission(actor.role, "worklist.team")


def can_work(actor: Actor, task: CareTask) -> bool:
    """Work a task (status, snooze, outreach): its assignee, anyone for an unassigned task, or a team lead."""
    if is_team_lead(actor):
        return True
    if not access.has_permission(actor.role, "worklist.own"):
        return False
    return task.assigned_user_id is None or task.assigned_user_id == actor.user_id


def zone_of(organization_id: int) -> ZoneInfo:
    tz = Organization.objects.filter(pk=organization_id).values_list("time_zone", flat=True).first()
    if tz is None:
        raise NotFound("organization not found")
    return clock.clinic_zone(tz)


def at_risk_hours() -> float:
    return float(getattr(settings, "WORKLIST_AT_RISK_BUSINESS_HOURS", 9.0))


def event(
    task: CareTask, kind: str, actor: Actor, at: dt.datetime, *, from_value: str = "", to_value: str = "",
    reason: str = "",
) -> TaskEvent:
    return TaskEvent.objects.create(
        organization_id=task.organization_id, task=task, at=at, kind=kind, actor_user_id=actor.user_id,
        actor_name=actor.username, from_value=from_value[:150], to_value=to_value[:150], reason=reason[:500],
    )


def event_rows(
    organization_id: int, rows: Sequence[tuple[int, str, str, str, str]], actor: Actor, at: dt.datetime
) -> None:
    """Insert history rows set-based: (task id, kind, from, to, reason). One statement per chunk of rows
    (PostgreSQL: the rows as one JSON parameter, ``insert_returning``) instead of a statement per row."""
    insert_returning(
        TaskEvent,
        ["organization", "task", "at", "kind", "actor_user", "actor_name", "from_value", "to_value", "reason",
         "created_at", "updated_at"],
        [(organization_id, tid, at, kind, actor.user_id, actor.username, f[:150], t[:150], r[:500], at, at)
         for tid, kind, f, t, r in rows],
        returning=(),
    )


def notify_after_commit(rows: Sequence[tuple[int, int, int | None, str, str]]) -> None:
    """Create notifications (organization, user, task, kind, text) once the current transaction commits."""
    if not rows:
        return
    pending = list(rows)

    def send() -> None:
        now = clock.now()
        with transaction.atomic():
            insert_rows(
                Notification,
                ["organization", "user", "task", "kind", "text", "created_at", "updated_at"],
                [(org, user, task, kind, text[:500], now, now) for org, user, task, kind, text in pending],
            )

    after_commit(send)
