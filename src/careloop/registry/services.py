"""Registry write use-cases. Bulk paths write set-based (a few statements per batch), never per row."""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from django.db import connection, models, transaction
from django.utils import timezone

from careloop.audit.services import EventSpec, record_events
from careloop.core.actor import Actor
from careloop.core.db import insert_rows, update_rows, write_row
from careloop.registry.choices import MODELED_TYPES, Hl7MessageStatus, MatchReviewStatus
from careloop.registry.models import (
    AllergyIntolerance,
    Condition,
    Coverage,
    Encounter,
    EncounterSourceKey,
    FhirResource,
    Immunization,
    Medication,
    Observation,
    Patient,
    PatientEvent,
    PatientIdentifier,
    PatientLink,
    PatientMatchReview,
    Procedure,
    QuarantinedInput,
    RawHl7Message,
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


def _raw_lookup(
    organization_id: int, source_system: str, resource_type: str, source_ids: Sequence[str], columns: str
) -> list[tuple[Any, ...]]:
    """``source_id, <columns>`` of raw resources by their full unique key: one index seek per id.

    Plain SQL because compiling an ORM ``__in`` over a thousand values cost more than running it.
    """
    table = FhirResource._meta.db_table
    marks = ", ".join(["%s"] * len(source_ids))
    sql = (
        f"SELECT source_id, {columns} FROM {table} WHERE organization_id = %s AND source_system = %s "  # noqa: S608
        f"AND resource_type = %s AND source_id IN ({marks})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [organization_id, source_system, resource_type, *source_ids])
        return list(cursor.fetchall())


def _by_type(keys: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    grouped: dict[str, set[str]] = defaultdict(set)
    for rtype, sid in keys:
        grouped[rtype].add(sid)
    return {rtype: sorted(sids) for rtype, sids in grouped.items()}


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
        # Look up by the full unique key (type included) so each probe is an index seek.
        for rtype, sids in _by_type((r.resource_type, r.source_id) for r in ordered).items():
            for chunk in _chunks(sids):
                for sid, rid, digest, owner in _raw_lookup(
                    organization_id, source_system, rtype, chunk, "id, content_hash, patient_id"
                ):
                    existing[(rtype, sid)] = (rid, digest, owner)

        patient_ids: dict[str, int] = {k[1]: v[2] for k, v in existing.items() if k[0] == "Patient" and v[2]}
        wanted = sorted({r.patient_source_id for r in ordered if r.patient_source_id} - set(patient_ids))
        batch_patients = {r.source_id for r in ordered if r.resource_type == "Patient"}
        lookup = [sid for sid in wanted if sid not in batch_patients]
        for chunk in _chunks(lookup):
            for sid, pid in _raw_lookup(organization_id, source_system, "Patient", chunk, "patient_id"):
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
        for rtype, sids in _by_type((rec.resource_type, rec.source_id) for rec, _ in new_raw).items():
            for chunk in _chunks(sids):
                for sid, rid in _raw_lookup(organization_id, source_system, rtype, chunk, "id"):
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


# ---- HL7 v2 hospital notifications (issue #5): interop.hl7v2 owns each batch's transaction and its audit ----
HL7_HEADER = ("sending_application", "sending_facility", "control_id", "message_type", "version")
PATIENT_ROWS: tuple[type[models.Model], ...] = (PatientIdentifier, Coverage, Condition, Medication, Observation,
                                                Encounter, Immunization, Procedure, AllergyIntolerance, FhirResource,
                                                PatientEvent)


def store_hl7_message(*, organization_id: int, header: dict[str, str], raw: str, source: str,
                      status: str = Hl7MessageStatus.RECEIVED, ack_code: str = "", error: str = "") -> int:
    """Keep a received message (``header``: the ``HL7_HEADER`` fields), in the caller's transaction."""
    return write_row(RawHl7Message, {
        "organization": organization_id, "raw": raw, "source": source[:200], "received_at": timezone.now(),
        "status": status, "ack_code": ack_code, "error": error, "content_hash": hashlib.sha1(raw.encode()).hexdigest(),
        **{k: header.get(k, "")[: 40 if k == "message_type" else 16 if k == "version" else 200] for k in HL7_HEADER},
    })


def set_hl7_message_outcomes(outcomes: Sequence[tuple[int, str, str, str, int | None]]) -> None:
    """What became of messages: (id, status, ack code, error or note, patient id), one statement for all."""
    now = timezone.now()
    update_rows(RawHl7Message, ["status", "ack_code", "error", "patient", "applied_at", "updated_at"],
                [(status, ack, error[:10000], patient_id, now if status == Hl7MessageStatus.ACCEPTED else None, now, pk)
                 for pk, status, ack, error, patient_id in outcomes])


def lock_patient(*, patient_id: int) -> None:
    """Serialize writers of one patient's rows until the transaction ends (PostgreSQL; SQLite already does)."""
    if connection.vendor != "sqlite":
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT id FROM {Patient._meta.db_table} WHERE id = %s FOR UPDATE", [patient_id])  # noqa: S608


def save_patient(*, organization_id: int, patient_id: int | None, fields: dict[str, Any],
                 identifiers: Sequence[dict[str, str]] = ()) -> int:
    """Create a patient (``patient_id`` None) or update the given fields; add identifiers it lacks (an identifier
    another patient holds raises IntegrityError: two writers created the same person at once)."""
    if "family" in fields or "given" in fields:
        fields = {**fields, "search_name": f"{fields.get('family', '')} {fields.get('given', '')}".strip().lower()}
    if patient_id is None:
        patient_id = write_row(Patient, {"organization": organization_id, **fields})
    elif fields:
        write_row(Patient, fields, patient_id)
    now = timezone.now()
    insert_rows(PatientIdentifier, ["organization", "patient", "created_at", "updated_at", "system", "value",
                                    "type_code", "assigner"],
                [(organization_id, patient_id, now, now, i["system"][:200], i["value"][:128], i["type_code"][:16],
                  i["assigner"][:200]) for i in identifiers])
    return patient_id


def save_encounter(*, organization_id: int, patient_id: int, encounter_id: int | None, fields: dict[str, Any],
                   source_key: tuple[str, str] | None = None) -> int:
    """Create (with its (facility, visit number) ``source_key``, unique per organization) or update a stay."""
    if encounter_id is None:
        pk = write_row(Encounter, {"organization": organization_id, "patient": patient_id, **fields})
        if source_key is not None:
            write_row(EncounterSourceKey, {"organization": organization_id, "encounter": pk,
                                           "source_kind": fields.get("source_kind", "hl7v2"),
                                           "facility": source_key[0][:200], "visit_number": source_key[1][:64]})
        return pk
    if fields:
        write_row(Encounter, fields, encounter_id)
    return encounter_id


def record_patient_events(rows: Sequence[dict[str, Any]]) -> None:
    """Timeline entries (``PatientEvent`` field values), one statement for all."""
    if rows:
        now = timezone.now()
        names = list(rows[0])
        insert_rows(PatientEvent, ["created_at", "updated_at", *names],
                    [(now, now, *(r[n] for n in names)) for r in rows])


def open_patient_match_review(*, organization_id: int, message_id: int, reason: str, candidates: list[dict[str, Any]],
                              demographics: dict[str, Any], match_key: str) -> int:
    return PatientMatchReview.objects.create(organization_id=organization_id, message_id=message_id, reason=reason,
                                             candidates=candidates, demographics=demographics,
                                             match_key=match_key[:400]).pk


def close_patient_match_review(*, review_id: int, patient_id: int, actor: Actor) -> None:
    PatientMatchReview.objects.filter(pk=review_id).update(
        status=MatchReviewStatus.RESOLVED, resolved_patient_id=patient_id, resolved_by=actor.username,
        resolved_at=timezone.now(), updated_at=timezone.now())


def merge_patients(*, organization_id: int, surviving_id: int, merged_id: int, actor: Actor,
                   message_id: int | None = None) -> dict[str, int]:
    """Move the merged patient's identifiers, encounters, clinical facts and timeline to the surviving patient;
    keep the merged row, inactive, with a ``PatientLink`` to the survivor. Audited, in the caller's transaction."""
    moved: dict[str, int] = {}
    with transaction.atomic():
        for model, fk in [*((m, "patient_id") for m in PATIENT_ROWS), (RawHl7Message, "patient_id"),
                          (PatientLink, "surviving_id")]:
            n = model.objects.filter(organization_id=organization_id, **{fk: merged_id}).update(  # type: ignore[attr-defined]
                **{fk: surviving_id})
            if n and model in PATIENT_ROWS:
                moved[model.__name__] = n
        merged, survivor = (Patient.objects.get(organization_id=organization_id, pk=pk)
                            for pk in (merged_id, surviving_id))
        fill = {f: getattr(merged, f) for f in ("mrn", "mbi", "birth_date", "sex", "phone", "email")
                if getattr(merged, f) and not getattr(survivor, f)}
        Patient.objects.filter(pk=surviving_id).update(**fill, updated_at=timezone.now())
        Patient.objects.filter(pk=merged_id).update(active=False, updated_at=timezone.now())
        PatientLink.objects.create(organization_id=organization_id, merged_id=merged_id, surviving_id=surviving_id,
                                   message_id=message_id, moved=moved)
        record_events(actor=actor, organization_id=organization_id, events=[
            EventSpec("registry.patient_merged", merged_id, "Patient", str(merged_id),
                      detail={"into": surviving_id, "moved": moved}),
            EventSpec("registry.patient_merge_received", surviving_id, "Patient", str(surviving_id),
                      detail={"from": merged_id, "moved": moved})])
    return moved
