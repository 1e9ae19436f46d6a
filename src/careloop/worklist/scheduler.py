"""A small periodic-job scheduler: escalations every 5 minutes, recurring rules daily.

Each (job, period) runs once across every scheduler process: a run first inserts its unique
``ScheduledJobRun(job, period_key)`` row, and a scheduler whose insert fails skips that period.
``ScheduledJobRun`` lives in worklist because worklist has the first periodic jobs; it can move to ``core``
when other apps add theirs (the scheduler itself is started from the CLI, which may import any app).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction

from careloop.core import clock
from careloop.worklist import tasks
from careloop.worklist.models import ScheduledJobRun

log = logging.getLogger(__name__)


def every_minutes(minutes: int) -> Callable[[dt.datetime], str]:
    def period(now: dt.datetime) -> str:
        at = now.astimezone(dt.UTC)
        slot = at.replace(minute=at.minute - at.minute % minutes, second=0, microsecond=0)
        return slot.strftime("%Y-%m-%dT%H:%MZ")

    return period


def daily(now: dt.datetime) -> str:
    return now.astimezone(clock.clinic_zone()).date().isoformat()


@dataclass(frozen=True)
class Job:
    name: str
    period: Callable[[dt.datetime], str]
    run: Callable[[dt.datetime], dict[str, Any]]


def careplan_review_job(now: dt.datetime) -> dict[str, Any]:
    from careloop.careplans.tasks import yearly_review_job

    return dict(yearly_review_job(now))


def risk_refresh_job(now: dt.datetime) -> dict[str, Any]:
    from careloop.risk.tasks import refresh_all

    return {"risk_runs": refresh_all(incremental=True)}


JOBS: tuple[Job, ...] = (
    Job("worklist.escalate", every_minutes(5), tasks.escalate_job),
    Job("risk.refresh", daily, risk_refresh_job),  # before the recurring rules, so new tasks see fresh tiers
    Job("worklist.recurring", daily, tasks.recurring_job),
    Job("careplans.yearly_review", daily, careplan_review_job),
)


def claim(job: str, period_key: str, now: dt.datetime) -> ScheduledJobRun | None:
    """The run row for (job, period), or None when another scheduler already took that period."""
    try:
        with transaction.atomic():
            return ScheduledJobRun.objects.create(job=job, period_key=period_key, started_at=now)
    except IntegrityError:
        return None


def run_due(now: dt.datetime | None = None, jobs: tuple[Job, ...] = JOBS) -> list[dict[str, Any]]:
    """Run every job whose current period has not run yet. Returns what ran (and what was skipped)."""
    now = now or clock.now()
    report = []
    for job in jobs:
        key = job.period(now)
        run = claim(job.name, key, now)
        if run is None:
            report.append({"job": job.name, "period": key, "status": "skipped"})
            continue
        try:
            detail = job.run(now)
            run.status, run.detail = "done", detail
        except Exception as exc:  # a failed run is recorded; the next period tries again
            log.exception("job %s failed", job.name)
            run.status, run.detail = "failed", {"error": f"{type(exc).__name__}: {exc}"}
        run.finished_at = clock.now()
        run.save(update_fields=["status", "detail", "finished_at"])
        report.append({"job": job.name, "period": key, "status": run.status, "detail": run.detail})
    return report


def loop(*, once: bool = False, poll_seconds: float = 30.0, on_report: Callable[[list[dict[str, Any]]], None] | None
         = None, jobs: tuple[Job, ...] = JOBS) -> None:
    """Run due jobs now and then every ``poll_seconds`` (``once``: a single pass). ``jobs``: the job table; the
    CLI adds the jobs of apps above the worklist (the monthly billing run)."""
    while True:
        report = run_due(jobs=jobs)
        if on_report is not None:
            on_report(report)
        if once:
            return
        time.sleep(poll_seconds)
