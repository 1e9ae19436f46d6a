"""Pure risk rules: code normalisation, CCW grouping and the as-of count, Charlson, signals, the tier.

No database, no clock: callers pass ``as_of`` and the tables (``careloop.risk.tables``) in.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from careloop.risk import tables
from careloop.risk.methodology import TIER_ORDER, Component, Methodology


def normalize_icd10(code: str) -> str:
    """Upper case, no dot, no spaces: the only form any scorer sees (dotted codes silently mis-score)."""
    return "".join(code.split()).replace(".", "").upper()


@dataclass(frozen=True)
class ConditionFact:
    icd10: str = ""
    snomed: str = ""
    clinical_status: str = ""
    verification_status: str = ""
    onset: dt.date | None = None
    abatement: dt.date | None = None
    recorded: dt.date | None = None


def in_force(fact: ConditionFact, as_of: dt.date, cfg: tables.CountConfig) -> bool:
    """Whether a problem-list entry counts on ``as_of`` (chronic_count.yaml states the rule)."""
    if fact.verification_status in cfg.excluded_verification:
        return False
    start = fact.onset or fact.recorded
    if start is not None and start > as_of:
        return False
    if fact.abatement is not None:
        return fact.abatement >= as_of
    return fact.clinical_status in cfg.active_statuses


def ccw_keys(
    icd10_codes: Iterable[str],
    snomed_codes: Iterable[str] = (),
    *,
    table: tables.CcwTable | None = None,
    snomed: Mapping[str, frozenset[str]] | None = None,
) -> frozenset[str]:
    """CCW condition keys for a patient's codes in force (exclusions and second-code rules applied)."""
    table = table or tables.ccw_table()
    snomed = tables.snomed_map() if snomed is None else snomed
    hits: dict[str, set[str]] = {}
    excluded: set[str] = set()
    for raw in icd10_codes:
        code = normalize_icd10(raw)
        if not code:
            continue
        for key in table.keys_for(code):
            hits.setdefault(key, set()).add(code)
        excluded |= table.excluded_by(code)
    for concept in snomed_codes:
        for key in snomed.get(concept.strip(), ()):
            hits.setdefault(key, set()).add(f"SNOMED:{concept}")
    keys: set[str] = set()
    for key, codes in hits.items():
        if key in excluded:
            continue
        weak = table.conditions[key].needs_second_code
        if weak and all(any(c.startswith(w) for w in weak) for c in codes):
            continue
        keys.add(key)
    return frozenset(keys)


def counted_conditions(keys: Iterable[str], cfg: tables.CountConfig | None = None) -> list[str]:
    """The chronic conditions that count, one name per count_as_one group, sorted."""
    cfg = cfg or tables.count_config()
    return sorted({cfg.groups.get(k, k) for k in keys if k not in cfg.not_counted})


def chronic_count(facts: Sequence[ConditionFact], as_of: dt.date, cfg: tables.CountConfig | None = None) -> int:
    cfg = cfg or tables.count_config()
    live = [f for f in facts if in_force(f, as_of, cfg)]
    keys = ccw_keys([f.icd10 for f in live if f.icd10], [f.snomed for f in live if f.snomed and not f.icd10])
    return len(counted_conditions(keys, cfg))


@dataclass(frozen=True)
class CharlsonResult:
    categories: tuple[str, ...]
    score_charlson: int
    score_quan: int
    age_points: int

    @property
    def age_adjusted_score_charlson(self) -> int:
        return self.score_charlson + self.age_points

    @property
    def age_adjusted_score_quan(self) -> int:
        return self.score_quan + self.age_points


def charlson_age_points(age: int | None, table: tables.CharlsonTable | None = None) -> int:
    table = table or tables.charlson_table()
    if age is None:
        return 0
    for min_age, points in table.age_points:
        if age >= min_age:
            return points
    return 0


def charlson_categories(codes: Iterable[str], table: tables.CharlsonTable | None = None) -> frozenset[str]:
    table = table or tables.charlson_table()
    cats: set[str] = set()
    for raw in codes:
        code = normalize_icd10(raw)
        if code:
            cats |= table.categories_for(code)
    return frozenset(cats)


def charlson_from_categories(
    categories: Iterable[str], age: int | None, table: tables.CharlsonTable | None = None
) -> CharlsonResult:
    table = table or tables.charlson_table()
    cats = frozenset(categories)
    scored = cats - {lower for upper, lower in table.replaces.items() if upper in cats}
    return CharlsonResult(
        categories=tuple(sorted(cats)),
        score_charlson=sum(table.weights["charlson"][c] for c in scored),
        score_quan=sum(table.weights["quan"][c] for c in scored),
        age_points=charlson_age_points(age, table),
    )


def charlson(codes: Iterable[str], age: int | None = None) -> CharlsonResult:
    """Charlson index over ICD-10 codes (normalised first), both weightings, with age points for ``age``."""
    return charlson_from_categories(charlson_categories(codes), age)


def is_bh_diagnosis(code: str, sig: tables.Signals | None = None) -> bool:
    sig = sig or tables.signals()
    code = normalize_icd10(code)
    return code.startswith(sig.bh_icd10_prefixes) and not code.startswith(sig.bh_exclude_prefixes)


def sdoh_need(question: tables.SdohQuestion, value_code: str, value_text: str) -> bool:
    return value_code in question.positive_codes or value_text.strip().lower() in question.positive_text


def readmissions(stays: Sequence[tuple[dt.date, dt.date | None]], window_start: dt.date, days: int) -> int:
    """Admissions starting within ``days`` of an earlier discharge, counted when they start in the window."""
    count = 0
    last_end: dt.date | None = None
    for start, end in sorted(stays):
        if last_end is not None and start >= window_start and 0 <= (start - last_end).days <= days:
            count += 1
        if end is not None and (last_end is None or end > last_end):
            last_end = end
    return count


@dataclass(frozen=True)
class Measures:
    """What the tier is computed from (one patient, as of a date)."""

    hcc_score: float | None = None
    hccs: tuple[str, ...] = ()
    hcc_percentile: float | None = None
    charlson: int = 0
    chronic_count: int = 0
    ed_visits_12m: int = 0
    admissions_12m: int = 0
    readmissions_12m: int = 0
    active_medications: int = 0
    sdoh_needs: tuple[str, ...] = ()
    bh_flags: tuple[str, ...] = ()
    hcc_coefficients: Mapping[str, float] = field(default_factory=dict)
    hcc_labels: Mapping[str, str] = field(default_factory=dict)

    def value(self, measure: str) -> float:
        if measure == "sdoh_count":
            return float(len(self.sdoh_needs))
        if measure == "bh_count":
            return float(len(self.bh_flags))
        raw = getattr(self, measure)
        return float(raw) if raw is not None else 0.0


@dataclass(frozen=True)
class TierResult:
    tier: str
    points: int
    components: dict[str, int]
    reasons: tuple[str, ...]

    @property
    def explanation(self) -> str:
        return f"{self.tier}: " + ("; ".join(self.reasons) if self.reasons else "no risk factors found")


def _top_percent(percentile: float) -> str:
    """ "top N%": the share of patients scoring at or above this one (percentile = share strictly below)."""
    return f"top {max(1, round(100 - percentile))}%"


def _condition_phrase(m: Measures, method: Methodology) -> str:
    ranked = sorted(m.hccs, key=lambda h: -m.hcc_coefficients.get(h, 0.0))[:2]  # stable: given order on ties
    names = [method.hcc_short_labels.get(h) or m.hcc_labels.get(h) or f"HCC {h}" for h in ranked]
    return " with ".join(dict.fromkeys(names))


def _reason(comp: Component, m: Measures) -> str:
    if comp.measure == "sdoh_count":
        return ", ".join(m.sdoh_needs)
    if comp.measure == "bh_count":
        return ", ".join(m.bh_flags)
    text = comp.reason.format(value=m.value(comp.measure))
    if comp.measure == "hcc_score" and m.hcc_percentile is not None and m.hcc_percentile >= 80:
        text += f", {_top_percent(m.hcc_percentile)}"
    return text


def assign_tier(m: Measures, method: Methodology) -> TierResult:
    """Points per component (first band reached), total, cut-points, floors, and the reasons in order."""
    points: dict[str, int] = {}
    for comp in method.components:
        value = m.value(comp.measure)
        points[comp.key] = next((b.points for b in comp.bands if value >= b.min), 0)
    total = sum(points.values())
    tier = next(t for t, min_points in method.tiers if total >= min_points)
    for floor in method.floors:
        if m.value(floor.measure) >= floor.min and TIER_ORDER.index(floor.at_least) > TIER_ORDER.index(tier):
            tier = floor.at_least
    order = sorted(
        (c for c in method.components if points[c.key] > 0),
        key=lambda c: (-points[c.key], [x.key for x in method.components].index(c.key)),
    )
    reasons: list[str] = []
    for comp in order:
        reasons.append(_reason(comp, m))
        if comp.measure == "hcc_score" and m.hccs:
            reasons.append(_condition_phrase(m, method))
    return TierResult(tier=tier, points=total, components=points, reasons=tuple(reasons[: method.max_reasons]))
