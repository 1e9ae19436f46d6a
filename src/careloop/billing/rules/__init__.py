"""The billing rules engine (pure: no Django, no database, no clock).

``evaluate(scenario, ruleset) -> Decision`` decides one patient-month; ``load_ruleset(year)`` reads the CMS ruleset
for a year (billing/rulesets/cms-YYYY.yaml, cached); ``scenario_from_json(dict)`` parses the scenario format of
docs/billing-scenarios.md.
"""

from __future__ import annotations

from careloop.billing.rules.engine import evaluate
from careloop.billing.rules.facts import (
    Capability,
    Decision,
    DeviceDays,
    Enrollment,
    Episode,
    Fact,
    Finding,
    Line,
    OtherClaim,
    PatientFacts,
    Practice,
    Practitioner,
    Scenario,
    TimeEntry,
)
from careloop.billing.rules.report import decision_json, evaluate_file, render_table
from careloop.billing.rules.ruleset import Rule, Ruleset, RulesetError, load_ruleset, parse_ruleset, ruleset_for_month
from careloop.billing.rules.scenario import ScenarioError, scenario_from_json

__all__ = [
    "Capability", "Decision", "DeviceDays", "Enrollment", "Episode", "Fact", "Finding", "Line", "OtherClaim",
    "PatientFacts", "Practice", "Practitioner", "Rule", "Ruleset", "RulesetError", "Scenario", "ScenarioError",
    "TimeEntry", "decision_json", "evaluate", "evaluate_file", "load_ruleset", "parse_ruleset", "render_table",
    "ruleset_for_month", "scenario_from_json",
]
