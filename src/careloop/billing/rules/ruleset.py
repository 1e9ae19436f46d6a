"""Rulesets as data: ``billing/rulesets/cms-YYYY.yaml``, validated on load and cached per year. Pure (no Django)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

RULESET_DIR = Path(__file__).resolve().parent.parent / "rulesets"

EFFECTS = frozenset({
    "bill", "deny", "flag", "warn", "flag_if_mismatch", "price_adjust", "deny_if_config_strict_else_flag", "info",
})
CONFIDENCES = frozenset({"P", "S", "UNCONFIRMED"})
# The rules the engine evaluates unconditionally; a ruleset without one of them is rejected.
REQUIRED_RULES = (
    "APCM-001", "APCM-002", "APCM-003", "APCM-004", "APCM-005", "APCM-006", "APCM-007", "APCM-008", "APCM-008b",
    "APCM-008c", "APCM-008d", "APCM-009", "APCM-010", "APCM-011", "APCM-012", "CCM-001", "CCM-002", "CCM-003",
    "CCM-004", "CCM-005", "CCM-006", "CCM-007", "CCM-008", "PCM-001", "TCM-001", "TCM-002", "TCM-003", "TCM-004",
    "RPM-001", "RPM-002", "RPM-003", "RPM-004", "RPM-005", "RTM-001", "RTM-002", "BHI-001", "COCM-001",
    "COCM-002", "BHI-COCM-001", "AWV-001", "AWV-002", "ACP-001", "RHC-001", "RHC-003", "CODE-001",
)
REQUIRED_CODE_SETS = (
    "APCM_BASE", "APCM_BH_ADDON", "APCM_DUPLICATIVE", "APCM_DUPLICATIVE_CANDIDATES", "CCM", "CCM_BASE", "PCM",
    "TCM", "RPM_ALL", "RPM_DEVICE", "RTM_ALL", "RTM_DEVICE", "BHI", "COCM", "AWV", "INITIATING_VISIT",
    "CARE_MANAGEMENT", "NOT_IN_YEAR",
)


class RulesetError(ValueError):
    """A ruleset file that cannot be used; the message names the file and the rule."""


@dataclass(frozen=True)
class Check:
    name: str
    effect: str
    confidence: str
    text: str = ""


@dataclass(frozen=True)
class Rule:
    id: str
    text: str
    effect: str
    confidence: str
    sources: tuple[str, ...] = ()
    params: dict[str, Any] = field(default_factory=dict)
    checks: dict[str, Check] = field(default_factory=dict)


@dataclass(frozen=True)
class Ruleset:
    name: str
    year: int
    effective_from: dt.date
    effective_to: dt.date
    code_sets: dict[str, frozenset[str]]
    rules: dict[str, Rule]
    source: str = ""

    def has(self, rule_id: str) -> bool:
        return rule_id in self.rules

    def rule(self, rule_id: str) -> Rule:
        try:
            return self.rules[rule_id]
        except KeyError:
            raise KeyError(f"ruleset {self.name} has no rule {rule_id}") from None

    def param(self, rule_id: str, name: str, default: Any = None) -> Any:
        return self.rule(rule_id).params.get(name, default)

    def codes(self, name: str) -> frozenset[str]:
        """A code set by name, or a literal code (a name that is not a set is a single code)."""
        return self.code_sets.get(name, frozenset({name}))

    def codes_of(self, value: Any) -> frozenset[str]:
        """Expand a params value (a set name, a code, or a list of either) to codes."""
        if value is None:
            return frozenset()
        if isinstance(value, (list, tuple)):
            out: set[str] = set()
            for item in value:
                out |= self.codes(str(item))
            return frozenset(out)
        return self.codes(str(value))

    def effect(self, rule_id: str, strict: bool, check: str | None = None) -> str:
        """The effect to apply: deny | flag | warn | ... with the tenant's strict setting resolved."""
        rule = self.rule(rule_id)
        eff = rule.checks[check].effect if check and check in rule.checks else rule.effect
        if eff == "deny_if_config_strict_else_flag":
            return "deny" if strict else "flag"
        return eff

    def valid(self, code: str) -> bool:
        """False for a code this year's ruleset does not know (NOT_IN_YEAR, e.g. the 2026-new codes in 2025)."""
        return code not in self.code_sets.get("NOT_IN_YEAR", frozenset())


def _expand(name: str, raw: dict[str, list[Any]], seen: tuple[str, ...], where: str) -> frozenset[str]:
    if name in seen:
        raise RulesetError(f"{where}: code set {name} includes itself ({' -> '.join((*seen, name))})")
    out: set[str] = set()
    for item in raw[name] or []:
        token = str(item)
        if token in raw:
            out |= _expand(token, raw, (*seen, name), where)
        else:
            out.add(token)
    return frozenset(out)


def _is_code_key(key: str) -> bool:
    return key.endswith(("code", "codes")) or key in {"requires", "g2214", "mirrors"}


def _normalise(value: Any, codes: bool = False) -> Any:
    """YAML reads 99490 as an int; values under code keys (code, codes, *_code, requires, mirrors) become strings."""
    if isinstance(value, dict):
        return {str(k): _normalise(v, codes or _is_code_key(str(k))) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalise(v, codes) for v in value]
    if codes and isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def parse_ruleset(raw: Any, where: str) -> Ruleset:
    """Validate a parsed ruleset document; raise RulesetError with the file and rule id on any problem."""
    if not isinstance(raw, dict):
        raise RulesetError(f"{where}: expected a mapping at the top level")
    for key in ("ruleset", "year", "code_sets", "rules"):
        if key not in raw:
            raise RulesetError(f"{where}: missing top-level key {key!r}")
    year = raw["year"]
    if not isinstance(year, int):
        raise RulesetError(f"{where}: year must be an integer")
    raw_sets = raw["code_sets"]
    if not isinstance(raw_sets, dict):
        raise RulesetError(f"{where}: code_sets must be a mapping")
    raw_sets = {str(k): v for k, v in raw_sets.items()}
    for name, items in raw_sets.items():
        if items is not None and not isinstance(items, list):
            raise RulesetError(f"{where}: code set {name} must be a list")
    code_sets = {name: _expand(name, raw_sets, (), where) for name in raw_sets}
    missing_sets = [s for s in REQUIRED_CODE_SETS if s not in code_sets]
    if missing_sets:
        raise RulesetError(f"{where}: missing code sets {', '.join(missing_sets)}")
    rules: dict[str, Rule] = {}
    if not isinstance(raw["rules"], list):
        raise RulesetError(f"{where}: rules must be a list")
    for i, item in enumerate(raw["rules"]):
        if not isinstance(item, dict) or "id" not in item:
            raise RulesetError(f"{where}: rules[{i}] has no id")
        rid = str(item["id"])
        if rid in rules:
            raise RulesetError(f"{where}: rule {rid} is defined twice")
        for key in ("text", "effect", "confidence"):
            if key not in item:
                raise RulesetError(f"{where}: rule {rid} has no {key}")
        effect, confidence = str(item["effect"]), str(item["confidence"])
        if effect not in EFFECTS:
            raise RulesetError(f"{where}: rule {rid} has unknown effect {effect!r} (one of {sorted(EFFECTS)})")
        if confidence not in CONFIDENCES:
            raise RulesetError(f"{where}: rule {rid} has unknown confidence {confidence!r} (P, S or UNCONFIRMED)")
        if confidence == "UNCONFIRMED" and effect == "deny":
            raise RulesetError(
                f"{where}: rule {rid} is UNCONFIRMED but its effect is deny; UNCONFIRMED rules must flag "
                "(or deny_if_config_strict_else_flag), never deny"
            )
        checks: dict[str, Check] = {}
        for cname, c in (item.get("checks") or {}).items():
            if not isinstance(c, dict):
                raise RulesetError(f"{where}: rule {rid} check {cname} must be a mapping")
            ceff = str(c.get("effect", effect))
            cconf = str(c.get("confidence", confidence))
            if ceff not in EFFECTS or cconf not in CONFIDENCES:
                raise RulesetError(f"{where}: rule {rid} check {cname} has a bad effect or confidence")
            if cconf == "UNCONFIRMED" and ceff == "deny":
                raise RulesetError(
                    f"{where}: rule {rid} check {cname} is UNCONFIRMED but its effect is deny; UNCONFIRMED "
                    "rules must flag, never deny"
                )
            if confidence == "UNCONFIRMED" and ceff == "deny":
                raise RulesetError(f"{where}: rule {rid} is UNCONFIRMED but its check {cname} denies")
            checks[str(cname)] = Check(str(cname), ceff, cconf, str(c.get("text", "")))
        params = _normalise(item.get("params") or {})
        if not isinstance(params, dict):
            raise RulesetError(f"{where}: rule {rid} params must be a mapping")
        rules[rid] = Rule(
            id=rid, text=str(item["text"]), effect=effect, confidence=confidence,
            sources=tuple(str(s) for s in item.get("sources") or ()), params=params, checks=checks,
        )
    missing = [r for r in REQUIRED_RULES if r not in rules]
    if missing:
        raise RulesetError(f"{where}: missing rules {', '.join(missing)}")
    eff_from = raw.get("effective_from") or dt.date(year, 1, 1)
    eff_to = raw.get("effective_to") or dt.date(year, 12, 31)
    if not isinstance(eff_from, dt.date) or not isinstance(eff_to, dt.date):
        raise RulesetError(f"{where}: effective_from/effective_to must be dates")
    return Ruleset(
        name=str(raw["ruleset"]), year=year, effective_from=eff_from, effective_to=eff_to,
        code_sets=code_sets, rules=rules, source=where,
    )


def load_ruleset_file(path: Path) -> Ruleset:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RulesetError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    except yaml.YAMLError as exc:
        raise RulesetError(f"{path}: not valid YAML ({exc})") from exc
    return parse_ruleset(raw, str(path.name))


def available_years() -> list[int]:
    years = []
    for p in RULESET_DIR.glob("cms-*.yaml"):
        try:
            years.append(int(p.stem.split("-", 1)[1]))
        except ValueError:
            continue
    return sorted(years)


@lru_cache(maxsize=16)
def load_ruleset(year: int) -> Ruleset:
    """The CMS ruleset for a calendar year (the year of the service month); cached."""
    path = RULESET_DIR / f"cms-{year}.yaml"
    if not path.exists():
        raise RulesetError(f"no billing ruleset for {year} (have: {', '.join(map(str, available_years()))})")
    rs = load_ruleset_file(path)
    if rs.year != year:
        raise RulesetError(f"{path.name}: declares year {rs.year}, expected {year}")
    return rs


def ruleset_for_month(month: str) -> Ruleset:
    return load_ruleset(int(month[:4]))
