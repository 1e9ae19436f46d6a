"""Quality reads (tenant-scoped, role-checked, audited) and gap-closure tasks.

Dashboard figures are aggregated in SQL from ``MeasureResult``: the JSON populations are summed in Python over
``values_list`` rows of one query per period (a few hundred thousand small rows at most), so the same code runs on
SQLite and PostgreSQL. Monthly trend: one ``MeasureResult`` snapshot per period; a month's point is the year-to-date
period that ends on that month's last day (run ``careloop quality run --period YYYY-01-01:YYYY-MM-DD`` monthly).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import defaultdict
from typing import Any

from careloop.accounts import rules as access
from careloop.audit.services import record_event
from careloop.core import clock
from careloop.core.actor import Actor
from careloop.core.errors import NotFound, PermissionDenied
from careloop.quality import selectors
from careloop.quality.gaps import gap_key
from careloop.quality.measures import REGISTRY
from careloop.quality.models import CareGap, GapStatus, MeasureResult
from careloop.registry.models import Patient
from careloop.worklist.choices import TaskType
from careloop.worklist.services import BulkCreateResult, TaskSpec, create_tasks_bulk

# Value in Primary Care MVP (M0005) quality measures careloop computes, by QPP id (cms-rules.md section 5).
MVP_MEASURES = {"001": "CMS122", "134": "CMS2", "236": "CMS165"}
MVP_PARTIAL = {"497": ("CMS125", "CMS130", "CMS138", "CMS69", "CMS22")}  # components of the 497 composite


def _require(actor: Actor, permission: str) -> int:
    if actor.organization_id is None or not access.has_permission(actor.role, permission):
        raise PermissionDenied(f"{permission} required")
    return actor.organization_id


def _period(first: dt.date, last: dt.date) -> dict[str, dt.date]:
    return {"period_start": first, "period_end": last}


def measure_performance(*, actor: Actor, first: dt.date, last: dt.date) -> list[dict[str, Any]]:
    """Per measure group: counts and the performance rate (numerator / (denominator - exclusions - exceptions))."""
    org = _require(actor, "quality.read")
    sums: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for measure, group, pops in MeasureResult.objects.filter(organization_id=org, **_period(first, last)
                                                             ).values_list("measure", "group", "populations"):
        bucket = sums[(measure, group)]
        for key, value in pops.items():
            bucket[key] += int(value)
    out = []
    for (measure, group), c in sorted(sums.items()):
        eligible = c.get("denominator", 0) - c.get("denominator_exclusion", 0) - c.get("denominator_exception", 0)
        numer = c.get("numerator", 0) - c.get("numerator_exclusion", 0)
        m = REGISTRY.get(measure)
        out.append({
            "measure": gap_key(measure, group), "title": m.title if m else measure,
            "inverse": bool(m and m.inverse), "populations": dict(c), "performance_denominator": eligible,
            "numerator": numer, "rate": round(numer / eligible, 4) if eligible > 0 else None,
        })
    record_event(actor=actor, action="quality.report_viewed", object_type="MeasureResult",
                 object_id=f"{first}:{last}")
    return out


def monthly_trend(*, actor: Actor, measure: str, year: int) -> list[dict[str, Any]]:
    """Rate per month from the year-to-date snapshots stored for ``year`` (months without a snapshot are absent)."""
    org = _require(actor, "quality.read")
    points: dict[dt.date, list[int]] = defaultdict(lambda: [0, 0])
    for end, pops in MeasureResult.objects.filter(
        organization_id=org, measure=measure, group="Group_1", period_start=dt.date(year, 1, 1)
    ).values_list("period_end", "populations"):
        eligible = pops.get("denominator", 0) - pops.get("denominator_exclusion", 0) - pops.get(
            "denominator_exception", 0)
        points[end][0] += pops.get("numerator", 0) - pops.get("numerator_exclusion", 0)
        points[end][1] += eligible
    return [{"month": end.strftime("%Y-%m"), "numerator": n, "denominator": d,
             "rate": round(n / d, 4) if d > 0 else None} for end, (n, d) in sorted(points.items())]


def monthly_trends(*, actor: Actor, year: int) -> list[dict[str, Any]]:
    """Every measure group's rate per month of ``year`` from the stored year-to-date snapshots, in one query:
    ``[{"measure", "points": {"YYYY-MM": rate or None}}]``. Months without a snapshot are absent; the full-year
    result counts as December's point only once the year is over (before that it is the year so far)."""
    org = _require(actor, "quality.read")
    last_end = dt.date(year, 12, 31) if clock.today() > dt.date(year, 12, 31) else dt.date(year, 12, 30)
    sums: dict[tuple[str, str], dict[dt.date, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    for measure, group, end, pops in MeasureResult.objects.filter(
        organization_id=org, period_start=dt.date(year, 1, 1), period_end__lte=last_end
    ).values_list("measure", "group", "period_end", "populations"):
        point = sums[(measure, group)][end]
        point[0] += pops.get("numerator", 0) - pops.get("numerator_exclusion", 0)
        point[1] += (pops.get("denominator", 0) - pops.get("denominator_exclusion", 0)
                     - pops.get("denominator_exception", 0))
    return [
        {"measure": gap_key(measure, group),
         "points": {end.strftime("%Y-%m"): (round(n / d, 4) if d > 0 else None) for end, (n, d) in sorted(pts.items())}}
        for (measure, group), pts in sorted(sums.items())
    ]


def mvp_summary(performance: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The Value in Primary Care MVP quality measures careloop can compute, with their rates (from
    ``measure_performance``); 497 is a composite of which careloop computes some components."""
    by_id = {row["measure"]: row for row in performance}
    out: list[dict[str, Any]] = [{"qpp_id": qpp, "measure": cms, "row": by_id.get(cms)}
                                 for qpp, cms in MVP_MEASURES.items()]
    for qpp, parts in MVP_PARTIAL.items():
        out.append({"qpp_id": qpp, "measure": "+".join(parts), "components": [by_id.get(p) for p in parts]})
    return out


def gap_patients(*, actor: Actor, first: dt.date, last: dt.date, measure: str | None = None,
                 status: str = GapStatus.OPEN) -> list[dict[str, Any]]:
    """Drill-down: the patients with a gap of ``status`` (for one measure, or all)."""
    org = _require(actor, "quality.read")
    out = selectors.gap_rows(organization_id=org, first=first, last=last, status=status, measure=measure)
    record_event(actor=actor, action="quality.gap_list_viewed", object_type="CareGap",
                 object_id=f"{first}:{last}:{measure or '*'}", detail={"patients": len(out)})
    return out


def gaps_csv(rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    fields = ["patient_id", "mrn", "name", "measure", "status", "missing", "closes_by", "due"]
    writer = csv.DictWriter(buf, fieldnames=fields, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def patient_gaps(*, actor: Actor, patient_id: int) -> list[dict[str, Any]]:
    """A patient's open and closed gaps (every stored period), for the chart panel."""
    org = _require(actor, "quality.read")
    if not Patient.objects.filter(organization_id=org, pk=patient_id).exists():
        raise NotFound("patient not found")
    out = [
        {"gap_id": g.pk, "measure": gap_key(g.measure, g.group), "status": g.status, "missing": g.missing,
         "closes_by": g.closes_by, "due": g.due.isoformat() if g.due else "", "evidence": g.evidence,
         "period": f"{g.period_start}:{g.period_end}"}
        for g in CareGap.objects.filter(organization_id=org, patient_id=patient_id).order_by("status", "measure")
    ]
    record_event(actor=actor, action="quality.patient_gaps_viewed", patient_id=patient_id, object_type="CareGap")
    return out


def _spec(g: CareGap) -> TaskSpec:
    key = gap_key(g.measure, g.group)
    return TaskSpec(
        patient_id=g.patient_id, task_type=TaskType.CARE_GAP_CLOSURE,
        reason=f"Close care gap {key}: {g.missing}"[:500],
        dedupe_key=f"care_gap:{key}:{g.period_start}:{g.period_end}:{g.patient_id}",
        source_type="CareGap", source_id=f"{key}:{g.period_start}:{g.period_end}",
        due_at=dt.datetime(g.due.year, g.due.month, g.due.day, 17, tzinfo=dt.UTC) if g.due else None,
    )


def create_gap_tasks(*, actor: Actor, first: dt.date, last: dt.date, gap_id: int | None = None,
                     measure: str | None = None) -> BulkCreateResult:
    """A ``care_gap_closure`` task per open gap (one gap, one measure's, or all of the period's), deduplicated per
    patient, measure and period: asking twice creates nothing new."""
    org = _require(actor, "quality.tasks")
    gaps = CareGap.objects.filter(organization_id=org, status=GapStatus.OPEN, **_period(first, last))
    if gap_id is not None:
        gaps = CareGap.objects.filter(organization_id=org, status=GapStatus.OPEN, pk=gap_id)
        if not gaps.exists():
            raise NotFound("open care gap not found")
    if measure:
        gaps = gaps.filter(measure=measure.split("/")[0])
    specs = [_spec(g) for g in gaps.only("pk", "patient_id", "measure", "group", "period_start", "period_end",
                                         "missing", "due").iterator(chunk_size=5000)]
    return create_tasks_bulk(organization_id=org, specs=specs, actor=actor)
