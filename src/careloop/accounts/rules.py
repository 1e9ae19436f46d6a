"""Role permissions as a table. Pure: no database, no request.

A permission is a dotted string. ``ROLE_PERMISSIONS`` is the single source that services, API routes and
views check, and that the role x route matrix test walks.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

STAFF_ROLES = frozenset({"admin", "provider", "nurse", "coordinator", "chw", "bh_care_manager", "billing", "leader"})
PORTAL_ROLES = frozenset({"patient", "caregiver"})
EXTERNAL_ROLES = frozenset({"partner"})
ALL_ROLES = STAFF_ROLES | PORTAL_ROLES | EXTERNAL_ROLES

CLINICAL = frozenset({"provider", "nurse", "coordinator", "chw", "bh_care_manager"})

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "patient.read": CLINICAL | {"admin", "billing", "leader"},
    "patient.write": frozenset({"provider", "nurse", "coordinator", "admin"}),
    "fhir.read": CLINICAL | {"admin", "billing", "leader"},
    "fhir.import": frozenset({"admin"}),
    "audit.read": frozenset({"admin", "leader"}),
    "audit.verify": frozenset({"admin"}),
    "users.manage": frozenset({"admin"}),
    "org.manage": frozenset({"admin"}),
    "quarantine.read": frozenset({"admin"}),
    # worklist (issue #3). worklist.own: work your own queue, log outreach, see a patient's tasks.
    # worklist.team: see and manage everyone's queue and workload (leader, admin; providers are the patient's
    # focal point, not queue supervisors, so they have their own queue only).
    "worklist.own": CLINICAL | {"leader"},
    "worklist.team": frozenset({"leader", "admin"}),
    "time.read": CLINICAL | {"admin", "leader", "billing"},
    "time.write": CLINICAL,
    "time.edit_any": frozenset({"admin", "leader"}),
    "care_member.designate": frozenset({"provider", "nurse", "coordinator", "leader", "admin"}),
    "risk.read": CLINICAL | {"billing", "leader"},
    # care plans and access (issue #8). Portal/partner users reach plans only through the access app's scoping.
    "careplan.read": CLINICAL | {"admin", "leader"},
    "careplan.write": CLINICAL,
    "portal.use": PORTAL_ROLES,
    "partner.use": EXTERNAL_ROLES,
    "access.manage": frozenset({"provider", "nurse", "coordinator", "admin", "leader"}),
    "oncall.read": CLINICAL | {"admin", "leader"},
    "oncall.log": frozenset({"provider", "nurse"}),
    # programs (issue #4): eligibility, enrollment with consent, QMB periods.
    "program.read": CLINICAL | {"admin", "billing", "leader"},
    "program.enroll": frozenset({"provider", "nurse", "coordinator", "bh_care_manager", "leader", "admin"}),
    "program.eligibility_run": frozenset({"leader", "admin"}),
    "qmb.manage": frozenset({"billing", "leader", "admin"}),
    # quality (issue #6): measure results, care gaps and reports; runs and gap tasks.
    "quality.read": CLINICAL | {"admin", "billing", "leader"},
    "quality.run": frozenset({"leader", "admin"}),
    "quality.tasks": CLINICAL | {"leader", "admin"},
    # transitions of care (issue #5): episodes, checklist, medication reconciliation, hospital notifications.
    "transitions.read": CLINICAL | {"admin", "billing", "leader"},
    "transitions.write": frozenset({"provider", "nurse", "coordinator", "chw", "leader", "admin"}),
    "transitions.medrec": frozenset({"provider", "nurse"}),
    "transitions.notify": frozenset({"admin"}),
    "transitions.match_review": frozenset({"coordinator", "nurse", "admin"}),  # held ADT messages: which patient
    # APCM compliance (issue #7): capabilities and pathways (read, record), coverage, evidence packets.
    "compliance.read": frozenset({"admin", "leader", "billing"}),
    "compliance.manage": frozenset({"admin", "leader"}),
    "compliance.packet": frozenset({"admin", "leader", "billing"}),
    "compliance.attest": frozenset({"provider", "leader", "admin"}),
    # billing (issue #7): the monthly run, explained decisions, claim files (837P, CSV), fee schedules.
    "billing.view": frozenset({"billing", "admin", "leader"}),
    "billing.run": frozenset({"billing", "admin"}),
    "billing.export": frozenset({"billing", "admin"}),
    # insights (issue #7 point 8): revenue and capacity dashboard, CSV (aggregates; patient lists are the
    # programs cohort and billing pages, under their own permissions).
    "insights.view": frozenset({"leader", "admin", "provider"}),
}


def has_permission(role: str, permission: str) -> bool:
    return role in ROLE_PERMISSIONS.get(permission, frozenset())


def is_staff_role(role: str) -> bool:
    return role in STAFF_ROLES


@dataclass(frozen=True)
class LoginState:
    failed_attempts: int
    locked_until: dt.datetime | None


@dataclass(frozen=True)
class LoginDecision:
    allowed: bool
    failed_attempts: int
    locked_until: dt.datetime | None
    reason: str


def decide_login(
    state: LoginState, *, password_ok: bool, now: dt.datetime, max_attempts: int, lockout_seconds: int
) -> LoginDecision:
    """Lockout policy: ``max_attempts`` consecutive failures lock the account for ``lockout_seconds``.

    While locked, even a correct password is refused (so a guesser learns nothing).
    """
    if state.locked_until is not None and state.locked_until > now:
        return LoginDecision(False, state.failed_attempts, state.locked_until, "locked")
    attempts = 0 if state.locked_until is not None else state.failed_attempts
    if password_ok:
        return LoginDecision(True, 0, None, "ok")
    attempts += 1
    if attempts >= max_attempts:
        return LoginDecision(False, attempts, now + dt.timedelta(seconds=lockout_seconds), "locked")
    return LoginDecision(False, attempts, None, "bad_credentials")


def mfa_required(role: str, *, org_requires_mfa: bool, has_device: bool) -> bool:
    """A user with a confirmed device must always pass MFA; staff must enrol when the org requires it."""
    return has_device or (org_requires_mfa and is_staff_role(role))
