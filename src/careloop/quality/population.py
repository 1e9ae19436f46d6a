"""The population job: every measure over every patient of an organization, from the registry's FHIR resources.

Each patient's data is rebuilt from ``registry.FhirResource`` bodies (kept as received), read in one ordered,
streamed query (``values_list("patient_id", "body")`` by patient, in chunks) and parsed with orjson: no
per-patient ORM query. Results and care gaps are written set-based: the period's old rows for the measures run are
deleted, then new rows are inserted in batches with ``insert_rows``, all in one transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
from django.db import transaction

from careloop.audit.services import record_event
from careloop.core import clock
from careloop.core.actor import Actor
from careloop.core.db import insert_rows
from careloop.core.errors import PermissionDenied
from careloop.quality.engine.batch import batch_gc
from careloop.quality.engine.fhir import PatientData
from careloop.quality.engine.period import MeasurementPeriod
from careloop.quality.engine.valuesets import ValueSetIndex
from careloop.quality.gaps import derive_gap
from careloop.quality.measures.base import IP, Measure
from careloop.quality.models import CareGap, MeasureResult
from careloop.quality.rules import evaluate_patient
from careloop.registry.models import FhirResource, Patient

BATCH = 2000
RESULT_COLUMNS = ["organization", "patient", "measure", "group", "period_start", "period_end", "populations",
                  "stratum", "computed_at"]
GAP_COLUMNS = ["organization", "patient", "measure", "group", "period_start", "period_end", "status", "missing",
               "closes_by", "due", "evidence", "computed_at"]
RUN_ROLES = frozenset({"admin", "leader", "system"})


@dataclass
class RunSummary:
    patients: int = 0
    results: int = 0
    open_gaps: int = 0
    closed_gaps: int = 0
    totals: dict[str, dict[str, int]] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"patients": self.patients, "results": self.results, "open_gaps": self.open_gaps,
                "closed_gaps": self.closed_gaps, "totals": self.totals}


PatientRange = tuple[int | None, int | None]  # patient ids [first, end); None: unbounded


def patient_id_ranges(organization_id: int, parts: int) -> list[PatientRange]:
    """The organization's patients in ``parts`` contiguous blocks of patient ids (about as many patients each), so
    that ``parts`` workers each read only their own patients' resources (``patient_resources(..., patients=)``)."""
    ids = list(Patient.objects.filter(organization_id=organization_id).order_by("pk").values_list("pk", flat=True))
    parts = max(1, parts)
    cuts = [ids[i] for i in sorted({len(ids) * k // parts for k in range(1, parts)} - {0})]
    bounds: list[int | None] = [None, *cuts, None]
    return [(bounds[k], bounds[k + 1]) for k in range(len(bounds) - 1)]


def patient_resources(organization_id: int, chunk_size: int = 2000,
                      patients: PatientRange = (None, None)) -> Iterator[tuple[int, list[dict[str, Any]]]]:
    """Each patient's resources as received, grouped from one query ordered by patient (optionally only the
    patients whose ids fall in ``patients``, see ``patient_id_ranges``)."""
    scope = FhirResource.objects.filter(organization_id=organization_id, patient__isnull=False)
    first, end = patients
    if first is not None:
        scope = scope.filter(patient_id__gte=first)
    if end is not None:
        scope = scope.filter(patient_id__lt=end)
    rows = (
        scope
        .order_by("patient_id", "id")
        .values_list("patient_id", "body")
        .iterator(chunk_size=chunk_size)
    )
    current: int | None = None
    bucket: list[dict[str, Any]] = []
    loads = orjson.loads
    for pid, body in rows:
        if pid != current:
            if current is not None and bucket:
                yield current, bucket
            current, bucket = pid, []
        try:
            bucket.append(loads(body))
        except orjson.JSONDecodeError:
            continue
    if current is not None and bucket:
        yield current, bucket


def run_population(
    *,
    organization_id: int,
    period: MeasurementPeriod,
    measures: list[Measure],
    valuesets: ValueSetIndex,
    actor: Actor,
    progress: Callable[[int], object] | None = None,
    write_gaps: bool = True,
) -> RunSummary:
    """Evaluate ``measures`` for ``period`` over the organization; replace the period's results and gaps
    (``write_gaps=False``: results only, e.g. the month-end snapshots of the monthly trend)."""
    if actor.role not in RUN_ROLES or (actor.organization_id not in (None, organization_id)):
        raise PermissionDenied("only an administrator or leader of the organization may run quality measures")
    valuesets.require(u for m in measures for u in m.valuesets)
    now = clock.now()
    ids = [m.id for m in measures]
    summary = RunSummary(totals={m.id: {} for m in measures})
    scope = {"organization_id": organization_id, "period_start": period.first, "period_end": period.last,
             "measure__in": ids}
    with transaction.atomic(), batch_gc():
        MeasureResult.objects.filter(**scope).delete()
        if write_gaps:
            CareGap.objects.filter(**scope).delete()
        results: list[tuple[Any, ...]] = []
        gaps: list[tuple[Any, ...]] = []
        for pid, resources in patient_resources(organization_id):
            summary.patients += 1
            data = PatientData(resources)
            for measure in measures:
                outcome = evaluate_patient(measure, data, period, valuesets)
                counts = summary.totals[measure.id]
                for group in outcome.groups:
                    pops = group.populations
                    if not pops.get(IP):
                        continue
                    if group is outcome.groups[0]:
                        for key, value in pops.items():
                            counts[key] = counts.get(key, 0) + value
                    stratum = next((sid for sid, s in group.strata.items() if s.get(IP)), "")
                    results.append((organization_id, pid, measure.id, group.id, period.first, period.last, pops,
                                    stratum, now))
                    gap = derive_gap(measure, group.id, pops, period.last) if write_gaps else None
                    if gap is not None:
                        gaps.append((organization_id, pid, gap.measure, gap.group, period.first, period.last,
                                     gap.status, gap.missing, gap.closes_by, gap.due, gap.evidence, now))
                        if gap.status == "open":
                            summary.open_gaps += 1
                        else:
                            summary.closed_gaps += 1
            if progress is not None:
                progress(1)
            if len(results) >= BATCH:
                summary.results += _flush(results, gaps)
        summary.results += _flush(results, gaps)
        record_event(actor=actor, action="quality.population_run", object_type="MeasureResult",
                     object_id=f"{period.first}:{period.last}",
                     detail={"measures": ids, "patients": summary.patients, "open_gaps": summary.open_gaps})
    return summary


def _flush(results: list[tuple[Any, ...]], gaps: list[tuple[Any, ...]]) -> int:
    n = len(results)
    insert_rows(MeasureResult, RESULT_COLUMNS, results)
    insert_rows(CareGap, GAP_COLUMNS, gaps)
    results.clear()
    gaps.clear()
    return n
