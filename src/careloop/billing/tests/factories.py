"""Billing test data: a practice with a billing practitioner and a coordinator, enrolled patients with consent,
chronic conditions and time entries; and a small stand-in rules engine for the run's ledger mechanics (the real
engine's rules are tested by its golden table)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from careloop.accounts.models import User
from careloop.accounts.tests.factories import make_user
from careloop.billing.rules.facts import Decision, Finding, Line, Scenario
from careloop.clinics.models import Organization, Practitioner
from careloop.core import clock
from careloop.programs.models import Enrollment, ProgramConsent
from careloop.registry.models import Patient
from careloop.registry.tests.factories import add_condition, make_patient
from careloop.worklist.models import TimeEntry

MONTH = "2026-03"
D = dt.date
DISCLOSURES = ["availability", "one_practitioner_per_month", "right_to_stop", "cost_sharing"]


@dataclass
class Practice:
    org: Organization
    practitioner: Practitioner
    coordinator: User


def make_practice(org: Organization, npi: str = "1234567893") -> Practice:
    org.npi, org.tin = org.npi or "1999999984", org.tin or "123456789"
    org.save(update_fields=["npi", "tin"])
    prac = Practitioner.objects.create(organization=org, family="Osler", given="Wil", credentials="MD", npi=npi)
    return Practice(org, prac, make_user(org, "coordinator"))


def enrolled_patient(p: Practice, family: str, *, program: str = "CCM", mbi: str = "1EG4TE5MK73",
                     conditions: tuple[str, ...] = ("E119", "I509"), start: D = D(2026, 1, 1),
                     consent: bool = True) -> Patient:
    patient = make_patient(p.org, family, "Ann", birth_date=D(1950, 5, 1), mbi=mbi, address_line="1 Main St",
                           city="Springfield", state="IL", postal_code="62701")
    for code in conditions:
        add_condition(patient, code)
    e = Enrollment.objects.create(organization=p.org, patient=patient, program=program, start=start,
                                  billing_practitioner=p.practitioner, enrolled_by="test",
                                  initiating_visit="visit", initiating_visit_on=D(2025, 12, 1))
    if consent:
        ProgramConsent.objects.create(organization=p.org, enrollment=e, patient=patient, program=program,
                                      method="verbal", disclosures=DISCLOSURES, obtained_by=p.coordinator,
                                      obtained_at=dt.datetime(2025, 12, 20, 15, tzinfo=dt.UTC))
    return patient


def log_time(p: Practice, patient: Patient, minutes: int, day: D, program: str = "CCM") -> TimeEntry:
    return TimeEntry.objects.create(organization=p.org, patient=patient, staff=p.coordinator,
                                    staff_type="clinical_staff", minutes=minutes, activity="care_coordination",
                                    program=program, service_date=day, created_by=p.coordinator)


@dataclass(frozen=True)
class StandInRuleset:
    version: str = "test-ccm"


def stand_in_evaluate(scenario: Scenario, ruleset: Any) -> Decision:
    """CCM only: 99490 at 20 clinical-staff minutes, 99439 per further full 20 (max 2); consent required."""
    enrolled = [e for e in scenario.enrollments if e.program == "CCM"]
    if not enrolled:
        return Decision(scenario.month, ruleset.version)
    e = enrolled[0]
    if e.consent_date is None:
        return Decision(scenario.month, ruleset.version,
                        denied=(Finding("99490", "T-CONSENT", "no consent on record", e.practitioner),),
                        trace=("T-CONSENT",))
    minutes = sum(t.minutes for t in scenario.time_entries if t.program == "CCM" and t.staff_type == "clinical_staff")
    if minutes < 20:
        return Decision(scenario.month, ruleset.version,
                        denied=(Finding("99490", "T-MIN", f"{minutes} minutes, 20 needed", e.practitioner),),
                        trace=("T-CONSENT", "T-MIN"))
    lines = [Line("99490", 1, e.practitioner, ("T-MIN",))]
    extra = min(2, (minutes - 20) // 20)
    if extra:
        lines.append(Line("99439", extra, e.practitioner, ("T-ADD",)))
    flags = (Finding("99439", "T-CAP", "unit cap UNCONFIRMED"),) if extra == 2 else ()
    return Decision(scenario.month, ruleset.version, lines=tuple(lines), flags=flags,
                    trace=("T-CONSENT", "T-MIN", "T-ADD"))


def system_now() -> dt.datetime:
    return clock.now()
