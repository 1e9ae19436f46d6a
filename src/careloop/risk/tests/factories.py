"""Plain factory functions for the clinical facts the risk job reads (written directly, as the importer would)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from careloop.clinics.models import Organization
from careloop.registry.models import Condition, Coverage, Encounter, Medication, Observation, Patient
from careloop.registry.tests.factories import make_patient

UTC = dt.UTC


def patient(org: Organization, name: str, *, born: dt.date = dt.date(1950, 3, 1), sex: str = "female") -> Patient:
    return make_patient(org, name, "Pat", birth_date=born, sex=sex)


def condition(p: Patient, icd10: str = "", *, snomed: str = "", status: str = "active", **fields: Any) -> Condition:
    return Condition.objects.create(
        organization_id=p.organization_id, patient=p, icd10=icd10, snomed=snomed, clinical_status=status, **fields
    )


def encounter(
    p: Patient, class_code: str, start: dt.date, end: dt.date | None = None, status: str = "finished"
) -> Encounter:
    def at(d: dt.date) -> dt.datetime:
        return dt.datetime(d.year, d.month, d.day, 15, 0, tzinfo=UTC)

    return Encounter.objects.create(
        organization_id=p.organization_id,
        patient=p,
        class_code=class_code,
        status=status,
        start=at(start),
        end=at(end) if end else None,
    )


def medications(p: Patient, n: int, *, status: str = "active") -> None:
    for i in range(n):
        Medication.objects.create(
            organization_id=p.organization_id,
            patient=p,
            kind="request",
            rxnorm=str(1000 + i),
            status=status,
            display=f"drug {i}",
        )


def observation(
    p: Patient, code: str, on: dt.date, *, value_num: float | None = None, value_code: str = "", value_text: str = ""
) -> Observation:
    return Observation.objects.create(
        organization_id=p.organization_id,
        patient=p,
        code=code,
        code_system="http://loinc.org",
        status="final",
        effective_at=dt.datetime(on.year, on.month, on.day, 12, 0, tzinfo=UTC),
        value_num=value_num,
        value_code=value_code,
        value_text=value_text,
    )


def coverage(p: Patient, kind: str, start: dt.date | None = None) -> Coverage:
    return Coverage.objects.create(organization_id=p.organization_id, patient=p, kind=kind, start=start)
