"""Registry write use-cases. Bulk paths write set-based (a few statements per batch), never per row."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from django.db import models, transaction

from careloop.audit.services import EventSpec, record_events
from careloop.core.actor import Actor
from careloop.registry.choices import MODELED_TYPES
from careloop.registry.models import (
    AllergyIntolerance,
    Condition,
    Coverage,
    Encounter,
    FhirResource,
    Immunization,
    Medication,
    Observation,
    Patient,
    PatientIdentifier,
    Procedure,
    QuarantinedInput,
)

TYPED_MODELS: dict[str, type[models.Model]] = {
    "Coverage": Coverage,
    "Condition": Condition,
    "MedicationRequest": Medication,
    "MedicationStatement": Medication,
    "Observation": Observation,
    "Encounter": Encounter,
    "Immunization": Immunization,
    "Procedure": Procedure,
    "AllergyIntolerance": AllergyIntolerance,
}


class RecordLike(Protocol):
    resource_type: str
    source_id: str
    version_id: str
    content_hash: str
    body: str
    patient_source_id: str | None
    fields: dict[str, Any]
    identifiers: list[dict[str, str]]


@dataclass
class BatchResult:
    counts: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    rejected: list[tuple[RecordLike, str]] = field(default_factory=list)


def quarantine(
    *,
    organization_id: int | None,
    channel: str,
    source_name: str,
    location: str,
    reason: str,
    raw: str,
    resource_type: str = "",
) -> None:
    QuarantinedInput.objects.create(
        organization_id=organization_id, channel=channel, source_name=source_name[:500],
        location=location[:200], reason=reason, raw=raw, resource_type=resource_type[:64],
    )


def _chunks(items: Sequence[str], size: int = 900) -> Iterable[Sequence[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def apply_fhir_batch(
    *, organization_id: int, source_system: str, records: Sequence[RecordLike], actor: Actor
) -> BatchResult:
    """Upsert a batch of validated FHIR records in one transaction.

    Keyed by (organization, source system, type, source id). Unchanged content (same hash) writes nothing;
    changed content updates the raw resource and replaces its typed row; Patients are updated in place so
    their ids stay stable. A record whose patient cannot be found is returned as rejected.
    """
    result = BatchResult()
    # The last occurrence of a key in the batch wins; earlier ones count as superseded (unchanged).
    latest: dict[tuple[str, str], RecordLike] = {}
    for rec in records:
        key = (rec.resource_type, rec.source_id)
        if key in latest:
            result.counts[rec.resource_type]["unchanged"] += 1
        latest[key] = rec
    # Patients first so the others can point at them.
    ordered = sorted(latest.values(), key=lambda r: r.resource_type != "Patient")
    with transaction.atomic():
        existing: dict[tuple[str, str], tuple[int, str, int | None]] = {}
        ids = sorted({r.source_id for r in ordered})
        for chunk in _chunks(ids):
            for row in FhirResource.objects.filter(
                organization_id=organization_id, source_system=source_system, source_id__in=chunk
            ).values_list("resource_type", "source_id", "id", "content_hash", "patient_id"):
                existing[(row[0], row[1])] = (row[2], row[3], row[4])

        patient_ids: dict[str, int] = {k[1]: v[2] for k, v in existing.items() if k[0] == "Patient" and v[2]}
        wanted = sorted({r.patient_source_id for r in ordered if r.patient_source_id} - set(patient_ids))
        batch_patients = {r.source_id for r in ordered if r.resource_type == "Patient"}
        lookup = [sid for sid in wanted if sid not in batch_patients]
        for chunk in _chunks(lookup):
            for sid, pid in FhirResource.objects.filter(
                organization_id=organization_id, source_system=source_system, resource_type="Patient",
                source_id__in=chunk,
            ).values_list("source_id", "patient_id"):
                if pid:
                    patient_ids[sid] = pid

        new_raw: list[FhirResource] = []
        new_recs: list[RecordLike] = []
        changed_raw: list[FhirResource] = []
        changed_recs: list[RecordLike] = []
        touched: Counter[int] = Counter()

        # Patients: create or update the Patient row, then its raw resource.
        new_patients: list[tuple[RecordLike, Patient]] = []
        for rec in ordered:
            if rec.resource_type != "Patient":
                break
            key = (rec.resource_type, rec.source_id)
            if key in existing:
                raw_id, old_hash, pid = existing[key]
                if old_hash == rec.content_hash:
                    result.counts["Patient"]["unchanged"] += 1
                    continue
                assert pid is not None
                Patient.objects.filter(pk=pid).update(**rec.fields)
                _replace_identifiers(organization_id, pid, rec.identifiers)
                changed_raw.append(FhirResource(id=raw_id, body=rec.body, content_hash=rec.content_hash,
                                                version_id=rec.version_id, patient_id=pid))
                changed_recs.append(rec)
                touched[pid] += 1
                result.counts["Patient"]["updated"] += 1
            else:
                new_patients.append((rec, Patient(organization_id=organization_id, **rec.fields)))
        if new_patients:
            Patient.objects.bulk_create([p for _, p in new_patients], batch_size=500)
            idents: list[PatientIdentifier] = []
            for rec, patient in new_patients:
                patient_ids[rec.source_id] = patient.pk
                touched[patient.pk] += 1
                new_raw.append(_raw(organization_id, source_system, rec, patient.pk))
                new_recs.append(rec)
                idents.extend(_identifier_rows(organization_id, patient.pk, rec.identifiers))
                result.counts["Patient"]["created"] += 1
            PatientIdentifier.objects.bulk_create(idents, batch_size=500, ignore_conflicts=True)

        # Everything else.
        for rec in ordered:
            if rec.resource_type == "Patient":
                continue
            pid = None
            if rec.patient_source_id is not None:
                pid = patient_ids.get(rec.patient_source_id)
                if pid is None:
                    result.rejected.append(
                        (rec, f"{rec.resource_type}/{rec.source_id} refers to Patient/{rec.patient_source_id}, "
                              "which is neither in this input nor already imported from this source")
                    )
                    result.counts[rec.resource_type]["rejected"] += 1
                    continue
            elif rec.resource_type in TYPED_MODELS:
                result.rejected.append((rec, f"{rec.resource_type}/{rec.source_id} has no patient reference"))
                result.counts[rec.resource_type]["rejected"] += 1
                continue
            key = (rec.resource_type, rec.source_id)
            if key in existing:
                raw_id, old_hash, _ = existing[key]
                if old_hash == rec.content_hash:
                    result.counts[rec.resource_type]["unchanged"] += 1
                    continue
                changed_raw.append(FhirResource(id=raw_id, body=rec.body, content_hash=rec.content_hash,
                                                version_id=rec.version_id, patient_id=pid))
                changed_recs.append(rec)
                result.counts[rec.resource_type]["updated"] += 1
            else:
                new_raw.append(_raw(organization_id, source_system, rec, pid))
                new_recs.append(rec)
                result.counts[rec.resource_type]["created"] += 1
            if pid is not None:
                touched[pid] += 1

        FhirResource.objects.bulk_create(new_raw, batch_size=500)
        if changed_raw:
            FhirResource.objects.bulk_update(
                changed_raw, ["body", "content_hash", "version_id", "patient_id"], batch_size=500
            )
            by_model: dict[type[models.Model], list[int]] = defaultdict(list)
            for raw, rec in zip(changed_raw, changed_recs, strict=True):
                if rec.resource_type in TYPED_MODELS:
                    by_model[TYPED_MODELS[rec.resource_type]].append(raw.pk)
            for model, raw_ids in by_model.items():
                model.objects.filter(resource_id__in=raw_ids).delete()  # type: ignore[attr-defined]

        typed: dict[type[models.Model], list[models.Model]] = defaultdict(list)
        for raw, rec in [*zip(new_raw, new_recs, strict=True), *zip(changed_raw, changed_recs, strict=True)]:
            model = TYPED_MODELS.get(rec.resource_type)
            if model is None or raw.patient_id is None:
                continue
            typed[model].append(
                model(organization_id=organization_id, patient_id=raw.patient_id, resource_id=raw.pk, **rec.fields)
            )
        for model, rows in typed.items():
            model.objects.bulk_create(rows, batch_size=500)  # type: ignore[attr-defined]

        if touched:
            record_events(
                actor=actor,
                organization_id=organization_id,
                events=[
                    EventSpec(action="registry.fhir_imported", patient_id=pid, object_type="Patient",
                              object_id=str(pid), detail={"resources": n, "source": source_system})
                    for pid, n in sorted(touched.items())
                ],
            )
    return result


def _raw(organization_id: int, source_system: str, rec: RecordLike, patient_id: int | None) -> FhirResource:
    return FhirResource(
        organization_id=organization_id, resource_type=rec.resource_type, source_system=source_system,
        source_id=rec.source_id, version_id=rec.version_id, content_hash=rec.content_hash, body=rec.body,
        patient_id=patient_id,
    )


def _identifier_rows(organization_id: int, patient_id: int, identifiers: list[dict[str, str]]) -> list[PatientIdentifier]:
    return [
        PatientIdentifier(organization_id=organization_id, patient_id=patient_id, system=i["system"][:200],
                          value=i["value"][:128], type_code=i["type_code"][:16], assigner=i["assigner"][:200])
        for i in identifiers
    ]


def _replace_identifiers(organization_id: int, patient_id: int, identifiers: list[dict[str, str]]) -> None:
    PatientIdentifier.objects.filter(organization_id=organization_id, patient_id=patient_id).delete()
    PatientIdentifier.objects.bulk_create(
        _identifier_rows(organization_id, patient_id, identifiers), ignore_conflicts=True
    )


__all__ = ["MODELED_TYPES", "BatchResult", "apply_fhir_batch", "quarantine"]
