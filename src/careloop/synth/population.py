"""One synthetic Medicare beneficiary: demographics, identifiers, chronic conditions, Patient and Coverage.

Age and sex follow the CMS Medicare enrollment mix (about 8% under 65 and entitled by disability; women
55% overall, more among the oldest); smoking follows NHIS figures for the 65+ cohort; dual eligibility
(QMB, SLMB, full benefit) and Medicare Advantage shares are set for a Massachusetts primary-care panel.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from careloop.synth import codes as c
from careloop.synth import conditions as cond
from careloop.synth import ids, names
from careloop.synth.clinic import CLINIC_REF, HOME_HOSPITAL, PROVIDERS
from careloop.synth.rand import ri, rr
from careloop.synth.timeutil import DAY, add_years, iso_date, iso_dt

AGE_BANDS = ((45, 64, 0.08, 0.48), (65, 69, 0.25, 0.53), (70, 74, 0.24, 0.54), (75, 79, 0.18, 0.56),
             (80, 84, 0.12, 0.59), (85, 89, 0.08, 0.64), (90, 99, 0.05, 0.70))
HISTORY_DAYS = 913  # about 2.5 years of encounters, labs and orders before as_of


@dataclass(frozen=True, slots=True)
class Window:
    as_of_ord: int
    start_ord: int
    cutoff_m: int  # minutes: local midnight at the start of as_of; nothing happens at or after it
    last_updated: str

    @property
    def start_m(self) -> int:
        return self.start_ord * DAY


@dataclass(slots=True)
class ConditionRec:
    key: str
    variant: cond.Variant
    onset_ord: int
    recorded_ord: int
    abated_ord: int | None = None
    core: bool = True


@dataclass(slots=True)
class PatientCtx:
    n: int
    seed: int
    pid: str
    ref: dict[str, str]
    rng: random.Random
    win: Window
    age: int
    birth_ord: int
    female: bool
    disabled: bool
    smoker: str
    frailty: float
    family: str
    given: str
    middle: str
    lang: tuple[str, str]
    hispanic: bool
    race: tuple[str, str]
    addresses: list[tuple[names.Address, int]]  # (address, from ordinal), oldest first
    phone: str
    mbi: str
    mrn: str
    orec: str
    marital: tuple[str, str]
    pcp: int
    location: int
    hospital: int
    conditions: list[ConditionRec]
    keys: set[str]
    tags: dict[str, str]
    start_m: int
    end_m: int = 0
    death_m: int | None = None
    counters: dict[str, int] = field(default_factory=dict)
    meta: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.meta = {"lastUpdated": self.win.last_updated}

    def next_id(self, kind: str) -> str:
        k = self.counters.get(kind, 0) + 1
        self.counters[kind] = k
        return f"{self.pid}-{kind}{k}"

    def address_at(self, m: int) -> names.Address:
        current = self.addresses[0][0]
        for addr, since in self.addresses:
            if since * DAY <= m:
                current = addr
        return current


def sample_demographics(rng: random.Random) -> cond.Demographics:
    r = rng.random()
    acc = 0.0
    band = AGE_BANDS[-1]
    for b in AGE_BANDS:
        acc += b[2]
        if r < acc:
            band = b
            break
    age = ri(rng, band[0], band[1])
    female = rng.random() < band[3]
    disabled = age < 65
    r = rng.random()
    if disabled:
        smoker = "current" if r < 0.25 else "former" if r < 0.58 else "never"
    else:
        former = 0.50 if not female else 0.37
        current = 0.10 if not female else 0.08
        smoker = "current" if r < current else "former" if r < current + former else "never"
    frailty = rng.gauss(0.0, 1.0) + (0.3 if disabled else 0.0)
    return cond.Demographics(age, female, disabled, smoker, frailty)


def _onset(rng: random.Random, key: str, age: int, as_of: int, win: Window) -> int:
    if rng.random() < 0.10:  # diagnosed during the history window
        return ri(rng, win.start_ord, as_of - 30)
    if key in ("dementia", "stroke", "cancer", "hf", "af", "ckd"):
        years = rng.uniform(1.0, min(12.0, max(1.5, age - 50)))
    else:
        years = rng.uniform(1.0, max(2.0, min(30.0, age - 40)))
    return as_of - int(years * 365.25) - ri(rng, 0, 364) // 4


def build(seed: int, n: int, win: Window) -> PatientCtx:
    rng = random.Random(f"careloop-synth:{seed}:{n}")
    demo = sample_demographics(rng)
    as_of = win.as_of_ord
    birth_ord = add_years(as_of, -demo.age) - ri(rng, 1, 364)
    lang = names.language(rng)
    hispanic = lang[0] == "es" or rng.random() < 0.05
    race = ("2131-1", "Other Race") if hispanic and rng.random() < 0.5 else names.weighted(rng, names.RACES)
    if lang[0] in ("vi", "zh"):
        race = ("2028-9", "Asian")
    elif lang[0] in ("ru", "pt", "ar"):
        race = ("2106-3", "White")
    family, given, middle = names.person_name(rng, demo.female, lang[0], hispanic)
    addr = names.address(rng, demo.age)
    addresses = [(addr, birth_ord)]
    if rng.random() < 0.04:
        addresses.append((names.address(rng, demo.age), ri(rng, win.start_ord + 30, as_of - 20)))
    pcp_r = rng.random()
    pcp = 0
    acc = 0.0
    for i, p in enumerate(PROVIDERS):
        acc += p.share
        if pcp_r < acc:
            pcp = i
            break
    location = PROVIDERS[pcp].location if rng.random() < 0.9 else 1 - PROVIDERS[pcp].location
    marital_r = rng.random()
    widowed = 0.12 + (0.35 if demo.female and demo.age >= 80 else 0.15 if demo.age >= 80 else 0.0)
    marital = (("W", "Widowed") if marital_r < widowed else ("D", "Divorced") if marital_r < widowed + 0.14
               else ("S", "Never Married") if marital_r < widowed + 0.21 else ("M", "Married"))
    keys = cond.draw_keys(rng, demo)
    keyset = set(keys)
    conditions: list[ConditionRec] = []
    tags: dict[str, str] = {}
    ckd_variant = cond.pick(rng, cond.BY_KEY["ckd"].variants) if "ckd" in keyset else None
    for key in keys:
        definition = cond.BY_KEY[key]
        variant = (ckd_variant if key == "ckd" and ckd_variant is not None
                   else cond.choose_variant(rng, key, keyset, demo.female, demo.smoker, ckd_variant))
        if variant.tag:
            tags[key] = variant.tag
        onset = _onset(rng, key, demo.age, as_of, win)
        recorded = min(onset + ri(rng, 0, 90), as_of - 1)
        abated = None
        if definition.resolve and rng.random() < definition.resolve:
            abated = min(max(onset + ri(rng, 120, 1500), win.start_ord + ri(rng, 0, 200)), as_of - 2)
            if abated <= onset:
                abated = None
        conditions.append(ConditionRec(key, variant, onset, recorded, abated, definition.core))
    extra = _extra_conditions(rng, keyset, tags, demo, as_of)
    conditions.extend(extra)
    ckd_stage = tags.get("ckd", "")
    orec = "1" if demo.disabled else ("1" if rng.random() < 0.09 else "0")
    if ckd_stage == "esrd":
        orec = {"0": "2", "1": "3"}.get(orec, orec) if demo.disabled or rng.random() < 0.3 else orec
    start_m = win.start_m
    if rng.random() < 0.12:  # joined the practice during the window
        start_m = ri(rng, win.start_ord, as_of - 45) * DAY
    pid = f"p{seed}-{n:07d}"
    hospital = HOME_HOSPITAL.get(addresses[-1][0].city, 0) if rng.random() < 0.8 else rr(rng, 4)
    return PatientCtx(
        n=n, seed=seed, pid=pid, ref={"reference": f"Patient/{pid}"}, rng=rng, win=win, age=demo.age,
        birth_ord=birth_ord, female=demo.female, disabled=demo.disabled, smoker=demo.smoker,
        frailty=demo.frailty, family=family, given=given, middle=middle, lang=lang, hispanic=hispanic,
        race=race, addresses=addresses, phone=names.phone(rng, addr.area_code), mbi=ids.mbi(seed, n, rng),
        mrn=ids.mrn(seed, n), orec=orec, marital=marital, pcp=pcp, location=location, hospital=hospital,
        conditions=conditions, keys=keyset, tags=tags, start_m=start_m, end_m=win.cutoff_m,
    )


def _extra_conditions(rng: random.Random, keys: set[str], tags: dict[str, str], demo: cond.Demographics,
                      as_of: int) -> list[ConditionRec]:
    out: list[ConditionRec] = []

    def add(key: str, variant: cond.Variant, years_back: float) -> None:
        onset = as_of - int(years_back * 365.25)
        out.append(ConditionRec(key, variant, onset, min(onset + ri(rng, 0, 60), as_of - 1), None, False))

    if "ihd" in keys and rng.random() < 0.25:
        add("old_mi", cond.EXTRA["old_mi"], rng.uniform(1, 15))
    if tags.get("ckd") == "esrd":
        add("dialysis", cond.EXTRA["dialysis"], rng.uniform(0.5, 5))
    if demo.smoker == "current" and rng.random() < 0.8:
        add("nicotine", cond.EXTRA["nicotine"], rng.uniform(1, 20))
    elif demo.smoker == "former" and rng.random() < 0.3:
        add("former_smoker", cond.EXTRA["former_smoker"], rng.uniform(1, 20))
    return out


def patient_resource(ctx: PatientCtx) -> dict[str, Any]:
    addresses: list[dict[str, Any]] = []
    for i in range(len(ctx.addresses) - 1, -1, -1):
        addr, since = ctx.addresses[i]
        entry: dict[str, Any] = {"use": "home" if i == len(ctx.addresses) - 1 else "old", "type": "physical",
                                 "line": list(addr.line), "city": addr.city, "district": addr.county,
                                 "state": addr.state, "postalCode": addr.postal_code, "country": "US"}
        if i < len(ctx.addresses) - 1:
            entry["period"] = {"end": iso_date(ctx.addresses[i + 1][1] - 1)}
        elif len(ctx.addresses) > 1:
            entry["period"] = {"start": iso_date(since)}
        addresses.append(entry)
    given = [ctx.given, ctx.middle] if ctx.middle else [ctx.given]
    ethnicity = ("2135-2", "Hispanic or Latino") if ctx.hispanic else ("2186-5", "Not Hispanic or Latino")
    resource: dict[str, Any] = {
        "resourceType": "Patient", "id": ctx.pid, "meta": ctx.meta,
        "extension": [
            {"url": "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race", "extension": [
                {"url": "ombCategory", "valueCoding": c.coding(c.OMB_RACE, *ctx.race)},
                {"url": "text", "valueString": ctx.race[1]}]},
            {"url": "http://hl7.org/fhir/us/core/StructureDefinition/us-core-ethnicity", "extension": [
                {"url": "ombCategory", "valueCoding": c.coding(c.OMB_RACE, *ethnicity)},
                {"url": "text", "valueString": ethnicity[1]}]},
            {"url": "http://hl7.org/fhir/us/core/StructureDefinition/us-core-birthsex",
             "valueCode": "F" if ctx.female else "M"},
            {"url": c.OREC_URL, "valueCoding": c.coding(c.OREC_SYSTEM, ctx.orec, OREC_DISPLAY[ctx.orec])},
        ],
        "identifier": [
            {"use": "usual", "type": c.concept(c.V2_0203, "MR", "Medical record number"), "system": c.MRN,
             "value": ctx.mrn, "assigner": CLINIC_REF},
            {"type": c.concept(c.V2_0203, "MB", "Member Number", "Medicare Beneficiary Identifier"),
             "system": c.MBI, "value": ctx.mbi},
        ],
        "active": True,
        "name": [{"use": "official", "family": ctx.family, "given": given}],
        "telecom": [{"system": "phone", "value": ctx.phone, "use": "home"}],
        "gender": "female" if ctx.female else "male",
        "birthDate": iso_date(ctx.birth_ord),
    }
    if ctx.death_m is not None:
        resource["deceasedDateTime"] = iso_dt(ctx.death_m)
    resource["address"] = addresses if len(addresses) > 1 else addresses[:1]
    resource["maritalStatus"] = c.concept(c.MARITAL, *ctx.marital)
    resource["communication"] = [{"language": c.concept(c.BCP47, *ctx.lang), "preferred": True}]
    resource["generalPractitioner"] = [PROVIDERS[ctx.pcp].ref]
    resource["managingOrganization"] = CLINIC_REF
    return resource


OREC_DISPLAY = {"0": "Old age and survivor's insurance (OASI)", "1": "Disability insurance benefits (DIB)",
                "2": "End-stage renal disease (ESRD)", "3": "Both DIB and ESRD"}
