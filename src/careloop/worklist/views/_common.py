"""View plumbing: permission-checked staff views (errors rendered with the shell's error page) and form parsing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render

from careloop.accounts import rules as access
from careloop.accounts.permissions import actor_from_request
from careloop.core.actor import Actor
from careloop.core.errors import CareloopError, PermissionDenied, ValidationFailed

View = Callable[..., HttpResponse]

# Where a task's source can be opened in the UI ({patient_id}, {source_id}); other sources show as text.
SOURCE_LINKS: dict[str, str] = {
    "Patient": "/patients/{patient_id}/",
    "Encounter": "/patients/{patient_id}/",
    "CareTask": "/queue/tasks/{source_id}/",
}


def source_url(source_type: str, source_id: str, patient_id: int) -> str:
    pattern = SOURCE_LINKS.get(source_type)
    return pattern.format(patient_id=patient_id, source_id=source_id) if pattern and source_id else ""


def staff_view(*permissions: str) -> Callable[[Callable[..., HttpResponse]], View]:
    """Signed-in staff holding one of ``permissions``; the view gets the actor after the request."""

    def decorate(fn: Callable[..., HttpResponse]) -> View:
        @wraps(fn)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                return HttpResponseRedirect(f"/login/?next={request.path}")
            try:
                actor = actor_from_request(request)
                if actor.organization_id is None or not any(access.has_permission(actor.role, p)
                                                            for p in permissions):
                    raise PermissionDenied(f"role {actor.role!r} may not {' or '.join(permissions)}")
                return fn(request, actor, *args, **kwargs)
            except CareloopError as exc:
                status = exc.status_code
                return render(request, "web/error.html", {"status": status, "message": str(exc)}, status=status)

        return wrapper

    return decorate


def org(actor: Actor) -> int:
    assert actor.organization_id is not None
    return actor.organization_id


def int_or_none(value: str | None, name: str = "") -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(value)
    except ValueError as exc:
        raise ValidationFailed(f"{name or 'value'} must be a number", field_errors={name: "not a number"}) from exc


def parse_date(value: str | None, name: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value or "")
    except ValueError as exc:
        raise ValidationFailed(f"{name} must be a date (YYYY-MM-DD)", field_errors={name: "not a date"}) from exc


def parse_time(value: str | None, name: str) -> dt.time | None:
    if not value:
        return None
    try:
        return dt.time.fromisoformat(value)
    except ValueError as exc:
        raise ValidationFailed(f"{name} must be a time (HH:MM)", field_errors={name: "not a time"}) from exc
