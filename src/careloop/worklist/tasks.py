"""Background jobs: thin, call services. Run by the scheduler (``careloop scheduler``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from careloop.worklist import services


def escalate_job(now: dt.datetime) -> dict[str, Any]:
    r = services.escalate_overdue(now=now)
    return {"escalated": r.escalated, "at_risk": r.flagged_at_risk, "reprioritized": r.reprioritized,
            "notified": r.notified}


def recurring_job(now: dt.datetime, month: str | None = None) -> dict[str, Any]:
    results = services.run_recurring(now=now, month=month)
    return {str(org): {"month": r.month, "created": r.created, "existing": r.existing} for org, r in results.items()}
