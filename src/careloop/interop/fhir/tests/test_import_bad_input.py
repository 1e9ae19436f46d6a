"""FHIR import robustness: each bad input is quarantined with its reason and raw text; the rest still loads."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import orjson
import pytest

from careloop.clinics.tests.factories import make_org
from careloop.core.actor import Actor
from careloop.interop.fhir.importer import FhirImporter, expand_paths
from careloop.interop.fhir.tests import factories as fx
from careloop.registry.models import Condition, Encounter, FhirResource, Patient, QuarantinedInput


def _quarantine() -> list[tuple[str, str, str, str]]:
    return list(QuarantinedInput.objects.order_by("pk").values_list("source_name", "location", "resource_type",
                                                                     "reason"))


def _ok(summary, rtype: str, n: int = 1) -> None:  # type: ignore[no-untyped-def]
    assert summary.as_json()[rtype] == {"created": n, "updated": 0, "unchanged": 0, "rejected": 0}


@pytest.mark.django_db
def test_malformed_json_line_in_ndjson() -> None:
    org = make_org()
    broken = b'{"resourceType": "Condition", "id": "c2", "subject": '
    data = fx.ndjson([fx.patient("p1")]) + broken + b"\n" + fx.ndjson([fx.condition("c1", "Patient/p1")])
    summary = fx.import_ndjson(org.pk, data, name="Condition.ndjson")
    _ok(summary, "Patient")
    _ok(summary, "Condition")
    assert summary.as_json()["unknown"] == {"created": 0, "updated": 0, "unchanged": 0, "rejected": 1}
    row = QuarantinedInput.objects.get()
    assert (row.organization_id, row.channel, row.source_name, row.location, row.resource_type) == (
        org.pk, "fhir-file", "Condition.ndjson", "line 2", "")
    assert row.reason.startswith("malformed JSON: ")
    assert row.raw == broken.decode() + "\n"


@pytest.mark.django_db
def test_blank_lines_are_skipped_and_a_non_object_line_is_rejected() -> None:
    org = make_org()
    data = b"\n" + fx.ndjson([fx.patient("p1")]) + b"   \n[1, 2]\n"
    summary = fx.import_ndjson(org.pk, data)
    _ok(summary, "Patient")
    assert _quarantine() == [("test.ndjson", "line 4", "", "a resource must be a JSON object")]


@pytest.mark.django_db
def test_unknown_resource_type() -> None:
    org = make_org()
    typo = {"resourceType": "Pateint", "id": "p2"}
    summary = fx.import_json(org.pk, fx.bundle([fx.patient("p1"), typo]))
    _ok(summary, "Patient")
    assert summary.as_json()["Pateint"]["rejected"] == 1
    assert _quarantine() == [("test.json", "entry[1]", "Pateint", "unknown resource type 'Pateint'")]
    assert orjson.loads(QuarantinedInput.objects.get().raw) == typo


@pytest.mark.django_db
def test_dangling_urn_uuid_reference_in_a_bundle() -> None:
    org = make_org()
    good = fx.condition("c1", "urn:uuid:p1")
    dangling = fx.condition("c2", "urn:uuid:no-such-entry")
    summary = fx.import_json(org.pk, fx.bundle([fx.patient("p1"), good, dangling]))
    _ok(summary, "Patient")
    assert summary.as_json()["Condition"] == {"created": 1, "updated": 0, "unchanged": 0, "rejected": 1}
    assert _quarantine() == [("test.json", "entry[2]", "Condition",
                              "dangling reference 'urn:uuid:no-such-entry': not a fullUrl in this Bundle")]
    assert orjson.loads(QuarantinedInput.objects.get().raw) == dangling
    assert Condition.objects.get().patient == Patient.objects.get()


@pytest.mark.django_db
def test_condition_for_an_unknown_patient() -> None:
    org = make_org()
    orphan = fx.condition("c9", "Patient/ghost")
    summary = fx.import_json(org.pk, fx.bundle([fx.patient("p1"), fx.condition("c1", "Patient/p1"), orphan],
                                               urn=False))
    _ok(summary, "Patient")
    assert summary.as_json()["Condition"] == {"created": 1, "updated": 0, "unchanged": 0, "rejected": 1}
    assert _quarantine() == [("test.json", "entry[2]", "Condition",
                              "Condition/c9 refers to Patient/ghost, which is neither in this input nor already "
                              "imported from this source")]
    assert orjson.loads(QuarantinedInput.objects.get().raw) == orphan
    assert not FhirResource.objects.filter(source_id="c9").exists()


@pytest.mark.django_db
def test_patient_imported_from_another_source_does_not_count() -> None:
    org = make_org()
    fx.import_json(org.pk, fx.patient("p1"), source="ehr-a")
    summary = fx.import_json(org.pk, fx.condition("c1", "Patient/p1"), source="ehr-b")
    assert summary.as_json()["Condition"]["rejected"] == 1
    assert Condition.objects.count() == 0


@pytest.mark.parametrize(
    ("bad", "rtype", "reason"),
    [
        (fx.patient("p2", birth_date="2026-02-30"), "Patient",
         "Patient.birthDate: '2026-02-30' is not a real date (day is out of range for month)"),
        (fx.patient("p2", birth_date="1950-13-01"), "Patient",
         "Patient.birthDate: '1950-13-01' is not a real date (month must be in 1..12)"),
        (fx.patient("p2", birth_date="01/04/1950"), "Patient", "Patient.birthDate: '01/04/1950' is not a FHIR date"),
        (fx.condition("c2", "Patient/p1", onset="2020-05-01", abatementDateTime="2020-04-30"), "Condition",
         "Condition.abatement is before Condition.onset"),
        (fx.condition("c2", "Patient/p1", onset="2021-02-29"), "Condition",
         "Condition.onset: '2021-02-29' is not a real date (day is out of range for month)"),
        (fx.encounter("e2", "Patient/p1", start="2025-03-01T10:00:00Z", end="2025-03-01T09:59:00Z"), "Encounter",
         "Encounter.period.end is before Encounter.period.start"),
        (fx.encounter("e2", "Patient/p1", start="2025-03-01T25:00:00Z"), "Encounter",
         "Encounter.period.start: '2025-03-01T25:00:00Z' is not a FHIR dateTime"),
        (fx.observation("o2", "Patient/p1", effective="2025-02-29T10:00:00Z"), "Observation",
         "Observation.effective: '2025-02-29T10:00:00Z' is not a FHIR dateTime"),
    ],
    ids=["birth-feb-30", "birth-month-13", "birth-us-format", "abatement-before-onset", "onset-feb-29-2021",
         "encounter-end-before-start", "encounter-hour-25", "observation-feb-29-2025"],
)
@pytest.mark.django_db
def test_impossible_dates(bad: dict, rtype: str, reason: str) -> None:  # type: ignore[type-arg]
    org = make_org()
    good = [fx.patient("p1"), fx.condition("c1", "Patient/p1"), fx.encounter("e1", "Patient/p1"),
            fx.observation("o1", "Patient/p1")]
    summary = fx.import_ndjson(org.pk, fx.ndjson([*good, bad]))
    for t in ("Patient", "Condition", "Encounter", "Observation"):
        assert summary.as_json()[t]["created"] == 1, t
    assert summary.as_json()[rtype]["rejected"] == 1
    assert _quarantine() == [("test.ndjson", "line 5", rtype, reason)]
    assert orjson.loads(QuarantinedInput.objects.get().raw) == bad


@pytest.mark.parametrize(
    ("bad", "rtype", "reason"),
    [
        (fx.patient("p2", gender="robot"), "Patient",
         "Patient.gender 'robot' is not one of male, female, other, unknown"),
        (fx.patient("p2", name={"family": "Doe"}), "Patient", "Patient.name must be a list"),
        (fx.patient("p2", birth_date=19500401), "Patient",  # type: ignore[arg-type]
         "Patient.birthDate: expected a date string, got int"),
        ({"resourceType": "Patient", "id": "bad id!"}, "Patient",
         "Patient.id 'bad id!' is missing or not a valid FHIR id"),
        ({"resourceType": "Patient"}, "Patient", "Patient.id None is missing or not a valid FHIR id"),
        ({"id": "x"}, "", "resourceType is missing"),
        (fx.observation("o2", "Patient/p1", valueQuantity={"value": "high", "unit": "%"}), "Observation",
         "Observation.valueQuantity.value: 'high' is not a number"),
        ({**fx.encounter("e2", "Patient/p1"), "period": "2025-03-01"}, "Encounter",
         "Encounter has an element of the wrong shape ('str' object has no attribute 'get')"),
        ({**fx.encounter("e2", "Patient/p1"), "status": None}, "Encounter", "Encounter.status is required"),
        ({k: v for k, v in fx.condition("c2", "Patient/p1").items() if k != "subject"}, "Condition",
         "Condition.subject is required"),
    ],
    ids=["gender-robot", "name-not-list", "birthdate-int", "bad-id", "no-id", "no-resource-type",
         "value-not-number", "period-string", "status-null", "no-subject"],
)
@pytest.mark.django_db
def test_wrong_shapes(bad: dict, rtype: str, reason: str) -> None:  # type: ignore[type-arg]
    org = make_org()
    summary = fx.import_ndjson(org.pk, fx.ndjson([fx.patient("p1"), bad, fx.condition("c1", "Patient/p1")]))
    assert (summary.as_json()["Patient"]["created"], summary.as_json()["Condition"]["created"]) == (1, 1)
    assert summary.as_json()[rtype or "unknown"]["rejected"] == 1
    assert _quarantine() == [("test.ndjson", "line 2", rtype, reason)]
    assert orjson.loads(QuarantinedInput.objects.get().raw) == bad


@pytest.mark.parametrize("element", ["clinicalStatus", "code"])
@pytest.mark.django_db
def test_codeable_concept_given_as_a_string_is_rejected(element: str) -> None:
    # A string where a CodeableConcept belongs must not be stored as an empty code (a condition whose
    # clinicalStatus is lost silently drops out of every "active condition" count).
    org = make_org()
    bad = {**fx.condition("c2", "Patient/p1"), element: "active" if element == "clinicalStatus" else "E11.9"}
    summary = fx.import_ndjson(org.pk, fx.ndjson([fx.patient("p1"), bad, fx.condition("c1", "Patient/p1")]))
    assert summary.as_json()["Condition"] == {"created": 1, "updated": 0, "unchanged": 0, "rejected": 1}
    row = QuarantinedInput.objects.get()
    assert (row.location, row.resource_type) == ("line 2", "Condition")
    assert row.reason.startswith("Condition")
    assert orjson.loads(row.raw) == bad
    assert list(FhirResource.objects.filter(resource_type="Condition").values_list("source_id", flat=True)) == ["c1"]


@pytest.mark.django_db
def test_bundle_level_problems() -> None:
    org = make_org()
    doc = fx.bundle([fx.patient("p1")])
    doc["entry"].append({"fullUrl": "urn:uuid:x"})
    doc["entry"].append({"resource": fx.patient("p2"), "request": {"method": "DELETE", "url": "Patient/p2"}})
    summary = fx.import_json(org.pk, doc)
    _ok(summary, "Patient")
    assert _quarantine() == [("test.json", "entry[1]", "", "Bundle entry has no resource"),
                             ("test.json", "entry[2]", "", "DELETE entries are not applied by import")]
    fx.import_json(org.pk, {"resourceType": "Bundle", "type": "collection", "entry": {"not": "a list"}}, name="b.json")
    fx.import_json(org.pk, [1, 2], name="c.json")
    imp = fx.importer(org.pk)
    imp.import_bytes(b'{"resourceType": "Patient", "id": ', "d.json")
    assert _quarantine()[2:4] == [("b.json", "Bundle.entry", "Bundle", "Bundle.entry must be a list"),
                                 ("c.json", "document", "", "a FHIR document must be a JSON object")]
    last = QuarantinedInput.objects.order_by("pk").last()
    assert (last.source_name, last.location) == ("d.json", "document")
    assert last.reason.startswith("malformed JSON: ")
    assert last.raw == '{"resourceType": "Patient", "id": '
    assert Patient.objects.count() == 1


@pytest.mark.django_db
def test_entries_without_id_take_it_from_the_urn_uuid_full_url() -> None:
    org = make_org()
    pat = fx.patient("p1")
    del pat["id"]
    cond = fx.condition("c1", "urn:uuid:aaaa-1111")
    del cond["id"]
    doc = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": "urn:uuid:aaaa-1111", "resource": pat}, {"fullUrl": "urn:uuid:bbbb-2222", "resource": cond}]}
    summary = fx.import_json(org.pk, doc)
    _ok(summary, "Patient")
    _ok(summary, "Condition")
    assert sorted(FhirResource.objects.values_list("resource_type", "source_id")) == [
        ("Condition", "bbbb-2222"), ("Patient", "aaaa-1111")]


@pytest.mark.django_db
def test_updated_resource_counts_as_updated_and_changes_the_typed_row() -> None:
    org = make_org()
    fx.import_json(org.pk, fx.bundle([fx.patient("p1", family="Doe", mrn="M1"), fx.condition("c1", "Patient/p1"),
                                      fx.encounter("e1", "Patient/p1")]))
    patient = Patient.objects.get()
    condition_raw = FhirResource.objects.get(resource_type="Condition")
    again = fx.import_json(org.pk, fx.bundle([
        fx.patient("p1", family="Doe-Smith", mrn="M2"),
        fx.condition("c1", "Patient/p1", status="resolved", abatementDateTime="2024-01-01"),
        fx.encounter("e1", "Patient/p1"),
    ]))
    assert again.as_json() == {
        "Patient": {"created": 0, "updated": 1, "unchanged": 0, "rejected": 0},
        "Condition": {"created": 0, "updated": 1, "unchanged": 0, "rejected": 0},
        "Encounter": {"created": 0, "updated": 0, "unchanged": 1, "rejected": 0},
    }
    updated = Patient.objects.get()
    assert (updated.pk, updated.fhir_id) == (patient.pk, patient.fhir_id)  # ids are stable
    assert (updated.family, updated.search_name, updated.mrn) == ("Doe-Smith", "doe-smith jane", "M2")
    assert list(updated.identifiers.values_list("value", flat=True)) == ["M2"]
    cond = Condition.objects.get()
    assert (cond.clinical_status, cond.abatement, cond.resource_id) == ("resolved", dt.date(2024, 1, 1),
                                                                        condition_raw.pk)
    raw = FhirResource.objects.get(resource_type="Condition")
    assert (raw.pk, raw.fhir_id) == (condition_raw.pk, condition_raw.fhir_id)
    assert orjson.loads(raw.body)["clinicalStatus"]["coding"][0]["code"] == "resolved"
    assert Encounter.objects.count() == 1


@pytest.mark.django_db
def test_same_resource_twice_in_one_input_last_one_wins() -> None:
    org = make_org()
    summary = fx.import_ndjson(org.pk, fx.ndjson([fx.patient("p1"), fx.condition("c1", "Patient/p1", status="active"),
                                                  fx.condition("c1", "Patient/p1", status="resolved")]))
    assert summary.as_json()["Condition"] == {"created": 1, "updated": 0, "unchanged": 1, "rejected": 0}
    assert Condition.objects.get().clinical_status == "resolved"


def _write_folder(folder: Path) -> None:
    (folder / "nested").mkdir()
    (folder / "Condition.ndjson").write_bytes(fx.ndjson([fx.condition("c1", "Patient/p1"),
                                                         fx.condition("c2", "Patient/p2")]))
    (folder / "Encounter.ndjson").write_bytes(fx.ndjson([fx.encounter("e1", "Patient/p2")]))
    (folder / "nested" / "Patient.ndjson").write_bytes(fx.ndjson([fx.patient("p1"), fx.patient("p2", given="Jo")]))
    (folder / "Organization.ndjson").write_bytes(fx.ndjson([{"resourceType": "Organization", "id": "o1",
                                                             "name": "General Hospital"}]))
    (folder / "manifest.json").write_bytes(b'{"transactionTime": "2026-03-09T00:00:00Z"}')
    (folder / "notes.txt").write_bytes(b"not FHIR")


@pytest.mark.django_db
def test_ndjson_folder_import_reads_patient_files_first(tmp_path: Path) -> None:
    _write_folder(tmp_path)
    assert [p.relative_to(tmp_path).as_posix() for p in expand_paths([tmp_path])] == [
        "nested/Patient.ndjson", "Organization.ndjson", "Condition.ndjson", "Encounter.ndjson"]
    org = make_org()
    # One resource per batch: the Conditions only resolve because the Patient file was imported first.
    imp = FhirImporter(organization_id=org.pk, source_system="bulk", actor=Actor.system(org.pk), batch_size=1)
    summary = imp.import_paths([tmp_path])
    assert summary.rejections == []
    assert summary.as_json() == {
        "Condition": {"created": 2, "updated": 0, "unchanged": 0, "rejected": 0},
        "Encounter": {"created": 1, "updated": 0, "unchanged": 0, "rejected": 0},
        "Organization": {"created": 1, "updated": 0, "unchanged": 0, "rejected": 0},
        "Patient": {"created": 2, "updated": 0, "unchanged": 0, "rejected": 0},
    }
    assert Condition.objects.count() == 2


@pytest.mark.django_db
def test_import_paths_refuses_a_missing_path(tmp_path: Path) -> None:
    org = make_org()
    with pytest.raises(FileNotFoundError):
        fx.importer(org.pk).import_paths([tmp_path / "missing.ndjson"])
