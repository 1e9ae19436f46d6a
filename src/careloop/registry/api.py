"""Patients over REST: search and chart. Role-checked, organization-scoped, audited."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.http import HttpRequest
from ninja import Router, Schema

from careloop.accounts.permissions import actor_from_request, require_permission
from careloop.audit.services import EventSpec, record_events
from careloop.registry import selectors

router = Router(tags=["patients"])


class PatientOut(Schema):
    id: int
    fhir_id: str
    mrn: str
    mbi: str
    family: str
    given: str
    birth_date: dt.date | None
    sex: str
    preferred_language: str


class PatientPage(Schema):
    count: int
    results: list[PatientOut]


class ConditionOut(Schema):
    icd10: str
    snomed: str
    display: str
    clinical_status: str
    onset: dt.date | None


class ObservationOut(Schema):
    code: str
    display: str
    value_num: float | None
    unit: str
    value_text: str
    systolic: float | None
    diastolic: float | None
    effective_at: dt.datetime | None


class EncounterOut(Schema):
    class_code: str
    status: str
    type_display: str
    start: dt.datetime | None
    end: dt.datetime | None
    facility: str
    discharge_disposition: str


class CoverageOut(Schema):
    kind: str
    payor: str
    start: dt.date | None
    end: dt.date | None
    source: str


class MedicationOut(Schema):
    rxnorm: str
    display: str
    status: str


class ChartOut(Schema):
    patient: PatientOut
    coverages: list[CoverageOut]
    conditions: list[ConditionOut]
    medications: list[MedicationOut]
    labs: list[ObservationOut]
    vitals: list[ObservationOut]
    encounters: list[EncounterOut]


@router.get("", response=PatientPage)
def search_patients(
    request: HttpRequest,
    q: str = "",
    sex: str = "",
    age_min: int | None = None,
    age_max: int | None = None,
    coverage: str = "",
    condition: str = "",
    limit: int = 50,
    offset: int = 0,
) -> dict[str, object]:
    actor = require_permission(actor_from_request(request), "patient.read")
    qs = selectors.patients_matching(
        actor=actor, q=q, sex=sex, age_min=age_min, age_max=age_max, coverage_kind=coverage, icd10_prefix=condition
    )
    limit = min(max(limit, 1), 200)
    offset = max(offset, 0)
    page = list(qs[offset : offset + limit])
    with transaction.atomic():
        record_events(actor=actor, events=[EventSpec("patient.listed", p.pk, "Patient", str(p.pk)) for p in page])
    return {"count": qs.count(), "results": page}


@router.get("/{patient_id}", response=ChartOut)
def patient_chart(request: HttpRequest, patient_id: int) -> selectors.PatientChart:
    actor = require_permission(actor_from_request(request), "patient.read")
    chart = selectors.patient_chart(actor=actor, patient_id=patient_id)
    with transaction.atomic():
        record_events(actor=actor, events=[EventSpec("patient.chart_viewed", patient_id, "Patient", str(patient_id))])
    return chart
