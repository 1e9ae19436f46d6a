"""The REST API under /api/ (django-ninja, OpenAPI at /api/openapi.json, docs at /api/docs)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.security import APIKeyCookie, HttpBearer

from careloop import __version__
from careloop.accounts.permissions import mfa_satisfied
from careloop.accounts.services import user_for_token
from careloop.core.errors import CareloopError, ValidationFailed


class BearerToken(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> Any:
        user = user_for_token(token)
        if user is not None:
            request.user = user
        return user


class Session(APIKeyCookie):
    """Browser session (CSRF-checked) whose user has passed MFA where it is required."""

    param_name = "sessionid"

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and mfa_satisfied(user):
            return user
        return None


api = NinjaAPI(
    title="careloop API",
    version=__version__,
    description="Care coordination for US primary care. Every PHI route is role-checked, tenant-scoped and audited.",
    auth=[BearerToken(), Session()],
    urls_namespace="api",
)


@api.exception_handler(CareloopError)
def careloop_error(request: HttpRequest, exc: CareloopError) -> HttpResponse:
    body: dict[str, Any] = {"detail": str(exc)}
    if isinstance(exc, ValidationFailed) and exc.field_errors:
        body["errors"] = exc.field_errors
    return api.create_response(request, body, status=exc.status_code)


@api.get("/health", auth=None, tags=["system"])
def health(request: HttpRequest) -> dict[str, str]:
    return {"status": "ok", "version": __version__}


def _register() -> None:
    from careloop.access.api import router as access_router
    from careloop.audit.api import router as audit_router
    from careloop.billing.api import router as billing_router
    from careloop.careplans.api import router as careplans_router
    from careloop.compliance.api import router as compliance_router
    from careloop.insights.api import router as insights_router
    from careloop.interop.fhir.api import router as fhir_router
    from careloop.interop.x12.views import router as x12_router
    from careloop.programs.api import router as programs_router
    from careloop.quality.api import router as quality_router
    from careloop.registry.api import router as registry_router
    from careloop.risk.api import router as risk_router
    from careloop.transitions.api import router as transitions_router
    from careloop.worklist.api import router as worklist_router

    api.add_router("/patients", registry_router)
    api.add_router("/audit", audit_router)
    api.add_router("/fhir", fhir_router)
    api.add_router("/programs", programs_router)
    api.add_router("/worklist", worklist_router)
    api.add_router("/risk", risk_router)
    api.add_router("/careplans", careplans_router)
    api.add_router("/access", access_router)
    api.add_router("/quality", quality_router)
    api.add_router("/transitions", transitions_router)
    api.add_router("/billing", billing_router)
    api.add_router("/billing", x12_router)
    api.add_router("/compliance", compliance_router)
    api.add_router("/insights", insights_router)


_register()
