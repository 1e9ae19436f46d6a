"""Read queries of the quality app."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from careloop.quality.engine.fhir import Code
from careloop.quality.engine.valuesets import ValueSetIndex
from careloop.quality.gaps import gap_key
from careloop.quality.models import CareGap, ValueSet, ValueSetCode


def valueset_index(urls: Iterable[str] | None = None) -> ValueSetIndex:
    """The stored value sets (all, or those named) as sets of ``(system, code)``, read in one query."""
    codes = ValueSetCode.objects.all()
    if urls is not None:
        codes = codes.filter(value_set__url__in=list(urls))
    sets: dict[str, set[Code]] = defaultdict(set)
    for url, system, code in codes.values_list("value_set__url", "system", "code").iterator(chunk_size=5000):
        sets[url].add((system, code))
    return ValueSetIndex({url: frozenset(members) for url, members in sets.items()})


def stored_valuesets() -> list[ValueSet]:
    return list(ValueSet.objects.order_by("url"))


def gap_rows(*, organization_id: int, first: dt.date, last: dt.date, status: str,
             measure: str | None = None) -> list[dict[str, Any]]:
    """The care gaps of ``status`` for the period (one measure, or all) with their patients, for drill-down lists
    (not audited here: the report functions that show them audit the listing)."""
    rows = CareGap.objects.filter(organization_id=organization_id, status=status, period_start=first, period_end=last)
    if measure:
        rows = rows.filter(measure=measure.split("/")[0])
    return [
        {"gap_id": g[0], "patient_id": g[1], "mrn": g[2], "name": f"{g[3]} {g[4]}".strip(),
         "measure": gap_key(g[5], g[6]), "status": g[7], "missing": g[8], "closes_by": g[9],
         "due": g[10].isoformat() if g[10] else ""}
        for g in rows.order_by("measure", "patient_id").values_list(
            "pk", "patient_id", "patient__mrn", "patient__given", "patient__family", "measure", "group",
            "status", "missing", "closes_by", "due")
    ]
