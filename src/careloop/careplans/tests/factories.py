"""Care-plan and access test helpers: a clinic with staff, a patient with diabetes, portal users."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from careloop.accounts.models import User
from careloop.accounts.tests.factories import actor, make_user
from careloop.clinics.models import Organization
from careloop.clinics.tests.factories import make_org
from careloop.core.actor import Actor
from careloop.registry.models import Condition, Patient
from careloop.registry.tests.factories import make_patient

UTC = dt.UTC
# Monday 9 March 2026, 14:00 UTC = 10:00 in New York (office hours).
T0 = dt.datetime(2026, 3, 9, 14, 0, tzinfo=UTC)


@dataclass
class Clinic:
    org: Organization
    coordinator: User
    nurse: User
    patient: Patient
    other_patient: Patient
    condition: Condition

    @property
    def coord(self) -> Actor:
        return actor(self.coordinator)


def make_clinic(slug: str | None = None) -> Clinic:
    org = make_org(slug)
    coordinator = make_user(org, "coordinator")
    nurse = make_user(org, "nurse")
    patient = make_patient(org, "Quill", "Ada", birth_date=dt.date(1948, 3, 2))
    other = make_patient(org, "Other", "Olga", birth_date=dt.date(1950, 1, 1))
    cond = Condition.objects.create(organization=org, patient=patient, icd10="E119", clinical_status="active",
                                    display="Type 2 diabetes mellitus without complications")
    return Clinic(org, coordinator, nurse, patient, other, cond)
