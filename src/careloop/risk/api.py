"""Risk over REST: a patient's current tier with its explanation and history; the methodology document."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.http import HttpRequest
from ninja import Router, Schema

from careloop.accounts.permissions import actor_from_request, require_permission
from careloop.audit.services import EventSpec, record_events
from careloop.core.errors import NotFound
from careloop.registry.models import Patient
from careloop.risk import selectors
from careloop.risk.methodology import load_methodology, render_markdown

router = Router(tags=["risk"])


class TierChangeOut(Schema):
    from_tier: str
    to_tier: str
    changed_at: dt.datetime
    as_of: dt.date
    methodology_version: str
    explanation: str


class PatientRiskOut(Schema):
    patient_id: int
    tier: str
    points: int
    explanation: str
    as_of: dt.date
    methodology_version: str
    chronic_count: int
    chronic_conditions: list[str]
    ccw_categories: list[str]
    charlson: int
    charlson_quan: int
    charlson_age_adjusted: int
    charlson_categories: list[str]
    hcc_score: float | None
    hcc_percentile: float | None
    hccs: list[str]
    hcc_segment: str
    ed_visits_12m: int
    admissions_12m: int
    readmissions_12m: int
    active_medications: int
    polypharmacy: bool
    sdoh_needs: list[str]
    bh_flags: list[str]
    history: list[TierChangeOut]


class MethodologyOut(Schema):
    version: str
    title: str
    markdown: str


@router.get("/patients/{patient_id}", response=PatientRiskOut)
def patient_risk(request: HttpRequest, patient_id: int) -> dict[str, object]:
    actor = require_permission(actor_from_request(request), "risk.read")
    assert actor.organization_id is not None  # require_permission refuses actors without one
    if not Patient.objects.filter(organization_id=actor.organization_id, pk=patient_id).exists():
        raise NotFound("no such patient")
    risk = selectors.patient_risk(actor=actor, patient_id=patient_id)
    if risk is None:
        raise NotFound("patient not scored yet")
    history = selectors.tier_history(actor=actor, patient_id=patient_id)
    with transaction.atomic():
        record_events(actor=actor, events=[EventSpec("risk.viewed", patient_id, "PatientRisk", str(risk.pk))])
    return {**{f.attname: getattr(risk, f.attname) for f in risk._meta.concrete_fields}, "history": history}


@router.get("/methodology", response=MethodologyOut)
def methodology(request: HttpRequest, version: str = "") -> dict[str, str]:
    require_permission(actor_from_request(request), "risk.read")
    try:
        m = load_methodology(version) if version else load_methodology()
    except ValueError as exc:
        raise NotFound(str(exc)) from exc
    return {"version": m.label, "title": m.title, "markdown": render_markdown(m)}
