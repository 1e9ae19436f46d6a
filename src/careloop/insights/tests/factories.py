"""Insights test data: a month of eligibility decisions, consented enrollments, claim lines, care-team FTEs and
time entries, written as rows (the programs and billing engines are tested in their own apps)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from careloop.accounts.models import User
from careloop.accounts.tests.factories import make_user
from careloop.billing.models import BillingRun, ClaimLine, PatientMonthDecision
from careloop.clinics.models import CareTeam, CareTeamMember, Organization, Practitioner
from careloop.clinics.tests.factories import make_org
from careloop.core import clock
from careloop.programs.models import EligibilityDecision, Enrollment, ProgramConsent
from careloop.registry.models import Patient
from careloop.registry.tests.factories import make_patient
from careloop.worklist.models import TimeEntry

MONTH = "2026-03"
D = dt.date
DISCLOSURES = ["availability", "one_practitioner_per_month", "right_to_stop", "cost_sharing"]


def eligible(patient: Patient, program: str, level: str = "", month: str = MONTH) -> EligibilityDecision:
    return EligibilityDecision.objects.create(
        organization_id=patient.organization_id, patient=patient, month=month, program=program, eligible=True,
        level=level, ruleset="test", computed_at=clock.now())


def enroll(patient: Patient, program: str, practitioner: Practitioner, by: User, *, start: D = D(2026, 1, 1),
           consent: bool = True) -> Enrollment:
    e = Enrollment.objects.create(organization_id=patient.organization_id, patient=patient, program=program,
                                  start=start, billing_practitioner=practitioner, enrolled_by="test",
                                  initiating_visit="visit", initiating_visit_on=D(2025, 12, 1))
    if consent:
        ProgramConsent.objects.create(organization_id=patient.organization_id, enrollment=e, patient=patient,
                                      program=program, method="verbal", disclosures=DISCLOSURES, obtained_by=by,
                                      obtained_at=dt.datetime(2025, 12, 20, 15, tzinfo=dt.UTC))
    return e


def claim(patient: Patient, code: str, allowed: str, status: str = "billable", month: str = MONTH) -> ClaimLine:
    decision, _ = PatientMonthDecision.objects.get_or_create(
        organization_id=patient.organization_id, patient=patient, month=month,
        defaults={"ruleset": "test", "facts_hash": "x", "computed_at": clock.now()})
    amount = Decimal(allowed)
    return ClaimLine.objects.create(organization_id=patient.organization_id, patient=patient, month=month,
                                    decision=decision, code=code, status=status, allowed_amount=amount,
                                    patient_share=(amount * Decimal("0.2")).quantize(Decimal("0.01")),
                                    amount=amount)


def billing_run(org: Organization, month: str = MONTH) -> BillingRun:
    return BillingRun.objects.create(organization=org, month=month, ruleset="cms-2026-test", started_at=clock.now(),
                                     finished_at=clock.now(), actor_username="biller")


def member(team: CareTeam, user: User, fte: str) -> CareTeamMember:
    return CareTeamMember.objects.create(organization_id=team.organization_id, team=team, user=user, role=user.role,
                                         fte=Decimal(fte))


def minutes(patient: Patient, staff: User, program: str, n: int, day: D = D(2026, 3, 10)) -> TimeEntry:
    return TimeEntry.objects.create(organization_id=patient.organization_id, patient=patient, staff=staff,
                                    staff_type="clinical_staff", minutes=n, activity="care_coordination",
                                    program=program, service_date=day, created_by=staff)


@dataclass
class Clinic:
    org: Organization
    practitioner: Practitioner
    coordinator: User
    nurse: User
    patients: list[Patient] = field(default_factory=list)


def make_clinic(slug: str = "ins") -> Clinic:
    """March 2026 of a small practice:

    p1 APCM G0557 + CCM eligible, enrolled in APCM, G0557 billed (53.78)
    p2 APCM G0558 + CCM eligible, enrolled in APCM, G0558 billed (117.24), G0570 held (57.78)
    p3 APCM G0556 eligible, not enrolled
    p4 nothing eligible, TCM 99496 billed (298.60), a CCM line denied (66.13)
    Staff: a coordinator at 0.5 FTE on one team, a nurse with no team (1.0 FTE by default), a provider (not
    coordination staff) and an inactive coordinator.
    """
    org = make_org(slug)
    prac = Practitioner.objects.create(organization=org, family="Osler", given="Wil", credentials="MD",
                                       npi="1234567893")
    coordinator = make_user(org, "coordinator", username=f"coord-{slug}")
    nurse = make_user(org, "nurse", username=f"nurse-{slug}")
    provider = make_user(org, "provider", username=f"prov-{slug}")
    gone = make_user(org, "coordinator", username=f"gone-{slug}")
    gone.is_active = False
    gone.save(update_fields=["is_active"])
    team = CareTeam.objects.create(organization=org, name="Team A")
    member(team, coordinator, "0.50")
    member(team, provider, "1.00")
    member(team, gone, "1.00")
    c = Clinic(org, prac, coordinator, nurse)
    for i in range(1, 5):
        c.patients.append(make_patient(org, f"Pat{i}", f"{slug}{i}", birth_date=D(1950, 1, i)))
    p1, p2, p3, p4 = c.patients
    eligible(p1, "APCM", "G0557")
    eligible(p1, "CCM")
    eligible(p2, "APCM", "G0558")
    eligible(p2, "CCM")
    eligible(p3, "APCM", "G0556")
    enroll(p1, "APCM", prac, coordinator)
    enroll(p2, "APCM", prac, coordinator)
    claim(p1, "G0557", "53.78")
    claim(p2, "G0558", "117.24")
    claim(p2, "G0570", "57.78", status="flagged")
    claim(p4, "99496", "298.60")
    claim(p4, "99490", "66.13", status="denied")
    billing_run(org)
    return c
