"""Program task orchestration over REST: enrollment calls for the enroll-first top N, initiating-visit tasks."""

from __future__ import annotations

import datetime as dt

from django.http import HttpRequest
from ninja import Schema

from careloop.core.errors import ValidationFailed
from careloop.worklist.api._common import actor_with, org
from careloop.worklist.api.router import router
from careloop.worklist.services.enrollment import create_enrollment_calls, create_initiating_visit_tasks


class CreatedOut(Schema):
    created_ids: list[int]
    existing: int


@router.post("/enrollment-calls", response=CreatedOut)
def enrollment_calls(request: HttpRequest, month: str, top: int = 20) -> dict[str, object]:
    actor = actor_with(request, "worklist.team")
    try:
        dt.date.fromisoformat(f"{month}-01")
    except ValueError as exc:
        raise ValidationFailed("month must be YYYY-MM", field_errors={"month": "YYYY-MM"}) from exc
    if not (1 <= top <= 500):
        raise ValidationFailed("top must be 1-500", field_errors={"top": "1-500"})
    r = create_enrollment_calls(organization_id=org(actor), month=month, top=top, actor=actor)
    return {"created_ids": r.created_ids, "existing": r.existing}


@router.post("/initiating-visit-tasks", response=CreatedOut)
def initiating_visit_tasks(request: HttpRequest) -> dict[str, object]:
    actor = actor_with(request, "worklist.team")
    r = create_initiating_visit_tasks(organization_id=org(actor), actor=actor)
    return {"created_ids": r.created_ids, "existing": r.existing}
