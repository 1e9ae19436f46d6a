"""Registry write use-cases. Bulk paths write set-based (a few statements per batch), never per row."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from django.db import models, transaction
from django.utils import timezone

from careloop.audit.services import EventSpec, record_events
from careloop.core.actor import Actor
from careloop.core.db import insert_rows
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
    new_fhir_id,
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
        organization_id=organization_id,
        channel=channel,
        source_name=source_name[:500],
        location=location[:200],
        reason=reason,
        raw=raw,
        resource_type=resource_type[:64],
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
                organization_id=organization_id,
                source_system=source_system,
                resource_type="Patient",
                source_id__in=chunk,
            ).values_list("source_id", "patient_id"):
                if pid:
                    patient_ids[sid] = pid

        now = timezone.now()
        new_raw: list[tuple[RecordLike, int | None]] = []
        changed: list[tuple[int, RecordLike, int | None]] = []
        touched: Counter[int] = Counter()

        # Patients: update in place (stable ids) or create.
        new_patients: list[RecordLike] = []
        patient_fhir_ids: dict[str, str] = {}  # a Patient's raw resource is served under the patient's id
        for rec in ordered:
            if rec.resource_type != "Patient":
                break
            key = (rec.resource_type, rec.source_id)
            if key in existing:
                raw_id, old_hash, found = existing[key]
                if old_hash == rec.content_hash:
                    result.counts["Patient"]["unchanged"] += 1
                    continue
                assert found is not None
                pid = found
                Patient.objects.filter(pk=pid).update(**rec.fields, updated_at=now)
                _replace_identifiers(organization_id, pid, rec.identifiers)
                changed.append((raw_id, rec, pid))
                touched[pid] += 1
                result.counts["Patient"]["updated"] += 1
            else:
                new_patients.append(rec)
        if new_patients:
            keys = list(new_patients[0].fields)
            fhir_ids = [new_fhir_id() for _ in new_patients]
            insert_rows(
                Patient,
                ["organization", "created_at", "updated_at", "fhir_id", *keys],
                [
                    (organization_id, now, now, fid, *(rec.fields[k] for k in keys))
                    for fid, rec in zip(fhir_ids, new_patients, strict=True)
                ],
            )
            by_fhir_id: dict[str, int] = {}
            for chunk in _chunks(fhir_ids):
                by_fhir_id.update(Patient.objects.filter(fhir_id__in=chunk).values_list("fhir_id", "pk"))
            ident_rows: list[tuple[Any, ...]] = []
            for fid, rec in zip(fhir_ids, new_patients, strict=True):
                pid = by_fhir_id[fid]
                patient_fhir_ids[rec.source_id] = fid
                patient_ids[rec.source_id] = pid
                touched[pid] += 1
                new_raw.append((rec, pid))
                ident_rows.extend(
                    (
                        organization_id,
                        pid,
                        now,
                        now,
                        i["system"][:200],
                        i["value"][:128],
                        i["type_code"][:16],
                        i["assigner"][:200],
                    )
                    for i in rec.identifiers
                )
                result.counts["Patient"]["created"] += 1
            insert_rows(
                PatientIdentifier,
                ["organization", "patient", "created_at", "updated_at", "system", "value", "type_code", "assigner"],
                ident_rows,
                ignore_conflicts=True,
            )

        # Everything else.
        for rec in ordered:
            if rec.resource_type == "Patient":
                continue
            ref_pid: int | None = None
            if rec.patient_source_id is not None:
                ref_pid = patient_ids.get(rec.patient_source_id)
                if ref_pid is None:
                    result.rejected.append(
                        (
                            rec,
                            f"{rec.resource_type}/{rec.source_id} refers to Patient/{rec.patient_source_id}, "
                            "which is neither in this input nor already imported from this source",
                        )
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
                changed.append((raw_id, rec, ref_pid))
                result.counts[rec.resource_type]["updated"] += 1
            else:
                new_raw.append((rec, ref_pid))
                result.counts[rec.resource_type]["created"] += 1
            if ref_pid is not None:
                touched[ref_pid] += 1

        # Raw resources, then their ids, then typed rows pointing at them.
        insert_rows(
            FhirResource,
            [
                "organization",
                "created_at",
                "updated_at",
                "resource_type",
                "source_system",
                "source_id",
                "fhir_id",
                "version_id",
                "content_hash",
                "body",
                "patient",
            ],
            [
                (
                    organization_id,
                    now,
                    now,
                    rec.resource_type,
                    source_system,
                    rec.source_id,
                    patient_fhir_ids.get(rec.source_id) if rec.resource_type == "Patient" else new_fhir_id(),
                    rec.version_id,
                    rec.content_hash,
                    rec.body,
                    pid,
                )
                for rec, pid in new_raw
            ],
        )
        raw_ids: dict[tuple[str, str], int] = {}
        new_sids = sorted({rec.source_id for rec, _ in new_raw})
        for chunk in _chunks(new_sids):
            for rtype, sid, rid in FhirResource.objects.filter(
                organization_id=organization_id, source_system=source_system, source_id__in=chunk
            ).values_list("resource_type", "source_id", "pk"):
                raw_ids[(rtype, sid)] = rid
        if changed:
            FhirResource.objects.bulk_update(
                [
                    FhirResource(
                        id=raw_id,
                        body=rec.body,
                        content_hash=rec.content_hash,
                        version_id=rec.version_id,
                        patient_id=pid,
                        updated_at=now,
                    )
                    for raw_id, rec, pid in changed
                ],
                ["body", "content_hash", "version_id", "patient_id", "updated_at"],
                batch_size=500,
            )
            by_model: dict[type[models.Model], list[int]] = defaultdict(list)
            for raw_id, rec, _ in changed:
                if rec.resource_type in TYPED_MODELS:
                    by_model[TYPED_MODELS[rec.resource_type]].append(raw_id)
            for model, ids_ in by_model.items():
                model.objects.filter(resource_id__in=ids_).delete()  # type: ignore[attr-defined]

        typed: dict[type[models.Model], list[tuple[RecordLike, int, int]]] = defaultdict(list)
        for rec, owner in new_raw:
            typed_model = TYPED_MODELS.get(rec.resource_type)
            if typed_model is not None and owner is not None:
                typed[typed_model].append((rec, owner, raw_ids[(rec.resource_type, rec.source_id)]))
        for raw_id, rec, owner in changed:
            typed_model = TYPED_MODELS.get(rec.resource_type)
            if typed_model is not None and owner is not None:
                typed[typed_model].append((rec, owner, raw_id))
        for model, items in typed.items():
            keys = list(items[0][0].fields)
            insert_rows(
                model,
                ["organization", "patient", "resource", "created_at", "updated_at", *keys],
                [
                    (organization_id, pid, raw_id, now, now, *(rec.fields[k] for k in keys))
                    for rec, pid, raw_id in items
                ],
            )

        if touched:
            record_events(
                actor=actor,
                organization_id=organization_id,
                events=[
                    EventSpec(
                        action="registry.fhir_imported",
                        patient_id=pid,
                        object_type="Patient",
                        object_id=str(pid),
                        detail={"resources": n, "source": source_system},
                    )
                    for pid, n in sorted(touched.items())
                ],
            )
    return result


def _replace_identifiers(organization_id: int, patient_id: int, identifiers: list[dict[str, str]]) -> None:
    PatientIdentifier.objects.filter(organization_id=organization_id, patient_id=patient_id).delete()
    now = timezone.now()
    insert_rows(
        PatientIdentifier,
        ["organization", "patient", "created_at", "updated_at", "system", "value", "type_code", "assigner"],
        [
            (
                organization_id,
                patient_id,
                now,
                now,
                i["system"][:200],
                i["value"][:128],
                i["type_code"][:16],
                i["assigner"][:200],
            )
            for i in identifiers
        ],
        ignore_conflicts=True,
    )


__all__ = ["MODELED_TYPES", "BatchResult", "apply_fhir_batch", "quarantine"]
