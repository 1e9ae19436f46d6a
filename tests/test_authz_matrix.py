"""The role x route matrix (status = what ROLE_PERMISSIONS says) and tenant isolation between organizations."""

from __future__ import annotations

import orjson
import pytest
from django.test import Client

from careloop.accounts import rules
from careloop.interop.fhir.tests import factories as fx
from tests.conftest import SHARED_MRN, World

CLINICAL_TYPES = ["Condition", "Observation", "Encounter", "MedicationRequest", "Immunization", "Procedure"]

# name -> (method, path template, permission, kind); kind: api | fhir | ui
ROUTES: dict[str, tuple[str, str, str, str]] = {
    "api-patient-search": ("GET", "/api/patients", "patient.read", "api"),
    "api-patient-chart": ("GET", "/api/patients/{id}", "patient.read", "api"),
    "api-audit-trail": ("GET", "/api/audit/patients/{id}/fhir", "audit.read", "api"),
    "api-audit-verify": ("GET", "/api/audit/verify", "audit.verify", "api"),
    "api-fhir-import": ("POST", "/api/fhir/import", "fhir.import", "api"),
    "fhir-patient-read": ("GET", "/fhir/Patient/{fhir_id}", "fhir.read", "fhir"),
    "fhir-patient-search": ("GET", f"/fhir/Patient?identifier={fx.MRN_SYSTEM}|{SHARED_MRN}", "fhir.read", "fhir"),
    **{f"fhir-{t.lower()}-search": ("GET", f"/fhir/{t}?patient={{fhir_id}}", "fhir.read", "fhir")
       for t in CLINICAL_TYPES},
    "ui-patient-list": ("GET", "/patients/", "patient.read", "ui"),
    "ui-patient-chart": ("GET", "/patients/{id}/", "patient.read", "ui"),
    "ui-audit": ("GET", "/audit/", "audit.read", "ui"),
}
IMPORT_BODY = orjson.dumps(fx.patient("new-1", family="Newcomer"))


def _request(client: Client, method: str, path: str, headers: dict[str, str]):  # type: ignore[no-untyped-def]
    if method == "POST":
        return client.post(path, data=IMPORT_BODY, content_type="application/fhir+json", **headers)
    return client.get(path, **headers)


def _path(template: str, world: World) -> str:
    return template.format(id=world.a.patient.pk, fhir_id=world.a.patient.fhir_id)


@pytest.mark.parametrize("route", sorted(ROUTES))
@pytest.mark.parametrize("role", sorted(rules.ALL_ROLES))
@pytest.mark.django_db
def test_role_route_matrix(world: World, role: str, route: str) -> None:
    method, template, permission, kind = ROUTES[route]
    client = Client()
    headers: dict[str, str] = {}
    if kind == "ui":
        client.force_login(world.a.user(role))
    else:
        headers = world.a.headers(role)
    response = _request(client, method, _path(template, world), headers)
    expected = 200 if rules.has_permission(role, permission) else 403
    assert response.status_code == expected, response.content[:300]


@pytest.mark.parametrize("route", sorted(ROUTES))
@pytest.mark.django_db
def test_anonymous(world: World, route: str) -> None:
    method, template, _, kind = ROUTES[route]
    path = _path(template, world)
    response = _request(Client(), method, path, {})
    if kind == "ui":
        assert (response.status_code, response["Location"]) == (302, f"/login/?next={path}")
    else:
        assert response.status_code == 401


@pytest.mark.parametrize("route", sorted(r for r, v in ROUTES.items() if v[3] != "ui"))
@pytest.mark.django_db
def test_invalid_or_revoked_token_is_401(world: World, route: str) -> None:
    method, template, _, _ = ROUTES[route]
    user = world.a.user("admin")
    headers = world.a.headers("admin")
    user.api_tokens.update(revoked=True)
    assert _request(Client(), method, _path(template, world), headers).status_code == 401
    assert _request(Client(), method, _path(template, world), {"HTTP_AUTHORIZATION": "Bearer nope"}).status_code == 401


def _roles(permission: str) -> list[str]:
    return sorted(rules.ROLE_PERMISSIONS[permission])


def _assert_no_b_data(world: World, body: bytes) -> None:
    b = world.b
    leaks = [b.family, b.patient.fhir_id, b.only_mrn, "Zed",
             *(b.resource(t).fhir_id for t in CLINICAL_TYPES), b.resource("Patient").fhir_id]
    for leak in leaks:
        assert leak.encode() not in body, leak


@pytest.mark.parametrize("role", _roles("patient.read"))
@pytest.mark.django_db
def test_api_and_ui_never_show_another_organization(world: World, role: str) -> None:
    a, b = world.a, world.b
    headers = a.headers(role)
    client = Client()
    response = client.get(f"/api/patients/{b.patient.pk}", **headers)
    assert response.status_code == 404
    for q in [b.family, f"{b.family}, Zed", "Zed Zebrowski", b.only_mrn, "", SHARED_MRN, "1951-06-15"]:
        response = client.get("/api/patients", {"q": q}, **headers)
        assert response.status_code == 200
        ids = [p["id"] for p in response.json()["results"]]
        assert ids == ([] if q in (b.family, f"{b.family}, Zed", "Zed Zebrowski", b.only_mrn) else [a.patient.pk])
        _assert_no_b_data(world, response.content)
    ui = Client()
    ui.force_login(a.user(role))
    assert ui.get(f"/patients/{b.patient.pk}/").status_code == 404
    for q in ["", SHARED_MRN]:
        response = ui.get("/patients/", {"q": q})
        assert response.status_code == 200
        assert b"1 patient." in response.content
        _assert_no_b_data(world, response.content)
    response = ui.get("/patients/", {"q": b.family})  # the search box echoes the query, so no leak check
    assert b"No patients match." in response.content
    assert b"0 patients." in response.content
    assert b"Zebrowski, Zed" not in response.content
    response = ui.get(f"/patients/{a.patient.pk}/")
    assert response.status_code == 200
    _assert_no_b_data(world, response.content)


@pytest.mark.parametrize("role", _roles("fhir.read"))
@pytest.mark.django_db
def test_fhir_never_shows_another_organization(world: World, role: str) -> None:
    a, b = world.a, world.b
    headers = a.headers(role)
    client = Client()
    response = client.get(f"/fhir/Patient/{b.patient.fhir_id}", **headers)
    assert response.status_code == 404
    assert response.json()["resourceType"] == "OperationOutcome"
    response = client.get(f"/fhir/Patient/{b.resource('Patient').fhir_id}", **headers)
    assert response.status_code == 404
    for identifier, expected in [(f"{fx.MRN_SYSTEM}|{SHARED_MRN}", [a.patient.fhir_id]),
                                 (SHARED_MRN, [a.patient.fhir_id]), (b.only_mrn, []),
                                 (f"urn:oid:9.9.9|{b.only_mrn}", [])]:
        response = client.get("/fhir/Patient", {"identifier": identifier}, **headers)
        assert response.status_code == 200
        bundle = response.json()
        assert [e["resource"]["id"] for e in bundle.get("entry", [])] == expected, identifier
        assert bundle["total"] == len(expected)
        _assert_no_b_data(world, orjson.dumps({k: v for k, v in bundle.items() if k != "link"}))  # link echoes q
    for rtype in CLINICAL_TYPES:
        for ref in [b.patient.fhir_id, f"Patient/{b.patient.fhir_id}"]:
            response = client.get(f"/fhir/{rtype}", {"patient": ref}, **headers)
            assert response.status_code == 200
            assert (response.json()["total"], response.json()["entry"]) == (0, [])
        response = client.get(f"/fhir/{rtype}", {"subject": f"Patient/{b.patient.fhir_id}"}, **headers)
        assert response.json()["total"] == 0
        response = client.get(f"/fhir/{rtype}", {"patient": a.patient.fhir_id}, **headers)
        assert response.json()["total"] == 1
        _assert_no_b_data(world, response.content)


@pytest.mark.parametrize("role", _roles("audit.read"))
@pytest.mark.django_db
def test_audit_never_shows_another_organization(world: World, role: str) -> None:
    a, b = world.a, world.b
    # Org B's staff read their own patient: those events belong to B's chain only.
    b_nurse = b.headers("nurse")
    assert Client().get(f"/api/patients/{b.patient.pk}", **b_nurse).status_code == 200
    assert Client().get(f"/fhir/Patient/{b.patient.fhir_id}", **b_nurse).status_code == 200
    headers = a.headers(role)
    response = Client().get(f"/api/audit/patients/{b.patient.pk}/fhir", **headers)
    assert response.status_code == 200
    assert (response.json()["total"], response.json()["entry"]) == (0, [])
    assert b"nurse-bravo" not in response.content
    ui = Client()
    ui.force_login(a.user(role))
    response = ui.get("/audit/")
    assert response.status_code == 200
    assert b"nurse-bravo" not in response.content
    _assert_no_b_data(world, response.content)


@pytest.mark.django_db
def test_import_lands_in_the_importing_organization_only(world: World) -> None:
    a, b = world.a, world.b
    body = orjson.dumps(fx.bundle([fx.condition("x-cond-2", "Patient/p1", icd10="I10")], urn=False))
    response = Client().post("/api/fhir/import", data=body, content_type="application/fhir+json",
                             **a.headers("admin"))
    # Both orgs have a Patient/p1 from source "ehr-test"; the API import uses source "api", so it is unknown.
    assert response.status_code == 422
    response = Client().post("/api/fhir/import?source=ehr-test", data=body, content_type="application/fhir+json",
                             **a.headers("admin"))
    assert response.status_code == 200
    assert response.json()["counts"]["Condition"]["created"] == 1
    assert a.patient.pk != b.patient.pk
    from careloop.registry.models import Condition

    assert list(Condition.objects.filter(icd10="I10").values_list("organization_id", "patient_id")) == [
        (a.org.pk, a.patient.pk)]
