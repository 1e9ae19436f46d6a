"""Read queries of the quality app."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from careloop.quality.engine.fhir import Code
from careloop.quality.engine.valuesets import ValueSetIndex
from careloop.quality.models import ValueSet, ValueSetCode


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
