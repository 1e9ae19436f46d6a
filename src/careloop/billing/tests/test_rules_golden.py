"""The golden scenario table: every file in golden/ is evaluated and compared with its "expect" block.

Comparison (docs/billing-scenarios.md, "Golden files"): lines as a multiset of (code, units, practitioner), plus any
rule_ids (subset), date_of_service and facts (subset) an expected line names; denied and flags as exact sets of
(code, rule_id); warnings only when the expect block has them.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from careloop.billing.rules import decision_json, evaluate, load_ruleset, scenario_from_json

GOLDEN = Path(__file__).parent / "golden"
FILES = sorted(GOLDEN.glob("*.json"))


def test_golden_table_is_large_enough() -> None:
    assert len(FILES) >= 70


def _match_line(expected: dict[str, Any], got: list[dict[str, Any]]) -> dict[str, Any] | None:
    for line in got:
        if (line["code"], line["units"], line["practitioner"]) != (
            expected["code"], expected["units"], expected["practitioner"]
        ):
            continue
        if not set(expected.get("rule_ids", [])) <= set(line["rule_ids"]):
            continue
        if "date_of_service" in expected and line["date_of_service"] != expected["date_of_service"]:
            continue
        facts = expected.get("facts", {})
        if any(line["facts"].get(k) != v for k, v in facts.items()):
            continue
        return line
    return None


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_golden_scenario(path: Path) -> None:
    raw = json.loads(path.read_text())
    expect = raw["expect"]
    scenario = scenario_from_json(raw)
    out = decision_json(evaluate(scenario, load_ruleset(int(scenario.month[:4]))))
    got_lines = Counter((ln["code"], ln["units"], ln["practitioner"]) for ln in out["lines"])
    want_lines = Counter((ln["code"], ln["units"], ln["practitioner"]) for ln in expect["lines"])
    detail = json.dumps({k: out[k] for k in ("lines", "denied", "flags", "warnings")}, indent=1, default=str)
    assert got_lines == want_lines, f"{raw['description']}\n{detail}"
    remaining = list(out["lines"])
    for ln in expect["lines"]:
        hit = _match_line(ln, remaining)
        assert hit is not None, f"line {ln} not matched\n{detail}"
        remaining.remove(hit)
    for key in ("denied", "flags", "warnings"):
        if key not in expect:
            continue
        got = {(f["code"], f["rule_id"]) for f in out[key]}
        want = {(f["code"], f["rule_id"]) for f in expect[key]}
        assert got == want, f"{key}: {raw['description']}\n{detail}"
