"""Pure program rules as tables: APCM levels, QMB on any day of the month (state wins), CCM/PCM/BHI/device,
consent disclosures, disenrollment at month end, initiating visit, enroll-first ranking."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from careloop.programs import rules

D = dt.date
MARCH = (D(2026, 3, 1), D(2026, 3, 31))
ALL4 = ["availability", "one_practitioner_per_month", "right_to_stop", "cost_sharing"]


def _by_program(facts: rules.MonthFacts) -> dict[str, rules.Decision]:
    return {str(d.program): d for d in rules.decide(facts)}


@pytest.mark.parametrize(("count", "qmb", "level", "rule"), [
    (0, False, "G0556", "ELIG-APCM-L1"), (1, False, "G0556", "ELIG-APCM-L1"), (1, True, "G0556", "ELIG-APCM-L1"),
    (2, False, "G0557", "ELIG-APCM-L2"), (2, True, "G0558", "ELIG-APCM-L3"), (5, True, "G0558", "ELIG-APCM-L3"),
])
def test_apcm_level(count: int, qmb: bool, level: str, rule: str) -> None:
    d = _by_program(rules.MonthFacts("2026-03", chronic_count=count, qmb=qmb, tier="low"))["APCM"]
    assert (d.eligible, d.level, d.rule_ids[0]) == (True, level, rule)
    assert d.facts["chronic_count"] == count and d.facts["qmb_in_month"] is qmb


@pytest.mark.parametrize(("start", "end", "in_march"), [
    (D(2026, 3, 31), None, True),  # starts on the last day of the month
    (D(2026, 3, 15), None, True),  # starts mid-month
    (D(2026, 4, 1), None, False),  # starts the day after
    (D(2025, 1, 1), D(2026, 3, 1), True),  # ends on the first day
    (D(2025, 1, 1), D(2026, 2, 28), False),  # ends the day before
    (None, None, True),
])
def test_qmb_on_any_day_of_the_month(start: D | None, end: D | None, in_march: bool) -> None:
    assert rules.qmb_in_month([rules.QmbPeriod(start, end, "x12-271")], *MARCH) is in_march


def test_state_medicaid_wins_over_271() -> None:
    hets = rules.QmbPeriod(D(2026, 1, 1), None, "x12-271")
    state = rules.QmbPeriod(D(2026, 1, 1), D(2026, 2, 28), "state-medicaid")
    assert rules.qmb_in_month([hets], *MARCH) is True
    assert rules.qmb_in_month([hets, state], *MARCH) is False  # the state system says QMB ended in February
    assert rules.qmb_in_month([hets, state], D(2026, 2, 1), D(2026, 2, 28)) is True
    assert rules.effective_qmb_periods([hets, state]) == [state]
    state_on = rules.QmbPeriod(D(2026, 3, 20), None, "state-medicaid")
    manual_off: list[rules.QmbPeriod] = []
    assert rules.qmb_in_month([state_on, *manual_off], *MARCH) is True


def test_month_boundary_levels_follow_qmb() -> None:
    periods = [rules.QmbPeriod(D(2026, 3, 31), None, "csv")]
    feb = rules.qmb_in_month(periods, D(2026, 2, 1), D(2026, 2, 28))
    mar = rules.qmb_in_month(periods, *MARCH)
    assert rules.apcm_level(2, feb)[0] == "G0557"
    assert rules.apcm_level(2, mar)[0] == "G0558"


@pytest.mark.parametrize(("count", "ccm", "pcm"), [(0, False, False), (1, False, True), (2, True, True)])
def test_ccm_and_pcm(count: int, ccm: bool, pcm: bool) -> None:
    d = _by_program(rules.MonthFacts("2026-03", chronic_count=count, tier="low"))
    assert (d["CCM"].eligible, d["PCM"].eligible) == (ccm, pcm)
    assert d["CCM"].rule_ids == ("ELIG-CCM-001",)


def test_complex_ccm_signals() -> None:
    d = _by_program(rules.MonthFacts("2026-03", chronic_count=3, tier="high", admissions_12m=1))["CCM"]
    assert d.signals == ("3 chronic conditions", "high risk tier", "1 admission(s) in 12 months")
    assert "ELIG-CCM-COMPLEX-SIGNAL" in d.rule_ids
    assert _by_program(rules.MonthFacts("2026-03", chronic_count=1, tier="high"))["CCM"].signals == ()


@pytest.mark.parametrize(("bh_dx", "screens", "eligible"), [
    (False, (), False), (True, (), True), (False, ("PHQ-9 14",), True),
])
def test_bhi_and_cocm(bh_dx: bool, screens: tuple[str, ...], eligible: bool) -> None:
    d = _by_program(rules.MonthFacts("2026-03", bh_dx=bh_dx, bh_screens=screens, tier="low"))
    assert (d["BHI"].eligible, d["CoCM"].eligible) == (eligible, eligible)


@pytest.mark.parametrize(("rpm", "rtm", "ok"), [(0, 0, (False, False)), (1, 2, (False, True)), (16, 0, (True, False))])
def test_device_programs(rpm: int, rtm: int, ok: tuple[bool, bool]) -> None:
    d = _by_program(rules.MonthFacts("2026-03", rpm_days=rpm, rtm_days=rtm, tier="low"))
    assert (d["RPM"].eligible, d["RTM"].eligible) == ok


def test_unscored_patient_is_flagged_and_tcm_is_never_decided() -> None:
    d = _by_program(rules.MonthFacts("2026-03", chronic_count=2))
    assert "ELIG-NO-DATA" in d["APCM"].rule_ids and "TCM" not in d


def test_every_rule_id_used_is_in_the_ruleset() -> None:
    rs = rules.ruleset()
    used = set(re.findall(r'"(ELIG-[A-Z0-9-]+)"', Path(rules.__file__).read_text()))
    assert used and used <= set(rs.rules)
    for rule in rs.rules.values():
        assert rule["text"] and rule["source"] and rule["effect"]
    assert rs.values["G0558"] == 117.24 and rs.values["G0557"] == 53.78 and rs.values["G0556"] == 16.37


@pytest.mark.parametrize(("program", "given", "field"), [
    ("APCM", ALL4, None), ("APCM", ALL4[:3], "disclosures"), ("APCM", [], "disclosures"),
    ("CCM", ALL4[1:], "disclosures"), ("RPM", ["cost_sharing"], None), ("APCM", [*ALL4, "bogus"], "disclosures"),
])
def test_consent_disclosures(program: str, given: list[str], field: str | None) -> None:
    errors = rules.consent_errors(program, "verbal", given, D(2026, 3, 1), D(2026, 3, 1))
    assert (field in errors) if field else errors == {}


def test_consent_method_and_date() -> None:
    errors = rules.consent_errors("APCM", "email", ALL4, D(2026, 3, 2), D(2026, 3, 1))
    assert set(errors) == {"method", "obtained_at"}


@pytest.mark.parametrize(("requested", "start", "end"), [
    (D(2026, 3, 1), D(2026, 1, 1), D(2026, 3, 31)), (D(2026, 3, 31), D(2026, 1, 1), D(2026, 3, 31)),
    (D(2026, 2, 10), D(2026, 1, 1), D(2026, 2, 28)), (D(2028, 2, 10), D(2027, 1, 1), D(2028, 2, 29)),
    (D(2026, 12, 5), D(2026, 1, 1), D(2026, 12, 31)), (D(2026, 3, 5), D(2026, 4, 1), D(2026, 4, 1)),
])
def test_disenrollment_takes_effect_at_month_end(requested: D, start: D, end: D) -> None:
    assert rules.disenrollment_end(requested, start) == end


@pytest.mark.parametrize(("program", "visit", "cm_end", "basis"), [
    ("APCM", D(2023, 3, 1), None, "visit"), ("APCM", D(2023, 2, 28), None, "missing"),
    ("CCM", D(2025, 3, 2), None, "visit"), ("CCM", D(2025, 2, 28), None, "missing"),
    ("APCM", None, D(2025, 4, 1), "care-management"), ("APCM", None, D(2024, 12, 1), "missing"),
    ("APCM", None, None, "missing"),
])
def test_initiating_visit(program: str, visit: D | None, cm_end: D | None, basis: str) -> None:
    assert rules.initiating_visit(program, D(2026, 3, 1), visit, cm_end) == basis


def test_best_offer_and_rank_within_capacity() -> None:
    a = rules.best_offer({"APCM": "G0558", "CCM": "", "RPM": ""}, "low")
    assert a is not None and (a.program, a.level, a.score) == ("APCM", "G0558", 117.24)
    b = rules.best_offer({"APCM": "G0556"}, "high")
    assert b is not None and b.score == 65.48
    c = rules.best_offer({"APCM": "G0557", "CCM": ""}, "high")
    assert c is not None and (c.program, c.score) == ("CCM", 264.52)
    assert rules.best_offer({"RPM": ""}, "high") is None
    cands = [rules.Candidate(i, x.program, x.level, x.tier, x.value, x.score) for i, x in ((1, a), (2, b), (3, c))]
    assert [x.patient_id for x in rules.rank(cands, 2)] == [3, 1]
    assert rules.rank(cands, 0) == []
