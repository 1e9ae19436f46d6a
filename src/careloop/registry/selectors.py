"""Read queries over the registry. Every one takes the acting user and scopes to their organization."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet

from careloop.core import clock
from careloop.core.actor import Actor
from careloop.core.errors import NotFound
from careloop.registry.models import (
    AllergyIntolerance,
    Condition,
    Coverage,
    Encounter,
    FhirResource,
    Immunization,
    Medication,
    Observation,
    Patient,
    PatientIdentifier,
    Procedure,
    QuarantinedInput,
)

_DOB = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$|^(\d{1,2})/(\d{1,2})/(\d{4})$")
_MBI = re.compile(r"^[1-9][A-Z][A-Z0-9]\d[A-Z][A-Z0-9]\d[A-Z]{2}\d{2}$")


def _org(actor: Actor) -> int:
    if actor.organization_id is None:
        raise NotFound("no organization")
    return actor.organization_id


def patients_matching(
    *,
    actor: Actor,
    q: str = "",
    sex: str = "",
    age_min: int | None = None,
    age_max: int | None = None,
    coverage_kind: str = "",
    icd10_prefix: str = "",
    today: dt.date | None = None,
) -> QuerySet[Patient]:
    """Search by name ("family", "family, given", "given family"), MRN, MBI or date of birth; filter."""
    qs = Patient.objects.filter(organization_id=_org(actor))
    text = q.strip()
    if text:
        m = _DOB.match(text)
        if m:
            try:
                if m.group(1):
                    dob = dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
                else:
                    dob = dt.date(int(m.group(6)), int(m.group(4)), int(m.group(5)))
            except ValueError:
                return qs.none()  # not a real date: no patient was born on it
            qs = qs.filter(birth_date=dob)
        elif _MBI.match(text.upper().replace("-", "")):
            qs = qs.filter(mbi=text.upper().replace("-", ""))
        else:
            ident = PatientIdentifier.objects.filter(organization_id=_org(actor), value=text).values("patient_id")
            name = text.lower().replace(",", " ").split()
            name_q = Q(search_name__startswith=" ".join(name))
            if len(name) == 2:
                name_q |= Q(search_name__startswith=f"{name[1]} {name[0]}")
            qs = qs.filter(name_q | Q(mrn=text) | Q(pk__in=ident))
    if sex:
        qs = qs.filter(sex=sex)
    ref = today or clock.today()
    if age_min is not None:
        qs = qs.filter(birth_date__lte=_years_before(ref, age_min))
    if age_max is not None:
        qs = qs.filter(birth_date__gt=_years_before(ref, age_max + 1))
    if coverage_kind:
        qs = qs.filter(
            pk__in=Coverage.objects.filter(organization_id=_org(actor), kind=coverage_kind)
            .filter(Q(end__isnull=True) | Q(end__gte=ref))
            .values("patient_id")
        )
    if icd10_prefix:
        code = icd10_prefix.replace(".", "").upper()
        qs = qs.filter(
            pk__in=Condition.objects.filter(
                organization_id=_org(actor), icd10__startswith=code, clinical_status="active"
            ).values("patient_id")
        )
    return qs.order_by("search_name", "pk")


def _years_before(day: dt.date, years: int) -> dt.date:
    year = day.year - years
    if year < dt.MINYEAR:
        return dt.date.min
    if year > dt.MAXYEAR:
        return dt.date.max
    try:
        return day.replace(year=year)
    except ValueError:
        return day.replace(year=year, day=28)


def patient_by_id(*, actor: Actor, patient_id: int) -> Patient:
    patient = Patient.objects.filter(organization_id=_org(actor), pk=patient_id).first()
    if patient is None:
        raise NotFound("patient not found")
    return patient


def patient_by_fhir_id(*, actor: Actor, fhir_id: str) -> Patient:
    patient = Patient.objects.filter(organization_id=_org(actor), fhir_id=fhir_id).first()
    if patient is None:
        raise NotFound("patient not found")
    return patient


def patients_by_identifier(*, actor: Actor, system: str | None, value: str) -> QuerySet[Patient]:
    idents = PatientIdentifier.objects.filter(organization_id=_org(actor), value=value)
    if system:
        idents = idents.filter(system=system)
    return Patient.objects.filter(organization_id=_org(actor), pk__in=idents.values("patient_id"))


@dataclass
class PatientChart:
    patient: Patient
    identifiers: list[PatientIdentifier]
    coverages: list[Coverage]
    conditions: list[Condition]
    medications: list[Medication]
    labs: list[Observation]
    vitals: list[Observation]
    screenings: list[Observation]
    encounters: list[Encounter]
    immunizations: list[Immunization]
    procedures: list[Procedure]
    allergies: list[AllergyIntolerance]


def patient_chart(*, actor: Actor, patient_id: int) -> PatientChart:
    patient = patient_by_id(actor=actor, patient_id=patient_id)
    org = patient.organization_id
    base: dict[str, Any] = {"organization_id": org, "patient_id": patient.pk}
    obs = Observation.objects.filter(**base).order_by("-effective_at")
    return PatientChart(
        patient=patient,
        identifiers=list(PatientIdentifier.objects.filter(**base).order_by("system")),
        coverages=list(Coverage.objects.filter(**base).order_by("-start")),
        conditions=list(Condition.objects.filter(**base).order_by("clinical_status", "-onset")),
        medications=list(Medication.objects.filter(**base).order_by("status", "display")),
        labs=list(obs.filter(category="laboratory")[:40]),
        vitals=list(obs.filter(category="vital-signs")[:40]),
        screenings=list(obs.filter(category__in=["survey", "social-history"])[:40]),
        encounters=list(Encounter.objects.filter(**base).order_by("-start")[:50]),
        immunizations=list(Immunization.objects.filter(**base).order_by("-occurred")),
        procedures=list(Procedure.objects.filter(**base).order_by("-performed_start")[:50]),
        allergies=list(AllergyIntolerance.objects.filter(**base)),
    )


def fhir_resources_for_patient(*, actor: Actor, resource_types: list[str], patient_id: int) -> QuerySet[FhirResource]:
    return FhirResource.objects.filter(
        organization_id=_org(actor), resource_type__in=resource_types, patient_id=patient_id
    ).order_by("pk")


def fhir_resource(*, actor: Actor, resource_type: str, fhir_id: str) -> FhirResource:
    row = FhirResource.objects.filter(organization_id=_org(actor), resource_type=resource_type, fhir_id=fhir_id).first()
    if row is None:
        raise NotFound(f"{resource_type}/{fhir_id} not found")
    return row


def patient_fhir_resource(*, actor: Actor, patient: Patient) -> FhirResource | None:
    return (
        FhirResource.objects.filter(organization_id=_org(actor), resource_type="Patient", patient_id=patient.pk)
        .order_by("-updated_at")
        .first()
    )


def quarantined_inputs(*, actor: Actor) -> QuerySet[QuarantinedInput]:
    return QuarantinedInput.objects.filter(organization_id=_org(actor)).order_by("-received_at")
