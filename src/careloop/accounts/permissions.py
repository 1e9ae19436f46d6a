"""Request -> Actor, and permission checks shared by API routes, FHIR facade and views."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render

from careloop.accounts import rules
from careloop.accounts.models import User
from careloop.accounts.services import actor_for, user_for_token
from careloop.core.actor import Actor
from careloop.core.errors import CareloopError, PermissionDenied


def client_ip(request: HttpRequest) -> str:
    return str(request.META.get("REMOTE_ADDR") or "")


def mfa_satisfied(user: Any) -> bool:
    """False when the user must pass MFA in this session and has not."""
    if getattr(user, "is_verified", lambda: False)():
        return True
    from django_otp import devices_for_user

    has_device = any(True for _ in devices_for_user(user, confirmed=True))
    org = getattr(user, "organization", None)
    return not rules.mfa_required(
        getattr(user, "role", ""), org_requires_mfa=bool(org and org.require_mfa_for_staff), has_device=has_device
    )


def request_user(request: HttpRequest) -> User | None:
    """The session user (MFA satisfied) or the owner of a valid bearer token."""
    header = str(request.META.get("HTTP_AUTHORIZATION", ""))
    if header.lower().startswith("bearer "):
        return user_for_token(header[7:].strip())
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated and mfa_satisfied(user):
        return user  # type: ignore[no-any-return]
    return None


def actor_from_request(request: HttpRequest, user: User | None = None) -> Actor:
    user = user or request_user(request)
    if user is None:
        raise PermissionDenied("authentication required")
    return actor_for(user, client_ip(request))


def require_permission(actor: Actor, permission: str) -> Actor:
    if actor.organization_id is None or not rules.has_permission(actor.role, permission):
        raise PermissionDenied(f"role {actor.role!r} may not {permission}")
    return actor


View = Callable[..., HttpResponse]


def staff_view(*permissions: str, atomic: bool = False) -> Callable[[Callable[..., HttpResponse]], View]:
    """The UI views' guard: signed in (else to the login page), in an organization, holding one of
    ``permissions``; the view is called as ``fn(request, actor, ...)`` (inside one transaction when ``atomic``).
    Domain errors render the error page with their status (403, 404, 400, ...)."""
    def decorate(fn: Callable[..., HttpResponse]) -> View:
        @wraps(fn)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                return HttpResponseRedirect(f"/login/?next={request.path}")
            try:
                actor = actor_from_request(request)
                if actor.organization_id is None or not any(rules.has_permission(actor.role, p) for p in permissions):
                    raise PermissionDenied(f"role {actor.role!r} may not {' or '.join(permissions)}")
                if atomic:
                    with transaction.atomic():
                        return fn(request, actor, *args, **kwargs)
                return fn(request, actor, *args, **kwargs)
            except CareloopError as exc:
                return render(request, "web/error.html", {"status": exc.status_code, "message": str(exc)},
                              status=exc.status_code)

        return wrapper

    return decorate
