"""/api/patients: search and chart over REST (bearer token), audited."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from careloop.accounts.tests.factories import bearer, make_token, make_user
from careloop.audit.models import AuditEvent
from careloop.clinics.tests.factories import make_org
from careloop.registry.tests.factories import add_condition, add_coverage, make_patient

D = dt.date


@pytest.fixture
def setup():  # type: ignore[no-untyped-def]
    org = make_org("a")
    smith = make_patient(org, "Smith", "John", birth_date=D(1950, 4, 1), sex="male", mrn="MRN-001",
                         mbi="1EG4TE5MK73", preferred_language="en")
    lee = make_patient(org, "Lee", "Ann", birth_date=D(1960, 3, 9))
    user = make_user(org, "coordinator")
    return org, smith, lee, user, bearer(make_token(user))


@pytest.mark.django_db
def test_search_returns_a_page_and_audits_each_listed_patient(setup) -> None:  # type: ignore[no-untyped-def]
    org, smith, lee, user, headers = setup
    response = Client().get("/api/patients", {"q": "smith"}, **headers)
    assert response.status_code == 200
    assert response.json() == {"count": 1, "results": [{
        "id": smith.pk, "fhir_id": smith.fhir_id, "mrn": "MRN-001", "mbi": "1EG4TE5MK73", "family": "Smith",
        "given": "John", "birth_date": "1950-04-01", "sex": "male", "preferred_language": "en"}]}
    events = list(AuditEvent.objects.filter(action="patient.listed").values_list("actor_id", "patient_id"))
    assert events == [(user.pk, smith.pk)]


@pytest.mark.django_db
def test_search_paging(setup) -> None:  # type: ignore[no-untyped-def]
    _, smith, lee, _, headers = setup
    page = Client().get("/api/patients", {"limit": 1, "offset": 1}, **headers).json()
    assert page["count"] == 2
    assert [p["id"] for p in page["results"]] == [smith.pk]
    page = Client().get("/api/patients", {"limit": 0}, **headers).json()  # clamped to 1
    assert [p["id"] for p in page["results"]] == [lee.pk]


@pytest.mark.django_db
def test_search_with_an_impossible_date_of_birth_is_not_a_server_error(setup) -> None:  # type: ignore[no-untyped-def]
    _, _, _, _, headers = setup
    response = Client().get("/api/patients", {"q": "1950-02-30"}, **headers)
    assert response.status_code == 200
    assert response.json() == {"count": 0, "results": []}


@pytest.mark.django_db
def test_chart(setup) -> None:  # type: ignore[no-untyped-def]
    org, smith, _, user, headers = setup
    add_condition(smith, "E119", display="Type 2 diabetes")
    add_coverage(smith, "medicare-part-b", start=D(2015, 4, 1))
    response = Client().get(f"/api/patients/{smith.pk}", **headers)
    assert response.status_code == 200
    body = response.json()
    assert body["patient"]["id"] == smith.pk
    assert body["conditions"] == [{"icd10": "E119", "snomed": "", "display": "Type 2 diabetes",
                                   "clinical_status": "active", "onset": None}]
    assert body["coverages"] == [{"kind": "medicare-part-b", "payor": "", "start": "2015-04-01", "end": None,
                                  "source": "fhir"}]
    assert (body["medications"], body["labs"], body["vitals"], body["encounters"]) == ([], [], [], [])
    event = AuditEvent.objects.get(action="patient.chart_viewed")
    assert (event.actor_id, event.patient_id, event.organization_id) == (user.pk, smith.pk, org.pk)


@pytest.mark.django_db
def test_chart_of_an_unknown_patient_is_404(setup) -> None:  # type: ignore[no-untyped-def]
    _, _, _, _, headers = setup
    response = Client().get("/api/patients/999999", **headers)
    assert response.status_code == 404
    assert response.json() == {"detail": "patient not found"}
    assert not AuditEvent.objects.filter(action="patient.chart_viewed").exists()


@pytest.mark.django_db
def test_negative_offset_is_not_a_server_error(setup) -> None:  # type: ignore[no-untyped-def]
    _, smith, lee, _, headers = setup
    response = Client().get("/api/patients", {"offset": -1}, **headers)
    assert response.status_code == 200
    assert [p["id"] for p in response.json()["results"]] == [lee.pk, smith.pk]


@pytest.mark.django_db
def test_out_of_range_age_filters_are_not_a_server_error(setup) -> None:  # type: ignore[no-untyped-def]
    _, smith, lee, _, headers = setup
    response = Client().get("/api/patients", {"age_min": 3000}, **headers)
    assert (response.status_code, response.json()) == (200, {"count": 0, "results": []})
    response = Client().get("/api/patients", {"age_max": 2030}, **headers)
    assert response.status_code == 200
    assert [p["id"] for p in response.json()["results"]] == [lee.pk, smith.pk]
