"""Eligibility recompute, enrollment with consent, initiating visit, disenrollment, FHIR Consent, enroll-first
and the worklist tasks built on it."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client

from careloop.accounts.tests.factories import actor, bearer, make_token, make_user
from careloop.audit.models import AuditEvent
from careloop.clinics.tests.factories import make_org
from careloop.core.actor import Actor
from careloop.core.errors import Conflict, PermissionDenied, ValidationFailed
from careloop.programs import eligibility, selectors, services
from careloop.programs.models import DeviceDayCount, EligibilityDecision, Enrollment
from careloop.programs.tests.factories import make_practitioner, make_team
from careloop.registry.models import Encounter
from careloop.registry.tests.factories import add_condition, add_coverage, make_patient
from careloop.worklist.models import CareTask
from careloop.worklist.services.enrollment import create_enrollment_calls, create_initiating_visit_tasks

D = dt.date
ALL4 = ("availability", "one_practitioner_per_month", "right_to_stop", "cost_sharing")
NOW = dt.datetime(2026, 3, 10, 15, 0, tzinfo=dt.UTC)


def _consent(user_id: int, disclosures: tuple[str, ...] = ALL4) -> services.ConsentIn:
    return services.ConsentIn(method="verbal", disclosures=disclosures, obtained_by_user_id=user_id,
                              obtained_at=dt.datetime(2026, 3, 1, 15, tzinfo=dt.UTC), evidence="note 3/1")


def _visit(patient: object, day: D) -> None:
    Encounter.objects.create(organization_id=patient.organization_id, patient=patient,  # type: ignore[attr-defined]
                             class_code="AMB", status="finished",
                             start=dt.datetime.combine(day, dt.time(15), tzinfo=dt.UTC))


@pytest.mark.django_db
def test_compute_eligibility_levels_and_rule_ids() -> None:
    org = make_org()
    one = make_patient(org, "One", "A")
    add_condition(one, "E11.9")
    two = make_patient(org, "Two", "B")
    add_condition(two, "E119")
    add_condition(two, "I10")
    qmb = make_patient(org, "Three", "C")
    add_condition(qmb, "E119")
    add_condition(qmb, "I10")
    add_condition(qmb, "F32.9")
    add_coverage(qmb, "qmb", start=D(2026, 3, 20))
    DeviceDayCount.objects.create(organization=org, patient=one, kind="rpm", day=D(2026, 3, 2))
    DeviceDayCount.objects.create(organization=org, patient=one, kind="rpm", day=D(2026, 3, 3))
    run = eligibility.compute_eligibility(organization_id=org.pk, month="2026-03", actor=Actor.system(org.pk))
    assert run.levels == {"G0556": 1, "G0557": 1, "G0558": 1}
    assert run.decisions == 3 * 7
    rows = {(r.patient_id, r.program): r for r in EligibilityDecision.objects.filter(organization=org)}
    assert rows[(qmb.pk, "APCM")].level == "G0558" and "ELIG-APCM-L3" in rows[(qmb.pk, "APCM")].rule_ids
    assert rows[(qmb.pk, "APCM")].facts["chronic_count"] == 3 and rows[(qmb.pk, "BHI")].eligible
    assert rows[(two.pk, "APCM")].level == "G0557" and not rows[(two.pk, "BHI")].eligible
    assert (rows[(one.pk, "CCM")].eligible, rows[(one.pk, "PCM")].eligible, rows[(one.pk, "RPM")].eligible) == (
        False, True, True)
    feb = eligibility.compute_eligibility(organization_id=org.pk, month="2026-02", actor=Actor.system(org.pk))
    assert feb.levels == {"G0556": 1, "G0557": 2}  # QMB starts in March
    again = eligibility.compute_eligibility(organization_id=org.pk, month="2026-03", actor=Actor.system(org.pk))
    assert again.decisions == 21 and EligibilityDecision.objects.filter(month="2026-03").count() == 21
    assert AuditEvent.objects.filter(action="eligibility.computed").count() == 3
    with pytest.raises(PermissionDenied):
        eligibility.compute_eligibility(organization_id=org.pk, month="2026-03", actor=actor(make_user(org, "nurse")))
    with pytest.raises(ValidationFailed):
        eligibility.compute_eligibility(organization_id=org.pk, month="2026-3x", actor=Actor.system(org.pk))


@pytest.mark.django_db
@time_machine.travel(NOW, tick=False)
def test_enroll_with_consent_and_initiating_visit() -> None:
    org = make_org()
    p = make_patient(org, "Ames", "Ann")
    doc = make_practitioner(org)
    nurse = make_user(org, "nurse")
    who = actor(nurse)
    with pytest.raises(ValidationFailed) as exc:
        services.enroll_patient(organization_id=org.pk, patient_id=p.pk, program="APCM",
                                billing_practitioner_id=doc.pk, consent=_consent(nurse.pk, ALL4[:3]), actor=who)
    assert "cost_sharing" in exc.value.field_errors["disclosures"]
    with pytest.raises(ValidationFailed):
        services.enroll_patient(organization_id=org.pk, patient_id=p.pk, program="TCM",
                                billing_practitioner_id=doc.pk, consent=_consent(nurse.pk), actor=who)
    services.designate_care_member(organization_id=org.pk, patient_id=p.pk, user_id=nurse.pk, actor=who)
    row = services.enroll_patient(organization_id=org.pk, patient_id=p.pk, program="APCM",
                                  billing_practitioner_id=doc.pk, consent=_consent(nurse.pk), actor=who)
    assert (row.start, row.initiating_visit, row.designation is not None) == (D(2026, 3, 10), "missing", True)
    assert row.consent.disclosures == sorted(ALL4) and row.consent.obtained_by_id == nurse.pk
    with pytest.raises(Conflict):
        services.enroll_patient(organization_id=org.pk, patient_id=p.pk, program="APCM",
                                billing_practitioner_id=doc.pk, consent=_consent(nurse.pk), actor=who)
    # CCM inside 12 months of APCM care management: exempt from a new initiating visit.
    ccm = services.enroll_patient(organization_id=org.pk, patient_id=p.pk, program="CCM",
                                  billing_practitioner_id=doc.pk, consent=_consent(nurse.pk), actor=who)
    assert ccm.initiating_visit == "care-management"
    q = make_patient(org, "Bell", "Bo")
    _visit(q, D(2023, 3, 11))
    seen = services.enroll_patient(organization_id=org.pk, patient_id=q.pk, program="APCM",
                                   billing_practitioner_id=doc.pk, consent=_consent(nurse.pk), actor=who)
    assert (seen.initiating_visit, seen.initiating_visit_on) == ("visit", D(2023, 3, 11))
    assert AuditEvent.objects.filter(action="program.enrolled").count() == 3
    with pytest.raises(PermissionDenied):
        services.enroll_patient(organization_id=org.pk, patient_id=q.pk, program="CCM", billing_practitioner_id=doc.pk,
                                consent=_consent(nurse.pk), actor=actor(make_user(org, "billing")))
    # The worklist schedules the missing initiating visit once.
    made = create_initiating_visit_tasks(organization_id=org.pk, actor=Actor.system(org.pk))
    assert len(made.created_ids) == 1
    task = CareTask.objects.get(pk=made.created_ids[0])
    assert (task.patient_id, task.task_type, task.program) == (p.pk, "followup_visit_scheduling", "APCM")
    assert create_initiating_visit_tasks(organization_id=org.pk, actor=Actor.system(org.pk)).existing == 1


@pytest.mark.django_db
@time_machine.travel(NOW, tick=False)
def test_disenrollment_ends_at_month_end() -> None:
    org = make_org()
    p = make_patient(org, "Ames", "Ann")
    nurse = make_user(org, "nurse")
    row = services.enroll_patient(organization_id=org.pk, patient_id=p.pk, program="CCM", start=D(2026, 3, 1),
                                  billing_practitioner_id=make_practitioner(org).pk, consent=_consent(nurse.pk),
                                  actor=actor(nurse))
    ended = services.disenroll_patient(organization_id=org.pk, enrollment_id=row.pk, actor=actor(nurse),
                                       reason="patient asked")
    assert (ended.end, ended.end_requested_on) == (D(2026, 3, 31), D(2026, 3, 10))
    with pytest.raises(Conflict):
        services.disenroll_patient(organization_id=org.pk, enrollment_id=row.pk, actor=actor(nurse))
    assert selectors.enrolled_patient_ids(organization_id=org.pk, first=D(2026, 3, 1)) == {p.pk}
    assert selectors.enrolled_patient_ids(organization_id=org.pk, first=D(2026, 4, 1)) == set()
    assert "\"end\":\"2026-03-31\"" in str(AuditEvent.objects.get(action="program.disenrolled").detail)


@pytest.mark.django_db
@time_machine.travel(NOW, tick=False)
def test_api_enroll_consent_fhir_and_tenancy() -> None:
    from fhir.resources.R4B.consent import Consent

    org, other = make_org(), make_org()
    p = make_patient(org, "Ames", "Ann")
    doc = make_practitioner(org)
    h = bearer(make_token(make_user(org, "coordinator")))
    body = {"program": "APCM", "billing_practitioner_id": doc.pk,
            "consent": {"method": "written", "disclosures": list(ALL4[:2])}}
    c = Client()
    r = c.post(f"/api/programs/patients/{p.pk}/enrollments", body, content_type="application/json", **h)
    assert r.status_code == 400 and "disclosures" in r.json()["errors"]
    body["consent"]["disclosures"] = list(ALL4)  # type: ignore[index]
    r = c.post(f"/api/programs/patients/{p.pk}/enrollments", body, content_type="application/json", **h)
    assert r.status_code == 200, r.content
    eid = r.json()["id"]
    assert r.json()["consent_method"] == "written"
    fhir = c.get(f"/api/programs/enrollments/{eid}/consent.fhir", **h)
    assert fhir.status_code == 200
    resource = Consent.model_validate(fhir.json())
    assert resource.status == "active" and resource.provision.code[0].coding[0].code == "APCM"
    assert sorted(e["valueCoding"]["code"] for e in fhir.json()["extension"] if "valueCoding" in e) == sorted(ALL4)
    listing = c.get(f"/api/programs/patients/{p.pk}/enrollments", **h).json()
    assert [e["id"] for e in listing] == [eid]
    r = c.post(f"/api/programs/enrollments/{eid}/disenroll", {}, content_type="application/json", **h)
    assert r.json()["end"] == "2026-03-31"
    assert Consent.model_validate(c.get(f"/api/programs/enrollments/{eid}/consent.fhir", **h).json()).status == (
        "inactive")
    hb = bearer(make_token(make_user(other, "coordinator")))
    assert c.get(f"/api/programs/enrollments/{eid}/consent.fhir", **hb).status_code == 404
    assert c.get(f"/api/programs/patients/{p.pk}/enrollments", **hb).status_code == 404
    assert c.get(f"/api/programs/patients/{p.pk}/eligibility", **hb).status_code == 404
    assert AuditEvent.objects.filter(action="consent.exported", patient_id=p.pk).count() == 2


@pytest.mark.django_db
@time_machine.travel(NOW, tick=False)
def test_enroll_first_ranks_by_risk_and_value_within_capacity() -> None:
    from careloop.risk.models import PatientRisk

    org = make_org()
    nurse = make_user(org, "nurse")
    patients = []
    for i, (codes, qmb, tier) in enumerate([
        (["E119"], False, "high"),  # G0556 16.37 x4 = 65.48 (PCM 67.80 x4 = 271.2)
        (["E119", "I10"], True, "low"),  # G0558 117.24 x1
        (["E119", "I10"], False, "high"),  # CCM 66.13 x4 = 264.52
        ([], False, "moderate"),  # G0556 16.37 x2 = 32.74
    ]):
        p = make_patient(org, f"P{i}", "X")
        for code in codes:
            add_condition(p, code)
        if qmb:
            add_coverage(p, "qmb", start=D(2026, 1, 1))
        PatientRisk.objects.create(organization=org, patient=p, as_of=D(2026, 3, 1), methodology_version="v1",
                                   tier=tier)
        patients.append(p)
    eligibility.compute_eligibility(organization_id=org.pk, month="2026-03", actor=Actor.system(org.pk))
    make_team(org, [(nurse, 2), (make_user(org, "coordinator"), 1)])
    enrolled = patients[3]
    services.enroll_patient(organization_id=org.pk, patient_id=enrolled.pk, program="APCM",
                            billing_practitioner_id=make_practitioner(org).pk, consent=_consent(nurse.pk),
                            actor=actor(nurse))
    result = selectors.enroll_first(organization_id=org.pk, month="2026-03")
    assert (result.capacity, result.enrolled, result.free, result.eligible_not_enrolled) == (3, 1, 2, 3)
    assert [(r.patient_id, r.program, r.score) for r in result.rows] == [
        (patients[0].pk, "PCM", 271.2), (patients[2].pk, "CCM", 264.52)]
    calls = create_enrollment_calls(organization_id=org.pk, month="2026-03", top=1, actor=Actor.system(org.pk))
    task = CareTask.objects.get(pk=calls.created_ids[0])
    assert (task.patient_id, task.task_type, task.program) == (patients[0].pk, "enrollment_call", "PCM")
    again = create_enrollment_calls(organization_id=org.pk, month="2026-03", top=1, actor=Actor.system(org.pk))
    assert (again.created_ids, again.existing) == ([], 1)
    h = bearer(make_token(make_user(org, "leader")))
    body = Client().get("/api/programs/enroll-first", {"month": "2026-03", "limit": 1}, **h).json()
    assert [r["patient_id"] for r in body["rows"]] == [patients[0].pk] and body["free"] == 2
    assert AuditEvent.objects.filter(action="enroll_first.viewed", patient_id=patients[0].pk).count() == 1
    assert Enrollment.objects.filter(organization=org).count() == 1


@pytest.mark.django_db
def test_device_days_manual_entry() -> None:
    org = make_org()
    p = make_patient(org, "Ames", "Ann")
    who = actor(make_user(org, "nurse"))
    services.record_device_day(organization_id=org.pk, patient_id=p.pk, kind="rpm", day=D(2026, 3, 1), readings=3,
                               actor=who)
    services.record_device_day(organization_id=org.pk, patient_id=p.pk, kind="rpm", day=D(2026, 3, 1), readings=4,
                               actor=who)
    assert DeviceDayCount.objects.get(patient=p).readings == 4
    with pytest.raises(ValidationFailed):
        services.record_device_day(organization_id=org.pk, patient_id=p.pk, kind="ecg", day=D(2026, 3, 1),
                                   readings=1, actor=who)
    assert ZoneInfo("UTC") is not None


@pytest.mark.django_db
def test_worklist_api_creates_enrollment_and_visit_tasks() -> None:
    org = make_org()
    p = make_patient(org, "Ames", "Ann")
    add_condition(p, "E119")
    add_condition(p, "I10")
    nurse = make_user(org, "nurse")
    make_team(org, [(nurse, 5)])
    eligibility.compute_eligibility(organization_id=org.pk, month="2026-03", actor=Actor.system(org.pk))
    lead = bearer(make_token(make_user(org, "leader")))
    c = Client()
    r = c.post("/api/worklist/enrollment-calls?month=2026-03&top=5", **lead)
    assert r.status_code == 200 and len(r.json()["created_ids"]) == 1
    assert CareTask.objects.get(pk=r.json()["created_ids"][0]).task_type == "enrollment_call"
    assert c.post("/api/worklist/enrollment-calls?month=2026-03&top=5", **lead).json()["existing"] == 1
    assert c.post("/api/worklist/enrollment-calls?month=bad", **lead).status_code == 400
    assert c.post("/api/worklist/enrollment-calls?month=2026-03", **bearer(make_token(nurse))).status_code == 403
    assert c.post("/api/worklist/initiating-visit-tasks", **lead).json() == {"created_ids": [], "existing": 0}
