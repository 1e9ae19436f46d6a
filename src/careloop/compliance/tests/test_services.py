"""Capability and pathway services (validation, supersession, permissions, audit), the bulk selectors, the
billing-run provider (month boundaries, activity) and organization scoping."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from careloop.audit.models import AuditEvent
from careloop.billing.evidence import EvidenceProvider
from careloop.compliance import packet, selectors, services
from careloop.compliance.models import PracticeCapability
from careloop.compliance.provider import ComplianceEvidence
from careloop.compliance.tests.factories import (
    MONTH,
    T0,
    enroll_apcm,
    full_evidence,
    make_clinic,
    record_all_capabilities,
)
from careloop.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from careloop.worklist.models import TimeEntry

pytestmark = pytest.mark.django_db
D = dt.date


@pytest.fixture(autouse=True)
def frozen() -> Iterator[None]:
    with time_machine.travel(T0, tick=False):
        yield


def test_recording_a_new_period_closes_the_open_one_and_is_audited() -> None:
    c = make_clinic()
    leader = c.actor("leader")
    first = services.record_capability(actor=leader, key="24x7_access", effective_from=D(2026, 1, 1),
                                       evidence="Nurse line policy v1")
    second = services.record_capability(actor=leader, key="24x7_access", effective_from=D(2026, 3, 15),
                                        evidence="Nurse line policy v2", evidence_link="https://intranet/policy-v2")
    first.refresh_from_db()
    assert (first.effective_to, second.effective_to) == (D(2026, 3, 14), None)
    events = list(AuditEvent.objects.filter(organization_id=c.org.pk, action="compliance.capability_recorded")
                  .order_by("seq").values_list("object_id", flat=True))
    assert events == [str(first.pk), str(second.pk)]
    assert selectors.capabilities_in_force(organization_id=c.org.pk, month=MONTH) == frozenset({"24x7_access"})


def test_overlapping_a_later_record_and_bad_input_are_refused() -> None:
    c = make_clinic()
    leader = c.actor("leader")
    services.record_capability(actor=leader, key="ehi_exchange", effective_from=D(2026, 3, 1), evidence="ADT feed")
    with pytest.raises(ValidationFailed) as exc:
        services.record_capability(actor=leader, key="ehi_exchange", effective_from=D(2026, 2, 1), evidence="x")
    assert exc.value.field_errors == {"effective_from": "overlaps a later record"}
    with pytest.raises(ValidationFailed) as exc:
        services.record_capability(actor=leader, key="teleportation", effective_from=D(2026, 2, 1), evidence=" ",
                                   effective_to=D(2026, 1, 1))
    assert set(exc.value.field_errors) == {"key", "evidence", "effective_to"}
    assert PracticeCapability.objects.filter(organization=c.org).count() == 1


@pytest.mark.parametrize("role", ["coordinator", "billing", "provider", "patient"])
def test_only_admin_and_leader_record_capabilities(role: str) -> None:
    c = make_clinic()
    with pytest.raises(PermissionDenied):
        services.record_capability(actor=c.actor(role), key="24x7_access", effective_from=D(2026, 1, 1),
                                   evidence="policy")
    with pytest.raises(PermissionDenied):
        services.record_pathway(actor=c.actor(role), practitioner_id=c.practitioner.pk, performance_year=2026,
                                pathway="MSSP")


def test_pathway_is_one_per_practitioner_and_year() -> None:
    c = make_clinic()
    admin = c.actor("admin")
    services.record_pathway(actor=admin, practitioner_id=c.practitioner.pk, performance_year=2026, pathway="MSSP")
    services.record_pathway(actor=admin, practitioner_id=c.practitioner.pk, performance_year=2026,
                            pathway="MVP_M0005", evidence="registered")
    assert selectors.pathway_by_practitioner(organization_id=c.org.pk, year=2026) == {c.practitioner.pk: "MVP_M0005"}
    assert selectors.pathway_by_practitioner(organization_id=c.org.pk, year=2027) == {}
    with pytest.raises(ValidationFailed):
        services.record_pathway(actor=admin, practitioner_id=c.practitioner.pk, performance_year=2026, pathway="MIPS")
    other = make_clinic()
    with pytest.raises(NotFound):  # another organization's practitioner
        services.record_pathway(actor=admin, practitioner_id=other.practitioner.pk, performance_year=2026,
                                pathway="MSSP")


def test_provider_returns_the_capabilities_touching_the_month() -> None:
    c = make_clinic()
    leader = c.actor("leader")
    services.record_capability(actor=leader, key="24x7_access", effective_from=D(2025, 1, 1),
                               effective_to=D(2026, 2, 28), evidence="old policy")
    services.record_capability(actor=leader, key="ehi_exchange", effective_from=D(2026, 3, 31),
                               evidence="ADT feed", evidence_link="hie-agreement.pdf")
    services.record_capability(actor=leader, key="risk_stratification", effective_from=D(2026, 4, 1),
                               evidence="tiers")
    provider: EvidenceProvider = ComplianceEvidence()
    caps = provider.capabilities(c.org.pk, MONTH)
    assert caps is not None
    assert [(x.key, x.effective_from, x.effective_to, x.evidence) for x in caps] == [
        ("ehi_exchange", D(2026, 3, 31), None, "ADT feed [hie-agreement.pdf]")]
    feb = provider.capabilities(c.org.pk, "2026-02")
    assert [x.key for x in feb or ()] == ["24x7_access"]
    assert provider.capabilities(make_clinic().org.pk, MONTH) == ()


def test_provider_activity_is_per_patient_and_per_month() -> None:
    c = make_clinic()
    active, _ = enroll_apcm(c, "Active")
    idle, _ = enroll_apcm(c, "Idle")
    TimeEntry.objects.create(organization=c.org, patient=active, staff=c.coordinator, staff_type="clinical_staff",
                             minutes=5, activity="outreach", program="APCM", service_date=D(2026, 3, 31))
    TimeEntry.objects.create(organization=c.org, patient=idle, staff=c.coordinator, staff_type="clinical_staff",
                             minutes=5, activity="outreach", program="APCM", service_date=D(2026, 4, 1))
    TimeEntry.objects.create(organization=c.org, patient=idle, staff=c.coordinator, staff_type="clinical_staff",
                             minutes=5, activity="outreach", program="APCM", service_date=D(2026, 3, 2),
                             voided=True)
    got = ComplianceEvidence().apcm_activity(c.org.pk, [active.pk, idle.pk], MONTH)
    assert got == {active.pk: True, idle.pk: False}
    assert ComplianceEvidence().apcm_activity(c.org.pk, [idle.pk], "2026-04") == {idle.pk: True}
    assert ComplianceEvidence().performance_pathways(c.org.pk, 2026) == {}


def test_month_facts_and_coverage_from_the_other_apps() -> None:
    c = make_clinic()
    record_all_capabilities(c)
    p, _ = enroll_apcm(c)
    bare, _ = enroll_apcm(c, "Bare", seen=False)
    full_evidence(c, p)
    facts = selectors.patient_month_facts(organization_id=c.org.pk, month=MONTH)
    f = facts[p.pk]
    assert (f.consent_on, f.designated_member, f.plan_version, f.plan_shared_with_patient) == (
        D(2026, 2, 24), f"{c.coordinator.first_name} {c.coordinator.last_name}".strip() or c.coordinator.username,
        1, True)
    assert (f.care_management_minutes, f.coordination_events, f.risk_tier, f.pathway) == (15, 1, "high", "MVP_M0005")
    cov = selectors.coverage(organization_id=c.org.pk, month=MONTH, as_of=D(2026, 3, 31))
    assert {r.element for r in cov[p.pk] if r.status == "missing"} == set()
    assert {r.element for r in cov[bare.pk] if r.status == "missing"} == {
        "initiating_visit", "access_continuity", "care_management", "care_plan", "coordination", "communication",
        "population"}
    summary = selectors.coverage_summary(organization_id=c.org.pk, month=MONTH, as_of=D(2026, 3, 31))
    assert (summary.patients, summary.fully_evidenced) == (2, 1)
    assert selectors.patient_month_facts(organization_id=c.org.pk, month="2026-02") == {}  # enrolled from March


def test_coverage_reads_a_fixed_number_of_queries_whatever_the_patient_count() -> None:
    c = make_clinic()
    record_all_capabilities(c)
    for i in range(2):
        full_evidence(c, enroll_apcm(c, f"First{i}")[0])
    with CaptureQueriesContext(connection) as few:
        selectors.coverage(organization_id=c.org.pk, month=MONTH, as_of=D(2026, 3, 31))
    for i in range(6):
        full_evidence(c, enroll_apcm(c, f"More{i}")[0])
    with CaptureQueriesContext(connection) as many:
        out = selectors.coverage(organization_id=c.org.pk, month=MONTH, as_of=D(2026, 3, 31))
    assert len(out) == 8
    assert len(many.captured_queries) == len(few.captured_queries) <= 25
    with CaptureQueriesContext(connection) as act:
        ComplianceEvidence().apcm_activity(c.org.pk, list(out), MONTH)
    assert len(act.captured_queries) <= 9


def test_org_b_cannot_read_org_a_packet_and_reads_are_audited() -> None:
    a, b = make_clinic(), make_clinic()
    p, _ = enroll_apcm(a)
    with pytest.raises(NotFound):
        services.evidence_packet(actor=b.actor("billing"), patient_id=p.pk, month=MONTH)
    packet = services.evidence_packet(actor=a.actor("billing"), patient_id=p.pk, month=MONTH, fmt="fhir")
    assert packet.content_type == "application/fhir+json"
    ev = AuditEvent.objects.get(organization_id=a.org.pk, action="compliance.packet_generated")
    assert (ev.patient_id, ev.role) == (p.pk, "billing")
    assert not AuditEvent.objects.filter(organization_id=b.org.pk, action="compliance.packet_generated").exists()
    with pytest.raises(PermissionDenied):
        services.evidence_packet(actor=a.actor("coordinator"), patient_id=p.pk, month=MONTH)
    with pytest.raises(ValidationFailed):
        services.evidence_packet(actor=a.actor("billing"), patient_id=p.pk, month="2026-13")


def test_monthly_attestation_counts_as_activity_once_per_patient_month() -> None:
    c = make_clinic()
    p, _ = enroll_apcm(c)
    provider = ComplianceEvidence()
    assert provider.apcm_activity(c.org.pk, [p.pk], MONTH) == {p.pk: False}
    row = services.attest_month(actor=c.actor("provider"), patient_id=p.pk, month=MONTH,
                                statement="24/7 line, designated nurse and care plan available; no contact needed")
    assert provider.apcm_activity(c.org.pk, [p.pk], MONTH) == {p.pk: True}
    assert AuditEvent.objects.filter(action="compliance.month_attested", patient_id=p.pk,
                                     object_id=str(row.pk)).count() == 1
    with pytest.raises(Conflict):
        services.attest_month(actor=c.actor("leader"), patient_id=p.pk, month=MONTH, statement="again")
    with pytest.raises(ValidationFailed) as exc:
        services.attest_month(actor=c.actor("leader"), patient_id=p.pk, month="2026-02", statement="x")
    assert exc.value.field_errors == {"month": "not enrolled"}
    with pytest.raises(ValidationFailed) as exc:
        services.attest_month(actor=c.actor("leader"), patient_id=p.pk, month="2026-04", statement="x")
    assert exc.value.field_errors == {"month": "in the future"}
    with pytest.raises(PermissionDenied):
        services.attest_month(actor=c.actor("coordinator"), patient_id=p.pk, month=MONTH, statement="x")
    with pytest.raises(NotFound):
        services.attest_month(actor=make_clinic().actor("leader"), patient_id=p.pk, month=MONTH, statement="x")
    data = packet.gather(organization_id=c.org.pk, patient_id=p.pk, month=MONTH, generated_at=T0,
                         generated_by="tests")
    assert data.attestation is not None and data.attestation["by"] == c.user("provider").username
