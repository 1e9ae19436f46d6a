"""The measures careloop evaluates, by id (``CMS122``...)."""

from __future__ import annotations

from careloop.quality.measures import (
    ais_flu,
    ais_pneumo,
    cms2,
    cms22,
    cms50,
    cms69,
    cms122,
    cms125,
    cms130,
    cms131,
    cms138,
    cms139,
    cms156,
    cms159,
    cms165,
    cms951,
)
from careloop.quality.measures.base import Measure

_MODULES = (
    cms122, cms165, cms130, cms125, cms138, cms69, cms2, cms131, cms22, cms139, cms156, cms159, cms951, cms50,
    ais_flu, ais_pneumo,
)

REGISTRY: dict[str, Measure] = {m.MEASURE.id: m.MEASURE for m in _MODULES}


class UnknownMeasure(LookupError):
    pass


def get_measure(measure_id: str) -> Measure:
    key = measure_id.strip().upper()
    if key not in REGISTRY:
        raise UnknownMeasure(f"unknown measure {measure_id!r}; known: {', '.join(sorted(REGISTRY))}")
    return REGISTRY[key]
