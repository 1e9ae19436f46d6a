"""Engine properties beyond the golden table: purity, calendar, output shape, time segregation, determinism."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from careloop.billing.rules import decision_json, evaluate, load_ruleset, scenario_from_json
from careloop.billing.rules.calendar import add_business_days, federal_holidays, is_business_day

GOLDEN = sorted((Path(__file__).parent / "golden").glob("*.json"))


def _run(raw: dict[str, Any]) -> dict[str, Any]:
    s = scenario_from_json(raw)
    return decision_json(evaluate(s, load_ruleset(int(s.month[:4]))))


def test_engine_imports_no_django() -> None:
    code = ("import sys, careloop.billing.rules as r; r.load_ruleset(2026); "
            "assert not [m for m in sys.modules if m == 'django' or m.startswith('django.')], 'django imported'")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={"PATH": ""})
    assert proc.returncode == 0, proc.stderr


def test_federal_holidays_2026() -> None:
    h = federal_holidays(2026)
    for day in ("2026-01-01", "2026-01-19", "2026-02-16", "2026-05-25", "2026-06-19", "2026-07-03", "2026-09-07",
                "2026-10-12", "2026-11-11", "2026-11-26", "2026-12-25"):
        assert dt.date.fromisoformat(day) in h, day
    assert len(h) == 11
    assert dt.date(2027, 12, 31) in federal_holidays(2027)  # 2028-01-01 is a Saturday


def test_business_days_skip_weekends_and_holidays() -> None:
    assert add_business_days(dt.date(2026, 3, 6), 2) == dt.date(2026, 3, 10)  # Fri -> Tue
    assert add_business_days(dt.date(2026, 5, 22), 2) == dt.date(2026, 5, 27)  # Fri before Memorial Day -> Wed
    assert add_business_days(dt.date(2026, 12, 24), 1) == dt.date(2026, 12, 28)  # Christmas Fri
    assert not is_business_day(dt.date(2026, 7, 3)) and is_business_day(dt.date(2026, 7, 2))


def test_output_has_the_documented_keys() -> None:
    out = _run(json.loads(GOLDEN[0].read_text()))
    assert set(out) >= {"lines", "denied", "flags"}
    for line in out["lines"]:
        assert set(line) >= {"code", "units", "practitioner", "rule_ids"} and line["rule_ids"]
        assert "patient_share_applies" in line["facts"]
    json.dumps(out)


@pytest.mark.parametrize("path", GOLDEN, ids=[p.stem for p in GOLDEN])
def test_findings_cite_existing_rules_and_unconfirmed_never_denies(path: Path) -> None:
    raw = json.loads(path.read_text())
    rs = load_ruleset(int(raw["month"][:4]))
    out = _run(raw)
    strict = bool(raw.get("practice", {}).get("strict"))
    for key in ("denied", "flags", "warnings"):
        for f in out[key]:
            rule = rs.rule(f["rule_id"])
            assert f["reason"], f
            if key == "denied" and rule.confidence == "UNCONFIRMED":
                assert strict and rule.effect == "deny_if_config_strict_else_flag", f
    for line in out["lines"]:
        for rid in line["rule_ids"]:
            rs.rule(rid)


def test_evaluation_is_deterministic() -> None:
    for path in GOLDEN[:40]:
        raw = json.loads(path.read_text())
        assert _run(raw) == _run(raw)


def test_minutes_of_one_program_are_not_evidence_for_another() -> None:
    base: dict[str, Any] = {
        "month": "2026-03", "patient": {"chronic_conditions": ["E11.9", "I10"], "bh_diagnosis": True,
                                        "last_visit_by_practice": "2025-10-01"},
        "enrollments": [{"program": p, "practitioner": "P1", "consent_date": "2026-01-02", "start": "2026-01-02"}
                        for p in ("CCM", "BHI", "RPM")],
        "time_entries": [{"practitioner": "P1", "staff_type": "clinical_staff", "program": "CCM", "minutes": 45,
                          "date": "2026-03-04", "interactive": True}],
    }
    out = _run(base)
    assert {(ln["code"], ln["units"]) for ln in out["lines"]} == {("99490", 1), ("99439", 1)}
    # the same 45 minutes logged for BHI instead: CCM gets nothing, BHI gets 99484
    base["time_entries"][0]["program"] = "BHI"
    out = _run(base)
    assert {ln["code"] for ln in out["lines"]} == {"99484"}


def test_tcm_line_dated_on_the_visit_and_charged_to_that_month() -> None:
    raw: dict[str, Any] = {
        "month": "2026-04", "patient": {"chronic_conditions": ["I50.9"]},
        "episodes": [{"setting": "observation", "discharge": "2026-03-30", "contact": "2026-03-31",
                      "visit": "2026-04-03", "mdm": "high", "practitioner": "P4"}],
    }
    out = _run(raw)
    assert [(ln["code"], ln["date_of_service"]) for ln in out["lines"]] == [("99496", "2026-04-03")]
    raw["month"] = "2026-03"
    assert _run(raw)["lines"] == []


def test_qmb_patient_share_is_a_line_fact() -> None:
    raw: dict[str, Any] = {
        "month": "2026-03", "patient": {"chronic_conditions": ["E11.9"], "qmb_periods": [["2026-03-20", None]]},
        "enrollments": [{"program": "CCM", "practitioner": "P1", "consent_date": "2026-01-02", "start": "2026-01-02"}],
        "episodes": [{"discharge": "2026-03-02", "contact": "2026-03-03", "visit": "2026-03-05", "mdm": "moderate",
                      "practitioner": "P1"}],
    }
    out = _run(raw)
    tcm = next(ln for ln in out["lines"] if ln["code"] == "99495")
    assert tcm["facts"]["patient_share_applies"] is True  # the visit (DOS) precedes the QMB period
    raw["patient"]["qmb_periods"] = [["2026-03-01", None]]
    tcm = next(ln for ln in _run(raw)["lines"] if ln["code"] == "99495")
    assert tcm["facts"]["patient_share_applies"] is False and "APCM-010" in tcm["rule_ids"]
