"""Idle session timeout and mandatory MFA enforcement."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect

from careloop.accounts import rules

_EXEMPT_PREFIXES = ("/login", "/logout", "/mfa/", "/static/", "/api/", "/fhir/", "/healthz")


class IdleTimeoutMiddleware:
    """Log a browser session out after ``SESSION_IDLE_SECONDS`` without a request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            now = time.time()
            last = request.session.get("last_seen")
            if isinstance(last, (int, float)) and now - last > settings.SESSION_IDLE_SECONDS:
                logout(request)
                if not request.path.startswith(("/api/", "/fhir/")):
                    return HttpResponseRedirect(f"{settings.LOGIN_URL}?timeout=1")
            else:
                # Write at most every 30 s so reads don't rewrite the session row on every request.
                if not isinstance(last, (int, float)) or now - last > 30:
                    request.session["last_seen"] = now
        return self.get_response(request)


class RequireMFAMiddleware:
    """Staff of an organization that mandates MFA, and anyone with a device, must verify before using the UI."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if user.is_authenticated and not request.path.startswith(_EXEMPT_PREFIXES):
            verified = getattr(user, "is_verified", lambda: False)()
            if not verified:
                from django_otp import devices_for_user

                has_device = any(True for _ in devices_for_user(user, confirmed=True))
                org = getattr(user, "organization", None)
                if rules.mfa_required(
                    getattr(user, "role", ""),
                    org_requires_mfa=bool(org and org.require_mfa_for_staff),
                    has_device=has_device,
                ):
                    return HttpResponseRedirect("/mfa/verify/" if has_device else "/mfa/enroll/")
        return self.get_response(request)
