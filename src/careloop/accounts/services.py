"""Account use-cases: create users, authenticate with lockout, issue API tokens."""

from __future__ import annotations

import copy
import datetime as dt
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import authenticate
from django.db import transaction
from django.db.models.signals import post_delete, post_save
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


class _TokenCache:
    """Bearer token -> user, for a few seconds, in this process (the token lookup was the queue's largest cost).

    Keyed by the token's SHA-256. Entries live ``API_TOKEN_CACHE_SECONDS`` (30 s by default, 0 turns the cache off)
    and at most ``MAX_ENTRIES`` are kept (least recently used go first). Any save or delete of an ApiToken, User or
    Organization through the ORM in this process empties the cache (signals, connected below), and so does
    ``revoke_api_token``; a change made by another process (or by ``QuerySet.update``) takes effect here within
    the TTL. docs/operations.md states that bound. Each hit returns a copy of the user, so a request cannot change
    the cached instance another request gets.
    """

    MAX_ENTRIES = 4096

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, _CachedToken] = OrderedDict()
        self._generation = 0

    def get(self, key: str, now: float) -> _CachedToken | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry.expires <= now:
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return entry

    def generation(self) -> int:
        with self._lock:
            return self._generation

    def put(self, key: str, entry: _CachedToken, generation: int) -> None:
        with self._lock:
            if generation != self._generation:
                return  # invalidated while this lookup ran: the row read may already be stale
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > self.MAX_ENTRIES:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._generation += 1

    def __len__(self) -> int:
        return len(self._entries)


@dataclass
class _CachedToken:
    token_id: int
    user: User
    last_used_at: dt.datetime | None
    expires: float


_token_cache = _TokenCache()
_monotonic = time.monotonic  # tests replace it to step over the TTL


def clear_token_cache(**kwargs: object) -> None:
    """Forget every cached bearer token (signal receiver: any ApiToken/User/Organization save or delete).

    Inside a transaction it clears again at commit: a request on another thread may have read (and cached) the
    old row between the save and the commit.
    """
    _token_cache.clear()
    using = kwargs.get("using")
    transaction.on_commit(_token_cache.clear, using=using if isinstance(using, str) else None)


for _model in (ApiToken, User, Organization):
    post_save.connect(clear_token_cache, sender=_model, dispatch_uid=f"careloop-token-cache-save-{_model.__name__}")
    post_delete.connect(clear_token_cache, sender=_model, dispatch_uid=f"careloop-token-cache-del-{_model.__name__}")


def _copy_user(user: User) -> User:
    clone = copy.copy(user)  # Model.__getstate__ copies _state and its fields cache
    org = user._state.fields_cache.get("organization")
    if org is not None:
        clone._state.fields_cache["organization"] = copy.copy(org)
    return clone


def user_for_token(raw: str) -> User | None:
    key = ApiToken.hash_token(raw)
    ttl = float(getattr(settings, "API_TOKEN_CACHE_SECONDS", 30))
    now = clock.now()
    if ttl > 0:
        cached = _token_cache.get(key, _monotonic())
        if cached is not None:
            if cached.last_used_at is None or (now - cached.last_used_at).total_seconds() > 300:
                ApiToken.objects.filter(pk=cached.token_id).update(last_used_at=now)
                cached.last_used_at = now
            return _copy_user(cached.user)
    generation = _token_cache.generation()
    token = (
        ApiToken.objects.select_related("user", "user__organization")
        .filter(token_hash=key, revoked=False, user__is_active=True)
        .first()
    )
    if token is None:
        return None  # unknown or revoked tokens are not cached: the next request asks the database again
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 300:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)  # at most every 5 minutes
        token.last_used_at = now
    if ttl > 0:
        entry = _CachedToken(token.pk, _copy_user(token.user), token.last_used_at, _monotonic() + ttl)
        _token_cache.put(key, entry, generation)
    return token.user


def revoke_api_token(*, token: ApiToken) -> None:
    """Revoke a bearer token. It stops working at once in this process, within the cache TTL in others."""
    ApiToken.objects.filter(pk=token.pk).update(revoked=True)
    token.revoked = True
    clear_token_cache()


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
