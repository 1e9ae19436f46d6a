"""Background jobs: thin, call services. ``last_month_job`` runs the previous calendar month's billing for every
organization; the scheduler should run it on the 1st of the month (the worklist scheduler cannot import billing,
which sits above it, so the job is wired where the scheduler's job table is assembled)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from careloop.billing import services
from careloop.billing.evidence import configured_provider
from careloop.clinics.models import Organization
from careloop.core import clock
from careloop.core.actor import Actor
from careloop.core.errors import CareloopError


def previous_month(day: dt.date) -> str:
    last = day.replace(day=1) - dt.timedelta(days=1)
    return f"{last.year:04d}-{last.month:02d}"


def monthly_period(now: dt.datetime) -> str:
    """Scheduler period key: the month being billed (runs once per month, on or after the 1st)."""
    return previous_month(now.astimezone(clock.clinic_zone()).date())


def last_month_job(now: dt.datetime) -> dict[str, Any]:
    out: dict[str, Any] = {}
    evidence = configured_provider()
    for org in Organization.objects.order_by("pk"):
        month = previous_month(now.astimezone(clock.clinic_zone(org.time_zone)).date())
        try:
            counts = services.run_billing_month(organization=org, month=month, evidence=evidence,
                                                actor=Actor.system(org.pk, "scheduler billing"))
        except CareloopError as exc:
            out[org.slug] = {"month": month, "error": str(exc)}
            continue
        out[org.slug] = {"month": month, "decided": counts.decided, "corrections": counts.corrections}
    return out
