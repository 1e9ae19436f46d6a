"""Download of a billing month's 837P (UI and API). Lives in interop because billing may not import interop;
config/urls.py and config/api.py wire it. The file is served only when pyx12 accepts it."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.http import require_GET
from ninja import Router

from careloop.accounts import rules as access
from careloop.accounts.permissions import actor_from_request, require_permission
from careloop.billing import selectors
from careloop.clinics.models import Organization
from careloop.core.errors import CareloopError, PermissionDenied, ValidationFailed
from careloop.interop.x12.claims import build_837p

router = Router(tags=["billing"])


def _response(text: str, month: str) -> HttpResponse:
    response = HttpResponse(text, content_type="application/edi-x12")
    response["Content-Disposition"] = f'attachment; filename="careloop-837p-{month}.x12"'
    return response


def _build(request: HttpRequest, month: str) -> HttpResponse:
    actor = require_permission(actor_from_request(request), "billing.export")
    selectors.month_bounds(month)
    org = Organization.objects.get(pk=actor.organization_id or 0)
    result = build_837p(organization=org, month=month, actor=actor)
    if not result.validation.accepted:
        raise ValidationFailed("pyx12 rejected the 837P: " + "; ".join(result.validation.errors[:20]))
    return _response(result.text, month)


@require_GET
def month_837p(request: HttpRequest, month: str) -> HttpResponse:
    if not request.user.is_authenticated:
        return HttpResponseRedirect(f"/login/?next={request.path}")
    try:
        actor = actor_from_request(request)
        if actor.organization_id is None or not access.has_permission(actor.role, "billing.export"):
            raise PermissionDenied(f"role {actor.role!r} may not billing.export")
        return _build(request, month)
    except CareloopError as exc:
        return render(request, "web/error.html", {"status": exc.status_code, "message": str(exc)},
                      status=exc.status_code)


@router.get("/months/{month}/837p")
def api_month_837p(request: HttpRequest, month: str) -> HttpResponse:
    """The month's 837P (X12 5010 005010X222A1), validated with pyx12; 400 with the 999 errors otherwise."""
    return _build(request, month)
