"""The read-only FHIR R4 facade: careloop ids, rewritten references, searchsets, validity, audit."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from fhir.resources.R4B.condition import Condition as FhirCondition
from fhir.resources.R4B.patient import Patient as FhirPatient

from careloop.audit.models import AuditEvent
from careloop.interop.fhir.tests import factories as fx
from careloop.registry.models import FhirResource, Patient
from careloop.registry.tests.factories import make_patient
from tests.conftest import SHARED_MRN, World

CLINICAL_TYPES = ["Condition", "Observation", "Encounter", "MedicationRequest", "Immunization", "Procedure"]
FHIR_JSON = "application/fhir+json"


def _refs(node: object) -> list[str]:
    if isinstance(node, dict):
        own = [node["reference"]] if isinstance(node.get("reference"), str) else []
        return own + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


@pytest.mark.django_db
def test_read_patient_returns_r4_json_with_careloops_id(world: World) -> None:
    a = world.a
    response = Client().get(f"/fhir/Patient/{a.patient.fhir_id}", **a.headers("provider"))
    assert response.status_code == 200
    assert response["Content-Type"] == FHIR_JSON
    body = response.json()
    assert (body["resourceType"], body["id"]) == ("Patient", a.patient.fhir_id)
    assert body["meta"] == {"source": "ehr-test"}
    assert body["name"] == [{"use": "official", "family": "Alder", "given": ["Ann"]}]
    assert [i["value"] for i in body["identifier"]] == [SHARED_MRN, a.only_mrn]
    FhirPatient.model_validate(body)


@pytest.mark.django_db
def test_patient_without_a_received_resource_is_built_from_the_registry(world: World) -> None:
    p = make_patient(world.a.org, "Built", "Bea Jo", birth_date=dt.date(1940, 1, 2),
                     mrn="MRN-77")
    body = Client().get(f"/fhir/Patient/{p.fhir_id}", **world.a.headers("nurse")).json()
    assert body == {
        "resourceType": "Patient", "id": p.fhir_id,
        "meta": {"profile": ["http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient"]},
        "identifier": [{"system": "urn:oid:1.2.3.4.mrn", "value": "MRN-77", "type": {"coding": [
            {"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]}}],
        "name": [{"family": "Built", "given": ["Bea", "Jo"]}], "gender": "female", "birthDate": "1940-01-02",
    }
    FhirPatient.model_validate(body)


@pytest.mark.parametrize("rtype", CLINICAL_TYPES)
@pytest.mark.django_db
def test_searchset_per_type_points_at_careloops_patient_id(world: World, rtype: str) -> None:
    a = world.a
    response = Client().get(f"/fhir/{rtype}", {"patient": a.patient.fhir_id}, **a.headers("coordinator"))
    assert response.status_code == 200
    assert response["Content-Type"] == FHIR_JSON
    bundle = response.json()
    assert (bundle["resourceType"], bundle["type"], bundle["total"]) == ("Bundle", "searchset", 1)
    assert bundle["link"] == [{"relation": "self",
                               "url": f"http://testserver/fhir/{rtype}?patient={a.patient.fhir_id}"}]
    [entry] = bundle["entry"]
    resource = entry["resource"]
    raw = a.resource(rtype)
    assert (resource["resourceType"], resource["id"]) == (rtype, raw.fhir_id)
    assert entry["fullUrl"] == f"http://testserver/fhir/{rtype}/{raw.fhir_id}"
    assert entry["search"] == {"mode": "match"}
    assert resource["meta"]["source"] == "ehr-test"
    assert _refs(resource) == [f"Patient/{a.patient.fhir_id}"]
    # Following the reference leads back to the patient.
    follow = Client().get(f"/fhir/{_refs(resource)[0]}", **a.headers("coordinator"))
    assert (follow.status_code, follow.json()["id"]) == (200, a.patient.fhir_id)


@pytest.mark.django_db
def test_returned_condition_validates_as_fhir(world: World) -> None:
    a = world.a
    bundle = Client().get("/fhir/Condition", {"subject": f"Patient/{a.patient.fhir_id}"},
                          **a.headers("provider")).json()
    condition = bundle["entry"][0]["resource"]
    FhirCondition.model_validate(condition)
    assert condition["code"]["coding"][0] == {"system": fx.ICD10, "code": "E11.9",
                                              "display": "Type 2 diabetes mellitus"}


@pytest.mark.django_db
def test_references_between_resources_of_a_bundle_are_rewritten(world: World) -> None:
    a = world.a
    enc = fx.encounter("enc-77", "Patient/p1", serviceProvider={"reference": "urn:uuid:org-1", "display": "GH"})
    cond = fx.condition("cond-77", "Patient/p1", encounter={"reference": "urn:uuid:enc-77"})
    org_res = {"resourceType": "Organization", "id": "org-1", "name": "General Hospital"}
    summary = fx.import_json(a.org.pk, fx.bundle([org_res, enc, cond]))
    assert summary.rejections == []
    headers = a.headers("provider")
    ids = {sid: FhirResource.objects.get(source_id=sid, organization=a.org).fhir_id
           for sid in ("cond-77", "enc-77", "org-1")}
    conditions = Client().get("/fhir/Condition", {"patient": a.patient.fhir_id}, **headers).json()
    new = next(e["resource"] for e in conditions["entry"] if e["resource"]["id"] == ids["cond-77"])
    assert new["encounter"] == {"reference": f"Encounter/{ids['enc-77']}"}
    encounters = Client().get("/fhir/Encounter", {"patient": a.patient.fhir_id}, **headers).json()
    new_enc = next(e["resource"] for e in encounters["entry"] if e["resource"]["id"] == ids["enc-77"])
    assert new_enc["serviceProvider"] == {"reference": f"Organization/{ids['org-1']}", "display": "GH"}
    assert new["subject"] == {"reference": f"Patient/{a.patient.fhir_id}"}


@pytest.mark.django_db
def test_absolute_references_are_rewritten_too(world: World) -> None:
    a = world.a
    cond = fx.condition("cond-88", "Patient/p1", encounter={"reference": "https://ehr.example/fhir/Encounter/x-enc"})
    assert fx.import_json(a.org.pk, cond).rejections == []
    bundle = Client().get("/fhir/Condition", {"patient": a.patient.fhir_id}, **a.headers("provider")).json()
    raw_id = FhirResource.objects.get(source_id="cond-88", organization=a.org).fhir_id
    new = next(e["resource"] for e in bundle["entry"] if e["resource"]["id"] == raw_id)
    # The source EHR's URL must not be served as if it were a careloop reference.
    assert new["encounter"] == {"reference": f"Encounter/{a.resource('Encounter').fhir_id}"}


@pytest.mark.django_db
def test_search_paging(world: World) -> None:
    a = world.a
    fx.import_json(a.org.pk, fx.condition("x-cond-2", "Patient/p1", icd10="I10"))
    headers = a.headers("nurse")
    first = Client().get("/fhir/Condition", {"patient": a.patient.fhir_id, "_count": 1}, **headers).json()
    assert (first["total"], len(first["entry"])) == (2, 1)
    assert first["link"][1] == {"relation": "next", "url": f"http://testserver/fhir/Condition?patient="
                                                           f"{a.patient.fhir_id}&_count=1&_offset=1"}
    second = Client().get(first["link"][1]["url"], **headers).json()
    assert (second["total"], len(second["entry"]), len(second["link"])) == (2, 1, 1)
    assert first["entry"][0]["resource"]["id"] != second["entry"][0]["resource"]["id"]


@pytest.mark.django_db
def test_patient_search_total_counts_all_matches_not_the_page(world: World) -> None:
    a = world.a
    make_patient(a.org, "Twin", "Tia", identifiers=[("urn:other", SHARED_MRN)])
    response = Client().get("/fhir/Patient", {"identifier": SHARED_MRN, "_count": 1}, **a.headers("nurse")).json()
    assert len(response["entry"]) == 1
    assert response["total"] == 2


@pytest.mark.parametrize(
    ("path", "status", "code", "message"),
    [
        ("/fhir/Practitioner?patient=x", 400, "not-supported", "search on Practitioner is not supported"),
        ("/fhir/Condition", 400, "required", "Condition searches need a patient parameter"),
        ("/fhir/Patient", 400, "required",
         "Patient searches need an identifier parameter (system|value or value)"),
        ("/fhir/Condition?patient=x&_count=ten", 400, "invalid", "_count and _offset must be integers"),
        ("/fhir/Patient/no-such-id", 404, "not-found", "Patient/no-such-id not found"),
    ],
)
@pytest.mark.django_db
def test_errors_are_operation_outcomes(world: World, path: str, status: int, code: str, message: str) -> None:
    response = Client().get(path, **world.a.headers("nurse"))
    assert response.status_code == status
    assert response["Content-Type"] == FHIR_JSON
    assert response.json() == {"resourceType": "OperationOutcome",
                               "issue": [{"severity": "error", "code": code, "diagnostics": message}]}


@pytest.mark.django_db
def test_every_read_writes_an_audit_event_with_the_patient(world: World) -> None:
    a = world.a
    user = a.user("provider")
    headers = a.headers("provider")
    start = AuditEvent.objects.count()
    Client().get(f"/fhir/Patient/{a.patient.fhir_id}", **headers)
    for rtype in CLINICAL_TYPES:
        Client().get(f"/fhir/{rtype}", {"patient": a.patient.fhir_id}, **headers)
    Client().get("/fhir/Patient", {"identifier": a.only_mrn}, **headers)
    Client().get("/fhir/Patient", {"identifier": "nobody"}, **headers)
    Client().get("/fhir/Patient/no-such-id", **headers)
    events = list(AuditEvent.objects.order_by("pk")[start:])
    assert [(e.action, e.patient_id, e.actor_id, e.outcome) for e in events] == [
        ("fhir.patient_read", a.patient.pk, user.pk, "success"),
        *[(f"fhir.{t.lower()}_searched", a.patient.pk, user.pk, "success") for t in CLINICAL_TYPES],
        ("fhir.patient_searched", a.patient.pk, user.pk, "success"),
        ("fhir.patient_searched", None, user.pk, "success"),
        ("fhir.read_not_found", None, user.pk, "failure"),
    ]
    assert [e.object_id for e in events[:2]] == [a.patient.fhir_id, a.patient.fhir_id]
    assert events[1].detail == '{"returned":1}'
    assert events[-2].detail == '{"matches":0}'
    assert events[-1].object_id == "Patient/no-such-id"
    assert {e.organization_id for e in events} == {a.org.pk}


@pytest.mark.django_db
def test_patient_count_is_unchanged_by_reads(world: World) -> None:
    before = Patient.objects.count()
    Client().get(f"/fhir/Patient/{world.a.patient.fhir_id}", **world.a.headers("provider"))
    assert Patient.objects.count() == before == 2
