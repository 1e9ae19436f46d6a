"""Revenue and capacity arithmetic as tables of cases: planning, rows, FTE, minutes, staffing need, projections."""

from __future__ import annotations

from decimal import Decimal

import pytest

from careloop.core.errors import ValidationFailed
from careloop.insights import rules

D = Decimal
A = rules.default_assumptions()
A_VALUE = rules.parse_assumptions(rules.default_assumptions_text(), "potential_choice: value")
FEES: dict[str, Decimal | None] = {
    "G0556": D("16.37"), "G0557": D("53.78"), "G0558": D("117.24"), "99490": D("66.13"), "99426": D("67.80"),
    "99484": D("57.45"), "99493": D("144.96"), "99454": D("52.11"), "99457": D("51.77"), "98976": D("52.11"),
    "98980": D("54.11"),
}
VALUES = rules.program_values(FEES, A)


def pm(pid: int, eligible: dict[str, str], enrolled: tuple[str, ...] = ()) -> rules.PatientMonth:
    return rules.PatientMonth(pid, eligible, frozenset(enrolled))


def test_default_assumptions_are_the_documented_ones() -> None:
    assert A.scenarios == (("conservative", D("0.2")), ("moderate", D("0.4")), ("aggressive", D("0.6")))
    assert (A.patients_per_fte, A.productive_minutes_per_fte_month, A.annual_cost_per_fte) == (D(60), D(6000), None)
    assert A.roles == {"coordinator", "nurse", "chw", "bh_care_manager"}


def test_program_values_sum_codes_and_missing_codes_add_nothing() -> None:
    assert VALUES["G0557"] == D("53.78")
    assert VALUES["RPM"] == D("103.88")  # 99454 + 99457
    assert VALUES["CCM"] == D("66.13")
    values = rules.program_values({"99454": D("52.11"), "99457": None}, A)
    assert values["RPM"] == D("52.11")
    assert values["G0556"] == D("0.00")


@pytest.mark.parametrize(("code", "expected"), [
    ("G0557", ("APCM", "G0557")), ("G0570", ("APCM", "G0570")), ("99439", ("CCM", "")), ("99426", ("PCM", "")),
    ("99496", ("TCM", "")), ("99445", ("RPM", "")), ("98985", ("RTM", "")), ("99484", ("BHI", "")),
    ("G2214", ("CoCM", "")), ("G0439", ("Other", "")),
])
def test_classify(code: str, expected: tuple[str, str]) -> None:
    assert rules.classify(code, A) == expected


@pytest.mark.parametrize(("eligible", "expected"), [
    ({}, []),
    ({"APCM": "G0556"}, ["APCM"]),
    # G0557 (53.78) vs CCM (66.13): CCM is worth more.
    ({"APCM": "G0557", "CCM": ""}, ["CCM"]),
    # G0558 (117.24) beats CCM.
    ({"APCM": "G0558", "CCM": ""}, ["APCM"]),
    ({"APCM": "G0556", "PCM": ""}, ["PCM"]),
    # one of each group: BHI vs CoCM, RPM vs RTM
    ({"APCM": "G0558", "BHI": "", "CoCM": "", "RPM": "", "RTM": ""}, ["APCM", "CoCM", "RTM"]),
    # a program in no group counts on its own
    ({"APCM": "G0556", "XYZ": ""}, ["APCM", "XYZ"]),
])
def test_plan_by_value_one_program_per_exclusive_group(eligible: dict[str, str], expected: list[str]) -> None:
    assert rules.plan(eligible, VALUES, A_VALUE) == expected


@pytest.mark.parametrize(("eligible", "expected"), [
    ({}, []),
    ({"APCM": "G0557", "CCM": ""}, ["APCM"]),
    ({"CCM": "", "PCM": ""}, ["CCM"]),
    ({"PCM": ""}, ["PCM"]),
    ({"APCM": "G0556", "BHI": "", "CoCM": "", "RTM": ""}, ["APCM", "BHI", "RTM"]),
    ({"CoCM": "", "XYZ": ""}, ["CoCM", "XYZ"]),
])
def test_plan_by_order_default(eligible: dict[str, str], expected: list[str]) -> None:
    assert A.choose_by == "order"
    assert rules.plan(eligible, VALUES, A) == expected


@pytest.mark.parametrize("assumptions", [A, A_VALUE])
def test_plan_keeps_the_program_the_patient_is_enrolled_in(assumptions: rules.Assumptions) -> None:
    eligible = {"APCM": "G0558", "CCM": "", "PCM": "", "BHI": "", "CoCM": ""}
    assert rules.plan(eligible, VALUES, assumptions, frozenset({"PCM", "CoCM"})) == ["PCM", "CoCM"]
    # enrolled in a program the patient is not eligible for this month: the group is planned as if not enrolled
    assert rules.plan({"APCM": "G0557"}, VALUES, assumptions, frozenset({"CCM"})) == ["APCM"]


def test_plan_by_value_tie_keeps_group_order() -> None:
    values = {**VALUES, "CCM": D("53.78")}
    assert rules.plan({"APCM": "G0557", "CCM": ""}, values, A_VALUE) == ["APCM"]


def test_revenue_rows_count_eligible_planned_enrolled_and_actual() -> None:
    patients = [
        pm(1, {"APCM": "G0557", "CCM": ""}, ("APCM",)),
        pm(2, {"APCM": "G0557", "CCM": ""}),
        pm(3, {"APCM": "G0558", "CCM": ""}, ("APCM",)),
        pm(4, {"APCM": "G0556"}),
        pm(5, {}, ("APCM",)),  # enrolled without an eligibility decision: level unknown
    ]
    lines = [
        rules.BilledLine(1, "G0557", "billable", D("53.78")),
        rules.BilledLine(3, "G0558", "billable", D("117.24")),
        rules.BilledLine(3, "G0570", "flagged", D("57.78")),
        rules.BilledLine(9, "99496", "billable", D("298.60")),
        rules.BilledLine(9, "99490", "denied", D("66.13")),
    ]
    rows = rules.revenue_rows(patients, lines, VALUES, A_VALUE)
    got = {(r.program, r.level): (r.eligible, r.planned, r.enrolled, r.enrolled_eligible, r.billed_patients,
                                  r.potential, r.actual, r.held, r.denied) for r in rows}
    assert got == {
        ("APCM", ""): (0, 0, 1, 0, 0, D("0.00"), D("0"), D("0"), D("0")),
        ("APCM", "G0556"): (1, 1, 0, 0, 0, D("16.37"), D("0"), D("0"), D("0")),
        # p1 is enrolled in APCM: kept; p2 is not: CCM is worth more
        ("APCM", "G0557"): (2, 1, 1, 1, 1, D("53.78"), D("53.78"), D("0"), D("0")),
        ("APCM", "G0558"): (1, 1, 1, 1, 1, D("117.24"), D("117.24"), D("0"), D("0")),
        ("APCM", "G0570"): (0, 0, 0, 0, 0, D("0.00"), D("0"), D("57.78"), D("0")),
        ("CCM", ""): (3, 1, 0, 0, 0, D("66.13"), D("0"), D("0"), D("66.13")),
        ("TCM", ""): (0, 0, 0, 0, 1, D("0.00"), D("298.60"), D("0"), D("0")),
    }
    assert [(r.program, r.level) for r in rows][:2] == [("APCM", ""), ("APCM", "G0556")]
    g0557 = next(r for r in rows if r.level == "G0557")
    assert g0557.capture_pct == D("50.0")
    assert next(r for r in rows if r.program == "TCM").capture_pct is None
    t = rules.totals(patients, rows)
    assert (t.eligible_patients, t.planned_patient_months, t.enrolled_patients) == (4, 4, 3)
    assert (t.potential, t.actual, t.held, t.denied) == (D("253.52"), D("469.62"), D("57.78"), D("66.13"))
    assert t.gap == D("-216.10")
    assert t.capture_pct == D("185.2")
    # the default plans by the groups' order: APCM for all three, CCM for nobody
    by_order = {(r.program, r.level): (r.planned, r.potential) for r in rules.revenue_rows(patients, lines, VALUES, A)}
    assert (by_order[("APCM", "G0557")], by_order[("CCM", "")]) == ((2, D("107.56")), (0, D("0.00")))
    assert rules.totals(patients, rules.revenue_rows(patients, lines, VALUES, A)).potential == D("241.17")


def test_revenue_rows_empty_month() -> None:
    rows = rules.revenue_rows([], [], VALUES, A)
    assert rows == []
    t = rules.totals([], rows)
    assert (t.potential, t.actual, t.capture_pct) == (D("0.00"), D("0.00"), None)


@pytest.mark.parametrize(("memberships", "expected"), [
    ((), D("1.0")),  # default FTE without a care-team membership
    ((D("0.5"),), D("0.5")),
    ((D("0.5"), D("0.3")), D("0.8")),
    ((D("0.8"), D("0.8")), D("1")),  # capped at 1.0
])
def test_staff_fte(memberships: tuple[Decimal, ...], expected: Decimal) -> None:
    assert rules.staff_fte(rules.StaffMember(1, "coordinator", memberships), A) == expected


def test_coordinator_fte_counts_only_coordination_roles() -> None:
    staff = [rules.StaffMember(1, "coordinator", (D("0.5"),)), rules.StaffMember(2, "nurse", ()),
             rules.StaffMember(3, "provider", (D("1"),)), rules.StaffMember(4, "chw", (D("0.25"),))]
    assert rules.coordinator_fte(staff, A) == D("1.75")
    assert rules.coordinator_fte([], A) == D("0.00")


@pytest.mark.parametrize(("amount", "fte", "expected"), [
    (D("1000"), D("2"), D("500.00")), (D("100"), D("3"), D("33.33")), (D("100"), D("0"), None),
])
def test_per_fte(amount: Decimal, fte: Decimal, expected: Decimal | None) -> None:
    assert rules.per_fte(amount, fte) == expected


def test_minutes_use_the_time_log_when_the_sample_is_big_enough() -> None:
    observed = {"CCM": (250, 5), "APCM": (40, 2), "TCM": (90, 6)}
    m = rules.minutes_per_program(observed, A)
    assert (m["CCM"].minutes, m["CCM"].source) == (D("50.0"), "time log (5 patient-months)")
    assert (m["APCM"].minutes, m["APCM"].source) == (D("30"), "default")  # 2 < 5 patient-months
    assert (m["TCM"].minutes, m["TCM"].source) == (D("15.0"), "time log (6 patient-months)")
    assert m["RPM"].minutes == D("25")


@pytest.mark.parametrize(("patients", "program_months", "caseload", "time"), [
    (0, {}, D("0"), D("0")),
    (60, {"APCM": 60}, D("1"), D("0.3")),  # 60 x 30 min = 1800 / 6000
    (61, {"APCM": 61}, D("1.02"), D("0.31")),  # rounded up to 0.01
    (100, {"CCM": 100, "CoCM": 100}, D("1.67"), D("1.59")),  # (3000 + 6500) / 6000 = 1.583 -> 1.59
    (10, {"CoCM": 600}, D("0.17"), D("6.5")),  # time-bound
])
def test_staffing_need(patients: int, program_months: dict[str, int], caseload: Decimal, time: Decimal) -> None:
    minutes = rules.minutes_per_program({}, A)
    need = rules.staffing_need(patients, program_months, minutes, A)
    assert (need.fte_by_caseload, need.fte_by_time) == (caseload, time)
    assert need.fte == max(caseload, time)


def _row(program: str, level: str, planned: int, value: str) -> rules.RevenueRow:
    return rules.RevenueRow(program, level, D(value), planned=planned, eligible=planned)


def test_projections_scale_planned_months_and_need_staff() -> None:
    rows = [_row("APCM", "G0557", 100, "53.78"), _row("APCM", "G0558", 25, "117.24"), _row("CCM", "", 50, "66.13")]
    minutes = rules.minutes_per_program({}, A)
    out = rules.project(rows, 175, D("1.5"), minutes, A)
    got = [(p.name, p.patients, p.program_months, p.revenue, p.need.fte, p.fte_gap, p.cost, p.net) for p in out]
    assert got == [
        # 20%: 20 x 53.78 + 5 x 117.24 + 10 x 66.13 = 1075.60 + 586.20 + 661.30
        ("conservative", 35, {"APCM": 25, "CCM": 10}, D("2323.10"), D("0.59"), D("-0.91"), None, None),
        # 40%: 40 x 53.78 + 10 x 117.24 + 20 x 66.13
        ("moderate", 70, {"APCM": 50, "CCM": 20}, D("4646.20"), D("1.17"), D("-0.33"), None, None),
        # 60%: 105 patients / 60 = 1.75
        ("aggressive", 105, {"APCM": 75, "CCM": 30}, D("6969.30"), D("1.75"), D("0.25"), None, None),
    ]
    assert out[2].revenue_per_fte == D("3982.46")


def test_projection_uses_expected_values_not_rounded_rows() -> None:
    rows = [_row("APCM", "G0556", 3, "16.37"), _row("PCM", "", 1, "67.80")]
    minutes = rules.minutes_per_program({}, A)
    [p] = rules.project(rows, 4, D("0"), minutes, rules.parse_assumptions(
        rules.default_assumptions_text(), "scenarios: {half: 0.5}"))
    # 1.5 x 16.37 + 0.5 x 67.80 = 24.555 + 33.90 = 58.455 -> 58.46 (half up)
    assert (p.program_months, p.revenue, p.patients) == ({"APCM": D("1.5"), "PCM": D("0.5")}, D("58.46"), D(2))
    # 2 patients / 60 = 0.0333 -> 0.04 FTE; minutes 1.5 x 30 + 0.5 x 35 = 62.5 / 6000 -> 0.02
    assert (p.need.fte_by_caseload, p.need.fte_by_time, p.need.minutes) == (D("0.04"), D("0.02"), D("62.5"))


def test_staff_cost_and_net_when_configured() -> None:
    a = rules.parse_assumptions(rules.default_assumptions_text(),
                                "staffing: {annual_cost_per_fte: 60000}\nscenarios: {only: 1.0}")
    assert (a.patients_per_fte, a.annual_cost_per_fte) == (D(60), D(60000))  # other keys kept
    rows = [_row("APCM", "G0557", 120, "53.78")]
    minutes = rules.minutes_per_program({}, a)
    [p] = rules.project(rows, 120, D("1"), minutes, a)
    # 120 patients -> 2.00 FTE -> 2 x 60000 / 12 = 10000 a month; revenue 6453.60
    assert (p.need.fte, p.cost, p.revenue, p.net) == (D("2"), D("10000.00"), D("6453.60"), D("-3546.40"))
    cur = rules.current([rules.RevenueRow("APCM", "G0557", D("53.78"), enrolled=30, actual=D("1613.40"))], 30,
                        D("0.5"), minutes, a)
    assert (cur.actual, cur.revenue_per_fte, cur.cost, cur.net, cur.need.fte) == (
        D("1613.40"), D("3226.80"), D("2500.00"), D("-886.60"), D("0.5"))
    assert cur.program_months == {"APCM": 30}


@pytest.mark.parametrize("override", [
    "scenarios: {bad: 1.5}", "scenarios: {bad: -0.1}", "scenarios: {bad: lots}", "staffing: {patients_per_fte: 0}",
    "staffing: {annual_cost_per_fte: -5}", "scenarios: {}", "potential_choice: most", "[1, 2]", "scenarios: {a: [",
    "staffing: {default_fte: 2}",
])
def test_bad_assumptions_are_refused_with_a_message(override: str) -> None:
    with pytest.raises(ValidationFailed) as exc:
        rules.parse_assumptions(rules.default_assumptions_text(), override)
    assert str(exc.value).startswith("assumptions")


def test_override_replaces_the_scenario_table_and_merges_the_rest() -> None:
    a = rules.parse_assumptions(rules.default_assumptions_text(),
                                "scenarios: {low: 0.1, high: 0.9}\nminutes_per_program_month: {CCM: 45}")
    assert a.scenarios == (("low", D("0.1")), ("high", D("0.9")))
    assert (a.minutes_per_program_month["CCM"], a.minutes_per_program_month["APCM"]) == (D(45), D(30))
