"""accounts.rules: the lockout decision table, when MFA is required, and the role permission table."""

from __future__ import annotations

import datetime as dt

import pytest

from careloop.accounts import rules
from careloop.accounts.choices import Role
from careloop.accounts.rules import LoginDecision, LoginState, decide_login

NOW = dt.datetime(2026, 3, 9, 14, 0, tzinfo=dt.UTC)
LATER = NOW + dt.timedelta(seconds=10)
EARLIER = NOW - dt.timedelta(seconds=1)
LOCK = NOW + dt.timedelta(seconds=900)


@pytest.mark.parametrize(
    ("attempts", "locked_until", "password_ok", "expected"),
    [
        # Not locked.
        (0, None, True, LoginDecision(True, 0, None, "ok")),
        (0, None, False, LoginDecision(False, 1, None, "bad_credentials")),
        (3, None, False, LoginDecision(False, 4, None, "bad_credentials")),
        (4, None, True, LoginDecision(True, 0, None, "ok")),  # a success resets the counter
        (4, None, False, LoginDecision(False, 5, LOCK, "locked")),  # the 5th failure locks
        # Locked: even the right password is refused, and nothing changes.
        (5, LATER, True, LoginDecision(False, 5, LATER, "locked")),
        (5, LATER, False, LoginDecision(False, 5, LATER, "locked")),
        # Lock expired: the counter starts again.
        (5, EARLIER, True, LoginDecision(True, 0, None, "ok")),
        (5, EARLIER, False, LoginDecision(False, 1, None, "bad_credentials")),
        (5, NOW, True, LoginDecision(True, 0, None, "ok")),  # a lock ending exactly now has ended
    ],
)
def test_decide_login(attempts: int, locked_until: dt.datetime | None, password_ok: bool,
                      expected: LoginDecision) -> None:
    decision = decide_login(LoginState(attempts, locked_until), password_ok=password_ok, now=NOW, max_attempts=5,
                            lockout_seconds=900)
    assert decision == expected


def test_decide_login_lock_after_one_attempt_when_max_is_one() -> None:
    decision = decide_login(LoginState(0, None), password_ok=False, now=NOW, max_attempts=1, lockout_seconds=60)
    assert decision == LoginDecision(False, 1, NOW + dt.timedelta(seconds=60), "locked")


def test_decide_login_five_failures_in_a_row_then_locked() -> None:
    state = LoginState(0, None)
    reasons = []
    for _ in range(6):
        d = decide_login(state, password_ok=False, now=NOW, max_attempts=5, lockout_seconds=900)
        reasons.append(d.reason)
        state = LoginState(d.failed_attempts, d.locked_until)
    assert reasons == ["bad_credentials"] * 4 + ["locked", "locked"]
    assert state == LoginState(5, LOCK)


STAFF = ["admin", "provider", "nurse", "coordinator", "chw", "bh_care_manager", "billing", "leader"]
NON_STAFF = ["patient", "caregiver", "partner"]


def test_role_sets_match_the_role_choices() -> None:
    assert rules.ALL_ROLES == frozenset(Role.values)
    assert rules.STAFF_ROLES == frozenset(STAFF)
    assert rules.ALL_ROLES - rules.STAFF_ROLES == frozenset(NON_STAFF)


@pytest.mark.parametrize("role", STAFF)
def test_mfa_required_for_staff(role: str) -> None:
    assert rules.mfa_required(role, org_requires_mfa=False, has_device=False) is False
    assert rules.mfa_required(role, org_requires_mfa=True, has_device=False) is True
    assert rules.mfa_required(role, org_requires_mfa=False, has_device=True) is True
    assert rules.mfa_required(role, org_requires_mfa=True, has_device=True) is True


@pytest.mark.parametrize("role", NON_STAFF)
def test_mfa_not_forced_on_portal_and_external_roles(role: str) -> None:
    assert rules.mfa_required(role, org_requires_mfa=False, has_device=False) is False
    assert rules.mfa_required(role, org_requires_mfa=True, has_device=False) is False
    # ... but anyone who enrolled a device must use it.
    assert rules.mfa_required(role, org_requires_mfa=True, has_device=True) is True
    assert rules.mfa_required(role, org_requires_mfa=False, has_device=True) is True


# The expected table, written out independently of ROLE_PERMISSIONS.
EXPECTED: dict[str, set[str]] = {
    "admin": {"patient.read", "patient.write", "fhir.read", "fhir.import", "audit.read", "audit.verify",
              "users.manage", "org.manage", "quarantine.read"},
    "provider": {"patient.read", "patient.write", "fhir.read"},
    "nurse": {"patient.read", "patient.write", "fhir.read"},
    "coordinator": {"patient.read", "patient.write", "fhir.read"},
    "chw": {"patient.read", "fhir.read"},
    "bh_care_manager": {"patient.read", "fhir.read"},
    "billing": {"patient.read", "fhir.read"},
    "leader": {"patient.read", "fhir.read", "audit.read"},
    "patient": set(),
    "caregiver": set(),
    "partner": set(),
}
# The foundation's permissions; other apps add their own, checked in their own tests.
PERMISSIONS = ["audit.read", "audit.verify", "fhir.import", "fhir.read", "org.manage", "patient.read",
               "patient.write", "quarantine.read", "users.manage"]


def test_foundation_permissions_exist() -> None:
    assert set(PERMISSIONS) <= set(rules.ROLE_PERMISSIONS)


@pytest.mark.parametrize("role", sorted(EXPECTED))
def test_has_permission_for_every_role(role: str) -> None:
    granted = {perm for perm in PERMISSIONS if rules.has_permission(role, perm)}
    assert granted == EXPECTED[role]


def test_has_permission_unknown_role_or_permission() -> None:
    assert rules.has_permission("superuser", "patient.read") is False
    assert rules.has_permission("admin", "patient.delete") is False
    assert rules.has_permission("", "") is False
