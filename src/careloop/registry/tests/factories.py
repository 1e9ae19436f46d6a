"""Plain factory functions for registry rows.

The registry has no single-row write service (rows arrive through ``apply_fhir_batch``), so these helpers
write the typed rows directly, with ``search_name`` built the way the FHIR mapping builds it
("family given", lower case).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from careloop.clinics.models import Organization
from careloop.registry.models import Condition, Coverage, Patient, PatientIdentifier

MRN_SYSTEM = "urn:oid:1.2.3.4.mrn"


def make_patient(
    organization: Organization,
    family: str,
    given: str,
    *,
    birth_date: dt.date | None = None,
    sex: str = "female",
    mrn: str = "",
    mbi: str = "",
    identifiers: list[tuple[str, str]] = (),
    **fields: Any,
) -> Patient:  # type: ignore[assignment]
    patient = Patient.objects.create(
        organization=organization,
        family=family,
        given=given,
        search_name=f"{family} {given}".lower(),
        birth_date=birth_date,
        sex=sex,
        mrn=mrn,
        mbi=mbi,
        **fields,
    )
    if mrn:
        PatientIdentifier.objects.create(
            organization=organization, patient=patient, system=MRN_SYSTEM, value=mrn, type_code="MR"
        )
    for system, value in identifiers:
        PatientIdentifier.objects.create(organization=organization, patient=patient, system=system, value=value)
    return patient


def add_coverage(patient: Patient, kind: str, *, start: dt.date | None = None, end: dt.date | None = None) -> Coverage:
    return Coverage.objects.create(
        organization_id=patient.organization_id, patient=patient, kind=kind, start=start, end=end
    )


def add_condition(patient: Patient, icd10: str, *, clinical_status: str = "active", display: str = "") -> Condition:
    return Condition.objects.create(
        organization_id=patient.organization_id,
        patient=patient,
        icd10=icd10,
        clinical_status=clinical_status,
        display=display,
    )
