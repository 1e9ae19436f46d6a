"""The reference tables the risk app carries (``risk/data/*.yaml``, ``risk/methodologies/*.yaml``), loaded once.

Pure reading of package files: no database, no clock. Each loader returns a frozen, typed view so ``rules``
can stay a set of pure functions over plain values.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

DATA_DIR = Path(__file__).resolve().parent / "data"
METHODOLOGY_DIR = Path(__file__).resolve().parent / "methodologies"
COUNT_CONFIG_ENV = "CARELOOP_RISK_COUNT_CONFIG"

try:
    _Loader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - libyaml missing
    _Loader = yaml.SafeLoader


def load_yaml(path: Path) -> Any:
    with path.open("rb") as fh:
        return yaml.load(fh, Loader=_Loader)  # noqa: S506 - SafeLoader / CSafeLoader


def _prefix_index(entries: dict[str, list[str]]) -> dict[str, frozenset[str]]:
    index: dict[str, set[str]] = {}
    for key, prefixes in entries.items():
        for p in prefixes:
            index.setdefault(str(p), set()).add(key)
    return {p: frozenset(keys) for p, keys in index.items()}


def match_prefixes(index: dict[str, frozenset[str]], code: str, min_len: int = 1) -> frozenset[str]:
    """Keys whose prefix list holds a prefix of ``code`` (``code`` already normalised)."""
    found: set[str] = set()
    for n in range(min_len, len(code) + 1):
        keys = index.get(code[:n])
        if keys:
            found |= keys
    return frozenset(found)


@dataclass(frozen=True)
class CcwCondition:
    id: int
    key: str
    name: str
    group: str
    category: str
    claims_rule: str
    icd10: tuple[str, ...]
    exclude_icd10: tuple[str, ...] = ()
    needs_second_code: tuple[str, ...] = ()
    reference_years: int | None = None


@dataclass(frozen=True)
class CcwTable:
    edition: str
    conditions: dict[str, CcwCondition]
    include: dict[str, frozenset[str]] = field(repr=False)
    exclude: dict[str, frozenset[str]] = field(repr=False)

    def keys_for(self, code: str) -> frozenset[str]:
        return match_prefixes(self.include, code, 3)

    def excluded_by(self, code: str) -> frozenset[str]:
        return match_prefixes(self.exclude, code, 3)


@cache
def ccw_table() -> CcwTable:
    raw = load_yaml(DATA_DIR / "ccw_conditions.yaml")
    conditions: dict[str, CcwCondition] = {}
    for c in raw["conditions"]:
        conditions[c["key"]] = CcwCondition(
            id=int(c["id"]),
            key=c["key"],
            name=c["name"],
            group=c["group"],
            category=c["category"],
            claims_rule=c["claims_rule"],
            icd10=tuple(str(x) for x in c.get("icd10", [])),
            exclude_icd10=tuple(str(x) for x in c.get("exclude_icd10", [])),
            needs_second_code=tuple(str(x) for x in c.get("needs_second_code", [])),
            reference_years=c.get("reference_years"),
        )
    return CcwTable(
        edition=str(raw["edition"]),
        conditions=conditions,
        include=_prefix_index({k: list(c.icd10) for k, c in conditions.items()}),
        exclude=_prefix_index({k: list(c.exclude_icd10) for k, c in conditions.items() if c.exclude_icd10}),
    )


@cache
def snomed_map() -> dict[str, frozenset[str]]:
    raw = load_yaml(DATA_DIR / "snomed_ccw.yaml")
    known = ccw_table().conditions
    out: dict[str, frozenset[str]] = {}
    for concept, keys in raw["concepts"].items():
        unknown = [k for k in keys if k not in known]
        if unknown:
            raise ValueError(f"snomed_ccw.yaml: {concept} names unknown CCW keys {unknown}")
        out[str(concept)] = frozenset(keys)
    return out


@dataclass(frozen=True)
class CountConfig:
    version: str
    not_counted: frozenset[str]
    groups: dict[str, str]  # condition key -> group name (count_as_one)
    active_statuses: frozenset[str]
    excluded_verification: frozenset[str]


def count_config_from(raw: dict[str, Any]) -> CountConfig:
    known = ccw_table().conditions
    groups: dict[str, str] = {}
    for group, keys in (raw.get("count_as_one") or {}).items():
        for k in keys:
            groups[k] = group
    named = set(raw.get("not_counted") or []) | set(groups)
    unknown = sorted(named - set(known))
    if unknown:
        raise ValueError(f"chronic-count config names unknown CCW keys {unknown}")
    return CountConfig(
        version=str(raw["version"]),
        not_counted=frozenset(raw.get("not_counted") or []),
        groups=groups,
        active_statuses=frozenset(str(s) for s in raw["active_statuses"]),
        excluded_verification=frozenset(str(s) for s in raw["excluded_verification"]),
    )


@cache
def count_config() -> CountConfig:
    path = Path(os.environ.get(COUNT_CONFIG_ENV) or DATA_DIR / "chronic_count.yaml")
    return count_config_from(load_yaml(path))


@dataclass(frozen=True)
class CharlsonTable:
    version: str
    labels: dict[str, str]
    index: dict[str, frozenset[str]] = field(repr=False)
    replaces: dict[str, str]
    weights: dict[str, dict[str, int]]
    age_points: tuple[tuple[int, int], ...]

    def categories_for(self, code: str) -> frozenset[str]:
        return match_prefixes(self.index, code, 3)


@cache
def charlson_table() -> CharlsonTable:
    raw = load_yaml(DATA_DIR / "charlson.yaml")
    cats = raw["categories"]
    return CharlsonTable(
        version=str(raw["version"]),
        labels={k: str(v["label"]) for k, v in cats.items()},
        index=_prefix_index({k: [str(x) for x in v["icd10"]] for k, v in cats.items()}),
        replaces={str(k): str(v) for k, v in raw["replaces"].items()},
        weights={str(k): {str(c): int(w) for c, w in v.items()} for k, v in raw["weights"].items()},
        age_points=tuple((int(a["min_age"]), int(a["points"])) for a in raw["age_points"]),
    )


@dataclass(frozen=True)
class SdohQuestion:
    need: str
    label: str
    loinc: tuple[str, ...]
    positive_codes: frozenset[str]
    positive_text: frozenset[str]


@dataclass(frozen=True)
class BhScreen:
    flag: str
    label: str
    loinc: tuple[str, ...]
    min_score: float


@dataclass(frozen=True)
class Signals:
    version: str
    lookback_days: int
    sdoh: tuple[SdohQuestion, ...]
    bh_screens: tuple[BhScreen, ...]
    bh_dx_label: str
    bh_icd10_prefixes: tuple[str, ...]
    bh_exclude_prefixes: tuple[str, ...]
    bh_snomed_ccw: frozenset[str]
    window_days: int
    readmission_days: int
    ed_classes: tuple[str, ...]
    inpatient_classes: tuple[str, ...]
    excluded_encounter_status: tuple[str, ...]
    active_medication_status: tuple[str, ...]
    polypharmacy_min: int

    @property
    def screening_codes(self) -> tuple[str, ...]:
        codes = [c for q in self.sdoh for c in q.loinc] + [c for s in self.bh_screens for c in s.loinc]
        return tuple(dict.fromkeys(codes))


@cache
def signals() -> Signals:
    raw = load_yaml(DATA_DIR / "signals.yaml")
    util = raw["utilization"]
    bh = raw["bh_diagnoses"]
    return Signals(
        version=str(raw["version"]),
        lookback_days=int(raw["lookback_days"]),
        sdoh=tuple(
            SdohQuestion(
                need=q["need"],
                label=q["label"],
                loinc=tuple(q["loinc"]),
                positive_codes=frozenset(q["positive_codes"]),
                positive_text=frozenset(t.lower() for t in q["positive_text"]),
            )
            for q in raw["sdoh"]
        ),
        bh_screens=tuple(
            BhScreen(flag=s["flag"], label=s["label"], loinc=tuple(s["loinc"]), min_score=float(s["min_score"]))
            for s in raw["bh_screenings"]
        ),
        bh_dx_label=str(bh["label"]),
        bh_icd10_prefixes=tuple(bh["icd10_prefixes"]),
        bh_exclude_prefixes=tuple(bh["exclude_prefixes"]),
        bh_snomed_ccw=frozenset(bh["snomed_ccw"]),
        window_days=int(util["window_days"]),
        readmission_days=int(util["readmission_days"]),
        ed_classes=tuple(util["ed_classes"]),
        inpatient_classes=tuple(util["inpatient_classes"]),
        excluded_encounter_status=tuple(util["excluded_encounter_status"]),
        active_medication_status=tuple(util["active_medication_status"]),
        polypharmacy_min=int(util["polypharmacy_min"]),
    )
