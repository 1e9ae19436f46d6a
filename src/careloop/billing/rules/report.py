"""Scenario files in, decisions out: the JSON shape of `careloop billing evaluate` and a readable table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from careloop.billing.rules.engine import evaluate
from careloop.billing.rules.facts import Decision
from careloop.billing.rules.ruleset import ruleset_for_month
from careloop.billing.rules.scenario import ScenarioError, scenario_from_json


def decision_json(decision: Decision) -> dict[str, Any]:
    """{"lines": [{code, units, practitioner, rule_ids, ...}], "denied": [...], "flags": [...], ...}."""
    out = decision.as_json()
    out["trace"] = list(decision.trace)
    return out


def evaluate_file(path: Path) -> Decision:
    """Parse and evaluate one scenario file with the ruleset of its month's year.

    Raises ScenarioError (bad content), ValueError (not JSON) or OSError (unreadable)."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from exc
    scenario = scenario_from_json(raw)
    try:
        ruleset = ruleset_for_month(scenario.month)
    except ValueError as exc:
        raise ScenarioError([("month", str(exc))]) from exc
    return evaluate(scenario, ruleset)


def render_table(decision: Decision) -> str:
    rows = [f"Billing decision for {decision.month} (ruleset {decision.ruleset})", ""]
    if decision.lines:
        rows.append(f"{'code':<7} {'units':>5}  {'practitioner':<12} {'date':<10}  rules")
        for ln in decision.lines:
            dos = ln.date_of_service.isoformat() if ln.date_of_service else ""
            rows.append(f"{ln.code:<7} {ln.units:>5}  {ln.practitioner:<12} {dos:<10}  {', '.join(ln.rule_ids)}")
    else:
        rows.append("no billable lines")
    for title, items in (("denied", decision.denied), ("flags (review)", decision.flags),
                         ("warnings", decision.warnings)):
        if items:
            rows += ["", f"{title}:"]
            rows += [f"  {f.code or '-':<7} {f.rule_id:<12} {f.reason}" for f in items]
    return "\n".join(rows)
