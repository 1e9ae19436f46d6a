"""Registry write use-cases. Bulk paths write set-based (a few statements per batch), never per row."""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from django.db import connection, models, transaction
from django.utils import timezone

from careloop.audit.services import EventSpec, merge_events, record_events
from careloop.core.actor import Actor
from careloop.core.db import (
    Converter,
    convert_row,
    insert_prepared,
    insert_rows,
    reserve_ids,
    update_prepared,
    update_rows,
    value_converters,
    write_row,
)
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

# The typed values an importer supplies per resource type, in this order (Patient: the patient's own columns).
_MEDICATION = ("kind", "rxnorm", "display", "status", "intent", "authored_on", "start", "end", "dosage")
TYPED_COLUMNS: dict[str, tuple[str, ...]] = {
    "Patient": ("family", "given", "search_name", "birth_date", "sex", "deceased_at", "deceased", "phone", "email",
                "address_line", "city", "state", "postal_code", "preferred_language", "active", "mrn", "mbi"),
    "Coverage": ("kind", "payor", "member_id", "start", "end", "status"),
    "Condition": ("icd10", "snomed", "display", "clinical_status", "verification_status", "category", "onset",
                  "abatement", "recorded"),
    "MedicationRequest": _MEDICATION,
    "MedicationStatement": _MEDICATION,
    "Observation": ("code", "code_system", "display", "category", "status", "effective_at", "value_num", "unit",
                    "value_code", "value_text", "systolic", "diastolic"),
    "Encounter": ("class_code", "status", "type_code", "type_display", "start", "start_offset", "end", "end_offset",
                  "facility", "location", "discharge_disposition", "diagnoses", "visit_number"),
    "Immunization": ("cvx", "display", "status", "occurred"),
    "Procedure": ("code", "code_system", "display", "status", "performed_start", "performed_end"),
    "AllergyIntolerance": ("code", "display", "clinical_status", "criticality", "category"),
}

# A validated resource ready to write. The importer builds these (in its parse process when it has one) and
# ``apply_fhir_batch`` only binds them:
#   0 resource type, 1 source id, 2 version id, 3 content hash (sha1 of the body), 4 body (compact JSON),
#   5 the patient's source id (or None), 6 a new careloop FHIR id (used if the resource is new),
#   7 typed values (TYPED_COLUMNS order, converted by ``typed_converters`` for the database), 8 Patient
#   identifiers (system, value, type code, assigner), 9 source name, 10 location in the source.
FhirRow = tuple[
    str, str, str, str, str, str | None, str, tuple[Any, ...], tuple[tuple[str, str, str, str], ...], str, str
]

_RAW_COLUMNS = ("id", "organization", "created_at", "updated_at", "resource_type", "source_system", "source_id",
                "fhir_id", "version_id", "content_hash", "body", "patient")
_TYPED_BASE = ("organization", "patient", "resource", "created_at", "updated_at")
_PATIENT_BASE = ("id", "organization", "created_at", "updated_at", "fhir_id")
_IDENTIFIER_COLUMNS = ["organization", "patient", "created_at", "updated_at", "system", "value", "type_code",
                       "assigner"]


@cache
def typed_converters(resource_type: str, vendor: str) -> list[tuple[int, Converter]]:
    """Converters for a type's typed values on ``vendor`` (pure: the importer's parse process runs them)."""
    model = Patient if resource_type == "Patient" else TYPED_MODELS.get(resource_type)
    if model is None:
        return []
    return value_converters(model, TYPED_COLUMNS[resource_type], vendor)


@dataclass
class BatchResult:
    counts: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    rejected: list[tuple[FhirRow, str]] = field(default_factory=list)


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


def _chunks(items: Sequence[str], size: int = 900) -> Iterable[Sequence[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def apply_fhir_batch(
    *, organization_id: int, source_system: str, records: Sequence[FhirRow], actor: Actor
) -> BatchResult:
    """Upsert a batch of validated FHIR resources (``FhirRow``) in one transaction.

    Keyed by (organization, source system, type, source id). Unchanged content (same hash) writes nothing;
    changed content updates the raw resource and replaces its typed row; Patients are updated in place so
    their ids stay stable. A resource whose patient cannot be found is returned as rejected. New rows get their
    ids up front (``reserve_ids``), so the batch is a handful of statements: a lookup per type, one INSERT per
    table, the audit.
    """
    result = BatchResult()
    counts = result.counts
    # The last occurrence of a key in the batch wins; earlier ones count as superseded (unchanged).
    latest: dict[tuple[str, str], FhirRow] = {}
    for row in records:
        key = (row[0], row[1])
        if key in latest:
            counts[row[0]]["unchanged"] += 1
        latest[key] = row
    by_type: dict[str, list[FhirRow]] = defaultdict(list)
    for row in latest.values():
        by_type[row[0]].append(row)

    with transaction.atomic():
        now = timezone.now()
        stamp = convert_row([now], value_converters(FhirResource, ["created_at"], connection.vendor))[0]
        # Look up by the full unique key (type included), in index order, so each probe is a seek.
        existing: dict[tuple[str, str], tuple[int, str, int | None]] = {}
        for rtype, group in by_type.items():
            for chunk in _chunks(sorted(r[1] for r in group)):
                for sid, rid, digest, owner in _raw_lookup(
                    organization_id, source_system, rtype, chunk, "id, content_hash, patient_id"
                ):
                    existing[(rtype, sid)] = (rid, digest, owner)

        touched: Counter[int] = Counter()
        patient_ids: dict[str, int] = {}
        new: list[tuple[FhirRow, int | None]] = []  # (row, patient id) of raw resources to insert
        changed: list[tuple[int, FhirRow, int | None]] = []  # (raw id, row, patient id) to update

        # Patients: update in place (stable ids) or create.
        new_patients: list[FhirRow] = []
        patient_counts = counts["Patient"] if "Patient" in by_type else None
        for row in by_type.get("Patient", ()):
            hit = existing.get(("Patient", row[1]))
            assert patient_counts is not None
            if hit is None:
                new_patients.append(row)
                continue
            raw_id, old_hash, pid = hit
            assert pid is not None
            patient_ids[row[1]] = pid
            if old_hash == row[3]:
                patient_counts["unchanged"] += 1
                continue
            update_prepared(Patient, [*TYPED_COLUMNS["Patient"], "updated_at"], [(*row[7], stamp, pid)])
            _replace_identifiers(organization_id, pid, row[8])
            changed.append((raw_id, row, pid))
            touched[pid] += 1
            patient_counts["updated"] += 1
        if new_patients:
            assert patient_counts is not None
            ids = reserve_ids(Patient, len(new_patients))
            insert_prepared(
                Patient,
                [*_PATIENT_BASE, *TYPED_COLUMNS["Patient"]],
                [
                    (pid, organization_id, stamp, stamp, row[6], *row[7])
                    for pid, row in zip(ids, new_patients, strict=True)
                ],
            )
            identifiers: list[tuple[Any, ...]] = []
            for pid, row in zip(ids, new_patients, strict=True):
                patient_ids[row[1]] = pid
                touched[pid] += 1
                new.append((row, pid))
                identifiers.extend(
                    (organization_id, pid, now, now, system[:200], value[:128], type_code[:16], assigner[:200])
                    for system, value, type_code, assigner in row[8]
                )
            patient_counts["created"] += len(new_patients)
            insert_rows(PatientIdentifier, _IDENTIFIER_COLUMNS, identifiers, ignore_conflicts=True)

        # The patients the other resources point at, when not in this batch.
        wanted = {r[5] for rtype, group in by_type.items() if rtype != "Patient" for r in group if r[5] is not None}
        wanted.difference_update(patient_ids)
        for chunk in _chunks(sorted(wanted)):
            for sid, pid in _raw_lookup(organization_id, source_system, "Patient", chunk, "patient_id"):
                if pid:
                    patient_ids[sid] = pid

        # Everything else.
        for rtype, group in by_type.items():
            if rtype == "Patient":
                continue
            typed = rtype in TYPED_MODELS
            type_counts = counts[rtype]
            for row in group:
                ref_pid: int | None = None
                if row[5] is not None:
                    ref_pid = patient_ids.get(row[5])
                    if ref_pid is None:
                        result.rejected.append((
                            row,
                            f"{rtype}/{row[1]} refers to Patient/{row[5]}, which is neither in this input nor "
                            "already imported from this source",
                        ))
                        type_counts["rejected"] += 1
                        continue
                elif typed:
                    result.rejected.append((row, f"{rtype}/{row[1]} has no patient reference"))
                    type_counts["rejected"] += 1
                    continue
                hit = existing.get((rtype, row[1]))
                if hit is None:
                    new.append((row, ref_pid))
                    type_counts["created"] += 1
                elif hit[1] == row[3]:
                    type_counts["unchanged"] += 1
                    continue
                else:
                    changed.append((hit[0], row, ref_pid))
                    type_counts["updated"] += 1
                if ref_pid is not None:
                    touched[ref_pid] += 1

        # Raw resources (with their ids reserved), then the typed rows pointing at them.
        raw_ids = reserve_ids(FhirResource, len(new))
        insert_prepared(
            FhirResource,
            _RAW_COLUMNS,
            [
                (rid, organization_id, stamp, stamp, row[0], source_system, row[1], row[6], row[2], row[3], row[4], pid)
                for rid, (row, pid) in zip(raw_ids, new, strict=True)
            ],
        )
        typed_rows: dict[type[models.Model], list[tuple[Any, ...]]] = defaultdict(list)
        for rid, (row, pid) in zip(raw_ids, new, strict=True):
            typed_model = TYPED_MODELS.get(row[0])
            if typed_model is not None and pid is not None:
                typed_rows[typed_model].append((organization_id, pid, rid, stamp, stamp, *row[7]))
        if changed:
            update_prepared(
                FhirResource,
                ["body", "content_hash", "version_id", "patient", "updated_at"],
                [(row[4], row[3], row[2], pid, stamp, raw_id) for raw_id, row, pid in changed],
            )
            stale: dict[type[models.Model], list[int]] = defaultdict(list)
            for raw_id, row, pid in changed:
                typed_model = TYPED_MODELS.get(row[0])
                if typed_model is not None:
                    stale[typed_model].append(raw_id)
                    if pid is not None:
                        typed_rows[typed_model].append((organization_id, pid, raw_id, stamp, stamp, *row[7]))
            for model, ids_ in stale.items():
                for chunk_ids in range(0, len(ids_), 900):
                    model.objects.filter(resource_id__in=ids_[chunk_ids : chunk_ids + 900]).delete()  # type: ignore[attr-defined]
        for model, rows in typed_rows.items():
            # MedicationRequest and MedicationStatement share a table and a column list.
            columns = TYPED_COLUMNS["MedicationRequest" if model is Medication else _type_of(model)]
            insert_prepared(model, [*_TYPED_BASE, *columns], rows)

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


@cache
def _type_of(model: type[models.Model]) -> str:
    return next(rtype for rtype, m in TYPED_MODELS.items() if m is model)


def _replace_identifiers(
    organization_id: int, patient_id: int, identifiers: Sequence[tuple[str, str, str, str]]
) -> None:
    PatientIdentifier.objects.filter(organization_id=organization_id, patient_id=patient_id).delete()
    now = timezone.now()
    insert_rows(
        PatientIdentifier,
        _IDENTIFIER_COLUMNS,
        [
            (organization_id, patient_id, now, now, system[:200], value[:128], type_code[:16], assigner[:200])
            for system, value, type_code, assigner in identifiers
        ],
        ignore_conflicts=True,
    )


__all__ = ["MODELED_TYPES", "TYPED_COLUMNS", "BatchResult", "FhirRow", "apply_fhir_batch", "quarantine",
           "typed_converters"]


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


def reserve_hl7_message_ids(count: int) -> list[int]:
    """Ids for ``store_hl7_messages``, in the caller's transaction (``core.db.reserve_ids``)."""
    return reserve_ids(RawHl7Message, count)


def store_hl7_messages(*, organization_id: int,
                       messages: Sequence[tuple[int, dict[str, str], str, str, str, str, str, int | None]]) -> None:
    """Keep received messages already processed in the caller's transaction, each (reserved id, header, raw,
    source, status, ack code, error or note, patient id): ``store_hl7_message`` and ``set_hl7_message_outcomes`` in
    one multi-row INSERT."""
    if not messages:
        return
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    names = ["id", "organization_id", "created_at", "updated_at", "raw", "source", "received_at", "status",
             "ack_code", "error", "patient_id", "applied_at", "content_hash", *HL7_HEADER]
    rows = [(pk, organization_id, now, now, raw, source[:200], now, status, ack, error[:10000], patient_id,
             now if status == Hl7MessageStatus.ACCEPTED else None, hashlib.sha1(raw.encode()).hexdigest(),
             *(header.get(k, "")[: 40 if k == "message_type" else 16 if k == "version" else 200] for k in HL7_HEADER))
            for pk, header, raw, source, status, ack, error, patient_id in messages]
    qn = connection.ops.quote_name
    one = "(" + ", ".join(["%s"] * len(names)) + ")"
    per = max(1, (connection.features.max_query_params or 999) // len(names))
    with connection.cursor() as cursor:
        for lo in range(0, len(rows), per):
            chunk = rows[lo : lo + per]
            cursor.execute(
                f"INSERT INTO {qn(RawHl7Message._meta.db_table)} ({', '.join(qn(c) for c in names)}) "  # noqa: S608 - model metadata, values bound
                f"VALUES {', '.join([one] * len(chunk))}", [v for row in chunk for v in row])


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
            # NO KEY UPDATE: serializes writers of the patient without blocking rows that merely reference it
            # (the transitions worker inserting episodes and tasks takes KEY SHARE locks through their FKs).
            cursor.execute(f"SELECT id FROM {Patient._meta.db_table} WHERE id = %s FOR NO KEY UPDATE",  # noqa: S608
                           [patient_id])


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


# ---- the same writes for a batch of HL7 messages, set-based: new rows get ids reserved up front, so that the
# batch can refer to them before they are written together (``interop.hl7v2.reads.BatchReads``) ----


def reserve_patient_ids(count: int) -> list[int]:
    """Ids for ``create_patients``, in the caller's transaction (``core.db.reserve_ids``)."""
    return reserve_ids(Patient, count)


def reserve_encounter_ids(count: int) -> list[int]:
    """Ids for ``create_encounters``, in the caller's transaction (``core.db.reserve_ids``)."""
    return reserve_ids(Encounter, count)


def _union_rows(model: type[models.Model], items: Sequence[dict[str, Any]]) -> tuple[list[str], list[list[Any]]]:
    """Rows of varying field sets as one column list: a field a row does not give takes its default, as
    ``write_row`` would have written it."""
    given = {k for item in items for k in item}
    defaults = {f.name: f.get_default() for f in model._meta.concrete_fields if f.name in given}
    names = list(defaults)
    return names, [[item[n] if n in item else defaults[n] for n in names] for item in items]


def create_patients(*, organization_id: int, patients: Sequence[tuple[int, dict[str, Any], Sequence[dict[str, str]]]]
                    ) -> None:
    """``save_patient`` for new patients, each (reserved id, fields, identifiers): one INSERT for the patients, one
    for their identifiers."""
    if not patients:
        return
    now = timezone.now()
    items = []
    for pid, fields, _ in patients:
        if "family" in fields or "given" in fields:
            fields = {**fields,
                      "search_name": f"{fields.get('family', '')} {fields.get('given', '')}".strip().lower()}
        items.append({"id": pid, "organization": organization_id, "created_at": now, "updated_at": now, **fields})
    names, rows = _union_rows(Patient, items)
    insert_rows(Patient, names, rows, multi_row=True)
    insert_rows(PatientIdentifier, ["organization", "patient", "created_at", "updated_at", "system", "value",
                                    "type_code", "assigner"],
                [(organization_id, pid, now, now, i["system"][:200], i["value"][:128], i["type_code"][:16],
                  i["assigner"][:200]) for pid, _, identifiers in patients for i in identifiers], multi_row=True)


def create_encounters(*, organization_id: int,
                      encounters: Sequence[tuple[int, int, dict[str, Any], tuple[str, str] | None]]) -> None:
    """``save_encounter`` for new stays, each (reserved id, patient id, fields, source key or None): one INSERT for
    the stays, one for their keys."""
    if not encounters:
        return
    now = timezone.now()
    names, rows = _union_rows(Encounter, [
        {"id": eid, "organization": organization_id, "patient": pid, "created_at": now, "updated_at": now, **fields}
        for eid, pid, fields, _ in encounters])
    insert_rows(Encounter, names, rows, multi_row=True)
    insert_rows(EncounterSourceKey, ["organization", "encounter", "created_at", "updated_at", "source_kind",
                                     "facility", "visit_number"],
                [(organization_id, eid, now, now, fields.get("source_kind", "hl7v2"), key[0][:200], key[1][:64])
                 for eid, _, fields, key in encounters if key is not None], multi_row=True)


def update_encounters(updates: Sequence[tuple[int, dict[str, Any]]]) -> None:
    """``save_encounter`` for existing stays, each (id, changed fields): one UPDATE per set of fields changed."""
    now = timezone.now()
    groups: dict[tuple[str, ...], list[list[Any]]] = {}
    for eid, fields in updates:
        if fields:
            groups.setdefault(tuple(fields), []).append([*fields.values(), now, eid])
    for names, rows in groups.items():
        update_rows(Encounter, [*names, "updated_at"], rows)


def record_patient_events(rows: Sequence[dict[str, Any]]) -> None:
    """Timeline entries (``PatientEvent`` field values), one statement for all."""
    if rows:
        now = timezone.now()
        names = list(rows[0])
        insert_rows(PatientEvent, ["created_at", "updated_at", *names],
                    [(now, now, *(r[n] for n in names)) for r in rows], multi_row=True)


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
        record_events(actor=actor, organization_id=organization_id, events=merge_events(
            "registry", merged_id=merged_id, surviving_id=surviving_id, moved=moved))
    return moved
