"""Request -> actor for worklist routes, and row shaping shared by the API modules."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.http import HttpRequest

from careloop.accounts import rules as access
from careloop.accounts.models import User
from careloop.accounts.permissions import actor_from_request
from careloop.audit.services import record_patient_reads
from careloop.core.actor import Actor
from careloop.core.errors import PermissionDenied


def actor_with(request: HttpRequest, *permissions: str) -> Actor:
    """The authenticated actor (the user ninja's auth already resolved: no second token lookup), holding one of
    ``permissions``."""
    auth = getattr(request, "auth", None)
    actor = actor_from_request(request, auth if isinstance(auth, User) else None)
    if actor.organization_id is None or not any(access.has_permission(actor.role, p) for p in permissions):
        raise PermissionDenied(f"role {actor.role!r} may not {' or '.join(permissions)}")
    return actor


def org(actor: Actor) -> int:
    assert actor.organization_id is not None
    return actor.organization_id


def queue_row(r: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": r["id"],
        "patient_id": r["patient_id"],
        "patient_name": f"{r['patient__family']}, {r['patient__given']}",
        "task_type": r["task_type"],
        "reason": r["reason"],
        "status": r["status"],
        "due_at": r["due_at"],
        "deadline_at": r["deadline_at"],
        "priority": r["priority"],
        "why": r["priority_explanation"],
        "at_risk": r["at_risk"],
        "escalation_level": r["escalation_level"],
        "program": r["program"],
        "assigned_user_id": r["assigned_user_id"],
        "assigned_role": r["assigned_role"],
        "source_type": r["source_type"],
        "source_id": r["source_id"],
        "snoozed_until": r["snoozed_until"],
    }


def audit_listing(actor: Actor, action: str, patient_ids: Iterable[int]) -> None:
    """One audit event per distinct patient shown, in one short transaction (one multi-row insert), queued for
    SQLite's single writer by the audit app's write gate."""
    record_patient_reads(actor=actor, action=action, patient_ids=dict.fromkeys(patient_ids))
