"""Insights use-cases: the month's revenue and capacity report (JSON, CSV), permission-checked and audited.

The report holds aggregates only (counts and amounts per program and level, FTEs, projections): no patient
rows. Each view or export still writes one audit event (``insights.revenue_viewed`` / ``insights.revenue_exported``,
no patient) so the trail shows who looked at the practice's figures. Patient lists behind a row are the programs
cohort and the billing month pages, which audit every patient they show.
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings

from careloop.accounts import rules as access
from careloop.audit.services import record_event
from careloop.clinics.models import Organization
from careloop.core.actor import Actor
from careloop.core.errors import NotFound, PermissionDenied, ValidationFailed
from careloop.insights import rules, selectors
from careloop.insights.choices import CsvSection

PERMISSION = "insights.view"
ENV_ASSUMPTIONS = "CARELOOP_INSIGHTS_ASSUMPTIONS"


def _check(actor: Actor, organization_id: int) -> None:
    if actor.role == "system" and actor.organization_id in (None, organization_id):
        return
    if actor.organization_id != organization_id or not access.has_permission(actor.role, PERMISSION):
        raise PermissionDenied(f"role {actor.role!r} may not {PERMISSION}")


def load_assumptions(path: str | Path | None = None) -> rules.Assumptions:
    """The shipped assumptions merged with an override file: ``path``, else the ``INSIGHTS_ASSUMPTIONS`` setting,
    else the ``CARELOOP_INSIGHTS_ASSUMPTIONS`` environment variable."""
    chosen = str(path or getattr(settings, "INSIGHTS_ASSUMPTIONS", "") or os.environ.get(ENV_ASSUMPTIONS, ""))
    texts = [rules.default_assumptions_text()]
    if chosen:
        try:
            texts.append(Path(chosen).read_text())
        except OSError as exc:
            raise ValidationFailed(f"assumptions file {chosen}: {exc.strerror or exc}") from None
    return rules.parse_assumptions(*texts)


def _money(value: Decimal | None) -> str | None:
    return None if value is None else str(rules.cents(value))


@dataclass(frozen=True)
class RevenueReport:
    organization: str
    month: str
    locality: str
    assumptions: rules.Assumptions
    values: dict[str, Decimal]
    rows: list[rules.RevenueRow]
    totals: rules.Totals
    staff: int
    capacity: int  # patients the active care-team members can carry (configured capacities)
    current: rules.Current
    minutes: dict[str, rules.ProgramMinutes]
    projections: list[rules.Projection]
    billing_run: selectors.LastRun | None
    eligibility_recorded: bool
    recent: list[selectors.MonthActual]

    def as_json(self) -> dict[str, Any]:
        t, c = self.totals, self.current
        return {
            "organization": self.organization, "month": self.month, "locality": self.locality,
            "assumptions_version": self.assumptions.version,
            "billing_run": None if self.billing_run is None else {
                "started_at": self.billing_run.started_at.isoformat(),
                "finished_at": self.billing_run.finished_at.isoformat() if self.billing_run.finished_at else None,
                "ruleset": self.billing_run.ruleset, "by": self.billing_run.actor_username},
            "eligibility_recorded": self.eligibility_recorded,
            "recent_actual": [{"month": m.month, "patients": m.patients, "billable_lines": m.billable_lines,
                               "allowed": _money(m.allowed)} for m in self.recent],
            "rows": [{
                "program": r.program, "level": r.level, "eligible": r.eligible, "planned": r.planned,
                "enrolled": r.enrolled, "capture_pct": None if r.capture_pct is None else str(r.capture_pct),
                "billed_patients": r.billed_patients, "value_per_patient_month": _money(r.value),
                "potential": _money(r.potential), "actual": _money(r.actual), "held": _money(r.held),
                "denied": _money(r.denied), "gap": _money(r.gap),
            } for r in self.rows],
            "totals": {
                "eligible_patients": t.eligible_patients, "planned_patient_months": t.planned_patient_months,
                "enrolled_patients": t.enrolled_patients, "potential": _money(t.potential),
                "actual": _money(t.actual), "held": _money(t.held), "denied": _money(t.denied),
                "gap": _money(t.gap), "capture_pct": None if t.capture_pct is None else str(t.capture_pct),
            },
            "staffing": {
                "staff": self.staff, "team_capacity_patients": self.capacity,
                "coordinator_fte": str(c.fte), "revenue_per_fte": _money(c.revenue_per_fte),
                "fte_needed_for_enrolled": str(c.need.fte), "fte_by_caseload": str(c.need.fte_by_caseload),
                "fte_by_time": str(c.need.fte_by_time), "monthly_staff_cost": _money(c.cost), "net": _money(c.net),
                "minutes_per_program_month": {p: {"minutes": str(m.minutes), "source": m.source}
                                              for p, m in self.minutes.items()},
            },
            "projections": [{
                "scenario": p.name, "rate": str(p.rate), "patients": str(p.patients),
                "program_months": {k: str(v) for k, v in p.program_months.items()},
                "revenue": _money(p.revenue), "fte_needed": str(p.need.fte),
                "fte_by_caseload": str(p.need.fte_by_caseload), "fte_by_time": str(p.need.fte_by_time),
                "minutes": str(p.need.minutes), "current_fte": str(p.current_fte), "fte_gap": str(p.fte_gap),
                "monthly_staff_cost": _money(p.cost), "net": _money(p.net),
                "revenue_per_fte": _money(p.revenue_per_fte),
            } for p in self.projections],
        }


def build_report(*, organization: Organization, month: str, assumptions: rules.Assumptions) -> RevenueReport:
    """Assemble the report (no permission check, no audit: callers are ``revenue_report``/``export_csv``)."""
    first, _last = selectors.parse_month(month)
    org_id = organization.pk
    fees, locality = selectors.fee_amounts(organization, first.year)
    values = rules.program_values(fees, assumptions)
    patients = selectors.patient_months(organization_id=org_id, month=month)
    rows = rules.revenue_rows(patients, selectors.billed_lines(organization_id=org_id, month=month), values,
                              assumptions)
    totals = rules.totals(patients, rows)
    staff = selectors.coordination_staff(organization_id=org_id, roles=assumptions.roles)
    fte = rules.coordinator_fte(staff, assumptions)
    minutes = rules.minutes_per_program(selectors.observed_minutes(organization_id=org_id, month=month), assumptions)
    return RevenueReport(
        organization=organization.name, month=month, locality=locality, assumptions=assumptions, values=values,
        rows=rows, totals=totals, staff=len(staff), capacity=selectors.team_capacity(organization_id=org_id),
        current=rules.current(rows, totals.enrolled_patients, fte, minutes, assumptions), minutes=minutes,
        projections=rules.project(rows, totals.eligible_patients, fte, minutes, assumptions),
        billing_run=selectors.last_billing_run(organization_id=org_id, month=month),
        eligibility_recorded=any(p.eligible for p in patients),
        recent=selectors.recent_actuals(organization_id=org_id, month=month),
    )


def _organization(actor: Actor, organization_id: int | None) -> Organization:
    org_id = organization_id if organization_id is not None else actor.organization_id
    org = Organization.objects.filter(pk=org_id or 0).first()
    if org is None:
        raise NotFound("organization not found")
    return org


def revenue_report(*, actor: Actor, month: str, assumptions: rules.Assumptions | None = None,
                   organization_id: int | None = None) -> RevenueReport:
    org = _organization(actor, organization_id)
    _check(actor, org.pk)
    report = build_report(organization=org, month=month, assumptions=assumptions or load_assumptions())
    record_event(actor=actor, action="insights.revenue_viewed", object_type="RevenueReport", object_id=month,
                 organization_id=org.pk, detail={"month": month, "assumptions": report.assumptions.version})
    return report


CSV_HEADER = [
    "section", "month", "program", "level", "eligible", "planned", "enrolled", "capture_pct", "billed_patients",
    "value_per_patient_month", "potential", "actual", "held", "denied", "gap", "rate", "patients",
    "coordinator_fte", "fte_needed", "fte_by_caseload", "fte_by_time", "fte_gap", "monthly_staff_cost", "net",
    "revenue_per_fte",
]


def report_rows(report: RevenueReport) -> list[dict[str, str]]:
    """The report as CSV records (one per program row, the total, the current month, each scenario)."""
    m = report.month

    def s(v: object) -> str:
        return "" if v is None else str(v)

    out: list[dict[str, str]] = []
    for r in report.rows:
        out.append({"section": CsvSection.PROGRAM.value, "month": m, "program": r.program, "level": r.level,
                    "eligible": s(r.eligible), "planned": s(r.planned), "enrolled": s(r.enrolled),
                    "capture_pct": s(r.capture_pct), "billed_patients": s(r.billed_patients),
                    "value_per_patient_month": s(rules.cents(r.value)), "potential": s(r.potential),
                    "actual": s(rules.cents(r.actual)), "held": s(rules.cents(r.held)),
                    "denied": s(rules.cents(r.denied)), "gap": s(r.gap)})
    t, c = report.totals, report.current
    out.append({"section": CsvSection.TOTAL.value, "month": m, "eligible": s(t.eligible_patients),
                "planned": s(t.planned_patient_months), "enrolled": s(t.enrolled_patients),
                "capture_pct": s(t.capture_pct), "potential": s(t.potential), "actual": s(t.actual),
                "held": s(t.held), "denied": s(t.denied), "gap": s(t.gap)})
    out.append({"section": CsvSection.CURRENT.value, "month": m, "enrolled": s(t.enrolled_patients),
                "actual": s(c.actual),
                "patients": s(c.need.patients), "coordinator_fte": s(c.fte), "fte_needed": s(c.need.fte),
                "fte_by_caseload": s(c.need.fte_by_caseload), "fte_by_time": s(c.need.fte_by_time),
                "fte_gap": s(c.need.fte - c.fte), "monthly_staff_cost": s(c.cost), "net": s(c.net),
                "revenue_per_fte": s(c.revenue_per_fte)})
    for p in report.projections:
        out.append({"section": CsvSection.SCENARIO.value, "month": m, "program": p.name, "rate": s(p.rate),
                    "potential": s(p.revenue), "patients": s(p.patients), "coordinator_fte": s(p.current_fte),
                    "fte_needed": s(p.need.fte), "fte_by_caseload": s(p.need.fte_by_caseload),
                    "fte_by_time": s(p.need.fte_by_time), "fte_gap": s(p.fte_gap),
                    "monthly_staff_cost": s(p.cost), "net": s(p.net), "revenue_per_fte": s(p.revenue_per_fte)})
    return out


def report_csv(report: RevenueReport) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_HEADER, lineterminator="\n", restval="")
    writer.writeheader()
    writer.writerows(report_rows(report))
    return buf.getvalue()


def export_csv(*, actor: Actor, month: str, assumptions: rules.Assumptions | None = None,
               organization_id: int | None = None) -> str:
    org = _organization(actor, organization_id)
    _check(actor, org.pk)
    report = build_report(organization=org, month=month, assumptions=assumptions or load_assumptions())
    record_event(actor=actor, action="insights.revenue_exported", object_type="RevenueReport", object_id=month,
                 organization_id=org.pk, detail={"month": month, "format": "csv",
                                                 "assumptions": report.assumptions.version})
    return report_csv(report)
