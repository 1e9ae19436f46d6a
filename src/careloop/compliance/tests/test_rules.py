"""APCM element coverage as a table of cases, capability periods at month boundaries, the month summary and the
platform's suggested evidence. Pure: no database."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from careloop.compliance import rules
from careloop.compliance.choices import CAPABILITY_KEYS, ELEMENTS

D = dt.date
MONTH = "2026-03"
ALL = frozenset(CAPABILITY_KEYS)
AS_OF = D(2026, 3, 31)

FULL = rules.PatientMonthFacts(
    patient_id=1, consent_on=D(2026, 2, 20),
    consent_disclosures=("availability", "cost_sharing", "one_practitioner_per_month", "right_to_stop"),
    initiating_visit="visit", initiating_visit_on=D(2025, 11, 3), designated_member="Lee Lopez",
    access_notice_on=D(2026, 3, 2), medrec_on=D(2025, 12, 1), care_management_minutes=0, plan_version=2,
    plan_sections=frozenset({"problems", "goals", "medications", "psychosocial"}), plan_shared_with_patient=True,
    discharges=(), coordination_events=0, portal_access=True, messages_in_month=0, risk_tier="high",
    billing_practitioner="Wil Osler", pathway="MVP_M0005",
)


def status_of(facts: rules.PatientMonthFacts, element: str, caps: frozenset[str] = ALL,
              as_of: dt.date = AS_OF) -> tuple[str, str]:
    res = {r.element: r for r in rules.element_coverage(facts, capabilities=caps, month=MONTH, as_of=as_of)}
    return res[element].status, res[element].reason


def test_full_facts_evidence_every_element_except_transitions_which_do_not_apply() -> None:
    results = rules.element_coverage(FULL, capabilities=ALL, month=MONTH, as_of=AS_OF)
    assert [r.element for r in results] == list(ELEMENTS)
    assert {r.element: r.status for r in results} == {
        **dict.fromkeys(ELEMENTS, "evidenced"), "transitions": "not_applicable"}


DISCHARGE = rules.Discharge(D(2026, 3, 10), D(2026, 3, 17))

# (case, element, changes to FULL, capabilities, as_of, expected status, text expected in the reason)
CASES = [
    ("no consent", "consent", {"consent_on": None}, ALL, AS_OF, "missing", "no APCM consent"),
    ("consent after the month", "consent", {"consent_on": D(2026, 4, 1)}, ALL, AS_OF, "missing", "no APCM consent"),
    ("consent on the last day", "consent", {"consent_on": D(2026, 3, 31)}, ALL, AS_OF, "evidenced", "2026-03-31"),
    ("consent lacks cost sharing", "consent",
     {"consent_disclosures": ("availability", "one_practitioner_per_month", "right_to_stop")}, ALL, AS_OF,
     "missing", "cost_sharing"),
    ("seen by the practice", "initiating_visit", {}, ALL, AS_OF, "evidenced", "2025-11-03"),
    ("care-management exemption", "initiating_visit", {"initiating_visit": "care-management"}, ALL, AS_OF,
     "evidenced", "within 12 months"),
    ("initiating visit missing", "initiating_visit", {"initiating_visit": "missing"}, ALL, AS_OF, "missing",
     "no initiating visit"),
    ("no designated member", "access_continuity", {"designated_member": ""}, ALL, AS_OF, "missing",
     "no designated care-team member"),
    ("24/7 capability not in force", "access_continuity", {}, ALL - {"24x7_access"}, AS_OF, "missing",
     "24x7_access"),
    ("alternative delivery not in force", "access_continuity", {}, ALL - {"alternative_care_delivery"}, AS_OF,
     "missing", "alternative_care_delivery"),
    ("medrec 13 months old, nothing else", "care_management",
     {"medrec_on": D(2025, 2, 1), "plan_sections": frozenset({"goals"})}, ALL, AS_OF, "missing",
     "no medication reconciliation"),
    ("medication minutes this month", "care_management",
     {"medrec_on": None, "plan_sections": frozenset(), "care_management_minutes": 15}, ALL, AS_OF, "evidenced",
     "15 min"),
    ("medrec 365 days before month end", "care_management",
     {"medrec_on": D(2025, 3, 31), "plan_sections": frozenset()}, ALL, AS_OF, "evidenced",
     "medication reconciliation 2025-03-31"),
    ("no care plan", "care_plan", {"plan_version": None}, ALL, AS_OF, "missing", "none recorded"),
    ("plan not shared with the patient", "care_plan", {"plan_shared_with_patient": False}, ALL, AS_OF, "missing",
     "not shared with the patient"),
    ("electronic care plan capability missing", "care_plan", {}, ALL - {"electronic_care_plan"}, AS_OF, "missing",
     "electronic_care_plan"),
    ("discharge contacted on day 7", "transitions",
     {"discharges": (replace(DISCHARGE, contact_on=D(2026, 3, 17)),)}, ALL, AS_OF, "evidenced",
     "contact 2026-03-17"),
    ("discharge contacted on day 8", "transitions",
     {"discharges": (replace(DISCHARGE, contact_on=D(2026, 3, 18)),)}, ALL, AS_OF, "missing", "missed"),
    ("discharge not contacted, window open", "transitions", {"discharges": (DISCHARGE,)}, ALL, D(2026, 3, 12),
     "pending", "due by 2026-03-17"),
    ("discharge not contacted, window closed", "transitions", {"discharges": (DISCHARGE,)}, ALL, D(2026, 3, 18),
     "missing", "no contact"),
    ("discharge met but no EHI exchange capability", "transitions",
     {"discharges": (replace(DISCHARGE, contact_on=D(2026, 3, 11)),)}, ALL - {"ehi_exchange"}, AS_OF, "missing",
     "ehi_exchange"),
    ("coordination from the care plan", "coordination", {}, ALL, AS_OF, "evidenced", "psychosocial"),
    ("no coordination at all", "coordination",
     {"plan_sections": frozenset({"medications"}), "coordination_events": 0}, ALL, AS_OF, "missing",
     "no coordination"),
    ("coordination contacts this month", "coordination",
     {"plan_sections": frozenset(), "coordination_events": 2}, ALL, AS_OF, "evidenced", "2 coordination"),
    ("no portal, no messages", "communication", {"portal_access": False}, ALL, AS_OF, "missing", "no portal"),
    ("messages without a portal", "communication", {"portal_access": False, "messages_in_month": 3}, ALL, AS_OF,
     "evidenced", "3 secure messages"),
    ("async capability missing", "communication", {}, ALL - {"async_communication"}, AS_OF, "missing",
     "async_communication"),
    ("not risk-stratified", "population", {"risk_tier": ""}, ALL, AS_OF, "missing", "not risk-stratified"),
    ("gap analysis not in force", "population", {}, ALL - {"population_gap_analysis"}, AS_OF, "missing",
     "population_gap_analysis"),
    ("no pathway", "performance", {"pathway": ""}, ALL, AS_OF, "missing", "for 2026 for Wil Osler"),
    ("RHC/FQHC exemption recorded", "performance", {"pathway": "NOT_APPLICABLE_RHC_FQHC"}, ALL, AS_OF,
     "evidenced", "NOT_APPLICABLE_RHC_FQHC"),
]


@pytest.mark.parametrize(("case", "element", "changes", "caps", "as_of", "status", "text"), CASES,
                         ids=[c[0] for c in CASES])
def test_element_coverage(case: str, element: str, changes: dict[str, object], caps: frozenset[str],
                          as_of: dt.date, status: str, text: str) -> None:
    got_status, reason = status_of(replace(FULL, **changes), element, caps, as_of)  # type: ignore[arg-type]
    assert (got_status, text in reason) == (status, True), reason


P = rules.CapabilityPeriod


@pytest.mark.parametrize(("periods", "in_force"), [
    ([P("24x7_access", D(2026, 3, 1))], True),
    ([P("24x7_access", D(2026, 3, 2))], False),  # starts the 2nd: not the whole month
    ([P("24x7_access", D(2025, 1, 1), D(2026, 3, 30))], False),  # ends the day before the last
    ([P("24x7_access", D(2025, 1, 1), D(2026, 3, 31))], True),
    ([P("24x7_access", D(2025, 1, 1), D(2026, 3, 14)), P("24x7_access", D(2026, 3, 15))], True),  # back to back
    ([P("24x7_access", D(2025, 1, 1), D(2026, 3, 14)), P("24x7_access", D(2026, 3, 16))], False),  # one-day hole
    ([P("ehi_exchange", D(2025, 1, 1))], False),  # another key
])
def test_keys_in_force_need_every_day_of_the_month(periods: list[rules.CapabilityPeriod], in_force: bool) -> None:
    assert ("24x7_access" in rules.keys_in_force(periods, D(2026, 3, 1), D(2026, 3, 31))) is in_force


def test_periods_in_month_are_those_touching_a_day_of_it() -> None:
    periods = [
        P("ehi_exchange", D(2025, 1, 1), D(2026, 2, 28)),  # ends the day before: out
        P("ehi_exchange", D(2026, 3, 1)),
        P("24x7_access", D(2026, 3, 31)),  # starts on the last day: in
        P("risk_stratification", D(2026, 4, 1)),  # starts after: out
    ]
    got = rules.periods_in_month(periods, MONTH)
    assert [(p.key, p.effective_from) for p in got] == [("24x7_access", D(2026, 3, 31)),
                                                        ("ehi_exchange", D(2026, 3, 1))]


@pytest.mark.parametrize(("month", "bounds"), [
    ("2026-02", (D(2026, 2, 1), D(2026, 2, 28))), ("2028-02", (D(2028, 2, 1), D(2028, 2, 29))),
    ("2026-12", (D(2026, 12, 1), D(2026, 12, 31))),
])
def test_parse_month(month: str, bounds: tuple[dt.date, dt.date]) -> None:
    assert rules.parse_month(month) == bounds


@pytest.mark.parametrize("bad", ["2026-3", "202603", "2026-13", "March"])
def test_parse_month_rejects(bad: str) -> None:
    with pytest.raises(ValueError, match="month|must be"):
        rules.parse_month(bad)


def test_summary_shares_and_gaps() -> None:
    missing = replace(FULL, patient_id=2, consent_on=None, risk_tier="")
    pending = replace(FULL, patient_id=3, discharges=(DISCHARGE,))
    results = {f.patient_id: rules.element_coverage(f, capabilities=ALL, month=MONTH, as_of=D(2026, 3, 12))
               for f in (FULL, missing, pending)}
    s = rules.summarize(MONTH, results)
    by = {e.element: e for e in s.elements}
    assert (s.patients, s.fully_evidenced) == (3, 2)
    assert (by["consent"].evidenced, by["consent"].missing, by["consent"].share) == (2, 1, 0.6667)
    assert (by["transitions"].pending, by["transitions"].not_applicable, by["transitions"].share) == (1, 2, 0.0)
    assert [(g.patient_id, g.element) for g in s.gaps] == [(2, "consent"), (2, "population")]
    assert rules.summarize(MONTH, results, gap_limit=1).gaps == s.gaps[:1]


@pytest.mark.parametrize(("counts", "active"), [
    (None, False), (rules.ActivityCounts(), False), (rules.ActivityCounts(time_entries=1), True),
    (rules.ActivityCounts(after_hours_contacts=1), True), (rules.ActivityCounts(plan_versions=1), True),
])
def test_monthly_activity(counts: rules.ActivityCounts | None, active: bool) -> None:
    assert rules.has_monthly_activity(counts) is active


def test_suggested_evidence_only_where_the_platform_has_some() -> None:
    s = rules.suggest_evidence(rules.PlatformSignals(on_call_shifts=12, after_hours_protocol=True,
                                                     risk_run_on=D(2026, 3, 2), risk_methodology="tier-1.0"), MONTH)
    assert s["24x7_access"] == "12 on-call shifts scheduled in 2026-03; after-hours protocol on file"
    assert s["risk_stratification"] == "risk stratification run 2026-03-02 (tier-1.0)"
    assert {k for k, v in s.items() if v} == {"24x7_access", "risk_stratification"}


T = dt.datetime(2026, 3, 10, 12, tzinfo=dt.UTC)


@pytest.mark.parametrize(("due", "done", "now", "status"), [
    (None, None, T, "not applicable"), (T, T, T, "met"), (T, T + dt.timedelta(minutes=1), T, "missed"),
    (T, None, T, "pending"), (T, None, T + dt.timedelta(seconds=1), "missed"),
])
def test_deadline_status(due: dt.datetime | None, done: dt.datetime | None, now: dt.datetime, status: str) -> None:
    assert rules.deadline_status(due, done, now) == status
