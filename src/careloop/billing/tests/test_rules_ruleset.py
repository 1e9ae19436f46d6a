"""Ruleset files: loading, caching, year selection and validation errors."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from careloop.billing.rules import RulesetError, load_ruleset, parse_ruleset, ruleset_for_month
from careloop.billing.rules.ruleset import REQUIRED_RULES, RULESET_DIR, load_ruleset_file


def _raw(year: int = 2026) -> dict[str, Any]:
    data = yaml.safe_load((RULESET_DIR / f"cms-{year}.yaml").read_text())
    assert isinstance(data, dict)
    return data


def _rule(raw: dict[str, Any], rule_id: str) -> dict[str, Any]:
    rule = next(r for r in raw["rules"] if r["id"] == rule_id)
    assert isinstance(rule, dict)
    return rule


def test_both_years_load_and_are_cached() -> None:
    for year in (2025, 2026):
        rs = load_ruleset(year)
        assert rs.year == year and rs.name == f"cms-{year}"
        assert load_ruleset(year) is rs
        assert set(REQUIRED_RULES) <= set(rs.rules)
    assert ruleset_for_month("2025-11").year == 2025


def test_2025_lacks_the_2026_codes_and_addons() -> None:
    r25, r26 = load_ruleset(2025), load_ruleset(2026)
    new_2026 = {"99445", "99470", "98979", "98984", "98985", "98986"}
    assert not new_2026 & (r25.codes("RPM_ALL") | r25.codes("RTM_ALL"))
    assert new_2026 <= (r26.codes("RPM_ALL") | r26.codes("RTM_ALL"))
    assert r25.codes("APCM_BH_ADDON") == frozenset()
    assert r26.codes("APCM_BH_ADDON") == {"G0568", "G0569", "G0570"}
    assert not r25.has("APCMBH-001") and r26.has("APCMBH-001")
    assert not r25.valid("G0570") and r26.valid("G0570")
    # G0511 is payable in 2025 until Sep 30; G0512/G0071 are retired only from 2026
    assert not r25.has("RHC-002") and r26.has("RHC-002")
    assert r25.param("RPM-005", "setup_min_days") == 16 and r26.param("RPM-005", "setup_min_days") == 2


def test_code_sets_expand_unions_and_codes_are_strings() -> None:
    rs = load_ruleset(2026)
    dup = rs.codes("APCM_DUPLICATIVE")
    assert {"99490", "99424", "99495", "99452", "G2251", "99421"} <= dup
    assert "99454" not in dup  # RPM is billable with APCM
    assert rs.param("CCM-001", "base") == {"code": "99490", "min_minutes": 20}


def test_every_rule_has_catalogue_fields_and_unconfirmed_never_denies() -> None:
    for year in (2025, 2026):
        for rule in load_ruleset(year).rules.values():
            assert rule.text and rule.effect and rule.confidence in {"P", "S", "UNCONFIRMED"}
            if rule.confidence == "UNCONFIRMED":
                assert rule.effect != "deny", rule.id
            for check in rule.checks.values():
                assert not (check.confidence == "UNCONFIRMED" and check.effect == "deny"), rule.id


def test_unconfirmed_rule_that_denies_is_rejected() -> None:
    raw = _raw()
    _rule(raw, "CCM-007")["effect"] = "deny"
    with pytest.raises(RulesetError, match="CCM-007 is UNCONFIRMED but its effect is deny"):
        parse_ruleset(raw, "bad.yaml")


def test_unconfirmed_check_that_denies_is_rejected() -> None:
    raw = _raw()
    _rule(raw, "CCM-006")["checks"]["initiating_visit"]["effect"] = "deny"
    with pytest.raises(RulesetError, match="CCM-006 check initiating_visit is UNCONFIRMED"):
        parse_ruleset(raw, "bad.yaml")


def test_strict_setting_resolves_deny_if_strict() -> None:
    rs = load_ruleset(2026)
    assert rs.effect("APCMBH-005", strict=False) == "flag"
    assert rs.effect("APCMBH-005", strict=True) == "deny"
    assert rs.effect("APCM-008", strict=False) == "deny"
    assert rs.effect("CCM-006", strict=True, check="initiating_visit") == "flag"


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda r: _rule(r, "APCM-001").update(effect="explode"), "unknown effect 'explode'"),
        (lambda r: _rule(r, "APCM-001").update(confidence="maybe"), "unknown confidence 'maybe'"),
        (lambda r: _rule(r, "APCM-001").pop("text"), "rule APCM-001 has no text"),
        (lambda r: r["rules"].remove(_rule(r, "TCM-002")), "missing rules TCM-002"),
        (lambda r: r["rules"].append(copy.deepcopy(_rule(r, "PCM-001"))), "rule PCM-001 is defined twice"),
        (lambda r: r["code_sets"].update(CCM=["CCM_NONCOMPLEX", "CCM"]), "code set CCM includes itself"),
        (lambda r: r["code_sets"].pop("APCM_BASE"), "missing code sets APCM_BASE"),
        (lambda r: r.pop("year"), "missing top-level key 'year'"),
    ],
)
def test_validation_errors_name_the_problem(mutate: Any, message: str) -> None:
    raw = _raw()
    mutate(raw)
    with pytest.raises(RulesetError, match=message):
        parse_ruleset(raw, "bad.yaml")


def test_unknown_year_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(RulesetError, match="no billing ruleset for 1999"):
        load_ruleset(1999)
    bad = tmp_path / "cms-2030.yaml"
    bad.write_text("rules: [unclosed")
    with pytest.raises(RulesetError, match="not valid YAML"):
        load_ruleset_file(bad)
