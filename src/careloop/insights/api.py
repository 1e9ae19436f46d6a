"""Insights over REST (``/api/insights/...``): the month's revenue and capacity report as JSON or CSV.
Role-checked (``insights.view``), scoped to the caller's organization, audited in ``services``."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from ninja import Router

from careloop.accounts.permissions import actor_from_request, require_permission
from careloop.insights import services

router = Router(tags=["insights"])


@router.get("/revenue", response={200: Any})
def revenue(request: HttpRequest, month: str, format: str = "json") -> Any:  # noqa: A002 - the query parameter
    actor = require_permission(actor_from_request(request), services.PERMISSION)
    with transaction.atomic():
        if format == "csv":
            response = HttpResponse(services.export_csv(actor=actor, month=month), content_type="text/csv")
            response["Content-Disposition"] = f'attachment; filename="careloop-revenue-{month}.csv"'
            return response
        return services.revenue_report(actor=actor, month=month).as_json()
