"""POST /api/fhir/import: counts for a good body, OperationOutcome for an all-bad one, admin only."""

from __future__ import annotations

import orjson
import pytest
from django.test import Client

from careloop.accounts.rules import ALL_ROLES
from careloop.accounts.tests.factories import bearer, make_token, make_user
from careloop.clinics.tests.factories import make_org
from careloop.interop.fhir.tests import factories as fx
from careloop.registry.models import Condition, FhirResource, Patient, QuarantinedInput

FHIR_JSON = "application/fhir+json"
NDJSON = "application/fhir+ndjson"


@pytest.fixture
def admin():  # type: ignore[no-untyped-def]
    org = make_org("a")
    return org, bearer(make_token(make_user(org, "admin")))


def _post(headers: dict[str, str], body: bytes, content_type: str = FHIR_JSON, query: str = ""):  # type: ignore[no-untyped-def]
    return Client().post(f"/api/fhir/import{query}", data=body, content_type=content_type, **headers)


@pytest.mark.django_db
def test_import_a_bundle_returns_counts(admin) -> None:  # type: ignore[no-untyped-def]
    org, headers = admin
    body = orjson.dumps(fx.bundle([fx.patient("p1"), *fx.clinical_set("p1", "x")]))
    response = _post(headers, body, query="?source=epic-prod")
    assert response.status_code == 200
    one = {"created": 1, "updated": 0, "unchanged": 0, "rejected": 0}
    assert response.json() == {"counts": {t: one for t in ["Condition", "Encounter", "Immunization",
                                                           "MedicationRequest", "Observation", "Patient",
                                                           "Procedure"]}, "rejections": []}
    assert set(FhirResource.objects.values_list("organization_id", "source_system")) == {(org.pk, "epic-prod")}
    again = _post(headers, body, query="?source=epic-prod").json()
    assert again["counts"]["Patient"] == {"created": 0, "updated": 0, "unchanged": 1, "rejected": 0}


@pytest.mark.django_db
def test_import_ndjson_with_some_bad_lines(admin) -> None:  # type: ignore[no-untyped-def]
    org, headers = admin
    body = fx.ndjson([fx.patient("p1"), fx.patient("p2", gender="robot"), fx.condition("c1", "Patient/p1")])
    response = _post(headers, body + b"{oops\n", NDJSON)
    assert response.status_code == 200
    body_json = response.json()
    assert body_json["counts"]["Patient"] == {"created": 1, "updated": 0, "unchanged": 0, "rejected": 1}
    assert body_json["counts"]["Condition"] == {"created": 1, "updated": 0, "unchanged": 0, "rejected": 0}
    assert [(r["location"], r["resource_type"]) for r in body_json["rejections"]] == [("line 2", "Patient"),
                                                                                      ("line 4", "")]
    assert body_json["rejections"][0]["reason"] == "Patient.gender 'robot' is not one of male, female, other, unknown"
    assert list(QuarantinedInput.objects.order_by("pk").values_list("channel", "source_name", "location")) == [
        ("fhir-api", "request", "line 2"), ("fhir-api", "request", "line 4")]
    assert Condition.objects.get().patient == Patient.objects.get()


@pytest.mark.django_db
def test_an_all_bad_body_gets_an_operation_outcome_422(admin) -> None:  # type: ignore[no-untyped-def]
    _, headers = admin
    body = orjson.dumps(fx.bundle([fx.patient("p1", birth_date="2026-02-30"), fx.condition("c1", "urn:uuid:zzz")]))
    response = _post(headers, body)
    assert response.status_code == 422
    assert response["Content-Type"] == FHIR_JSON
    assert response.json() == {"resourceType": "OperationOutcome", "issue": [
        {"severity": "error", "code": "invalid", "location": ["entry[0]"],
         "diagnostics": "Patient.birthDate: '2026-02-30' is not a real date (day is out of range for month)"},
        {"severity": "error", "code": "invalid", "location": ["entry[1]"],
         "diagnostics": "dangling reference 'urn:uuid:zzz': not a fullUrl in this Bundle"},
    ]}
    assert QuarantinedInput.objects.count() == 2
    assert not FhirResource.objects.exists()


@pytest.mark.django_db
def test_a_body_that_is_not_json_gets_422(admin) -> None:  # type: ignore[no-untyped-def]
    _, headers = admin
    response = _post(headers, b"<Patient/>")
    assert response.status_code == 422
    issue = response.json()["issue"]
    assert len(issue) == 1
    assert issue[0]["location"] == ["document"]
    assert issue[0]["diagnostics"].startswith("malformed JSON: ")
    assert QuarantinedInput.objects.get().raw == "<Patient/>"


@pytest.mark.django_db
def test_an_empty_body_gets_400(admin) -> None:  # type: ignore[no-untyped-def]
    _, headers = admin
    response = _post(headers, b"  \n")
    assert response.status_code == 400
    assert response.json() == {"resourceType": "OperationOutcome", "issue": [
        {"severity": "error", "code": "invalid", "diagnostics": "empty request body"}]}


@pytest.mark.parametrize("role", sorted(ALL_ROLES - {"admin"}))
@pytest.mark.django_db
def test_non_admin_roles_get_403(role: str) -> None:
    org = make_org()
    headers = bearer(make_token(make_user(org, role)))
    response = _post(headers, orjson.dumps(fx.patient("p1")))
    assert response.status_code == 403
    assert response.json() == {"detail": f"role {role!r} may not fhir.import"}
    assert not Patient.objects.exists()


@pytest.mark.django_db
def test_unauthenticated_gets_401() -> None:
    make_org()
    assert _post({}, orjson.dumps(fx.patient("p1"))).status_code == 401
    assert _post(bearer("cl_not-a-token"), orjson.dumps(fx.patient("p1"))).status_code == 401
    assert not Patient.objects.exists()
