"""The bulk write path: rows prepared in the parse process, ids reserved up front, the SQLite bulk session."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.db import connection

from careloop.clinics.tests.factories import make_org
from careloop.core.actor import Actor
from careloop.core.db import reserve_ids
from careloop.interop.fhir import importer as importer_module
from careloop.interop.fhir.importer import FhirImporter, _relative_resolver
from careloop.interop.fhir.mapping import to_record
from careloop.interop.fhir.tests import factories as fx
from careloop.registry.models import (
    Condition,
    Encounter,
    FhirResource,
    Medication,
    Observation,
    Patient,
    PatientIdentifier,
)
from careloop.registry.services import TYPED_COLUMNS


def test_the_mapping_supplies_exactly_the_registry_columns() -> None:
    resources = [fx.patient("p1", mrn="M1", mbi="1EG4TE5MK73"), *fx.clinical_set("p1", "x")]
    seen = set()
    for resource in resources:
        record = to_record(resource, _relative_resolver)
        assert set(record.fields) == set(TYPED_COLUMNS[record.resource_type]), record.resource_type
        seen.add(record.resource_type)
    assert {"Patient", "Condition", "Observation", "Encounter", "MedicationRequest"} <= seen


@pytest.mark.django_db
def test_reserved_ids_follow_every_id_ever_used() -> None:
    org = make_org()
    fx.import_json(org.pk, fx.bundle([fx.patient("p1"), fx.condition("c1", "urn:uuid:p1")]))
    highest = FhirResource.objects.order_by("-pk").values_list("pk", flat=True)[0]
    FhirResource.objects.filter(pk=highest).delete()  # an id once used is not handed out again
    ids = reserve_ids(FhirResource, 3)
    assert len(set(ids)) == 3
    assert min(ids) > highest


def _folder(tmp_path: Path, patients: int) -> Path:
    from careloop.synth.generator import generate

    out = tmp_path / "clinic"
    generate(patients=patients, seed=7, out_dir=out)
    return out


def _lines(folder: Path) -> dict[str, int]:
    return {p.name.split(".")[0]: sum(1 for ln in p.read_bytes().splitlines() if ln.strip())
            for p in folder.glob("*.ndjson")}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("workers", [1, 3])
def test_parallel_bulk_import_outside_a_transaction(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    workers: int) -> None:
    """The path `careloop import fhir` takes on a large input: a parse process, the bulk session (SQLite: foreign
    key checks off while it runs), explicit ids. Every row must still point at the right rows."""
    folder = _folder(tmp_path, 40)
    monkeypatch.setattr(importer_module, "PARALLEL_MIN_BYTES", 0)
    org = make_org()
    # Batches of 700 rows: messages of one 2,000-line unit, read from the parse processes in turn.
    first = FhirImporter(organization_id=org.pk, source_system="synth", actor=Actor.system(org.pk),
                         workers=workers, batch_size=700).import_paths([folder])
    assert first.rejections == []
    expected = _lines(folder)
    assert {t: c["created"] for t, c in first.as_json().items()} == expected
    assert FhirResource.objects.filter(organization=org).count() == sum(expected.values())
    assert Patient.objects.filter(organization=org).count() == expected["Patient"] == 40
    assert PatientIdentifier.objects.filter(organization=org).count() >= 40
    # Typed rows point at their raw resource, and both at the same patient, the one the resource names.
    for model in (Condition, Observation, Encounter, Medication):
        rows = list(model.objects.filter(organization=org).values_list(  # type: ignore[attr-defined]
            "patient_id", "resource__patient_id", "resource__body", "patient__fhir_id"))
        assert rows
        assert all(pid == raw_pid for pid, raw_pid, _, _ in rows)
    raw_patients = dict(FhirResource.objects.filter(organization=org, resource_type="Patient")
                        .values_list("source_id", "patient_id"))
    for body, pid in FhirResource.objects.filter(organization=org, resource_type="Condition").values_list(
            "body", "patient_id")[:50]:
        ref = body.split('"subject":{"reference":"Patient/')[1].split('"')[0]
        assert raw_patients[ref] == pid
    # A Patient's raw resource is served under the patient's id; every id is unique per type.
    for fhir_id, pfhir in FhirResource.objects.filter(organization=org, resource_type="Patient").values_list(
            "fhir_id", "patient__fhir_id"):
        assert fhir_id == pfhir
    ids = list(FhirResource.objects.values_list("resource_type", "fhir_id"))
    assert len(ids) == len(set(ids))
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA foreign_keys")
            assert cursor.fetchone()[0] == 1  # checks are back on after the import
            cursor.execute("PRAGMA foreign_key_check")
            assert cursor.fetchall() == []  # and nothing written while they were off breaks them

    again = FhirImporter(organization_id=org.pk, source_system="synth", actor=Actor.system(org.pk),
                         workers=workers).import_paths([folder])
    assert {t: (c["created"], c["updated"], c["unchanged"]) for t, c in again.as_json().items()} == {
        t: (0, 0, n) for t, n in expected.items()}
    assert FhirResource.objects.filter(organization=org).count() == sum(expected.values())
