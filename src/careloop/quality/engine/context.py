"""The evaluation context a measure's logic runs in: one patient's data, the measurement period, value sets."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from careloop.quality.engine.fhir import Code, PatientData, Resource
from careloop.quality.engine.period import MeasurementPeriod, Span
from careloop.quality.engine.valuesets import ValueSetIndex

T = TypeVar("T")

VSAC = "http://cts.nlm.nih.gov/fhir/ValueSet/"

# The measurement period as an interval, per period (a Context is made per patient and measure).
_SPANS: dict[MeasurementPeriod, Span] = {}


def vsac(oid: str) -> str:
    """The canonical URL of a VSAC value set."""
    return VSAC + oid


@dataclass
class Context:
    data: PatientData
    period: MeasurementPeriod
    valuesets: ValueSetIndex

    def __post_init__(self) -> None:
        mp = _SPANS.get(self.period)
        if mp is None:
            mp = _SPANS[self.period] = self.period.span
        self.mp: Span = mp
        # Shared by every measure evaluated for this patient with the same period and value sets.
        key = (self.period, self.valuesets)
        memo = self.data.memo.get(key)
        if memo is None:
            memo = self.data.memo[key] = {}
        self._memo = memo
        # Retrieves (``qicore``), cached per patient and value sets.
        retrieves = self.data.retrieves.get(self.valuesets)
        if retrieves is None:
            retrieves = self.data.retrieves[self.valuesets] = {}
        self.retrieves: dict[tuple[object, ...], list[Resource]] = retrieves

    def vs(self, url: str) -> frozenset[Code]:
        return self.valuesets[url]

    def memo(self, key: str, compute: Callable[[], T]) -> T:
        """A definition evaluated once per patient, period and value sets (shared libraries such as Hospice are
        referenced from several populations and measures). Keys name the definition; measure-specific ones carry
        the measure's id."""
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]  # type: ignore[return-value]

    def age_at_end(self) -> int | None:
        """``AgeInYearsAt(date from end of "Measurement Period")``."""
        return self.data.age_on(self.period.last)

    def age_at_start(self) -> int | None:
        """``AgeInYearsAt(date from start of "Measurement Period")``."""
        return self.data.age_on(self.period.first)

    def age_on(self, day: dt.date | None) -> int | None:
        return self.data.age_on(day) if day is not None else None
