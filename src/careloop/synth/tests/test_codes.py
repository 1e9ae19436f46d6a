"""The generator's code tables against the shared oracles (CMS CCW definitions, eCQM value sets, Synthea).

A code the oracles know must mean what the generator says it means; a chronic condition's ICD-10-CM codes
must sit in the CCW definition of that condition (with a few named problem-list exceptions).
"""

from __future__ import annotations

import csv
import json
import re
from collections import defaultdict
from functools import cache
from pathlib import Path

import pytest

from careloop.synth import codes as c
from careloop.synth import conditions as cond
from careloop.synth import encounters as enc
from careloop.synth.ids import luhn_check_digit, mbi, mbi_is_valid, npi_from_serial, npi_is_valid

ORACLES = Path(__file__).resolve().parents[5] / "shared" / "oracles"

CCW_NAMES = {
    "htn": "Hypertension", "hld": "Hyperlipidemia", "ihd": "Ischemic Heart Disease", "dm": "Diabetes",
    "ckd": "Chronic Kidney Disease", "af": "Atrial Fibrillation and Flutter",
    "hf": "Heart Failure and Non-Ischemic Heart Disease", "copd": "Chronic Obstructive Pulmonary Disease",
    "asthma": "Asthma", "stroke": "Stroke/Transient Ischemic Attack", "depression": "Depressive Disorders",
    "anxiety": "Anxiety Disorders", "arthritis": "Rheumatoid Arthritis/Osteoarthritis",
    "osteoporosis": "Osteoporosis With or Without Pathological Fracture", "hypothyroid": "Hypothyroidism",
    "bph": "Benign Prostatic Hyperplasia", "anemia": "Anemia", "glaucoma": "Glaucoma",
    "pvd": "Peripheral Vascular Disease (PVD)", "obesity": "Obesity",
}
# Common problem-list codes that the CCW algorithm does not count (history-of, sequela, newer codes).
NOT_IN_CCW = {"Z86.73", "I69.351", "I69.354", "F03.A0", "F03.B0", "E11.22"}


@cache
def _ccw() -> dict[str, set[str]]:
    out: dict[str, set[str]] = defaultdict(set)
    with (ORACLES / "risk" / "ccw" / "cms_chronic_conditions_hierarchy.csv").open() as fh:
        for row in csv.DictReader(fh):
            if row["code_system"] == "ICD-10-CM":
                out[row["code"]].add(row["condition"])
    return out


@cache
def _ecqm() -> dict[tuple[str, str], str]:
    out: dict[tuple[str, str], str] = {}
    for path in (ORACLES / "ecqm" / "valuesets").glob("ValueSet-*.json"):
        for item in json.loads(path.read_text())["expansion"].get("contains", []):
            out[(item["system"], item["code"])] = item.get("display", "")
    return out


def _needs_oracles() -> None:
    if not (ORACLES / "risk" / "ccw").is_dir() or not (ORACLES / "ecqm" / "valuesets").is_dir():
        pytest.skip("shared oracles not present")


def _norm(display: str) -> str:
    return re.sub(r"\s*\((disorder|finding|procedure|situation|substance|qualifier value)\)$", "",
                  display.strip().lower())


@pytest.mark.oracle
def test_chronic_codes_sit_in_their_ccw_condition() -> None:
    _needs_oracles()
    ccw = _ccw()
    for d in cond.CATALOG:
        if d.key not in CCW_NAMES:
            continue
        variants = list(d.variants) + (list(cond.HTN_VARIANTS.values()) if d.key == "htn" else [])
        for v in variants:
            if v.icd in NOT_IN_CCW:
                continue
            names = ccw.get(v.icd.replace(".", ""), set())
            assert any(n.startswith(CCW_NAMES[d.key]) for n in names), (d.key, v.icd, names)
    cancer = {v.icd for opts in cond.CANCER_VARIANTS.values() for v, _ in opts}
    for icd in cancer:
        assert any(n.startswith("Cancer") for n in ccw[icd.replace(".", "")]), icd


@pytest.mark.oracle
def test_codes_known_to_the_ecqm_value_sets_mean_what_we_say() -> None:
    _needs_oracles()
    known = _ecqm()
    pairs: list[tuple[str, str, str]] = []
    for meds in c.MEDS.values():
        pairs += [(m.concept["coding"][0]["system"], m.concept["coding"][0]["code"], m.concept["coding"][0]["display"])
                  for m in meds]
    for d in cond.CATALOG:
        pairs += [(c.SNOMED, v.snomed, v.snomed_display) for v in d.variants if v.snomed]
        pairs += [(c.ICD10, v.icd, v.display) for v in d.variants]
    pairs += [(c.ICD10, ep.dx.icd, ep.dx.display) for ep in enc.EPISODES]
    concepts = [c.A1C.code, c.EGFR.code, c.UACR.code, c.PHQ9, c.FALLS, c.PCV13, c.PCV15, c.PCV20,
                *c.OFFICE_TYPES.values(), *c.ED_TYPES, c.INPATIENT_TYPE, c.ELECTIVE_TYPE,
                *c.SMOKING_VALUES.values(), *(v for v, _ in c.FLU_TRIVALENT + c.FLU_QUADRIVALENT), *c.PROC.values()]
    pairs += [(x["coding"][0]["system"], x["coding"][0]["code"], x["coding"][0]["display"]) for x in concepts]
    confirmed = 0
    for system, code, display in pairs:
        theirs = known.get((system, code))
        if theirs is None:
            continue
        confirmed += 1
        if system in (c.RXNORM, c.SNOMED, c.ICD10):
            assert _norm(theirs) == _norm(display), (system, code, display, theirs)
    assert confirmed >= 80, confirmed
    must = {(c.LOINC, "4548-4"), (c.LOINC, "98979-8"), (c.LOINC, "9318-7"), (c.LOINC, "44261-6"),
            (c.LOINC, "52552-7"), (c.CVX, "133"), (c.CVX, "216"), (c.HCPCS, "G0439"), (c.CPT, "99214")}
    assert must <= known.keys()


def test_local_time_offsets_follow_the_new_york_rules() -> None:
    from datetime import UTC, datetime, timedelta
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from careloop.synth.timeutil import DAY, hl7_ts, iso_dt

    try:
        zone = ZoneInfo("America/New_York")
    except ZoneInfoNotFoundError:
        pytest.skip("no tz database")
    import random

    rng = random.Random(1)
    start = datetime(2023, 1, 1).toordinal() * DAY
    checks = [datetime(2025, 3, 9, 1, 59), datetime(2025, 3, 9, 3, 0), datetime(2025, 11, 2, 0, 30),
              datetime(2025, 11, 2, 2, 0), datetime(2026, 11, 1, 3, 0)]
    checks += [datetime.fromordinal(start // DAY) + timedelta(minutes=rng.randrange(4 * 365 * DAY))
               for _ in range(2000)]
    for local in checks:
        m = local.toordinal() * DAY + local.hour * 60 + local.minute
        aware = local.replace(tzinfo=zone)
        normal = aware.astimezone(UTC).astimezone(zone)
        if normal.replace(tzinfo=None) != local:  # in the hour skipped in March: read as the hour after
            aware = normal
        expected = aware.isoformat()
        assert iso_dt(m) == expected, (local, iso_dt(m), expected)
        assert hl7_ts(m, 7) == aware.strftime("%Y%m%d%H%M07%z")


def test_identifier_check_digits() -> None:
    assert npi_is_valid("1234567893") and not npi_is_valid("1234567890")
    assert luhn_check_digit("80840123456789") == 3
    assert all(npi_is_valid(npi_from_serial(n)) for n in range(1000, 1100))
    import random

    rng = random.Random(0)
    values = {mbi(7, n, rng) for n in range(20_000)}
    assert len(values) == 20_000 and all(mbi_is_valid(v) for v in values)
    assert not mbi_is_valid("1EG4TE5MK7S")  # S is not allowed
