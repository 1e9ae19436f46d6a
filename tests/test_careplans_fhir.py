"""FHIR CarePlan export: Bundle with a US Core CarePlan, Goals and a CareTeam, validated against the FHIR R4
JSON Schema and compared with the US Core CarePlan example; and the patient-friendly PDF."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import orjson
import pytest
from django.test import Client

from careloop.accounts.tests.factories import bearer, make_token, make_user
from careloop.careplans import services
from careloop.careplans.tests.factories import make_clinic

ORACLE = Path(__file__).resolve().parents[2] / "shared" / "oracles" / "fhir-examples"
pytestmark = pytest.mark.django_db


@cache
def _validator() -> Any:
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((ORACLE / "validation" / "fhir.schema.r4.json").read_text())
    return jsonschema.Draft6Validator(schema)


def _bundle() -> tuple[dict[str, Any], Any]:
    c = make_clinic()
    plan = services.create_plan(organization_id=c.org.pk, patient_id=c.patient.pk, actor=c.coord,
                                templates=["diabetes", "hypertension"])
    response = Client().get(f"/api/careplans/{plan.pk}/fhir", **bearer(make_token(c.coordinator)))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/fhir+json"
    return orjson.loads(response.content), c


def test_bundle_has_careplan_goals_and_careteam() -> None:
    bundle, c = _bundle()
    types = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert types == ["CarePlan", "Goal", "Goal", "Goal", "CareTeam"]
    cp = bundle["entry"][0]["resource"]
    assert cp["subject"]["reference"] == f"Patient/{c.patient.fhir_id}"
    assert cp["goal"] == [{"reference": e["fullUrl"]} for e in bundle["entry"][1:4]]
    assert cp["addresses"] == [{"reference": f"Condition/careloop-{c.condition.pk}"}]
    team = bundle["entry"][-1]["resource"]
    assert team["participant"][0]["role"] == [{"text": "coordinator"}]


@pytest.mark.oracle
@pytest.mark.skipif(not ORACLE.exists(), reason="../shared/oracles/fhir-examples is absent (public checkout)")
def test_bundle_validates_against_the_r4_json_schema() -> None:
    bundle, _ = _bundle()
    errors = sorted(_validator().iter_errors(bundle), key=lambda e: list(e.absolute_path))
    assert [f"{list(e.absolute_path)}: {e.message[:200]}" for e in errors] == []
    broken = json.loads(json.dumps(bundle))
    broken["entry"][0]["resource"]["intent"] = 42
    assert list(_validator().iter_errors(broken))


@pytest.mark.oracle
@pytest.mark.skipif(not ORACLE.exists(), reason="../shared/oracles/fhir-examples is absent (public checkout)")
def test_careplan_has_the_us_core_shape_of_the_example() -> None:
    example = json.loads((ORACLE / "us-core-9.0.0" / "examples" / "careplan-ulcer-example.json").read_text())
    bundle, _ = _bundle()
    cp = bundle["entry"][0]["resource"]
    assert set(example) - set(cp) <= {"contributor", "period"}
    assert cp["meta"]["profile"][0] == example["meta"]["profile"][0].split("|")[0]
    assert (cp["status"], cp["intent"]) == (example["status"], example["intent"])
    assert cp["text"]["div"].startswith('<div xmlns="http://www.w3.org/1999/xhtml">')
    assert cp["category"][0]["coding"][0] == {
        "system": "http://hl7.org/fhir/us/core/CodeSystem/careplan-category", "code": "assess-plan"}
    assert cp["subject"]["reference"].startswith("Patient/")


def test_pdf_and_roles() -> None:
    c = make_clinic()
    plan = services.create_plan(organization_id=c.org.pk, patient_id=c.patient.pk, actor=c.coord,
                                templates=["dementia"])
    response = Client().get(f"/api/careplans/{plan.pk}/pdf", **bearer(make_token(c.coordinator)))
    assert response.status_code == 200 and response.content.startswith(b"%PDF")
    billing = make_user(c.org, "billing")
    assert Client().get(f"/api/careplans/{plan.pk}/fhir", **bearer(make_token(billing))).status_code == 403
    other = make_clinic()
    assert Client().get(f"/api/careplans/{plan.pk}", **bearer(make_token(other.coordinator))).status_code == 404
