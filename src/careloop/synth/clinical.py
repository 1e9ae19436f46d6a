"""Observations (vitals, labs, screenings), immunizations and procedures, consistent with the conditions.

Each patient has latent values (A1c level, kidney function that matches the CKD stage, lipid levels that
drop on a statin, a BMI that matches the obesity code, a blood pressure level) that office-visit
measurements scatter around; screenings happen at annual wellness visits.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

from careloop.synth import codes as c
from careloop.synth.encounters import Stay, Visit
from careloop.synth.population import PatientCtx
from careloop.synth.rand import noise, one, ri
from careloop.synth.timeutil import DAY, add_years, iso_date, iso_dt

EGFR_RANGES = {"1": (90, 110), "2": (60, 89), "3": (30, 59), "3a": (45, 59), "3b": (30, 44), "4": (15, 29),
               "5": (8, 14), "esrd": (5, 12), "u": (35, 75)}


@dataclass(slots=True)
class Latent:
    a1c: float
    egfr: float
    egfr_range: tuple[int, int]
    uacr: float
    ldl: float
    hdl: float
    tg: float
    height: float
    bmi: float
    sbp: float
    dbp: float
    sdoh_screened: bool
    sdoh_need: tuple[bool, bool, bool]  # food, housing, transportation


def latent(ctx: PatientCtx, on_statin: bool, dual: bool) -> Latent:
    rng = ctx.rng
    tags = ctx.tags
    keys = ctx.keys
    if "dm" in keys:
        a1c = min(13.5, 5.6 + rng.gammavariate(2.2, 0.88) + (0.5 if tags.get("dm") == "t1" else 0.0))
    else:
        a1c = min(6.4, max(4.6, rng.gauss(5.5, 0.3)))
    stage = tags.get("ckd")
    if stage:
        lo, hi = EGFR_RANGES[stage]
        egfr = rng.uniform(lo, hi)
        egfr_range = (max(3, lo - 2), hi + 2)
    else:
        egfr = min(110.0, max(61.0, 96 - 0.65 * (ctx.age - 60) + noise(rng, 8)))
        egfr_range = (60, 120)
    uacr_median = 60.0 if stage else 18.0 if "dm" in keys else 8.0
    uacr = rng.lognormvariate(math.log(uacr_median), 1.1)
    if stage == "1":
        uacr = max(uacr, 45.0)
    height = rng.gauss(161.0, 6.5) if ctx.female else rng.gauss(175.0, 7.0)
    height -= max(0, ctx.age - 70) * 0.1
    if "obesity" in keys:
        bmi = rng.uniform(40, 48) if tags.get("obesity") == "morbid" else rng.uniform(30.2, 39.5)
    else:
        bmi = min(29.8, max(17.5, rng.gauss(26.3, 3.0) - (1.5 if "dementia" in keys else 0.0)))
    if "htn" in keys:
        sbp, dbp = rng.gauss(134, 12), rng.gauss(77, 8)
    else:
        sbp, dbp = rng.gauss(122, 10), rng.gauss(73, 7)
    screened = rng.random() < (0.55 if dual else 0.4)
    need = rng.random() < (0.35 if dual else 0.09)
    needs = (False, False, False)
    if need:
        needs = (rng.random() < 0.6, rng.random() < 0.25, rng.random() < 0.45)
        if not any(needs):
            needs = (True, False, False)
    return Latent(a1c, egfr, egfr_range, uacr, rng.gauss(82 if on_statin else 122, 24 if on_statin else 30),
                  rng.gauss(58, 14) if ctx.female else rng.gauss(46, 11),
                  rng.lognormvariate(math.log(160 if "dm" in keys else 128), 0.35), height, bmi, sbp, dbp,
                  screened, needs)


def _obs(ctx: PatientCtx, category: list[dict[str, Any]], code: dict[str, Any], eff: str,
         enc: dict[str, str]) -> dict[str, Any]:
    return {"resourceType": "Observation", "id": ctx.next_id("obs"), "meta": ctx.meta, "status": "final",
            "category": category, "code": code, "subject": ctx.ref, "encounter": enc, "effectiveDateTime": eff}


def _lab(ctx: PatientCtx, lab: c.Lab, m: str, enc: dict[str, str], value: float,
         category: list[dict[str, Any]] = c.CAT_LAB) -> dict[str, Any]:
    r = _obs(ctx, category, lab.code, m, enc)
    r["valueQuantity"] = {"value": value, "unit": lab.unit, "system": c.UCUM, "code": lab.ucum}
    return r


def _coded(ctx: PatientCtx, category: list[dict[str, Any]], code: dict[str, Any], m: str, enc: dict[str, str],
           value: dict[str, Any]) -> dict[str, Any]:
    r = _obs(ctx, category, code, m, enc)
    r["valueCodeableConcept"] = value
    return r


def _score(ctx: PatientCtx, code: dict[str, Any], m: str, enc: dict[str, str], value: int) -> dict[str, Any]:
    r = _obs(ctx, c.CAT_SURVEY, code, m, enc)
    r["valueInteger"] = value
    return r


def _clamp(x: float, lo: float, hi: float) -> float:
    return lo if x < lo else hi if x > hi else x


def observations(ctx: PatientCtx, visits: list[Visit], lat: Latent) -> Iterator[dict[str, Any]]:
    rng = ctx.rng
    rnd = rng.random
    keys = ctx.keys
    dm = "dm" in keys
    ckd = "ckd" in keys
    lipid_people = bool(keys & {"hld", "ihd", "dm", "htn"})
    depressed = "depression" in keys
    egfr_gap = 100 if ckd else 300 if keys & {"dm", "htn", "hf"} else 330
    last: dict[str, int] = {}
    drift = 0.0
    smoking_done = False
    floor = max(ctx.start_m, ctx.win.start_m)
    for i, v in enumerate(visits):
        eff = iso_dt(v.m + 5)
        enc = {"reference": f"Encounter/{v.enc_id}"}
        if rnd() < 0.97:
            bp = _obs(ctx, c.CAT_VITALS, c.BP_PANEL, eff, enc)
            sbp = round(_clamp(lat.sbp + noise(rng, 9), 92, 198))
            dbp = round(_clamp(lat.dbp + noise(rng, 6), 48, 112))
            bp["component"] = [
                {"code": c.SYSTOLIC, "valueQuantity": {"value": sbp, "unit": "mm[Hg]", "system": c.UCUM,
                                                       "code": "mm[Hg]"}},
                {"code": c.DIASTOLIC, "valueQuantity": {"value": min(dbp, sbp - 20), "unit": "mm[Hg]",
                                                        "system": c.UCUM, "code": "mm[Hg]"}}]
            yield bp
        if i == 0 or rnd() < 0.03:
            yield _lab(ctx, c.HEIGHT, eff, enc, round(lat.height, 1), c.CAT_VITALS)
        if v.awv or rnd() < 0.25:
            drift = _clamp(drift + noise(rng, 0.35), -2.5, 2.5)
            bmi = round(max(16.0, lat.bmi + drift), 1)
            yield _lab(ctx, c.WEIGHT, eff, enc, round(bmi * (lat.height / 100.0) ** 2, 1), c.CAT_VITALS)
            yield _lab(ctx, c.BMI, eff, enc, bmi, c.CAT_VITALS)
        lab_m = v.m - int(rnd() * 4) * DAY - 30 - int(rnd() * 90)
        lab_eff = iso_dt(lab_m) if lab_m >= floor else iso_dt(v.m + 15)
        since_a1c = (v.m - last["a1c"]) // DAY if "a1c" in last else 999
        if (dm and since_a1c >= 80 and rnd() < 0.78) or (not dm and since_a1c >= 330 and rnd() < 0.1):
            last["a1c"] = v.m
            value = lat.a1c + noise(rng, 0.35) if dm else lat.a1c + noise(rng, 0.1)
            yield _lab(ctx, c.A1C, lab_eff, enc, round(_clamp(value, 4.3, 15.5), 1))
        if ("egfr" not in last or (v.m - last["egfr"]) // DAY >= egfr_gap) and rnd() < (0.7 if ckd or dm else 0.35):
            last["egfr"] = v.m
            lo, hi = lat.egfr_range
            yield _lab(ctx, c.EGFR, lab_eff, enc, round(_clamp(lat.egfr + noise(rng, 3), lo, hi)))
        if (dm or ckd) and ("uacr" not in last or (v.m - last["uacr"]) // DAY >= 300) and rnd() < 0.55:
            last["uacr"] = v.m
            yield _lab(ctx, c.UACR, lab_eff, enc, max(3, round(lat.uacr * (0.8 + 0.4 * rnd()))))
        if ("lipid" not in last or (v.m - last["lipid"]) // DAY >= 330) and rnd() < (0.7 if lipid_people else 0.2):
            last["lipid"] = v.m
            ldl = round(max(35.0, lat.ldl + noise(rng, 10)))
            hdl = round(max(24.0, lat.hdl + noise(rng, 4)))
            tg = round(max(45.0, lat.tg * (0.85 + 0.3 * rnd())))
            yield _lab(ctx, c.CHOL, lab_eff, enc, ldl + hdl + round(tg / 5))
            yield _lab(ctx, c.HDL, lab_eff, enc, hdl)
            yield _lab(ctx, c.LDL, lab_eff, enc, ldl)
            yield _lab(ctx, c.TRIG, lab_eff, enc, tg)
        if v.awv:
            yield from _screenings(ctx, iso_dt(v.m + 15), enc, lat, depressed)
            smoking_done = True
        elif depressed and rnd() < 0.3:
            yield _score(ctx, c.PHQ9, iso_dt(v.m + 15), enc, _phq9(ctx, True))
        if not smoking_done and (i == 0 or rnd() < 0.1):
            smoking_done = True
            yield _coded(ctx, c.CAT_SOCIAL, c.SMOKING, iso_dt(v.m + 12), enc, _smoking_value(ctx))


def _smoking_value(ctx: PatientCtx) -> dict[str, Any]:
    if ctx.smoker == "current":
        return c.SMOKING_VALUES["daily" if ctx.rng.random() < 0.8 else "occasional"]
    return c.SMOKING_VALUES[ctx.smoker]


def _phq9(ctx: PatientCtx, depressed: bool) -> int:
    rng = ctx.rng
    if depressed:
        return int(_clamp(round(rng.gauss(10, 5)), 0, 27))
    return int(_clamp(round(rng.gauss(3, 3)), 0, 27))


def _screenings(ctx: PatientCtx, m: str, enc: dict[str, str], lat: Latent,
                depressed: bool) -> Iterator[dict[str, Any]]:
    rng = ctx.rng
    if rng.random() < 0.88:
        if depressed:
            phq2 = rng.choices(range(7), weights=(10, 10, 15, 20, 20, 15, 10))[0]
        else:
            phq2 = rng.choices(range(7), weights=(70, 13, 9, 4, 2, 1, 1))[0]
        yield _score(ctx, c.PHQ2, m, enc, phq2)
        if phq2 >= 3 or (depressed and rng.random() < 0.3):
            yield _score(ctx, c.PHQ9, m, enc, max(phq2, _phq9(ctx, depressed or phq2 >= 4)))
    if rng.random() < 0.9:
        yield _coded(ctx, c.CAT_SOCIAL, c.SMOKING, m, enc, _smoking_value(ctx))
    if rng.random() < 0.85:
        p_fall = (0.2 + (0.1 if ctx.age >= 80 else 0.0) + (0.15 if "dementia" in ctx.keys else 0.0)
                  + (0.1 if "stroke" in ctx.keys else 0.0) + (0.05 if ctx.frailty > 1 else 0.0))
        yield _coded(ctx, c.CAT_SURVEY, c.FALLS, m, enc, c.YES if rng.random() < p_fall else c.NO)
    if lat.sdoh_screened and rng.random() < 0.85:
        food, housing, transport = lat.sdoh_need
        yield _coded(ctx, c.CAT_SDOH, c.FOOD_WORRY, m, enc, c.FOOD_ANSWERS[one(rng, (0, 1)) if food else 2])
        yield _coded(ctx, c.CAT_SDOH, c.FOOD_LAST, m, enc,
                     c.FOOD_ANSWERS[1 if food and rng.random() < 0.7 else 2])
        yield _coded(ctx, c.CAT_SDOH, c.HOUSING, m, enc, c.HOUSING_ANSWERS[one(rng, (1, 2)) if housing else 0])
        yield _coded(ctx, c.CAT_SDOH, c.TRANSPORT, m, enc, c.YES_NO_LOINC[0 if transport else 1])


# ---- immunizations ---------------------------------------------------------------------------------------
def _imm(ctx: PatientCtx, vaccine: dict[str, Any], day: int, clinic: bool) -> dict[str, Any]:
    r: dict[str, Any] = {"resourceType": "Immunization", "id": ctx.next_id("imm"),
                         "meta": ctx.meta, "status": "completed",
                         "vaccineCode": vaccine, "patient": ctx.ref, "occurrenceDateTime": iso_date(day),
                         "primarySource": clinic}
    if not clinic:
        r["reportOrigin"] = c.concept("http://terminology.hl7.org/CodeSystem/immunization-origin", "record",
                                      "Written Record", "Pharmacy record")
    return r


def immunizations(ctx: PatientCtx) -> Iterator[dict[str, Any]]:
    rng = ctx.rng
    as_of = ctx.win.as_of_ord
    end = min(ctx.end_m // DAY, as_of - 1)
    start = ctx.start_m // DAY
    flu_p = 0.9 if rng.random() < 0.74 else 0.12
    first_year = date.fromordinal(start).year - (1 if date.fromordinal(start).month < 9 else 0)
    for year in range(first_year, date.fromordinal(as_of).year + 1):
        day = date(year, 9, 1).toordinal() + min(110, int(rng.expovariate(1 / 28)))
        if rng.random() < flu_p and start <= day < end:
            table = c.FLU_QUADRIVALENT if year <= 2023 else c.FLU_TRIVALENT
            vaccine = rng.choices([v for v, _ in table], weights=[w for _, w in table])[0]
            yield _imm(ctx, vaccine, day, rng.random() < 0.55)
        covid_day = date(year, 9, 15).toordinal() + ri(rng, 0, 75)
        if year >= 2023 and rng.random() < flu_p * 0.3 and start <= covid_day < end:
            yield _imm(ctx, c.COVID, covid_day, False)
    turn65 = add_years(ctx.birth_ord, 65)
    eligible = turn65 if not ctx.disabled else add_years(ctx.birth_ord, ctx.age - 3)
    r = rng.random()
    pcv20_from = max(eligible, date(2021, 11, 1).toordinal())
    if r < 0.25 and eligible < date(2019, 1, 1).toordinal():
        d1 = ri(rng, eligible, date(2020, 12, 31).toordinal())
        yield _imm(ctx, c.PCV13, min(d1, end), True)
        if d1 + 400 < end:
            yield _imm(ctx, c.PPSV23, d1 + ri(rng, 365, 500), True)
    elif r < 0.35 and eligible < end - 30:
        yield _imm(ctx, c.PPSV23, ri(rng, eligible, end - 1), True)
    elif r < 0.55 and pcv20_from < end - 30:
        yield _imm(ctx, c.PCV20, ri(rng, pcv20_from, end - 1), True)
    elif r < 0.60 and pcv20_from < end - 420:
        d1 = ri(rng, pcv20_from, end - 400)
        yield _imm(ctx, c.PCV15, d1, True)
        yield _imm(ctx, c.PPSV23, d1 + ri(rng, 365, 399), True)
    zoster_from = max(add_years(ctx.birth_ord, 50), date(2018, 3, 1).toordinal())
    if rng.random() < 0.35 and zoster_from < end - 200:
        d1 = ri(rng, zoster_from, end - 1)
        yield _imm(ctx, c.ZOSTER, d1, False)
        d2 = d1 + ri(rng, 60, 180)
        if d2 < end:
            yield _imm(ctx, c.ZOSTER, d2, False)
    tdap_from = as_of - 3600
    if rng.random() < 0.25 and tdap_from < end - 1:
        yield _imm(ctx, c.TDAP, ri(rng, tdap_from, end - 1), True)


# ---- procedures ------------------------------------------------------------------------------------------
def _proc(ctx: PatientCtx, code: dict[str, Any], day: int, encounter: str | None = None,
          period: tuple[int, int] | None = None) -> dict[str, Any]:
    r: dict[str, Any] = {"resourceType": "Procedure", "id": ctx.next_id("proc"),
                         "meta": ctx.meta, "status": "completed", "code": code,
                         "subject": ctx.ref}
    if encounter:
        r["encounter"] = {"reference": f"Encounter/{encounter}"}
    if period is not None:
        r["performedPeriod"] = {"start": iso_dt(period[0]), "end": iso_dt(period[1])}
    else:
        r["performedDateTime"] = iso_date(day)
    return r


def procedures(ctx: PatientCtx, stays: list[Stay]) -> Iterator[dict[str, Any]]:
    rng = ctx.rng
    as_of = ctx.win.as_of_ord
    end = min(ctx.end_m // DAY, as_of - 1)
    wstart = max(ctx.win.start_ord, ctx.start_m // DAY)
    if wstart >= end:
        return
    keys = ctx.keys
    colonoscopy = False
    if 55 <= ctx.age <= 85 and rng.random() < 0.55:
        day = ri(rng, as_of - 3650, end - 1)
        if 50 <= ctx.age - (as_of - day) / 365.25 <= 76:
            colonoscopy = True
            kind = rng.choices(("colonoscopy", "colonoscopy_biopsy", "colonoscopy_snare"), weights=(4, 3.5, 2.5))[0]
            yield _proc(ctx, c.PROC[kind], day)
    if not colonoscopy and ctx.age <= 77:
        if rng.random() < 0.25:
            yield _proc(ctx, c.PROC["fit"], ri(rng, wstart, end - 1))
        elif rng.random() < 0.1:
            yield _proc(ctx, c.PROC["sdna"], ri(rng, wstart, end - 1))
    if ctx.female and ctx.age >= 65 and rng.random() < (0.72 if ctx.age <= 75 else 0.3):
        day = wstart + ri(rng, 0, 400)
        while day < end:
            yield _proc(ctx, c.PROC["mammogram"], day)
            day += ri(rng, 370, 730)
    if "dm" in keys:
        retinopathy = ctx.tags.get("dm") == "retinopathy"
        for year_start in range(wstart, end, 365):
            if rng.random() < 0.6:
                day = year_start + ri(rng, 0, 364)
                if day < end:
                    yield _proc(ctx, c.PROC["eye_retinopathy" if retinopathy else "eye_no_retinopathy"], day)
    if ctx.female and ctx.age >= 65 and rng.random() < (0.5 if "osteoporosis" in keys else 0.22):
        yield _proc(ctx, c.PROC["dxa"], ri(rng, wstart, end - 1))
    if ctx.smoker != "never" and 65 <= ctx.age <= 77 and rng.random() < 0.2:
        for year_start in range(wstart, end, 365):
            day = year_start + ri(rng, 0, 364)
            if day < end:
                yield _proc(ctx, c.PROC["ldct"], day)
    if keys & {"ihd", "af"} and rng.random() < 0.3:
        yield _proc(ctx, c.PROC["ecg"], ri(rng, wstart, end - 1))
    if "hf" in keys and rng.random() < 0.45:
        yield _proc(ctx, c.PROC["echo"], ri(rng, wstart, end - 1))
    if "copd" in keys and rng.random() < 0.25:
        yield _proc(ctx, c.PROC["spirometry"], ri(rng, wstart, end - 1))
    for stay in stays:
        proc = stay.procedure
        if not proc and stay.dx.key == "hip_fx" and stay.kind == "IMP":
            proc = "hip_fx_repair"
        elif not proc and stay.dx.key == "nstemi" and stay.kind == "IMP" and rng.random() < 0.5:
            proc = "pci"
        if not proc:
            continue
        t0 = stay.admit_m + ri(rng, 120, 900)
        horizon = stay.end_m if stay.end_m is not None else ctx.win.cutoff_m
        if t0 + 180 < horizon:
            yield _proc(ctx, c.PROC[proc], 0, stay.enc_id, (t0, t0 + ri(rng, 60, 180)))
