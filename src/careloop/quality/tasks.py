"""Background jobs of the quality app: the daily population refresh (results and care gaps) run by the scheduler."""

from __future__ import annotations

import datetime as dt
from typing import Any

from careloop.clinics.models import Organization
from careloop.core import clock
from careloop.core.actor import Actor
from careloop.quality.engine.period import MeasurementPeriod
from careloop.quality.engine.valuesets import MissingValueSets, ValueSetIndex
from careloop.quality.measures import REGISTRY
from careloop.quality.measures.base import Measure
from careloop.quality.models import MeasureResult
from careloop.quality.population import run_population
from careloop.quality.selectors import valueset_index


def _measures_with_valuesets(stored: ValueSetIndex) -> list[Measure]:
    ready = []
    for measure in REGISTRY.values():
        try:
            stored.require(measure.valuesets)
        except MissingValueSets:
            continue
        ready.append(measure)
    return ready


def _month_end_snapshot_due(organization_id: int, first: dt.date, last: dt.date) -> bool:
    """True unless the year-to-date period ``first..last`` already has results computed after ``last``."""
    latest = (MeasureResult.objects.filter(organization_id=organization_id, period_start=first, period_end=last)
              .order_by("-computed_at").values_list("computed_at", flat=True).first())
    return latest is None or latest.astimezone(clock.clinic_zone()).date() <= last


def refresh_job(now: dt.datetime) -> dict[str, Any]:
    """Daily, for every organization, each measure whose value sets are all loaded (`careloop valuesets load`):

    - the calendar year of ``now`` (clinic time zone): results and care gaps so far, gaps due by the year's end;
    - the year-to-date snapshot (results, no gaps) that ends on the last day of the previous month, once that
      month is over (the dashboards' monthly trend; in January, the previous full year with its last days).

    Each evaluation replaces its period's results and gaps (``run_population``, one transaction per organization
    and period). Measures without their value sets are listed, not run."""
    today = now.astimezone(clock.clinic_zone()).date()
    period = MeasurementPeriod.parse(f"{today.year}-01-01:{today.year}-12-31")
    month_end = today.replace(day=1) - dt.timedelta(days=1)
    snapshot = MeasurementPeriod.parse(f"{month_end.year}-01-01:{month_end.isoformat()}")
    stored = valueset_index()
    measures = _measures_with_valuesets(stored)
    report: dict[str, Any] = {"period": f"{period.first}:{period.last}", "measures": [m.id for m in measures],
                              "without_valuesets": sorted(set(REGISTRY) - {m.id for m in measures}),
                              "organizations": {}}
    if not measures:
        return report
    for org in Organization.objects.order_by("pk"):
        actor = Actor.system(org.pk, "quality-refresh")
        summary = run_population(organization_id=org.pk, period=period, measures=measures, valuesets=stored,
                                 actor=actor)
        row: dict[str, Any] = {"patients": summary.patients, "open_gaps": summary.open_gaps,
                               "closed_gaps": summary.closed_gaps}
        if _month_end_snapshot_due(org.pk, snapshot.first, snapshot.last):
            run_population(organization_id=org.pk, period=snapshot, measures=measures, valuesets=stored, actor=actor,
                           write_gaps=False)
            row["snapshot"] = f"{snapshot.first}:{snapshot.last}"
        report["organizations"][org.slug] = row
    return report
