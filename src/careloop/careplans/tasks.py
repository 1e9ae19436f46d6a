"""Background jobs: thin, call services. ``yearly_review_job`` is meant to run daily from the scheduler."""

from __future__ import annotations

import datetime as dt
from typing import Any

from careloop.careplans import services
from careloop.clinics.models import Organization
from careloop.core import clock


def yearly_review_job(now: dt.datetime) -> dict[str, Any]:
    """Every active plan whose 12-month review is due gets a ``care_plan_review`` task (deduplicated)."""
    out: dict[str, Any] = {}
    for org_id, tz in Organization.objects.values_list("pk", "time_zone"):
        today = now.astimezone(clock.clinic_zone(tz)).date()
        out[str(org_id)] = services.run_yearly_reviews(organization_id=org_id, today=today)
    return out
