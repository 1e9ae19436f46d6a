"""Medication lists sized to the conditions (guideline-shaped, with realistic gaps), and allergies.

Each condition asks for drug classes with a probability (heart failure: beta blocker, loop diuretic,
ACE/ARB or ARNI, MRA, SGLT2; AF: anticoagulant and rate control; ...); classes are shared, so a patient
with hypertension and heart failure gets one beta blocker. About a quarter of patients end up with ten or
more active medications, as in published Medicare polypharmacy figures.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from careloop.synth import codes as c
from careloop.synth.clinic import PROVIDERS
from careloop.synth.encounters import Visit
from careloop.synth.population import PatientCtx
from careloop.synth.rand import one, ri
from careloop.synth.timeutil import DAY, iso_date, iso_dt


@dataclass(slots=True)
class PlannedMed:
    slot: str
    med: c.Med
    start_ord: int
    reason: str  # condition key
    stop_ord: int | None = None


def _want(ctx: PatientCtx) -> list[tuple[str, str]]:
    """(drug class, reason condition key) in a stable order."""
    rng = ctx.rng
    k = ctx.keys
    tags = ctx.tags
    out: list[tuple[str, str]] = []

    def maybe(slot: str, p: float, reason: str) -> None:
        if rng.random() < p:
            out.append((slot, reason))

    ckd_late = tags.get("ckd") in ("4", "5", "esrd")
    hfref = tags.get("hf") in ("r", "c")
    if "htn" in k:
        renin = "arb" if rng.random() < 0.45 else "acei"
        n_classes = rng.choices((1, 2, 3, 4), weights=(18, 37, 32, 13))[0] + (1 if k & {"dm", "ckd"} else 0)
        order = [renin, "ccb", "thiazide", "bb"]
        if "dm" in k or "ckd" in k:
            order = [renin, "ccb", "bb", "thiazide"]
        elif rng.random() < 0.4:
            order = ["ccb", renin, "thiazide", "bb"]
        for slot in order[:n_classes]:
            if slot == "thiazide" and ckd_late:
                continue
            out.append((slot, "htn"))
    if "ihd" in k:
        maybe("statin", 0.85, "ihd")
        maybe("aspirin", 0.75, "ihd")
        maybe("bb", 0.55, "ihd")
        maybe("nitro", 0.25, "ihd")
        maybe("clopidogrel", 0.15, "ihd")
    if "hld" in k:
        maybe("statin", 0.8, "hld")
    if "dm" in k:
        if tags.get("dm") == "t1":
            out += [("insulin_basal", "dm"), ("insulin_prandial", "dm")]
        else:
            if ctx.age < 80:
                maybe("statin", 0.6, "dm")
            if not ckd_late:
                maybe("metformin", 0.76, "dm")
            maybe("sulfonylurea", 0.18, "dm")
            maybe("dpp4", 0.12, "dm")
            maybe("sglt2", 0.22, "dm")
            maybe("glp1", 0.22, "dm")
            maybe("insulin_basal", 0.24, "dm")
            maybe("insulin_prandial", 0.07, "dm")
            if tags.get("dm") == "neuropathy":
                maybe("gabapentin", 0.5, "dm")
    if "hf" in k:
        out.append(("bb_hfref" if hfref else "bb", "hf"))
        maybe("loop", 0.78, "hf")
        if hfref and rng.random() < 0.4:
            out.append(("arni", "hf"))
        else:
            maybe("acei" if rng.random() < 0.5 else "arb", 0.5, "hf")
        maybe("mra", 0.35 if hfref else 0.15, "hf")
        maybe("sglt2", 0.35, "hf")
        maybe("digoxin", 0.05, "hf")
    if "af" in k:
        maybe("anticoag", 0.82, "af")
        if rng.random() < 0.75:
            out.append(("bb" if rng.random() < 0.78 else "rate_ccb", "af"))
    if "ckd" in k and "htn" not in k:
        maybe("acei" if rng.random() < 0.5 else "arb", 0.55, "ckd")
    if "copd" in k:
        maybe("saba", 0.9, "copd")
        maybe("lama", 0.5, "copd")
        maybe("ics_laba", 0.4, "copd")
    if "asthma" in k:
        maybe("saba", 0.95, "asthma")
        if rng.random() < 0.5:
            out.append(("ics", "asthma"))
        else:
            maybe("ics_laba", 0.6, "asthma")
        maybe("montelukast", 0.2, "asthma")
    if "depression" in k:
        maybe("ssri", 0.78, "depression")
        maybe("snri", 0.1, "depression")
        maybe("trazodone", 0.15, "depression")
    if "anxiety" in k:
        maybe("ssri", 0.5, "anxiety")
    if "dementia" in k:
        maybe("donepezil", 0.55, "dementia")
        maybe("memantine", 0.3, "dementia")
    if "hypothyroid" in k:
        maybe("levothyroxine", 0.95, "hypothyroid")
    if "osteoporosis" in k:
        maybe("bisphosphonate", 0.5, "osteoporosis")
        maybe("vitamin_d", 0.6, "osteoporosis")
    if "bph" in k:
        maybe("tamsulosin", 0.68, "bph")
        maybe("finasteride", 0.25, "bph")
    if "gerd" in k:
        maybe("ppi", 0.75, "gerd")
    if "arthritis" in k:
        if tags.get("arthritis") == "ra":
            maybe("methotrexate", 0.6, "arthritis")
        maybe("acetaminophen", 0.5, "arthritis")
        if not ckd_late and "ckd" not in k:
            maybe("nsaid", 0.2, "arthritis")
        maybe("tramadol", 0.08, "arthritis")
    if "gout" in k:
        maybe("allopurinol", 0.7, "gout")
        maybe("colchicine", 0.15, "gout")
    if "anemia" in k:
        maybe("iron", 0.6 if tags.get("anemia") == "iron" else 0.2, "anemia")
    if "glaucoma" in k:
        maybe("latanoprost", 0.8, "glaucoma")
    if "htn" in k and "hld" not in k and ctx.age < 76:
        maybe("statin", 0.3, "htn")
    if "dm" in k:
        maybe("aspirin", 0.35, "dm")
    # the sicker, the longer the list of everything else (symptom relief, supplements, PRN)
    extra = 1.0 + 0.22 * len(k)
    maybe("vitamin_d", 0.3 * extra, "")
    maybe("aspirin", 0.1 * extra, "")
    maybe("ppi", 0.1 * extra, "")
    maybe("acetaminophen", 0.15 * extra, "")
    maybe("loratadine", 0.06 * extra, "")
    maybe("trazodone", 0.05 * extra, "")
    maybe("gabapentin", 0.05 * extra, "")
    maybe("iron", 0.04 * extra, "")
    maybe("potassium", 0.03 * extra, "")
    return out


def plan(ctx: PatientCtx) -> list[PlannedMed]:
    rng = ctx.rng
    win = ctx.win
    seen: set[str] = set()
    planned: list[PlannedMed] = []
    for slot, reason in _want(ctx):
        if slot in seen or (slot == "bb" and "bb_hfref" in seen) or (slot in ("acei", "arb", "arni") and
                                                                      seen & {"acei", "arb", "arni"}):
            continue
        seen.add(slot)
        if slot == "loop" and rng.random() < 0.5:
            seen.add("potassium")
            planned.append(PlannedMed("potassium", c.MEDS["potassium"][0], 0, "hf"))
        options = c.MEDS[slot]
        med = rng.choices(options, weights=[m.weight for m in options])[0] if len(options) > 1 else options[0]
        planned.append(PlannedMed(slot, med, 0, reason))
    onset = {r.key: r.onset_ord for r in ctx.conditions}
    for pm in planned:
        first = onset.get(pm.reason, win.as_of_ord - 3000)
        pm.start_ord = min(win.as_of_ord - 10, first + ri(rng, 0, 120))
    # switches: ACE inhibitor cough -> ARB; statin muscle aches -> another statin
    extra: list[PlannedMed] = []
    for pm in planned:
        if pm.slot == "acei" and rng.random() < 0.07:
            stop = max(pm.start_ord + 30, win.start_ord + ri(rng, 0, 700))
            if stop < win.as_of_ord - 20:
                pm.stop_ord = stop
                extra.append(PlannedMed("arb", c.MEDS["arb"][1], stop, pm.reason))
        elif pm.slot == "statin" and rng.random() < 0.05:
            stop = max(pm.start_ord + 30, win.start_ord + ri(rng, 0, 700))
            if stop < win.as_of_ord - 20:
                pm.stop_ord = stop
                switch_to = c.MEDS["statin"][5] if pm.med is not c.MEDS["statin"][5] else c.MEDS["statin"][3]
                extra.append(PlannedMed("statin", switch_to, stop, pm.reason))
        elif pm.slot in ("nsaid", "tramadol", "sulfonylurea", "trazodone") and rng.random() < 0.2:
            stop = max(pm.start_ord + 30, win.start_ord + ri(rng, 0, 800))
            if stop < win.as_of_ord - 5:
                pm.stop_ord = stop
    return planned + extra


def has_ace_cough(planned: list[PlannedMed]) -> bool:
    return any(pm.slot == "acei" and pm.stop_ord is not None for pm in planned)


def resources(ctx: PatientCtx, planned: list[PlannedMed], visits: list[Visit]) -> list[dict[str, Any]]:
    rng = ctx.rng
    icd_of = {r.key: r.variant for r in ctx.conditions}
    end_ord = ctx.end_m // DAY
    out: list[dict[str, Any]] = []
    requester = PROVIDERS[ctx.pcp].ref
    for pm in planned:
        stopped = pm.stop_ord is not None or ctx.death_m is not None
        if pm.stop_ord is not None:
            authored = max(pm.start_ord, pm.stop_ord - ri(rng, 30, 300))
        else:
            # an active chronic order carries the date of its latest renewal
            authored = max(pm.start_ord, end_ord - ri(rng, 5, 330))
        authored = min(authored, end_ord - 1)
        resource: dict[str, Any] = {
            "resourceType": "MedicationRequest", "id": ctx.next_id("med"),
            "meta": ctx.meta,
            "status": "stopped" if stopped else "active", "intent": "order", "category": c.MEDREQ_COMMUNITY,
            "medicationCodeableConcept": pm.med.concept, "subject": ctx.ref,
            "authoredOn": iso_date(authored), "requester": requester,
        }
        variant = icd_of.get(pm.reason)
        if variant is not None:
            resource["reasonCode"] = [{"coding": [c.coding(c.ICD10, variant.icd, variant.display)],
                                       "text": variant.display}]
        resource["dosageInstruction"] = [{"sequence": 1, "text": pm.med.sig}]
        resource["dispenseRequest"] = {"numberOfRepeatsAllowed": 3,
                                       "expectedSupplyDuration": {"value": 90, "unit": "days", "system": c.UCUM,
                                                                  "code": "d"}}
        out.append(resource)
    for v in visits:  # short courses for sick visits
        if v.acute is None or not v.acute[2]:
            continue
        med = c.ACUTE_MEDS[v.acute[2]]
        dx = v.acute[0]
        out.append({
            "resourceType": "MedicationRequest", "id": ctx.next_id("med"), "meta": ctx.meta,
            "status": ("completed" if v.m + 14 * DAY < ctx.end_m else "stopped" if ctx.death_m is not None
                       else "active"), "intent": "order",
            "category": c.MEDREQ_COMMUNITY, "medicationCodeableConcept": med.concept, "subject": ctx.ref,
            "encounter": {"reference": f"Encounter/{v.enc_id}"}, "authoredOn": iso_dt(v.m + v.minutes - 5),
            "requester": PROVIDERS[v.provider].ref,
            "reasonCode": [{"coding": [c.coding(c.ICD10, dx.icd, dx.display)], "text": dx.display}],
            "dosageInstruction": [{"sequence": 1, "text": med.sig}],
        })
    return out


def active_count(planned: list[PlannedMed], ctx: PatientCtx) -> int:
    return 0 if ctx.death_m is not None else sum(1 for pm in planned if pm.stop_ord is None)


def allergies(ctx: PatientCtx, planned: list[PlannedMed]) -> list[dict[str, Any]]:
    rng = ctx.rng
    chosen: list[tuple[str, str, str, str, str, tuple[tuple[str, str], ...], float]] = []
    if has_ace_cough(planned):
        chosen.append(c.LISINOPRIL_ALLERGEN)
    if rng.random() < 0.24:
        count = rng.choices((1, 2, 3), weights=(70, 22, 8))[0]
        pool = list(c.ALLERGENS)
        for _ in range(count):
            item = rng.choices(pool, weights=[a[6] for a in pool])[0]
            pool.remove(item)
            chosen.append(item)
    out = []
    for system, code, display, cat, kind, reactions, _ in chosen:
        severe = any(r[0] == "39579001" for r in reactions)
        recorded = ctx.birth_ord + int(365.25 * rng.uniform(30, max(31, ctx.age - 1)))
        recorded = min(recorded, ctx.win.as_of_ord - 30, ctx.end_m // DAY)
        out.append({
            "resourceType": "AllergyIntolerance", "id": ctx.next_id("alg"),
            "meta": ctx.meta,
            "clinicalStatus": c.concept(c.ALLERGY_CLINICAL, "active", "Active"),
            "verificationStatus": c.concept(c.ALLERGY_VERIFICATION, "confirmed", "Confirmed"),
            "type": kind, "category": [cat], "criticality": "high" if severe else "low",
            "code": c.concept(system, code, display), "patient": ctx.ref, "recordedDate": iso_date(recorded),
            "reaction": [{"manifestation": [c.concept(c.SNOMED, rc, rd) for rc, rd in reactions],
                          "severity": "severe" if severe else one(rng, ("mild", "moderate"))}],
        })
    return out
