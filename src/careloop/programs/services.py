"""Program write use-cases. This issue: designating the patient's care-team member (continuity of care)."""

from __future__ import annotations

import datetime as dt

from django.db import transaction

from careloop.accounts import rules as access
from careloop.accounts.models import User
from careloop.audit.services import record_event
from careloop.clinics.models import Organization
from careloop.core import clock
from careloop.core.actor import Actor
from careloop.core.errors import NotFound, PermissionDenied, ValidationFailed
from careloop.programs import rules
from careloop.programs.models import DesignatedCareMember
from careloop.registry.models import Patient

# Roles that can be a patient's designated care-team member (APCM/CCM "continuity of care with a designated
# member of the care team"): the clinical roles.
DESIGNATABLE_ROLES = access.CLINICAL


def _check(actor: Actor, organization_id: int, permission: str) -> None:
    if actor.role != "system" and (
        actor.organization_id != organization_id or not access.has_permission(actor.role, permission)
    ):
        raise PermissionDenied(f"role {actor.role!r} may not {permission}")


def designate_care_member(
    *,
    organization_id: int,
    patient_id: int,
    user_id: int,
    actor: Actor,
    since: dt.date | None = None,
    reason: str = "",
) -> DesignatedCareMember:
    """Make ``user_id`` the patient's designated care-team member from ``since`` (default: today, clinic time).

    The current designation, if any, ends the day before (history is kept). Designating the member who is
    already current is a no-op that returns the current row.
    """
    _check(actor, organization_id, "care_member.designate")
    org = Organization.objects.filter(pk=organization_id).first()
    if org is None:
        raise NotFound("organization not found")
    if not Patient.objects.filter(organization_id=organization_id, pk=patient_id).exists():
        raise NotFound("patient not found")
    user = User.objects.filter(organization_id=organization_id, pk=user_id, is_active=True).first()
    if user is None:
        raise NotFound("user not found")
    if user.role not in DESIGNATABLE_ROLES:
        raise ValidationFailed(
            f"a {user.role} cannot be a designated care-team member", field_errors={"user_id": "not a clinical role"}
        )
    start = since or clock.today(org.time_zone)
    with transaction.atomic():
        current = (
            DesignatedCareMember.objects.select_for_update()
            .filter(organization_id=organization_id, patient_id=patient_id, until__isnull=True)
            .first()
        )
        if current is not None and current.user_id == user_id:
            return current
        if current is not None:
            if start < current.since:
                raise ValidationFailed(
                    "the new designation cannot start before the current one", field_errors={"since": "too early"}
                )
            current.until = rules.close_on(rules.Designation(current.user_id, current.since, None), start)
            current.save(update_fields=["until", "updated_at"])
        row = DesignatedCareMember.objects.create(
            organization_id=organization_id, patient_id=patient_id, user_id=user_id, since=start, reason=reason[:300]
        )
        record_event(
            actor=actor,
            organization_id=organization_id,
            action="care_member.designated",
            patient_id=patient_id,
            object_type="DesignatedCareMember",
            object_id=str(row.pk),
            detail={"user_id": user_id, "since": start.isoformat(), "previous_user_id": current and current.user_id},
        )
    return row


def end_designation(
    *, organization_id: int, patient_id: int, until: dt.date, actor: Actor, reason: str = ""
) -> DesignatedCareMember | None:
    """End the current designation on ``until`` (inclusive). Returns the closed row, or None if there was none."""
    _check(actor, organization_id, "care_member.designate")
    with transaction.atomic():
        current = (
            DesignatedCareMember.objects.select_for_update()
            .filter(organization_id=organization_id, patient_id=patient_id, until__isnull=True)
            .first()
        )
        if current is None:
            return None
        current.until = max(until, current.since)
        if reason:
            current.reason = reason[:300]
        current.save(update_fields=["until", "reason", "updated_at"])
        record_event(
            actor=actor,
            organization_id=organization_id,
            action="care_member.designation_ended",
            patient_id=patient_id,
            object_type="DesignatedCareMember",
            object_id=str(current.pk),
            detail={"until": current.until.isoformat()},
        )
    return current
