"""FHIR Condition and Encounter resources for the problem list, office visits and hospital stays."""

from __future__ import annotations

from typing import Any

from careloop.synth import codes as c
from careloop.synth.clinic import CLINIC_REF, HOSPITALS, LOCATION_REFS, PROVIDERS
from careloop.synth.conditions import Variant
from careloop.synth.encounters import Dx, Stay, Visit
from careloop.synth.population import PatientCtx
from careloop.synth.rand import ri, rr
from careloop.synth.timeutil import DAY, iso_date, iso_dt

SNOMED_SHARE = 0.45  # of codes with a known SNOMED concept; ~40% of all Conditions end up dual-coded
_CLASS = {"ED": "EMER", "OBS": "OBSENC", "IMP": "IMP"}


def hospital_visit_system(hospital: int) -> str:
    return f"urn:careloop:synth-hosp:{HOSPITALS[hospital].facility.lower()}:visit"


def code_concept(ctx: PatientCtx, icd: str, display: str, snomed: str, snomed_display: str) -> dict[str, Any]:
    codings = [c.coding(c.ICD10, icd, display)]
    if snomed and ctx.rng.random() < SNOMED_SHARE:
        codings.append(c.coding(c.SNOMED, snomed, snomed_display))
    return {"coding": codings, "text": display}


def condition(ctx: PatientCtx, code: dict[str, Any], *, problem: bool, onset: str, recorded: str,
              abatement: str | None = None, encounter: str | None = None,
              recorder: dict[str, str] | None = None) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Condition", "id": ctx.next_id("cond"), "meta": ctx.meta,
        "clinicalStatus": c.CLINICAL_RESOLVED if abatement else c.CLINICAL_ACTIVE,
        "verificationStatus": c.CONFIRMED,
        "category": c.CAT_PROBLEM if problem else c.CAT_ENCOUNTER_DX,
        "code": code, "subject": ctx.ref,
    }
    if encounter:
        resource["encounter"] = {"reference": f"Encounter/{encounter}"}
    resource["onsetDateTime"] = onset
    if abatement:
        resource["abatementDateTime"] = abatement
    resource["recordedDate"] = recorded
    if recorder:
        resource["recorder"] = recorder
    return resource


def problem_list(ctx: PatientCtx) -> list[dict[str, Any]]:
    out = []
    recorder = PROVIDERS[ctx.pcp].ref
    last_day = ctx.end_m // DAY - 1
    for rec in ctx.conditions:
        v: Variant = rec.variant
        onset, recorded, abated = rec.onset_ord, rec.recorded_ord, rec.abated_ord
        if recorded > last_day:  # diagnosed in the window, but the patient died before that date
            onset = min(onset, last_day - 30)
            recorded = last_day - ri(ctx.rng, 0, 29)
        if abated is not None and abated > last_day:
            abated = None
        out.append(condition(
            ctx, code_concept(ctx, v.icd, v.display, v.snomed, v.snomed_display), problem=True,
            onset=iso_date(onset), recorded=iso_date(recorded),
            abatement=iso_date(abated) if abated is not None else None, recorder=recorder))
    return out


def _dx_concept(ctx: PatientCtx, dx: Dx) -> dict[str, Any]:
    return code_concept(ctx, dx.icd, dx.display, dx.snomed, dx.snomed_display)


def stay_resources(ctx: PatientCtx, stay: Stay) -> tuple[dict[str, Any], dict[str, Any]]:
    """The Encounter of a hospital stay and the Condition its diagnosis references."""
    hosp = HOSPITALS[stay.hospital]
    finished = stay.end_m is not None
    dx_code = _dx_concept(ctx, stay.dx)
    dx = condition(ctx, dx_code, problem=False, onset=iso_dt(stay.arrive_m), recorded=iso_dt(stay.arrive_m),
                   abatement=iso_dt(stay.end_m) if stay.end_m is not None else None, encounter=stay.enc_id)
    klass = _CLASS[stay.kind]
    period: dict[str, str] = {"start": iso_dt(stay.arrive_m)}
    if stay.end_m is not None:
        period["end"] = iso_dt(stay.end_m)
    if stay.kind == "ED":
        enc_type = c.ED_TYPES[2 if stay.dx.key in ("chest_pain", "syncope", "dyspnea")
                             else rr(ctx.rng, 2)]
    elif stay.kind == "OBS":
        enc_type = c.OBS_TYPE
    else:
        enc_type = c.INPATIENT_TYPE if stay.via_ed else c.ELECTIVE_TYPE
    enc: dict[str, Any] = {
        "resourceType": "Encounter", "id": stay.enc_id, "meta": ctx.meta,
        "identifier": [{"use": "official", "type": c.concept(c.V2_0203, "VN", "Visit number"),
                        "system": hospital_visit_system(stay.hospital), "value": stay.visit, "assigner": hosp.ref}],
        "status": "finished" if finished else "in-progress",
        "class": c.ENC_CLASS[klass],
    }
    if stay.via_ed and stay.kind != "ED":
        second: dict[str, Any] = {"class": c.ENC_CLASS[klass], "period": {"start": iso_dt(stay.admit_m)}}
        if stay.end_m is not None:
            second["period"]["end"] = iso_dt(stay.end_m)
        enc["classHistory"] = [
            {"class": c.ENC_CLASS["EMER"], "period": {"start": iso_dt(stay.arrive_m), "end": iso_dt(stay.admit_m)}},
            second,
        ]
    enc["type"] = [enc_type]
    enc["subject"] = ctx.ref
    enc["period"] = period
    enc["reasonCode"] = [dx_code]
    enc["diagnosis"] = [{"condition": {"reference": f"Condition/{dx['id']}"},
                         "use": c.ROLE_DD if finished else c.ROLE_AD, "rank": 1}]
    hospitalization: dict[str, Any] = {}
    if stay.kind != "ED":
        hospitalization["admitSource"] = c.ADMIT_SOURCES["emd" if stay.via_ed else "gp"]
    if finished and stay.disposition:
        code, display, _ = c.DISPOSITIONS[stay.disposition]
        hospitalization["dischargeDisposition"] = c.concept(c.DISCHARGE, code, display,
                                                            c.DISPOSITION_TEXT.get(stay.disposition, display))
    if hospitalization:
        enc["hospitalization"] = hospitalization
    enc["serviceProvider"] = hosp.ref
    return enc, dx


def visit_resources(ctx: PatientCtx, v: Visit) -> list[dict[str, Any]]:
    """The office-visit Encounter and, for a sick visit, its encounter-diagnosis Condition."""
    out: list[dict[str, Any]] = []
    reason: dict[str, Any] | None = None
    if v.acute is not None:
        dx = v.acute[0]
        reason = _dx_concept(ctx, dx)
        abate = v.m // DAY + ri(ctx.rng, 7, 21)
        abatement = iso_date(abate) if abate * DAY < ctx.end_m else None
        out.append(condition(ctx, reason, problem=False, onset=iso_dt(v.m), recorded=iso_dt(v.m),
                             abatement=abatement, encounter=v.enc_id, recorder=PROVIDERS[v.provider].ref))
    elif not v.awv:
        active = [r for r in ctx.conditions if r.core and r.abated_ord is None and r.onset_ord * DAY < v.m]
        if active:
            rec = active[rr(ctx.rng, len(active))]
            reason = {"coding": [c.coding(c.ICD10, rec.variant.icd, rec.variant.display)],
                      "text": rec.variant.display}
    enc: dict[str, Any] = {
        "resourceType": "Encounter", "id": v.enc_id, "meta": ctx.meta,
        "identifier": [{"use": "official", "type": c.concept(c.V2_0203, "VN", "Visit number"),
                        "system": c.CLINIC_VISIT, "value": v.visit}],
        "status": "finished", "class": c.ENC_CLASS["AMB"], "type": [c.OFFICE_TYPES[v.code]],
        "subject": ctx.ref,
        "participant": [{"type": c.PPRF, "individual": PROVIDERS[v.provider].ref}],
        "period": {"start": iso_dt(v.m), "end": iso_dt(v.m + v.minutes)},
    }
    if reason is not None:
        enc["reasonCode"] = [reason]
    enc["location"] = [{"location": LOCATION_REFS[v.location]}]
    enc["serviceProvider"] = CLINIC_REF
    out.insert(0, enc)
    return out
