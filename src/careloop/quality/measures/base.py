"""What a measure is, and how its population criteria become MeasureReport counts.

A measure's logic returns, per group, the raw criteria: for each population, the set of *episodes* that meet it.
Patient-based measures have one episode, the patient (``PATIENT``); episode-based measures (CMS22 counts
encounters) use the ids of the qualifying encounters. Counting then applies the standard proportion-measure
cascade, as the MeasureReport does:

- denominator = initial population and denominator criteria;
- denominator exclusion = denominator and exclusion criteria;
- numerator = denominator, not excluded, and numerator criteria; numerator exclusion = numerator and its criteria;
- denominator exception = denominator, not excluded, not in the numerator, and exception criteria.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from careloop.quality.engine.context import Context

IP = "initial_population"
DENOM = "denominator"
DENEX = "denominator_exclusion"
DENEXCEP = "denominator_exception"
NUMER = "numerator"
NUMEX = "numerator_exclusion"
POPULATION_ORDER = (IP, DENOM, DENEX, NUMER, NUMEX, DENEXCEP)

Episodes = frozenset[str]
PATIENT = "patient"
NONE: Episodes = frozenset()
ONE: Episodes = frozenset({PATIENT})


def flag(value: bool | None) -> Episodes:
    """A patient-based criterion: the patient, or nobody (unknown counts as not met)."""
    return ONE if value is True else NONE


@dataclass(frozen=True)
class GroupSpec:
    id: str
    populations: tuple[str, ...]
    stratifiers: tuple[str, ...] = ()


@dataclass
class Criteria:
    """Raw criteria of one group for one patient (before the cascade)."""

    populations: dict[str, Episodes]
    strata: dict[str, Episodes] = field(default_factory=dict)


@dataclass(frozen=True)
class GroupResult:
    id: str
    populations: dict[str, int]
    strata: dict[str, dict[str, int]] = field(default_factory=dict)

    def as_json(self, with_strata: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "populations": dict(self.populations)}
        if with_strata and self.strata:
            out["stratifiers"] = {k: dict(v) for k, v in self.strata.items()}
        return out


@dataclass(frozen=True)
class MeasureResult:
    measure: str
    groups: tuple[GroupResult, ...]

    def as_json(self, with_strata: bool = False) -> list[dict[str, Any]]:
        return [g.as_json(with_strata) for g in self.groups]


Logic = Callable[[Context], list[Criteria]]


@dataclass(frozen=True)
class Measure:
    id: str
    title: str
    description: str
    groups: tuple[GroupSpec, ...]
    valuesets: tuple[str, ...]
    logic: Logic = field(repr=False)
    basis: str = "boolean"
    inverse: bool = False
    url: str = ""
    version: str = ""
    official_cases: bool = True


def cascade(spec: GroupSpec, criteria: Mapping[str, Episodes]) -> dict[str, Episodes]:
    has = spec.populations
    ip = criteria.get(IP, NONE)
    denom = ip & criteria.get(DENOM, ip)
    denex = denom & criteria.get(DENEX, NONE) if DENEX in has else NONE
    numer = (denom - denex) & criteria.get(NUMER, NONE)
    numex = numer & criteria.get(NUMEX, NONE) if NUMEX in has else NONE
    denexcep = (denom - denex - numer) & criteria.get(DENEXCEP, NONE) if DENEXCEP in has else NONE
    everything = {IP: ip, DENOM: denom, DENEX: denex, DENEXCEP: denexcep, NUMER: numer, NUMEX: numex}
    return {p: everything[p] for p in POPULATION_ORDER if p in has}


def score(spec: GroupSpec, raw: Criteria) -> GroupResult:
    if not raw.populations.get(IP):  # not in the initial population (most patients for most measures): all zero
        zero = {p: 0 for p in POPULATION_ORDER if p in spec.populations}
        return GroupResult(spec.id, zero, {sid: dict(zero) for sid in spec.stratifiers})
    sets = cascade(spec, raw.populations)
    counts = {p: len(s) for p, s in sets.items()}
    strata = {
        sid: {p: len(s & raw.strata.get(sid, NONE)) for p, s in sets.items()} for sid in spec.stratifiers
    }
    return GroupResult(spec.id, counts, strata)


def evaluate(measure: Measure, ctx: Context) -> MeasureResult:
    raw = measure.logic(ctx)
    if len(raw) != len(measure.groups):
        raise AssertionError(f"{measure.id} logic returned {len(raw)} groups, expected {len(measure.groups)}")
    return MeasureResult(measure.id, tuple([score(spec, r) for spec, r in zip(measure.groups, raw, strict=True)]))


STANDARD = (IP, DENOM, DENEX, NUMER)
WITH_EXCEPTIONS = (IP, DENOM, DENEX, NUMER, DENEXCEP)
NO_EXCLUSIONS = (IP, DENOM, NUMER)


def single_group(populations: tuple[str, ...] = STANDARD, stratifiers: tuple[str, ...] = ()) -> tuple[GroupSpec, ...]:
    return (GroupSpec("Group_1", populations, stratifiers),)
