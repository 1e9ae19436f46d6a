"""The month's report from rows: actual vs potential by program and level, FTE, time-log minutes, scenarios,
org scoping, audit, CSV content and the command line."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from pathlib import Path

import pytest

from careloop.accounts.tests.factories import actor, make_user
from careloop.audit.models import AuditEvent
from careloop.billing.models import BillingSettings, FeeScheduleEntry
from careloop.core.actor import Actor
from careloop.core.errors import PermissionDenied, ValidationFailed
from careloop.insights import rules, selectors, services
from careloop.insights.tests import factories as f
from careloop.registry.tests.factories import make_patient

D = Decimal
pytestmark = pytest.mark.django_db


def _rows(report: services.RevenueReport) -> dict[tuple[str, str], tuple[object, ...]]:
    return {(r.program, r.level): (r.eligible, r.planned, r.enrolled, r.billed_patients, r.potential,
                                   rules.cents(r.actual), rules.cents(r.held), rules.cents(r.denied))
            for r in report.rows}


def _other_org() -> f.Clinic:
    """A second practice with more of everything: none of it may show in the first one's report."""
    b = f.make_clinic("other")
    extra = make_patient(b.org, "Other", "One")
    f.eligible(extra, "APCM", "G0558")
    f.enroll(extra, "APCM", b.practitioner, b.coordinator)
    f.claim(extra, "G0558", "117.24")
    f.claim(b.patients[2], "99490", "66.13")
    make_user(b.org, "coordinator")
    f.minutes(b.patients[0], b.coordinator, "APCM", 500)
    return b


def test_report_actual_vs_potential_by_program_and_level() -> None:
    a = f.make_clinic("a")
    _other_org()
    report = services.revenue_report(actor=Actor.system(a.org.pk), month=f.MONTH)
    Z = D("0.00")
    assert _rows(report) == {
        ("APCM", "G0556"): (1, 1, 0, 0, D("16.37"), Z, Z, Z),
        ("APCM", "G0557"): (1, 1, 1, 1, D("53.78"), D("53.78"), Z, Z),
        ("APCM", "G0558"): (1, 1, 1, 1, D("117.24"), D("117.24"), Z, Z),
        ("APCM", "G0570"): (0, 0, 0, 0, Z, Z, D("57.78"), Z),
        ("CCM", ""): (2, 0, 0, 0, Z, Z, Z, D("66.13")),  # APCM comes first in its group
        ("TCM", ""): (0, 0, 0, 1, Z, D("298.60"), Z, Z),
    }
    t = report.totals
    assert (t.eligible_patients, t.enrolled_patients, t.potential, t.actual, t.held) == (
        3, 2, D("187.39"), D("469.62"), D("57.78"))
    # coordinator 0.5 (team) + nurse 1.0 (no team, default); provider and the inactive coordinator do not count
    assert (report.staff, report.current.fte, report.current.revenue_per_fte) == (2, D("1.50"), D("313.08"))
    assert [(m.month, m.patients, m.allowed) for m in report.recent] == [
        ("2025-10", 0, D("0.00")), ("2025-11", 0, D("0.00")), ("2025-12", 0, D("0.00")), ("2026-01", 0, D("0.00")),
        ("2026-02", 0, D("0.00")), ("2026-03", 3, D("469.62"))]
    assert report.capacity == 180  # every active membership at the default 60 (programs.team_capacity)
    assert report.billing_run is not None and report.billing_run.ruleset == "cms-2026-test"
    assert report.eligibility_recorded is True
    # expected values: 20% of 3 eligible patients is 0.6 patient and 20% of $187.39
    assert [(p.name, p.patients, p.revenue, p.need.fte) for p in report.projections] == [
        ("conservative", D("0.6"), D("37.48"), D("0.01")),
        ("moderate", D("1.2"), D("74.96"), D("0.02")),
        ("aggressive", D("1.8"), D("112.43"), D("0.03")),
    ]
    # p1 and p2 keep APCM (enrolled) whatever the choice; a new, not enrolled G0557 + CCM patient differs
    value = rules.parse_assumptions(rules.default_assumptions_text(), "potential_choice: value")
    assert services.revenue_report(actor=Actor.system(a.org.pk), month=f.MONTH,
                                   assumptions=value).totals.potential == D("187.39")
    newcomer = make_patient(a.org, "New", "Comer")
    f.eligible(newcomer, "APCM", "G0557")
    f.eligible(newcomer, "CCM")
    by_order = services.revenue_report(actor=Actor.system(a.org.pk), month=f.MONTH)
    by_value = services.revenue_report(actor=Actor.system(a.org.pk), month=f.MONTH, assumptions=value)
    assert (by_order.totals.potential, by_value.totals.potential) == (D("241.17"), D("253.52"))


def test_a_month_without_data_is_all_zero() -> None:
    a = f.make_clinic("a")
    report = services.revenue_report(actor=Actor.system(a.org.pk), month="2025-12")  # before the enrollments
    assert (report.rows, report.totals.actual, report.billing_run, report.eligibility_recorded) == (
        [], D("0.00"), None, False)
    assert report.current.revenue_per_fte == D("0.00")
    # February: enrolled (since January) but no eligibility run: the APCM level is unknown, nothing is potential
    feb = services.revenue_report(actor=Actor.system(a.org.pk), month="2026-02")
    assert _rows(feb) == {("APCM", ""): (0, 0, 2, 0, D("0.00"), D("0.00"), D("0.00"), D("0.00"))}
    assert feb.eligibility_recorded is False


def test_fee_table_of_the_organizations_locality_prices_potential() -> None:
    a = f.make_clinic("a")
    BillingSettings.objects.create(organization=a.org, locality="0111205")
    FeeScheduleEntry.objects.create(year=2026, locality="0111205", code="G0558", nf_amount=D("120.50"))
    report = services.revenue_report(actor=Actor.system(a.org.pk), month=f.MONTH)
    g0558 = next(r for r in report.rows if r.level == "G0558")
    assert (report.locality, g0558.value, g0558.potential) == ("0111205", D("120.50"), D("120.50"))


def test_minutes_from_the_time_log_once_the_sample_is_big_enough() -> None:
    a = f.make_clinic("a")
    b = f.make_clinic("b")
    p1, p2, p3, _ = a.patients
    f.minutes(p1, a.coordinator, "APCM", 30)
    f.minutes(p1, a.coordinator, "APCM", 10)
    f.minutes(p2, a.coordinator, "APCM", 20)
    f.minutes(p3, a.nurse, "CCM", 25)
    f.minutes(b.patients[0], b.coordinator, "APCM", 900)  # another practice
    f.minutes(p3, a.nurse, "APCM", 99, day=f.D(2026, 4, 1))  # another month
    assert selectors.observed_minutes(organization_id=a.org.pk, month=f.MONTH) == {"APCM": (60, 2), "CCM": (25, 1)}
    assumptions = rules.parse_assumptions(rules.default_assumptions_text(), "staffing: {min_sample_patient_months: 2}")
    report = services.revenue_report(actor=Actor.system(a.org.pk), month=f.MONTH, assumptions=assumptions)
    assert (report.minutes["APCM"].minutes, report.minutes["APCM"].source) == (D("30.0"), "time log (2 patient-months)")
    assert (report.minutes["CCM"].minutes, report.minutes["CCM"].source) == (D("30"), "default")


def test_staff_cost_gives_net_figures() -> None:
    a = f.make_clinic("a")
    assumptions = rules.parse_assumptions(rules.default_assumptions_text(), "staffing: {annual_cost_per_fte: 60000}")
    report = services.revenue_report(actor=Actor.system(a.org.pk), month=f.MONTH, assumptions=assumptions)
    # 1.5 FTE x 60000 / 12 = 7500 a month against 469.62
    assert (report.current.cost, report.current.net) == (D("7500.00"), D("-7030.38"))


@pytest.mark.parametrize(("role", "allowed"), [
    ("leader", True), ("admin", True), ("provider", True), ("billing", False), ("coordinator", False),
    ("nurse", False), ("patient", False), ("partner", False),
])
def test_permission_by_role(role: str, allowed: bool) -> None:
    a = f.make_clinic("a")
    who = actor(make_user(a.org, role))
    if allowed:
        assert services.revenue_report(actor=who, month=f.MONTH).totals.actual == D("469.62")
    else:
        with pytest.raises(PermissionDenied):
            services.revenue_report(actor=who, month=f.MONTH)
        with pytest.raises(PermissionDenied):
            services.export_csv(actor=who, month=f.MONTH)


def test_a_leader_of_another_org_cannot_ask_for_this_one() -> None:
    a = f.make_clinic("a")
    b = f.make_clinic("b")
    with pytest.raises(PermissionDenied):
        services.revenue_report(actor=actor(make_user(b.org, "leader")), month=f.MONTH, organization_id=a.org.pk)


def test_views_and_exports_are_audited_without_patients() -> None:
    a = f.make_clinic("a")
    leader = make_user(a.org, "leader")
    services.revenue_report(actor=actor(leader), month=f.MONTH)
    services.export_csv(actor=actor(leader), month=f.MONTH)
    events = list(AuditEvent.objects.filter(organization_id=a.org.pk, action__startswith="insights.")
                  .order_by("seq").values_list("action", "actor_username", "patient_id", "object_id"))
    assert events == [("insights.revenue_viewed", leader.username, None, f.MONTH),
                      ("insights.revenue_exported", leader.username, None, f.MONTH)]


@pytest.mark.parametrize("month", ["2026-13", "March", "", "2026-3"])
def test_bad_month_is_refused(month: str) -> None:
    a = f.make_clinic("a")
    with pytest.raises(ValidationFailed):
        services.revenue_report(actor=Actor.system(a.org.pk), month=month)


def test_csv_content() -> None:
    a = f.make_clinic("a")
    text = services.export_csv(actor=Actor.system(a.org.pk), month=f.MONTH)
    records = list(csv.DictReader(io.StringIO(text)))
    assert list(records[0]) == services.CSV_HEADER
    programs = [(r["program"], r["level"], r["eligible"], r["planned"], r["enrolled"], r["capture_pct"],
                 r["potential"], r["actual"], r["held"]) for r in records if r["section"] == "program"]
    assert programs == [
        ("APCM", "G0556", "1", "1", "0", "0.0", "16.37", "0.00", "0.00"),
        ("APCM", "G0557", "1", "1", "1", "100.0", "53.78", "53.78", "0.00"),
        ("APCM", "G0558", "1", "1", "1", "100.0", "117.24", "117.24", "0.00"),
        ("APCM", "G0570", "0", "0", "0", "", "0.00", "0.00", "57.78"),
        ("CCM", "", "2", "0", "0", "0.0", "0.00", "0.00", "0.00"),
        ("TCM", "", "0", "0", "0", "", "0.00", "298.60", "0.00"),
    ]
    [total] = [r for r in records if r["section"] == "total"]
    assert (total["potential"], total["actual"], total["gap"]) == ("187.39", "469.62", "-282.23")
    [cur] = [r for r in records if r["section"] == "current"]
    assert (cur["coordinator_fte"], cur["revenue_per_fte"], cur["net"]) == ("1.50", "313.08", "")
    scenarios = [(r["program"], r["rate"], r["potential"]) for r in records if r["section"] == "scenario"]
    assert [s[0] for s in scenarios] == ["conservative", "moderate", "aggressive"]
    assert "Pat1" not in text and "a1" not in text  # aggregates only: no names


def test_cli_json_and_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from careloop.insights.commands import cmd_revenue, register

    a = f.make_clinic("a")
    import argparse

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    assert cmd_revenue(parser.parse_args(["insights", "revenue", "--month", f.MONTH, "--org", a.org.slug,
                                          "--json"])) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["month"], out["totals"]["actual"], out["staffing"]["coordinator_fte"]) == (f.MONTH, "469.62", "1.50")
    assert [p["scenario"] for p in out["projections"]] == ["conservative", "moderate", "aggressive"]
    target = tmp_path / "rev.csv"
    override = tmp_path / "a.yaml"
    override.write_text("scenarios: {all: 1.0}\n")
    assert cmd_revenue(parser.parse_args(["insights", "revenue", "--month", f.MONTH, "--org", a.org.slug,
                                          "--csv", str(target), "--assumptions", str(override)])) == 0
    scen = [r for r in csv.DictReader(target.open()) if r["section"] == "scenario"]
    assert [(r["program"], r["potential"]) for r in scen] == [("all", "187.39")]
    assert cmd_revenue(parser.parse_args(["insights", "revenue", "--month", "2026-99", "--org", a.org.slug])) == 2
    assert "month must be YYYY-MM" in capsys.readouterr().err
