"""Account use-cases: create users, authenticate with lockout, issue API tokens."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.contrib.auth import authenticate
from django.db import transaction
from django.http import HttpRequest

from careloop.accounts import rules
from careloop.accounts.models import ApiToken, User
from careloop.audit.services import record_event
from careloop.clinics.models import Organization
from careloop.core import clock
from careloop.core.actor import Actor
from careloop.core.errors import ValidationFailed


def actor_for(user: User, source_ip: str = "") -> Actor:
    return Actor(
        user_id=user.pk,
        username=user.username,
        role=user.role,
        organization_id=user.organization_id,
        source_ip=source_ip,
    )


def create_user(
    *,
    organization: Organization,
    username: str,
    password: str,
    role: str,
    first_name: str = "",
    last_name: str = "",
    email: str = "",
) -> User:
    if role not in rules.ALL_ROLES:
        raise ValidationFailed(f"unknown role {role!r}", field_errors={"role": "unknown role"})
    user = User(
        organization=organization,
        username=username,
        role=role,
        first_name=first_name,
        last_name=last_name,
        email=email,
    )
    user.set_password(password)
    user.save()
    return user


def authenticate_with_lockout(
    request: HttpRequest | None, *, username: str, password: str, source_ip: str
) -> tuple[User | None, str]:
    """Check a password under the lockout policy. Returns (user or None, reason)."""
    with transaction.atomic():
        candidate = User.objects.select_for_update().filter(username=username).first()
        if candidate is None:
            # Same work as a real check so timing does not reveal which usernames exist.
            User().set_password(password)
            return None, "bad_credentials"
        ok = authenticate(request, username=username, password=password) is not None
        decision = rules.decide_login(
            rules.LoginState(candidate.failed_login_attempts, candidate.locked_until),
            password_ok=ok and candidate.is_active,
            now=clock.now(),
            max_attempts=settings.LOCKOUT_ATTEMPTS,
            lockout_seconds=settings.LOCKOUT_SECONDS,
        )
        candidate.failed_login_attempts = decision.failed_attempts
        candidate.locked_until = decision.locked_until
        candidate.save(update_fields=["failed_login_attempts", "locked_until"])
        record_event(
            actor=actor_for(candidate, source_ip),
            action="user.login_succeeded" if decision.allowed else "user.login_failed",
            outcome="success" if decision.allowed else "failure",
            object_type="User",
            object_id=str(candidate.pk),
            detail={"reason": decision.reason},
        )
        return (candidate if decision.allowed else None), decision.reason


def issue_api_token(*, user: User, name: str) -> str:
    raw = "cl_" + secrets.token_urlsafe(32)
    ApiToken.objects.create(user=user, name=name, token_hash=ApiToken.hash_token(raw))
    return raw


def user_for_token(raw: str) -> User | None:
    token = (
        ApiToken.objects.select_related("user", "user__organization")
        .filter(token_hash=ApiToken.hash_token(raw), revoked=False, user__is_active=True)
        .first()
    )
    if token is None:
        return None
    now = clock.now()
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 300:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)  # at most every 5 minutes
    return token.user


def set_org_mfa_requirement(*, organization: Organization, required: bool, actor: Actor) -> None:
    if not rules.has_permission(actor.role, "org.manage") or actor.organization_id != organization.pk:
        from careloop.core.errors import PermissionDenied

        raise PermissionDenied("only an administrator of this organization can change MFA policy")
    with transaction.atomic():
        organization.require_mfa_for_staff = required
        organization.save(update_fields=["require_mfa_for_staff"])
        record_event(
            actor=actor,
            action="organization.mfa_policy_changed",
            object_type="Organization",
            object_id=str(organization.pk),
            detail={"required": required},
        )
