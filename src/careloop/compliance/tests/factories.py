"""Compliance test helpers: a clinic with staff and a billing practitioner, APCM patients enrolled through the
programs service, and the month's evidence (time, outreach, care plan, portal, transitions) written as the other
apps write it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from careloop.access.models import AccessNotice, AfterHoursContact, PortalAccount
from careloop.accounts.models import User
from careloop.accounts.tests.factories import actor, make_user
from careloop.careplans import services as careplans
from careloop.clinics.models import Organization, Practitioner
from careloop.clinics.tests.factories import make_org
from careloop.compliance import services
from careloop.compliance.choices import CAPABILITY_KEYS
from careloop.core.actor import Actor
from careloop.programs.models import Enrollment
from careloop.programs.services import ConsentIn, designate_care_member, enroll_patient
from careloop.registry.models import Condition, Coverage, Patient
from careloop.registry.tests.factories import make_patient
from careloop.risk.models import PatientRisk
from careloop.transitions.models import TransitionEpisode
from careloop.transitions.tests.factories import make_stay
from careloop.worklist.models import OutreachAttempt, TimeEntry

UTC = dt.UTC
MONTH = "2026-03"
# Monday 9 March 2026, 14:00 UTC = 10:00 in New York.
T0 = dt.datetime(2026, 3, 9, 14, 0, tzinfo=UTC)
ALL_DISCLOSURES = ("availability", "cost_sharing", "one_practitioner_per_month", "right_to_stop")
_npi = {"n": 0}


def _next_npi() -> str:
    _npi["n"] += 1
    base = f"1{_npi['n']:08d}"
    digits = [int(d) for d in "80840" + base]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 0:
            d = d * 2 - 9 if d * 2 > 9 else d * 2
        total += d
    return base + str((10 - total % 10) % 10)


@dataclass
class Clinic:
    org: Organization
    practitioner: Practitioner
    coordinator: User
    _users: dict[str, User] = field(default_factory=dict)

    def user(self, role: str) -> User:
        if role not in self._users:
            self._users[role] = make_user(self.org, role, username=f"{role}-{self.org.slug}")
        return self._users[role]

    def actor(self, role: str) -> Actor:
        return actor(self.user(role))

    @property
    def system(self) -> Actor:
        return Actor.system(self.org.pk, "tests")


def make_clinic(slug: str | None = None) -> Clinic:
    org = make_org(slug, npi="1999999992", tin="123456789")
    pr = Practitioner.objects.create(organization=org, family="Osler", given="Wil", credentials="MD",
                                     npi=_next_npi())
    coordinator = make_user(org, "coordinator", username=f"coordinator-{org.slug}")
    c = Clinic(org, pr, coordinator)
    c._users["coordinator"] = coordinator
    return c


def enroll_apcm(c: Clinic, family: str = "Quill", given: str = "Ada", *, start: dt.date = dt.date(2026, 3, 1),
                disclosures: tuple[str, ...] = ALL_DISCLOSURES, conditions: tuple[str, ...] = ("E119", "I10"),
                seen: bool = True) -> tuple[Patient, Enrollment]:
    """An APCM patient enrolled from ``start``; ``seen``: an office visit on 2025-11-03 (the initiating visit)."""
    p = make_patient(c.org, family, given, birth_date=dt.date(1948, 3, 2), mrn=f"MRN-{family}", mbi="1EG4TE5MK73")
    if seen:
        visit = dt.datetime(2025, 11, 3, 15, tzinfo=UTC)
        make_stay(p, start=visit, end=visit + dt.timedelta(minutes=30), class_code="AMB", facility="Main Street")
    for code in conditions:
        Condition.objects.create(organization=c.org, patient=p, icd10=code, clinical_status="active",
                                 display=f"condition {code}", onset=dt.date(2015, 1, 1))
    consent = ConsentIn(method="verbal", disclosures=disclosures, obtained_by_user_id=c.coordinator.pk,
                        obtained_at=dt.datetime.combine(start - dt.timedelta(days=5), dt.time(15), UTC),
                        evidence="Consent script read by phone")
    e = enroll_patient(organization_id=c.org.pk, patient_id=p.pk, program="APCM",
                       billing_practitioner_id=c.practitioner.pk, consent=consent, actor=c.system, start=start)
    return p, e


def record_all_capabilities(c: Clinic, start: dt.date = dt.date(2026, 1, 1)) -> None:
    for key in CAPABILITY_KEYS:
        services.record_capability(actor=c.actor("leader"), key=key, effective_from=start,
                                   evidence=f"policy for {key}", evidence_link=f"policies/{key}.pdf")


def full_evidence(c: Clinic, p: Patient) -> None:
    """Everything the APCM element groups look for, for MONTH."""
    org = c.org
    designate_care_member(organization_id=org.pk, patient_id=p.pk, user_id=c.coordinator.pk, actor=c.system,
                          since=dt.date(2026, 2, 1))
    AccessNotice.objects.create(organization=org, patient=p, told_on=dt.date(2026, 3, 2), method="handout",
                                recorded_by="coordinator")
    TimeEntry.objects.create(organization=org, patient=p, staff=c.coordinator, staff_type="clinical_staff",
                             minutes=15, activity="medication_management", program="APCM",
                             service_date=dt.date(2026, 3, 5), created_by=c.coordinator)
    TimeEntry.objects.create(organization=org, patient=p, staff=c.coordinator, staff_type="clinical_staff",
                             minutes=12, activity="care_coordination", program="APCM",
                             service_date=dt.date(2026, 3, 6), created_by=c.coordinator, voided=True,
                             void_reason="entered twice")
    OutreachAttempt.objects.create(organization=org, patient=p, user=c.coordinator,
                                   at=dt.datetime(2026, 3, 6, 15, tzinfo=UTC), channel="phone", outcome="reached",
                                   note="Monthly check-in")
    AfterHoursContact.objects.create(organization=org, patient=p, channel="call",
                                     occurred_at=dt.datetime(2026, 3, 7, 3, tzinfo=UTC), handled_by="Nurse Kim",
                                     summary="Dizziness; advised fluids, follow-up next morning")
    careplans.create_plan(organization_id=org.pk, patient_id=p.pk, actor=actor(c.coordinator),
                          templates=["diabetes"], reason="Initial comprehensive care plan")
    PortalAccount.objects.create(organization=org, patient=p, user=make_user(org, "patient"))
    PatientRisk.objects.create(organization=org, patient=p, as_of=dt.date(2026, 3, 1), methodology_version="tier-1.0",
                               tier="high", points=7, chronic_count=2, chronic_conditions=["Diabetes", "Hypertension"],
                               explanation="2 chronic conditions; 1 admission in 12 months")
    Coverage.objects.create(organization=org, patient=p, kind="qmb", start=dt.date(2026, 1, 1),
                            source="x12-271", evidence="271 EB*R QMB 2026-01-01")
    services.record_pathway(actor=c.actor("leader"), practitioner_id=c.practitioner.pk, performance_year=2026,
                            pathway="MVP_M0005", evidence="QPP registration confirmation 2026-02-01")


def discharge(c: Clinic, p: Patient, *, discharged: dt.datetime, contact: dt.datetime | None) -> TransitionEpisode:
    enc = make_stay(p, start=discharged - dt.timedelta(days=3), end=discharged)
    return TransitionEpisode.objects.create(
        organization=c.org, patient=p, encounter=enc, setting="inpatient", status="open", facility="General Hospital",
        admitted_at=discharged - dt.timedelta(days=3), discharged_at=discharged,
        contact_due=discharged + dt.timedelta(days=2), followup_due=discharged + dt.timedelta(days=7),
        contact_done=contact is not None, contact_at=contact,
    )
