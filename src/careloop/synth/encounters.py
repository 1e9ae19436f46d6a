"""Utilization: office visits, ED visits, observation stays and admissions, as a timeline per patient.

ED visits arrive as a Poisson process whose rate grows with frailty and the chronic-condition count (a
gamma multiplier skews it to the sick, as in real Medicare use); the diagnosis decides between discharge
from the ED, an observation stay and an admission. Admissions end in home, home health, SNF, rehab,
hospice or death; about one in six is followed by a 30-day readmission. Office visits (3-6 a year, more
for the sick), annual wellness visits and transitional-care visits after discharges fill the rest.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from careloop.synth import conditions as cond
from careloop.synth.clinic import HOSPITALS
from careloop.synth.ids import account_base
from careloop.synth.population import PatientCtx
from careloop.synth.rand import one, ri, rr
from careloop.synth.timeutil import DAY, weekday

YEAR_MIN = 525_960.0
ED_BASE_RATE = 0.48  # per year, before the risk multiplier (calibrated: ~0.6 ED visits per patient-year)
HOME_DEATH_RATE = 0.006


@dataclass(frozen=True, slots=True)
class Dx:
    key: str
    icd: str
    display: str
    snomed: str = ""
    snomed_display: str = ""


@dataclass(frozen=True, slots=True)
class Episode:
    dx: Dx
    weight: float
    requires: str
    boosts: tuple[tuple[str, float], ...]
    p_admit: float
    p_obs: float


def _ep(key: str, icd: str, display: str, snomed: str, sd: str, weight: float, requires: str,
        boosts: tuple[tuple[str, float], ...], p_admit: float, p_obs: float) -> Episode:
    return Episode(Dx(key, icd, display, snomed, sd), weight, requires, boosts, p_admit, p_obs)


HF_EXACERBATION = {
    "r": Dx("hf", "I50.23", "Acute on chronic systolic (congestive) heart failure", "84114007",
            "Heart failure (disorder)"),
    "p": Dx("hf", "I50.33", "Acute on chronic diastolic (congestive) heart failure", "84114007",
            "Heart failure (disorder)"),
    "c": Dx("hf", "I50.43", "Acute on chronic combined systolic (congestive) and diastolic (congestive) heart "
            "failure", "84114007", "Heart failure (disorder)"),
    "u": Dx("hf", "I50.9", "Heart failure, unspecified", "42343007", "Congestive heart failure (disorder)"),
}
EPISODES = (
    _ep("hf", "I50.9", "Heart failure, unspecified", "", "", 3.0, "hf", (), 0.75, 0.10),
    _ep("copd", "J44.1", "Chronic obstructive pulmonary disease with (acute) exacerbation", "195951007",
        "Acute exacerbation of chronic obstructive airways disease (disorder)", 2.5, "copd", (), 0.50, 0.15),
    _ep("pneumonia", "J18.9", "Pneumonia, unspecified organism", "233604007", "Pneumonia (disorder)", 1.0, "",
        (("copd", 1.5), ("dementia", 1.0), ("hf", 0.5)), 0.55, 0.10),
    _ep("uti", "N39.0", "Urinary tract infection, site not specified", "68566005",
        "Urinary tract infectious disease (disorder)", 0.8, "", (("dementia", 1.0), ("dm", 0.3)), 0.30, 0.10),
    _ep("sepsis", "A41.9", "Sepsis, unspecified organism", "91302008", "Sepsis (disorder)", 0.45, "",
        (("ckd", 0.3), ("dm", 0.3), ("dementia", 0.5)), 0.95, 0.0),
    _ep("chest_pain", "R07.9", "Chest pain, unspecified", "29857009", "Chest pain (finding)", 1.0, "",
        (("ihd", 1.0),), 0.12, 0.35),
    _ep("nstemi", "I21.4", "Non-ST elevation (NSTEMI) myocardial infarction", "401314000",
        "Acute non-ST segment elevation myocardial infarction (disorder)", 0.15, "", (("ihd", 0.6), ("dm", 0.2)),
        0.95, 0.0),
    _ep("afib", "I48.91", "Unspecified atrial fibrillation", "49436004", "Atrial fibrillation (disorder)", 1.0,
        "af", (), 0.45, 0.20),
    _ep("syncope", "R55", "Syncope and collapse", "271594007", "Syncope (disorder)", 0.6, "", (), 0.30, 0.35),
    _ep("head_injury", "S09.90XA", "Unspecified injury of head, initial encounter", "", "", 0.6, "",
        (("dementia", 1.0),), 0.05, 0.10),
    _ep("hip_fx", "S72.001A", "Fracture of unspecified part of neck of right femur, initial encounter for closed "
        "fracture", "5913000", "Fracture of neck of femur (disorder)", 0.15, "",
        (("osteoporosis", 0.4), ("dementia", 0.3)), 0.98, 0.0),
    _ep("aki", "N17.9", "Acute kidney failure, unspecified", "14669001", "Acute renal failure syndrome (disorder)",
        0.3, "", (("ckd", 1.0),), 0.70, 0.10),
    _ep("stroke", "I63.9", "Cerebral infarction, unspecified", "432504007", "Cerebral infarction (disorder)", 0.15,
        "", (("af", 0.4), ("stroke", 0.3), ("htn", 0.1)), 0.95, 0.0),
    _ep("gi_bleed", "K92.2", "Gastrointestinal hemorrhage, unspecified", "74474003",
        "Gastrointestinal hemorrhage (disorder)", 0.25, "", (("af", 0.3),), 0.65, 0.15),
    _ep("hypoglycemia", "E11.649", "Type 2 diabetes mellitus with hypoglycemia without coma", "302866003",
        "Hypoglycemia (disorder)", 0.5, "dm", (), 0.25, 0.25),
    _ep("dehydration", "E86.0", "Dehydration", "34095006", "Dehydration (disorder)", 0.4, "", (), 0.30, 0.20),
    _ep("cellulitis", "L03.115", "Cellulitis of right lower limb", "128045006", "Cellulitis (disorder)", 0.4, "",
        (("dm", 0.3),), 0.35, 0.10),
    _ep("covid", "U07.1", "COVID-19", "840539006",
        "Disease caused by severe acute respiratory syndrome coronavirus 2 (disorder)", 0.3, "", (), 0.30, 0.10),
    _ep("ams", "R41.82", "Altered mental status, unspecified", "419284004", "Altered mental status (finding)", 0.2,
        "", (("dementia", 1.0),), 0.50, 0.20),
    _ep("back_pain", "M54.50", "Low back pain, unspecified", "279039007", "Low back pain (finding)", 0.6, "", (),
        0.02, 0.03),
    _ep("abd_pain", "R10.9", "Unspecified abdominal pain", "21522001", "Abdominal pain (finding)", 0.7, "", (),
        0.10, 0.10),
    _ep("uri", "J06.9", "Acute upper respiratory infection, unspecified", "54150009",
        "Upper respiratory infection (disorder)", 0.3, "", (), 0.01, 0.0),
    _ep("dizziness", "R42", "Dizziness and giddiness", "404640003", "Dizziness (finding)", 0.4, "", (), 0.08, 0.15),
    _ep("laceration", "S01.81XA", "Laceration without foreign body of other part of head, initial encounter", "",
        "", 0.3, "", (), 0.01, 0.0),
    _ep("dyspnea", "R06.02", "Shortness of breath", "267036007", "Dyspnea (finding)", 0.4, "",
        (("hf", 0.5), ("copd", 0.5)), 0.25, 0.20),
    _ep("htn_urgency", "I16.0", "Hypertensive urgency", "", "", 0.2, "htn", (), 0.10, 0.20),
)
SEVERE = frozenset({"sepsis", "nstemi", "stroke", "hip_fx"})
ELECTIVE = {
    "knee": Dx("knee", "M17.11", "Unilateral primary osteoarthritis, right knee", "239873007",
               "Osteoarthritis of knee (disorder)"),
    "hip": Dx("hip", "M16.11", "Unilateral primary osteoarthritis, right hip", "239872002",
              "Osteoarthritis of hip (disorder)"),
    "pci": Dx("pci", "I25.10", "Atherosclerotic heart disease of native coronary artery without angina pectoris",
              "53741008", "Coronary arteriosclerosis (disorder)"),
}
ACUTE_OFFICE = (
    # (dx, weight, antibiotic or steroid from codes.ACUTE_MEDS)
    (Dx("uri", "J06.9", "Acute upper respiratory infection, unspecified", "54150009",
        "Upper respiratory infection (disorder)"), 3.0, ""),
    (Dx("uti", "N39.0", "Urinary tract infection, site not specified", "68566005",
        "Urinary tract infectious disease (disorder)"), 2.5, "nitrofurantoin"),
    (Dx("bronchitis", "J20.9", "Acute bronchitis, unspecified", "10509002", "Acute bronchitis (disorder)"), 2.0, ""),
    (Dx("sinusitis", "J01.90", "Acute sinusitis, unspecified"), 1.5, "amox_clav"),
    (Dx("back_pain", "M54.50", "Low back pain, unspecified", "279039007", "Low back pain (finding)"), 2.0, ""),
    (Dx("cellulitis", "L03.115", "Cellulitis of right lower limb", "128045006", "Cellulitis (disorder)"), 0.8,
     "smx_tmp"),
    (Dx("dizziness", "R42", "Dizziness and giddiness", "404640003", "Dizziness (finding)"), 1.0, ""),
    (Dx("constipation", "K59.00", "Constipation, unspecified", "14760008", "Constipation (finding)"), 1.0, ""),
    (Dx("covid", "U07.1", "COVID-19", "840539006",
        "Disease caused by severe acute respiratory syndrome coronavirus 2 (disorder)"), 0.8, ""),
    (Dx("cough", "R05.9", "Cough, unspecified", "49727002", "Cough (finding)"), 1.0, ""),
)
COPD_FLARE = (Dx("copd_flare", "J44.1", "Chronic obstructive pulmonary disease with (acute) exacerbation",
                 "195951007", "Acute exacerbation of chronic obstructive airways disease (disorder)"), 3.0,
              "prednisone")
_ED_HOURS = (1, 1, 1, 1, 1, 1, 2, 3, 4, 5, 6, 6, 6, 6, 6, 6, 5, 5, 5, 4, 4, 3, 2, 2)


@dataclass(slots=True)
class Stay:
    kind: str  # ED, OBS or IMP (the final class)
    hospital: int
    arrive_m: int
    admit_m: int  # when the patient became an observation or inpatient patient (== arrive_m if direct)
    end_m: int | None  # None: still there at as_of
    via_ed: bool
    dx: Dx
    disposition: str
    visit: str
    enc_id: str
    attending: int
    units: list[tuple[int, str]]  # (from minute, unit code), the first entry at admit_m
    update_m: int | None = None
    cancel_admit: tuple[int, int] | None = None
    cancel_discharge: tuple[int, int] | None = None
    procedure: str = ""
    readmission: bool = False


@dataclass(slots=True)
class Visit:
    m: int
    minutes: int
    code: str
    provider: int
    location: int
    acute: tuple[Dx, float, str] | None
    awv: bool
    enc_id: str = ""
    visit: str = ""
    adt: bool = False


def core_count(ctx: PatientCtx) -> int:
    return sum(1 for rec in ctx.conditions if rec.core and rec.key in cond.BY_KEY)


def _hour_of_arrival(ctx: PatientCtx) -> int:
    return ctx.rng.choices(range(24), weights=_ED_HOURS)[0]


def _pick_episode(ctx: PatientCtx) -> Episode:
    rng = ctx.rng
    weights = []
    for ep in EPISODES:
        if ep.requires and ep.requires not in ctx.keys:
            weights.append(0.0)
            continue
        w = ep.weight
        for key, mult in ep.boosts:
            if key in ctx.keys:
                w *= 1.0 + mult
        weights.append(w)
    return rng.choices(EPISODES, weights=weights)[0]


def _disposition(ctx: PatientCtx, stay_kind: str, dx_key: str) -> str:
    rng = ctx.rng
    r = rng.random()
    if stay_kind == "ED":
        return "aadvice" if r < 0.025 else "home"
    if stay_kind == "OBS":
        return "aadvice" if r < 0.01 else "snf" if r < 0.03 else "home-health" if r < 0.07 else "home"
    z = ctx.frailty
    p_exp = 0.018 * math.exp(0.5 * z) * (1.8 if dx_key in SEVERE else 1.0) + (0.01 if ctx.age >= 85 else 0.0)
    terminal = ctx.keys & {"dementia", "cancer", "hf"}
    p_hospice = 0.012 * math.exp(0.5 * z) * (2.5 if terminal and ctx.age >= 80 else 1.0)
    p_snf = {"hip_fx": 0.65, "stroke": 0.30}.get(dx_key, 0.10 + (0.18 if ctx.age >= 85 else 0.0)
                                                  + (0.10 if "dementia" in ctx.keys else 0.0))
    p_rehab = {"hip_fx": 0.20, "stroke": 0.25}.get(dx_key, 0.03)
    for key, p in (("exp", p_exp), ("hosp", p_hospice), ("snf", p_snf), ("rehab", p_rehab), ("aadvice", 0.01)):
        if r < p:
            if key == "hosp" and rng.random() < 0.3:
                return "hosp-facility"
            return key
        r -= p
    return "home-health" if rng.random() < 0.3 else "home"


def _units(ctx: PatientCtx, kind: str, admit: int, end: int | None, dx_key: str) -> list[tuple[int, str]]:
    rng = ctx.rng
    if kind == "OBS":
        return [(admit, "OBS")]
    floor = one(rng, ("4W", "5E", "3T", "6N"))
    horizon = end if end is not None else admit + 3 * DAY
    if rng.random() < (0.40 if dx_key in SEVERE else 0.10):
        move = admit + ri(rng, DAY, int(2.5 * DAY))
        if move < horizon - 240:
            return [(admit, "ICU"), (move, floor)]
        return [(admit, "ICU")]
    if rng.random() < 0.06:
        move = admit + ri(rng, 360, 2 * DAY)
        if move < horizon - 240:
            return [(admit, "3T" if floor != "3T" else "4W"), (move, floor)]
    return [(admit, floor)]


def plan(ctx: PatientCtx) -> tuple[list[Stay], list[Visit]]:
    """The patient's hospital stays and office visits; sets ctx.death_m and ctx.end_m."""
    rng = ctx.rng
    cutoff = ctx.win.cutoff_m
    n_core = core_count(ctx)
    risk = math.exp(0.55 * ctx.frailty + 0.14 * (n_core - 4) + 0.02 * (ctx.age - 75)) * rng.gammavariate(2.0, 0.5)
    ed_rate = ED_BASE_RATE * risk / YEAR_MIN
    elective = ""
    if ctx.tags.get("arthritis") in ("knee", "hip"):
        elective = ctx.tags["arthritis"]
    elif "ihd" in ctx.keys and rng.random() < 0.5:
        elective = "pci"
    el_rate = (0.03 if elective else 0.0) / YEAR_MIN
    death_rate = HOME_DEATH_RATE * math.exp(0.9 * ctx.frailty) / YEAR_MIN
    limit = cutoff
    home_death = ctx.start_m + int(rng.expovariate(death_rate))
    if home_death < limit:
        limit = home_death
    forced = ""
    if ctx.n % 150 == 7:
        forced = "ongoing"
    elif ctx.n % 150 == 77:
        forced = "recent"
    forced_at = cutoff - ri(rng, DAY, 4 * DAY) if forced == "ongoing" else cutoff - ri(rng, 7, 20) * DAY
    if forced and forced_at < limit:
        limit = forced_at - DAY
    stays: list[Stay] = []
    blocked: list[tuple[int, int]] = []
    t = ctx.start_m
    readmit_at: int | None = None
    visit_base = account_base(ctx.seed, ctx.n)
    death: int | None = None
    hospice_from: int | None = None
    while True:
        gap = rng.expovariate(ed_rate + el_rate)
        nxt = t + int(gap)
        is_readmit = readmit_at is not None and readmit_at < nxt
        if is_readmit:
            assert readmit_at is not None
            nxt = readmit_at
        readmit_at = None
        if nxt >= limit:
            break
        if not is_readmit and rng.random() < el_rate / (ed_rate + el_rate):
            stay = _elective_stay(ctx, nxt, elective, visit_base, len(stays) + 1)
        else:
            stay = _ed_stay(ctx, nxt, t, visit_base, len(stays) + 1, is_readmit)
        if stay.arrive_m >= limit:
            break
        stays.append(stay)
        if stay.end_m is None:
            t = cutoff
            break
        blocked.append((stay.arrive_m, stay.end_m))
        t = stay.end_m
        if stay.disposition == "exp":
            death = stay.end_m
            break
        if stay.disposition.startswith("hosp"):
            hospice_from = stay.end_m
            death = stay.end_m + ri(rng, 3 * DAY, 60 * DAY)
            break
        if stay.disposition == "snf":
            snf_days = ri(rng, 10, 35)
            blocked.append((stay.end_m, stay.end_m + snf_days * DAY))
            t = stay.end_m + snf_days * DAY
        if stay.kind == "IMP" and stay.disposition in ("home", "home-health", "snf") and rng.random() < 0.17:
            readmit_at = stay.end_m + ri(rng, 3 * DAY, 29 * DAY)
    if death is None and hospice_from is None and not (stays and stays[-1].end_m is None):
        if forced and forced_at > t + DAY:
            stay = _forced_stay(ctx, forced, forced_at, visit_base, len(stays) + 1)
            stays.append(stay)
            if stay.end_m is not None:
                blocked.append((stay.arrive_m, stay.end_m))
        elif home_death < cutoff and home_death > t:
            death = home_death
    if death is not None and death >= cutoff:
        death = None
    ctx.death_m = death
    ctx.end_m = death if death is not None else cutoff
    active_until = hospice_from if hospice_from is not None else ctx.end_m
    visits = _office_visits(ctx, stays, blocked, n_core, active_until)
    return stays, visits


def _new_stay(ctx: PatientCtx, kind: str, arrive: int, admit: int, end: int | None, via_ed: bool, dx: Dx,
              visit_base: int, k: int, hospital: int | None = None) -> Stay:
    rng = ctx.rng
    h = ctx.hospital if hospital is None else hospital
    cutoff = ctx.win.cutoff_m
    if end is not None and end >= cutoff:
        end = None
    if kind != "ED" and admit >= cutoff:
        kind, admit, end = "ED", arrive, None
    disposition = _disposition(ctx, kind, dx.key) if end is not None else ""
    units = _units(ctx, kind, admit, end, dx.key) if kind != "ED" else [(arrive, "ED")]
    return Stay(kind, h, arrive, admit, end, via_ed, dx, disposition, f"{h + 1}{visit_base:08d}{k:02d}",
                ctx.next_id("enc"), rr(rng, len(HOSPITALS[h].attendings)), units)


def _ed_stay(ctx: PatientCtx, nxt: int, after: int, visit_base: int, k: int, readmit: bool) -> Stay:
    rng = ctx.rng
    ep = _pick_episode(ctx)
    dx = HF_EXACERBATION.get(ctx.tags.get("hf", "u"), HF_EXACERBATION["u"]) if ep.dx.key == "hf" else ep.dx
    arrive = max((nxt // DAY) * DAY + _hour_of_arrival(ctx) * 60 + rr(rng, 60), after + 120)
    p_admit = min(0.92, ep.p_admit + 0.3) if readmit else ep.p_admit
    r = rng.random()
    hospital = ctx.hospital if rng.random() < 0.85 else rr(rng, len(HOSPITALS))
    if r < p_admit:
        admit = arrive + ri(rng, 180, 480)
        days = min(8, max(2, round(rng.lognormvariate(math.log(3.8), 0.45))))
        end = (admit // DAY + days) * DAY + ri(rng, 600, 1020)
        stay = _new_stay(ctx, "IMP", arrive, admit, end, True, dx, visit_base, k, hospital)
    elif r < p_admit + ep.p_obs:
        admit = arrive + ri(rng, 150, 360)
        end = admit + ri(rng, 18 * 60, 44 * 60)
        stay = _new_stay(ctx, "OBS", arrive, admit, end, True, dx, visit_base, k, hospital)
    else:
        end = arrive + ri(rng, 120, 420)
        stay = _new_stay(ctx, "ED", arrive, arrive, end, True, dx, visit_base, k, hospital)
        if stay.end_m is not None and rng.random() < 0.03:
            a01 = arrive + ri(rng, 60, max(61, (end - arrive) // 2))
            stay.cancel_admit = (a01, min(a01 + ri(rng, 15, 60), end - 5))
    stay.readmission = readmit
    _extras(ctx, stay)
    return stay


def _elective_stay(ctx: PatientCtx, nxt: int, which: str, visit_base: int, k: int) -> Stay:
    rng = ctx.rng
    day = nxt // DAY
    while weekday(day) >= 5:
        day += 1
    arrive = day * DAY + ri(rng, 330, 450)
    end = (day + ri(rng, 2, 3)) * DAY + ri(rng, 600, 960)
    stay = _new_stay(ctx, "IMP", arrive, arrive, end, False, ELECTIVE[which], visit_base, k, 0)
    stay.procedure = {"knee": "knee", "hip": "hip", "pci": "pci"}[which]
    if stay.disposition in ("exp", "hosp", "hosp-facility"):
        stay.disposition = "home"
    _extras(ctx, stay)
    return stay


def _forced_stay(ctx: PatientCtx, forced: str, at: int, visit_base: int, k: int) -> Stay:
    """Demo patients: an admission still open at as_of, or a discharge home in the last weeks."""
    rng = ctx.rng
    ep = _pick_episode(ctx)
    dx = HF_EXACERBATION.get(ctx.tags.get("hf", "u"), HF_EXACERBATION["u"]) if ep.dx.key == "hf" else ep.dx
    arrive = (at // DAY) * DAY + ri(rng, 8 * 60, 20 * 60)
    admit = arrive + ri(rng, 180, 420)
    if forced == "ongoing":
        stay = _new_stay(ctx, "IMP", arrive, admit, None, True, dx, visit_base, k)
    else:
        end = (admit // DAY + ri(rng, 2, 5)) * DAY + ri(rng, 600, 960)
        stay = _new_stay(ctx, "IMP", arrive, admit, min(end, ctx.win.cutoff_m - 3 * DAY), True, dx, visit_base, k)
        if stay.disposition not in ("home", "home-health", "snf"):
            stay.disposition = "home"
    _extras(ctx, stay)
    return stay


def _extras(ctx: PatientCtx, stay: Stay) -> None:
    rng = ctx.rng
    if stay.kind != "IMP":
        if stay.kind == "OBS" and stay.end_m is not None and rng.random() < 0.03:
            first = stay.end_m - ri(rng, 120, 600)
            stay.cancel_discharge = (first, first + ri(rng, 20, 90))
        return
    horizon = stay.end_m if stay.end_m is not None else ctx.win.cutoff_m
    if rng.random() < 0.30:
        update = stay.admit_m + ri(rng, 240, 1800)
        if update < horizon - 30:
            stay.update_m = update
    if stay.end_m is not None and stay.disposition != "exp" and rng.random() < 0.03:
        first = stay.end_m - ri(rng, 120, 1200)
        if first > stay.admit_m + 120:
            stay.cancel_discharge = (first, first + ri(rng, 20, 90))


def _slot(ctx: PatientCtx, day: int) -> int:
    return day * DAY + 480 + 20 * ri(ctx.rng, 0, 25)


def _office_visits(ctx: PatientCtx, stays: list[Stay], blocked: list[tuple[int, int]], n_core: int,
                   until: int) -> list[Visit]:
    rng = ctx.rng
    start = ctx.start_m
    rate = min(6.5, 2.5 + 0.3 * n_core) * rng.gammavariate(5.0, 0.2) / YEAR_MIN
    days: dict[int, Visit] = {}

    def free(m: int) -> bool:
        return start <= m < until and all(not (a - DAY <= m <= b + DAY) for a, b in blocked)

    def add(day: int, code: str, awv: bool = False, acute: tuple[Dx, float, str] | None = None) -> None:
        while weekday(day) >= 5:
            day += 1
        m = _slot(ctx, day)
        if day in days or not free(m):
            return
        provider = ctx.pcp if rng.random() < 0.85 else rr(rng, 4)
        location = ctx.location if rng.random() < 0.9 else 1 - ctx.location
        minutes = ri(rng, 40, 60) if awv else ri(rng, 15, 40)
        days[day] = Visit(m, minutes, code, provider, location, acute, awv)

    if ctx.start_m > ctx.win.start_m:
        add(ctx.start_m // DAY, "99204")
    m = start
    while True:
        m += int(rng.expovariate(rate))
        if m >= until:
            break
        acute = None
        if rng.random() < 0.16:
            options = list(ACUTE_OFFICE) + ([COPD_FLARE] if "copd" in ctx.keys else [])
            acute = rng.choices(options, weights=[w for _, w, _ in options])[0]
        r = rng.random()
        code = "99213" if r < 0.38 else "99214" if r < 0.90 else "99215" if r < 0.97 else "99212"
        add(m // DAY, code, acute=acute)
    if rng.random() < 0.66:
        day = start // DAY + ri(rng, 5, 330)
        first = rng.random() < (0.5 if ctx.age <= 66 else 0.04)
        while day * DAY < until:
            add(day, "G0438" if first else "G0439", awv=True)
            first = False
            day += ri(rng, 366, 420)
    for stay in stays:
        if stay.end_m is None or stay.kind == "ED" or stay.disposition not in ("home", "home-health", "snf"):
            continue
        after = stay.end_m // DAY
        if stay.disposition == "snf":
            after = next((b // DAY for a, b in blocked if a == stay.end_m), after)
        if rng.random() < 0.5:
            gap = ri(rng, 2, 13)
            add(after + gap, "99496" if gap <= 7 and rng.random() < 0.6 else "99495")
    visits = [days[d] for d in sorted(days)]
    for i, v in enumerate(visits, start=1):
        v.enc_id = ctx.next_id("enc")
        v.visit = f"E{ctx.mrn}{i:03d}"
        v.adt = rng.random() < 0.25
    return visits
