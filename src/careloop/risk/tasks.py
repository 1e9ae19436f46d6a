"""Background entry points (thin: ids in, services do the work). The scheduler calls ``refresh_all``."""

from __future__ import annotations

import datetime as dt

from careloop.clinics.models import Organization
from careloop.core.actor import Actor
from careloop.risk.services import refresh_risk


def refresh_all(*, incremental: bool = True, as_of: dt.date | None = None) -> list[int]:
    """Refresh every organization (incremental by default; the first run of an organization is full).
    Returns the RiskRun ids."""
    runs = []
    for org_id in Organization.objects.order_by("pk").values_list("pk", flat=True):
        actor = Actor.system(org_id, "risk scheduler")
        runs.append(refresh_risk(organization_id=org_id, actor=actor, as_of=as_of, incremental=incremental).pk)
    return runs
