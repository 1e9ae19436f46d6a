"""Background jobs: thin, take ids, call services. ``careloop transitions scan`` runs ``scan_organizations``."""

from __future__ import annotations

import datetime as dt
from typing import Any

from careloop.clinics.models import Organization
from careloop.core import clock
from careloop.core.actor import Actor
from careloop.transitions.services import scan_discharges


def scan_organizations(*, org_slug: str | None = None, since: dt.date | None = None) -> list[dict[str, Any]]:
    """Open episodes for discharges without one (``since``: clinic-local date of discharge) in one or every
    organization, and refresh open episodes from the outreach log and visits."""
    orgs = Organization.objects.order_by("pk")
    if org_slug:
        orgs = orgs.filter(slug=org_slug)
    out = []
    for org in orgs:
        start = dt.datetime.combine(since, dt.time(0), clock.clinic_zone(org.time_zone)) if since else None
        result = scan_discharges(organization_id=org.pk, actor=Actor.system(org.pk, "careloop transitions scan"),
                                 since=start)
        out.append({"organization": org.slug, "opened": len(result.opened), "refreshed": result.refreshed,
                    "failed": result.failed})
    return out
