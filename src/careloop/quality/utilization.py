"""Utilization measures over ``registry.Encounter``, set-based (a few aggregate queries, no per-patient work).

- 30-day all-cause readmission rate: index stays are inpatient encounters that end within the period; an index stay
  is readmitted when the same patient has another inpatient encounter starting after its end and within 30 days.
  (Unadjusted; CMS's MIPS 479 is risk-standardized from claims.)
- ED visits per 1,000 patients: emergency encounters starting within the period per 1,000 active patients.
- Admissions among patients with multiple chronic conditions (``risk.PatientRisk.chronic_count >= 2``): inpatient
  admissions starting within the period for those patients, per 100 such patients (unadjusted stand-in for 484).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Exists, OuterRef

from careloop.accounts import rules as access
from careloop.core.actor import Actor
from careloop.core.errors import PermissionDenied
from careloop.registry.choices import EncounterClass
from careloop.registry.models import Encounter, Patient
from careloop.risk.models import PatientRisk


def _bounds(first: dt.date, last: dt.date) -> tuple[dt.datetime, dt.datetime]:
    return (dt.datetime(first.year, first.month, first.day, tzinfo=dt.UTC),
            dt.datetime(last.year, last.month, last.day, tzinfo=dt.UTC) + dt.timedelta(days=1))


def utilization(*, organization_id: int, first: dt.date, last: dt.date) -> dict[str, Any]:
    start, end = _bounds(first, last)
    encounters = Encounter.objects.filter(organization_id=organization_id)
    inpatient = encounters.filter(class_code=EncounterClass.IMP)
    index = inpatient.filter(end__gte=start, end__lt=end)
    readmit = inpatient.filter(
        patient_id=OuterRef("patient_id"), start__gt=OuterRef("end"),
        start__lte=OuterRef("end") + dt.timedelta(days=30),
    )
    index_stays = index.count()
    readmissions = index.filter(Exists(readmit)).count()
    patients = Patient.objects.filter(organization_id=organization_id, active=True).count()
    ed_visits = encounters.filter(class_code=EncounterClass.EMER, start__gte=start, start__lt=end).count()
    mcc = PatientRisk.objects.filter(organization_id=organization_id, chronic_count__gte=2)
    mcc_patients = mcc.count()
    mcc_admissions = inpatient.filter(start__gte=start, start__lt=end,
                                      patient_id__in=mcc.values("patient_id")).count()
    return {
        "period": f"{first}:{last}",
        "readmission_30d": {"index_stays": index_stays, "readmissions": readmissions,
                            "rate": round(readmissions / index_stays, 4) if index_stays else None},
        "ed_visits_per_1000": {"ed_visits": ed_visits, "patients": patients,
                               "rate": round(ed_visits * 1000 / patients, 1) if patients else None},
        "mcc_admissions": {"admissions": mcc_admissions, "mcc_patients": mcc_patients,
                           "per_100": round(mcc_admissions * 100 / mcc_patients, 2) if mcc_patients else None},
    }


def utilization_report(*, actor: Actor, first: dt.date, last: dt.date) -> dict[str, Any]:
    if actor.organization_id is None or not access.has_permission(actor.role, "quality.read"):
        raise PermissionDenied("quality.read required")
    return utilization(organization_id=actor.organization_id, first=first, last=last)
