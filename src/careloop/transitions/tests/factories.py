"""Transition test helpers: stays written through the registry service, as the ADT handler does."""

from __future__ import annotations

import datetime as dt
from typing import Any

from careloop.registry.models import Encounter, Patient
from careloop.registry.services import save_encounter

UTC = dt.UTC


def make_stay(patient: Patient, *, start: dt.datetime, end: dt.datetime | None, class_code: str = "IMP",
              status: str | None = None, disposition: str = "01", facility: str = "General Hospital",
              **fields: Any) -> Encounter:
    pk = save_encounter(organization_id=patient.organization_id, patient_id=patient.pk, encounter_id=None, fields={
        "class_code": class_code, "status": status or ("finished" if end else "in-progress"), "start": start,
        "end": end, "discharge_disposition": disposition, "facility": facility, "source_kind": "hl7v2", **fields})
    return Encounter.objects.get(pk=pk)


def update_stay(enc: Encounter, **fields: Any) -> Encounter:
    save_encounter(organization_id=enc.organization_id, patient_id=enc.patient_id, encounter_id=enc.pk,
                   fields=fields)
    return Encounter.objects.get(pk=enc.pk)
