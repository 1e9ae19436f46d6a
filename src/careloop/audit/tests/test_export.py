"""FHIR AuditEvent export of a patient's audit trail."""

from __future__ import annotations

import datetime as dt

import orjson
import pytest
import time_machine
from fhir.resources.R4B.auditevent import AuditEvent as FhirAuditEvent
from fhir.resources.R4B.bundle import Bundle as FhirBundle

from careloop.audit.export import audit_bundle, audit_bundle_json, audit_event_resource
from careloop.audit.models import AuditEvent
from careloop.audit.selectors import patient_audit_trail
from careloop.audit.services import record_event
from careloop.audit.tests.factories import staff_actor
from careloop.clinics.tests.factories import make_org

AT = dt.datetime(2026, 3, 9, 14, 0, 5, tzinfo=dt.UTC)


@pytest.mark.django_db
def test_audit_event_resource_shape() -> None:
    org = make_org()
    with time_machine.travel(AT, tick=False):
        record_event(actor=staff_actor(org.pk), action="patient.chart_viewed", patient_id=42, object_type="Patient",
                     object_id="42", detail={"via": "ui"})
    event = AuditEvent.objects.get()
    assert audit_event_resource(event) == {
        "resourceType": "AuditEvent",
        "id": f"audit-{org.pk}-1",
        "type": {"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "110110",
                 "display": "Patient Record"},
        "subtype": [{"system": "urn:careloop:audit-action", "code": "patient.chart_viewed"}],
        "action": "R",
        "recorded": "2026-03-09T14:00:05+00:00",
        "outcome": "0",
        "agent": [{
            "who": {"display": "nina", "identifier": {"system": "urn:careloop:user", "value": "7"}},
            "role": [{"coding": [{"system": "urn:careloop:role", "code": "nurse"}]}],
            "requestor": True,
            "network": {"address": "10.0.0.1", "type": "2"},
        }],
        "source": {"observer": {"display": "careloop"}},
        "entity": [
            {"what": {"identifier": {"system": "urn:careloop:patient", "value": "42"}},
             "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-entity-type", "code": "1"}},
            {"what": {"display": "Patient/42"},
             "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-entity-type", "code": "2"},
             "detail": [{"type": "careloop-detail", "valueString": '{"via":"ui"}'},
                        {"type": "hash", "valueString": event.hash}]},
        ],
    }
    FhirAuditEvent.model_validate(audit_event_resource(event))


@pytest.mark.parametrize(
    ("action", "code"),
    [
        ("patient.chart_viewed", "R"), ("patient.listed", "R"), ("fhir.patient_read", "R"),
        ("fhir.condition_searched", "R"), ("audit.trail_exported", "R"), ("registry.fhir_imported", "C"),
        ("careplan.created", "C"), ("patient.updated", "U"), ("organization.mfa_policy_changed", "U"),
        ("patient.merged", "U"), ("task.deleted", "D"), ("user.login_succeeded", "E"), ("user.mfa_enrolled", "E"),
    ],
)
@pytest.mark.django_db
def test_action_codes(action: str, code: str) -> None:
    org = make_org()
    record_event(actor=staff_actor(org.pk), action=action)
    assert audit_event_resource(AuditEvent.objects.get())["action"] == code


@pytest.mark.django_db
def test_outcome_codes_and_system_actor_without_entity() -> None:
    org = make_org()
    from careloop.core.actor import Actor

    record_event(actor=Actor.system(org.pk, "careloop import"), action="user.login_failed", outcome="failure")
    resource = audit_event_resource(AuditEvent.objects.get())
    assert resource["outcome"] == "4"
    assert resource["agent"] == [{"who": {"display": "careloop import"},
                                  "role": [{"coding": [{"system": "urn:careloop:role", "code": "system"}]}],
                                  "requestor": True}]
    assert "entity" not in resource
    FhirAuditEvent.model_validate(resource)


@pytest.mark.django_db
def test_patient_trail_bundle() -> None:
    org, other = make_org(), make_org()
    actor = staff_actor(org.pk)
    record_event(actor=actor, action="patient.chart_viewed", patient_id=42, object_type="Patient", object_id="42")
    record_event(actor=actor, action="patient.chart_viewed", patient_id=43, object_type="Patient", object_id="43")
    record_event(actor=actor, action="patient.updated", patient_id=42, object_type="Patient", object_id="42")
    record_event(actor=staff_actor(other.pk), action="patient.chart_viewed", patient_id=42)
    bundle = audit_bundle(list(patient_audit_trail(organization_id=org.pk, patient_id=42)))
    assert (bundle["resourceType"], bundle["type"], bundle["total"]) == ("Bundle", "collection", 2)
    assert [e["fullUrl"] for e in bundle["entry"]] == [f"urn:careloop:audit:{org.pk}:1",
                                                       f"urn:careloop:audit:{org.pk}:3"]
    assert [e["resource"]["action"] for e in bundle["entry"]] == ["R", "U"]
    for entry in bundle["entry"]:
        assert entry["resource"]["entity"][0]["what"]["identifier"] == {"system": "urn:careloop:patient",
                                                                         "value": "42"}
    FhirBundle.model_validate(bundle)
    assert orjson.loads(audit_bundle_json(list(patient_audit_trail(organization_id=org.pk, patient_id=42)))) == bundle
