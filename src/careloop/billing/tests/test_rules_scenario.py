"""Scenario parsing: the documented format, defaults, and errors that name the field and the reason."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from careloop.billing.rules import ScenarioError, scenario_from_json

ISSUE_EXAMPLE: dict[str, Any] = {
    "month": "2026-03", "practice": {"type": "physician"},
    "patient": {"chronic_conditions": ["E11.9", "I50.9"], "qmb_periods": [["2026-03-15", None]],
                "bh_diagnosis": False, "last_visit_by_practice": "2025-06-01"},
    "enrollments": [{"program": "APCM", "practitioner": "P1", "consent_date": "2026-01-10",
                     "start": "2026-02-01", "end": None}],
    "time_entries": [{"practitioner": "P1", "staff_type": "clinical_staff", "program": "CCM",
                      "minutes": 25, "date": "2026-03-05", "interactive": True}],
    "device_days": [{"program": "RPM", "days": 16, "period_start": "2026-03-01"}],
    "episodes": [{"setting": "inpatient", "discharge": "2026-03-10", "contact": "2026-03-11",
                  "attempts": [], "visit": "2026-03-16", "mdm": "high", "practitioner": "P1"}],
    "other_claims": [{"code": "99490", "practitioner": "P2", "date": "2026-03-20"}],
}


def test_issue_example_parses() -> None:
    s = scenario_from_json(ISSUE_EXAMPLE)
    assert s.month == "2026-03" and s.practice.type == "physician" and not s.practice.strict
    assert s.patient.qmb_periods == ((dt.date(2026, 3, 15), None),)
    assert s.enrollments[0].consent_date == dt.date(2026, 1, 10) and s.enrollments[0].end is None
    assert s.time_entries[0].minutes == 25 and s.time_entries[0].interactive
    assert s.device_days[0].days == 16 and s.device_days[0].category == "physiologic"
    assert s.episodes[0].visit == dt.date(2026, 3, 16) and s.episodes[0].discharged_to == "community"
    assert s.other_claims[0].code == "99490" and s.other_claims[0].units == 1


def test_minimal_scenario_defaults() -> None:
    s = scenario_from_json({"month": "2026-01", "expect": {"ignored": True}})
    assert s.practice.type == "physician" and s.patient.chronic_conditions == () and s.enrollments == ()
    assert s.patient.established and s.patient.last_visit_by_practice is None


def test_aliases_are_normalised() -> None:
    s = scenario_from_json({
        "month": "2026-01", "practice": {"type": "Rural Health Clinic"},
        "enrollments": [{"program": "cocm", "practitioner": "P1", "start": "2026-01-01"}],
        "time_entries": [{"practitioner": "P1", "staff_type": "physician", "program": "ccm", "minutes": 30,
                          "date": "2026-01-02T09:30:00"}],
        "device_days": [{"program": "rtm", "days": 20, "period_start": "2026-01-01", "category": "Musculoskeletal"}],
    })
    assert s.practice.type == "rhc"
    assert s.enrollments[0].program == "CoCM"
    assert s.time_entries[0].staff_type == "billing_practitioner" and s.time_entries[0].program == "CCM"
    assert s.time_entries[0].date == dt.date(2026, 1, 2)
    assert s.device_days[0].category == "msk"


@pytest.mark.parametrize(
    ("patch", "path", "reason"),
    [
        ({"month": "2026-13"}, "month", "YYYY-MM"),
        ({"month": None}, "month", "YYYY-MM"),
        ({"enrollments": [{"program": "APCM", "practitioner": "P1", "start": "2026-02-30"}]},
         "enrollments[0].start", "not a valid ISO date"),
        ({"enrollments": [{"practitioner": "P1", "start": "2026-02-01"}]}, "enrollments[0].program", "required"),
        ({"enrollments": [{"program": 7, "practitioner": "P1", "start": "2026-02-01"}]},
         "enrollments[0].program", "unknown value 7"),
        ({"enrollments": [{"program": "APCM", "start": "2026-02-01"}]}, "enrollments[0].practitioner", "required"),
        ({"enrollments": [{"program": "APCM", "practitioner": "P1", "start": "2026-02-01", "end": "2026-01-01"}]},
         "enrollments[0].end", "before start"),
        ({"time_entries": [{"practitioner": "P1", "program": "CCM", "minutes": -5, "date": "2026-03-01"}]},
         "time_entries[0].minutes", "between 0 and 1440"),
        ({"time_entries": [{"practitioner": "P1", "program": "CCM", "minutes": "20", "date": "2026-03-01"}]},
         "time_entries[0].minutes", "expected an integer"),
        ({"time_entries": [{"practitioner": "P1", "program": "CCM", "minutes": 20, "date": "2026-03-01",
                            "staff_type": "robot"}]}, "time_entries[0].staff_type", "unknown value 'robot'"),
        ({"device_days": [{"program": "RPM", "days": 31, "period_start": "2026-03-01"}]},
         "device_days[0].days", "between 0 and 30"),
        ({"patient": {"qmb_periods": [["2026-03-15"]]}}, "patient.qmb_periods[0]", "[start, end|null]"),
        ({"patient": {"qmb_periods": [["2026-03-15", "2026-03-01"]]}}, "patient.qmb_periods[0]", "before start"),
        ({"patient": {"bh_diagnosis": "yes"}}, "patient.bh_diagnosis", "true or false"),
        ({"patient": "P1"}, "patient", "expected an object"),
        ({"episodes": [{"discharge": "2026-03-10", "visit": "2026-03-01"}]}, "episodes[0].visit",
         "before the discharge"),
        ({"episodes": [{"setting": "inpatient"}]}, "episodes[0].discharge", "required"),
        ({"other_claims": [{"practitioner": "P2", "date": "2026-03-20"}]}, "other_claims[0].code", "required"),
        ({"other_claims": "99490"}, "other_claims", "expected a list"),
    ],
)
def test_errors_name_path_and_reason(patch: dict[str, Any], path: str, reason: str) -> None:
    raw = {"month": "2026-03", **patch}
    with pytest.raises(ScenarioError) as exc:
        scenario_from_json(raw)
    assert any(p == path and reason in r for p, r in exc.value.errors), exc.value.errors
    assert path in str(exc.value)


def test_every_error_is_reported_at_once() -> None:
    with pytest.raises(ScenarioError) as exc:
        scenario_from_json({"month": "March", "enrollments": [{"program": "APCM"}]})
    paths = {p for p, _ in exc.value.errors}
    assert {"month", "enrollments[0].practitioner", "enrollments[0].start"} <= paths


def test_top_level_must_be_an_object() -> None:
    with pytest.raises(ScenarioError, match=r"\$: expected a JSON object"):
        scenario_from_json([1, 2])


def test_unknown_program_is_ignored_with_a_warning_and_the_rest_is_evaluated() -> None:
    from careloop.billing.rules import decision_json, evaluate, load_ruleset

    raw = {"month": "2026-03",
           "patient": {"chronic_conditions": ["E11.9", "I50.9"], "last_visit_by_practice": "2025-06-01"},
           "enrollments": [{"program": "CHI", "practitioner": "P1", "start": "2026-01-01"},
                           {"program": "APCM", "practitioner": "P1", "consent_date": "2026-01-10",
                            "start": "2026-02-01"}],
           "time_entries": [{"practitioner": "P1", "program": "PIN", "minutes": 60, "date": "2026-03-02"}]}
    s = scenario_from_json(raw)
    assert [e.program for e in s.enrollments] == ["APCM"]
    assert s.time_entries == ()
    out = decision_json(evaluate(s, load_ruleset(2026)))
    assert [ln["code"] for ln in out["lines"]] == ["G0557"]
    warned = [w for w in out["warnings"] if w["rule_id"] == "INPUT-001"]
    assert [w["reason"].split(":")[0] for w in warned] == ["enrollments[0].program", "time_entries[0].program"]
    assert "'CHI'" in warned[0]["reason"] and "'PIN'" in warned[1]["reason"]
