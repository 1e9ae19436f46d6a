"""The synthetic clinic generator: determinism, referential integrity, CMS-like prevalence, HL7 v2 ADT."""

from __future__ import annotations

import hashlib
import re
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from careloop.synth import DEFAULT_AS_OF, SynthResult, generate
from careloop.synth.adt import escape, unescape
from careloop.synth.generator import RESOURCE_TYPES
from careloop.synth.ids import mbi_is_valid, npi_is_valid

N = 3000
SEED = 11
MBI_SYSTEM = "http://hl7.org/fhir/sid/us-mbi"
ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"


@pytest.fixture(scope="module")
def clinic(tmp_path_factory: pytest.TempPathFactory) -> SynthResult:
    return generate(patients=N, seed=SEED, out_dir=tmp_path_factory.mktemp("clinic"))


@pytest.fixture(scope="module")
def data(clinic: SynthResult) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for rtype in RESOURCE_TYPES:
        with (clinic.out_dir / f"{rtype}.ndjson").open("rb") as fh:
            out[rtype] = [orjson.loads(line) for line in fh]
    return out


def adt_messages(out_dir: Path) -> Iterator[tuple[str, str]]:
    """(file name, message) in file order; a message is its segments joined by CR, with a final CR."""
    for path in sorted((out_dir / "adt").glob("adt-*.hl7")):
        raw = path.read_bytes().decode("utf-8")
        assert raw.endswith("\r\n")
        for message in raw.split("\r\n")[:-1]:
            yield path.name, message + "\r"


def fields(segment: str) -> list[str]:
    return segment.split("|")


def digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


# ---- determinism ------------------------------------------------------------------------------------------
def test_same_seed_gives_identical_bytes_and_another_seed_does_not(tmp_path: Path) -> None:
    a = generate(patients=250, seed=3, out_dir=tmp_path / "a")
    b = generate(patients=250, seed=3, out_dir=tmp_path / "b")
    generate(patients=250, seed=4, out_dir=tmp_path / "c")
    assert a.resources == b.resources and a.adt_messages == b.adt_messages
    da, db, dc = digest(tmp_path / "a"), digest(tmp_path / "b"), digest(tmp_path / "c")
    assert da == db
    assert set(da) >= {f"{t}.ndjson" for t in RESOURCE_TYPES} | {"manifest.json", "adt/adt-00001.hl7"}
    assert da["Patient.ndjson"] != dc["Patient.ndjson"] and da["adt/adt-00001.hl7"] != dc["adt/adt-00001.hl7"]


def test_a_patient_does_not_depend_on_the_panel_size(tmp_path: Path) -> None:
    generate(patients=40, seed=5, out_dir=tmp_path / "small")
    generate(patients=90, seed=5, out_dir=tmp_path / "large")
    small = (tmp_path / "small" / "Observation.ndjson").read_bytes()
    large = (tmp_path / "large" / "Observation.ndjson").read_bytes()
    assert large.startswith(small)


def test_rerun_into_the_same_folder_replaces_the_old_output(tmp_path: Path) -> None:
    generate(patients=300, seed=1, out_dir=tmp_path)
    files_before = sorted((tmp_path / "adt").glob("adt-*.hl7"))
    result = generate(patients=20, seed=1, out_dir=tmp_path)
    files_after = sorted((tmp_path / "adt").glob("adt-*.hl7"))
    assert len(files_after) <= len(files_before)
    assert sum(1 for _ in adt_messages(tmp_path)) == result.adt_messages
    assert not list((tmp_path / "adt").glob(".run-*"))


def test_progress_reports_every_patient(tmp_path: Path) -> None:
    calls: list[int] = []
    generate(patients=1203, seed=2, out_dir=tmp_path, progress=calls.append)
    assert sum(calls) == 1203 and calls[:2] == [500, 500]


# ---- structure ----------------------------------------------------------------------------------------------
def test_result_and_manifest_match_the_files(clinic: SynthResult, data: dict[str, list[dict[str, Any]]]) -> None:
    assert clinic.patients == N == len(data["Patient"])
    assert clinic.resources == {t: len(data[t]) for t in RESOURCE_TYPES}
    manifest = orjson.loads((clinic.out_dir / "manifest.json").read_bytes())
    assert manifest["seed"] == SEED and manifest["asOf"] == DEFAULT_AS_OF.isoformat()
    assert manifest["resources"] == clinic.resources and manifest["adt"]["messages"] == clinic.adt_messages
    per_patient = sum(clinic.resources.values()) / N
    assert 40 <= per_patient <= 80, per_patient


def test_every_resource_has_an_id_meta_and_unique_identity(data: dict[str, list[dict[str, Any]]]) -> None:
    for rtype, items in data.items():
        ids = [r["id"] for r in items]
        assert len(ids) == len(set(ids)), rtype
        for r in items:
            assert r["resourceType"] == rtype
            assert re.fullmatch(r"[A-Za-z0-9\-.]{1,64}", r["id"])
            assert r["meta"]["lastUpdated"].startswith(DEFAULT_AS_OF.isoformat())


def test_every_reference_resolves(data: dict[str, list[dict[str, Any]]]) -> None:
    known = {f"{r['resourceType']}/{r['id']}" for items in data.values() for r in items}
    refs: Counter[str] = Counter()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "reference":
                    assert value in known, value
                    refs[value.split("/")[0]] += 1
                else:
                    walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for items in data.values():
        for r in items:
            walk(r)
    assert {"Patient", "Practitioner", "Encounter", "Organization", "Location", "Condition"} <= set(refs)


_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")


def test_nothing_is_dated_after_as_of(data: dict[str, list[dict[str, Any]]]) -> None:
    limit = DEFAULT_AS_OF.isoformat()
    seen = 0

    def walk(node: Any) -> None:
        nonlocal seen
        if isinstance(node, dict):
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
        elif isinstance(node, str) and _DATE.match(node):
            seen += 1
            assert node[:10] <= limit, node
            if len(node) > 10:
                datetime.fromisoformat(node)
            else:
                date.fromisoformat(node)

    for items in data.values():
        for r in items:
            walk(r)
    assert seen > 100_000


def test_nothing_happens_after_a_patient_dies(data: dict[str, list[dict[str, Any]]]) -> None:
    death = {f"Patient/{p['id']}": datetime.fromisoformat(p["deceasedDateTime"])
             for p in data["Patient"] if "deceasedDateTime" in p}
    assert 0.02 * N < len(death) < 0.12 * N
    for e in data["Encounter"]:
        when = death.get(e["subject"]["reference"])
        if when is not None:
            assert datetime.fromisoformat(e["period"]["start"]) <= when
            assert datetime.fromisoformat(e["period"].get("end", e["period"]["start"])) <= when
    for o in data["Observation"]:
        when = death.get(o["subject"]["reference"])
        if when is not None:
            assert datetime.fromisoformat(o["effectiveDateTime"]) <= when
    for cnd in data["Condition"]:
        when = death.get(cnd["subject"]["reference"])
        if when is not None:
            for key in ("onsetDateTime", "recordedDate", "abatementDateTime"):
                if key in cnd:
                    assert cnd[key][:10] <= when.date().isoformat(), (key, cnd[key], when)
    for m in data["MedicationRequest"]:
        when = death.get(m["subject"]["reference"])
        if when is not None:
            assert m["authoredOn"][:10] <= when.date().isoformat() and m["status"] != "active"


def test_patients_have_mrn_mbi_and_realistic_demographics(data: dict[str, list[dict[str, Any]]]) -> None:
    mbis = set()
    ages, female, langs = [], 0, Counter()
    for p in data["Patient"]:
        by_type = {i["type"]["coding"][0]["code"]: i for i in p["identifier"]}
        assert by_type["MR"]["system"] == "urn:careloop:synth-ehr:mrn"
        assert by_type["MB"]["system"] == MBI_SYSTEM and mbi_is_valid(by_type["MB"]["value"])
        mbis.add(by_type["MB"]["value"])
        ages.append(DEFAULT_AS_OF.year - int(p["birthDate"][:4]))
        female += p["gender"] == "female"
        langs[p["communication"][0]["language"]["coding"][0]["code"]] += 1
        assert p["communication"][0]["language"]["coding"][0]["system"] == "urn:ietf:bcp:47"
    assert len(mbis) == N
    assert 0.03 < sum(a < 65 for a in ages) / N < 0.13
    assert all(44 <= a <= 101 for a in ages)
    assert 0.51 < female / N < 0.59
    assert 0.82 < langs["en"] / N < 0.93 and 0.04 < langs["es"] / N < 0.13 and len(langs) >= 5


def test_clinic_organization_locations_and_providers(data: dict[str, list[dict[str, Any]]]) -> None:
    clinic = next(o for o in data["Organization"] if o["id"] == "org-maple-grove")
    systems = {i["system"]: i["value"] for i in clinic["identifier"]}
    assert npi_is_valid(systems["http://hl7.org/fhir/sid/us-npi"])
    assert re.fullmatch(r"\d{9}", systems["urn:oid:2.16.840.1.113883.4.4"])
    hospitals = [o for o in data["Organization"] if o["id"] != "org-maple-grove"]
    assert len(hospitals) >= 3 and all(h["type"][0]["coding"][0]["code"] == "prov" for h in hospitals)
    assert len(data["Location"]) == 2 and len(data["Practitioner"]) == 4
    for pr in data["Practitioner"]:
        npi = pr["identifier"][0]["value"]
        assert pr["identifier"][0]["system"] == "http://hl7.org/fhir/sid/us-npi" and npi_is_valid(npi)


# ---- clinical content --------------------------------------------------------------------------------------
PREVALENCE = {  # ICD-10-CM prefixes, and the band (CMS CCW figures plus sampling error for 3,000 patients)
    "hypertension": (("I10", "I11", "I12", "I13"), 0.53, 0.63),
    "hyperlipidemia": (("E78",), 0.43, 0.52),
    "ischemic heart disease": (("I20", "I21", "I22", "I24", "I25"), 0.22, 0.29),
    "diabetes": (("E10", "E11", "E13"), 0.24, 0.31),
    "chronic kidney disease": (("N18",), 0.19, 0.26),
    "depression": (("F32", "F33", "F34.1"), 0.15, 0.21),
    "heart failure": (("I50",), 0.11, 0.16),
    "COPD": (("J43", "J44"), 0.08, 0.135),
    "dementia": (("F01", "F02", "F03", "G30"), 0.08, 0.12),
    "atrial fibrillation": (("I48",), 0.07, 0.115),
    "arthritis": (("M05", "M06", "M15", "M16", "M17", "M19"), 0.28, 0.36),
}


def _problem_codes(data: dict[str, list[dict[str, Any]]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = defaultdict(list)
    for cnd in data["Condition"]:
        if cnd["category"][0]["coding"][0]["code"] == "problem-list-item":
            icd = next(x["code"] for x in cnd["code"]["coding"] if x["system"] == ICD10)
            out[cnd["subject"]["reference"]].append(icd)
    return out


def test_chronic_condition_prevalence_is_close_to_medicare(data: dict[str, list[dict[str, Any]]]) -> None:
    codes = _problem_codes(data)
    for name, (prefixes, low, high) in PREVALENCE.items():
        share = sum(1 for icds in codes.values() if any(i.startswith(prefixes) for i in icds)) / N
        assert low <= share <= high, (name, share)
    counts = Counter(min(len({i[:3] for i in icds}), 6) for icds in codes.values())
    counts[0] += N - len(codes)
    assert 0.08 < (counts[0] + counts[1]) / N < 0.40  # some patients have none or one
    assert (N - counts[0] - counts[1]) / N > 0.6  # most have two or more


def test_every_condition_has_icd10_and_some_snomed(data: dict[str, list[dict[str, Any]]]) -> None:
    with_snomed = 0
    for cnd in data["Condition"]:
        systems = [x["system"] for x in cnd["code"]["coding"]]
        assert systems[0] == ICD10
        icd = cnd["code"]["coding"][0]["code"]
        assert re.fullmatch(r"[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?", icd), icd
        with_snomed += "http://snomed.info/sct" in systems
        assert cnd["verificationStatus"]["coding"][0]["code"] == "confirmed"
        status = cnd["clinicalStatus"]["coding"][0]["code"]
        assert (status == "resolved") == ("abatementDateTime" in cnd)
        assert cnd["onsetDateTime"][:10] <= cnd.get("abatementDateTime", "9999")[:10]
    assert 0.30 < with_snomed / len(data["Condition"]) < 0.50


def test_coverage_mix(data: dict[str, list[dict[str, Any]]]) -> None:
    kinds: dict[str, set[str]] = defaultdict(set)
    for cov in data["Coverage"]:
        coding = cov["type"]["coding"][0]
        assert coding["system"] == "urn:careloop:coverage-kind" and cov["status"] == "active"
        assert cov["payor"][0]["display"] and cov["period"]["start"] <= cov["period"].get("end", "9999")
        kinds[coding["code"]].add(cov["beneficiary"]["reference"])
    assert len(kinds["medicare-part-b"]) > 0.99 * N
    assert 0.10 <= len(kinds["qmb"]) / N <= 0.15
    other_dual = len((kinds["slmb"] | kinds["full-dual"]) - kinds["qmb"]) / N
    assert 0.035 <= other_dual <= 0.09
    assert 0.18 <= len(kinds["medicare-advantage"]) / N <= 0.33
    year = str(DEFAULT_AS_OF.year)
    mid_year = [c for c in data["Coverage"] if c["type"]["coding"][0]["code"] in ("qmb", "slmb", "full-dual")
                and (c["period"]["start"].startswith(year) or c["period"].get("end", "").startswith(year))]
    assert mid_year


def _loinc(o: dict[str, Any]) -> str:
    return str(o["code"]["coding"][0]["code"])


def test_labs_are_consistent_with_conditions(data: dict[str, list[dict[str, Any]]]) -> None:
    codes = _problem_codes(data)
    diabetic = {p for p, icds in codes.items() if any(i.startswith(("E10", "E11")) for i in icds)}
    stage4 = {p for p, icds in codes.items() if "N18.4" in icds}
    latest_a1c: dict[str, tuple[str, float]] = {}
    for o in data["Observation"]:
        who = o["subject"]["reference"]
        if _loinc(o) == "4548-4" and who in diabetic:
            assert o["valueQuantity"]["unit"] == "%"
            if who not in latest_a1c or o["effectiveDateTime"] > latest_a1c[who][0]:
                latest_a1c[who] = (o["effectiveDateTime"], o["valueQuantity"]["value"])
        if _loinc(o) == "98979-8" and who in stage4:
            assert 13 <= o["valueQuantity"]["value"] <= 31
            assert o["valueQuantity"]["code"] == "mL/min/{1.73_m2}"
    over9 = sum(v > 9 for _, v in latest_a1c.values()) / len(latest_a1c)
    assert len(latest_a1c) > 0.9 * len(diabetic) and 0.08 <= over9 <= 0.17


def test_vitals_screenings_immunizations_and_meds(data: dict[str, list[dict[str, Any]]]) -> None:
    by_code = Counter(_loinc(o) for o in data["Observation"])
    for code in ("85354-9", "39156-5", "29463-7", "8302-2", "2093-3", "2085-9", "13457-7", "2571-8", "9318-7",
                 "55758-7", "44261-6", "72166-2", "88122-7", "71802-3", "93030-5", "52552-7"):
        assert by_code[code] > 0, code
    bp = next(o for o in data["Observation"] if _loinc(o) == "85354-9")
    assert [x["code"]["coding"][0]["code"] for x in bp["component"]] == ["8480-6", "8462-4"]
    cvx = Counter(i["vaccineCode"]["coding"][0]["code"] for i in data["Immunization"])
    assert cvx.keys() >= {"33", "133", "216"} and all(i["status"] == "completed" for i in data["Immunization"])
    pneumo = {i["patient"]["reference"] for i in data["Immunization"]
              if i["vaccineCode"]["coding"][0]["code"] in ("33", "133", "215", "216")}
    assert 0.5 < len(pneumo) / N < 0.7
    active: Counter[str] = Counter()
    for m in data["MedicationRequest"]:
        assert m["intent"] == "order" and m["medicationCodeableConcept"]["coding"][0]["system"].endswith("rxnorm")
        if m["status"] == "active" and "encounter" not in m:
            active[m["subject"]["reference"]] += 1
    assert 0.15 <= sum(1 for v in active.values() if v >= 10) / N <= 0.35
    allergic = {a["patient"]["reference"] for a in data["AllergyIntolerance"]}
    assert 0.2 < len(allergic) / N < 0.32


def test_encounters_utilization(data: dict[str, list[dict[str, Any]]]) -> None:
    classes = Counter(e["class"]["code"] for e in data["Encounter"])
    years = 2.5
    ed = sum(1 for e in data["Encounter"] if e["class"]["code"] == "EMER"
             or any(h["class"]["code"] == "EMER" for h in e.get("classHistory", [])))
    assert 0.45 <= ed / N / years <= 0.75
    assert 0.17 <= classes["IMP"] / N / years <= 0.32
    assert 3.0 <= classes["AMB"] / N / years <= 6.0
    assert classes["OBSENC"] > 0
    ongoing = [e for e in data["Encounter"] if e["status"] == "in-progress"]
    assert any(e["class"]["code"] == "IMP" for e in ongoing)
    assert all("end" not in e["period"] for e in ongoing)
    recent = [e for e in data["Encounter"] if e["class"]["code"] == "IMP" and e["period"].get("end", "")[:10]
              >= date.fromordinal(DEFAULT_AS_OF.toordinal() - 30).isoformat()]
    assert len(recent) >= 10
    dispositions = Counter(e["hospitalization"]["dischargeDisposition"]["coding"][0]["code"]
                           for e in data["Encounter"] if "dischargeDisposition" in e.get("hospitalization", {}))
    assert dispositions.most_common(1)[0][0] == "home" and {"snf", "hosp", "exp"} <= dispositions.keys()
    for e in data["Encounter"]:
        assert re.search(r"T\d\d:\d\d:\d\d-0[45]:00$", e["period"]["start"])
        if e["class"]["code"] != "AMB":
            assert e["reasonCode"][0]["coding"][0]["system"] == ICD10


# ---- HL7 v2 ADT ----------------------------------------------------------------------------------------------
def test_adt_messages_parse_are_unique_and_chronological(clinic: SynthResult) -> None:
    controls: set[str] = set()
    per_file: Counter[str] = Counter()
    events: Counter[str] = Counter()
    previous = 0.0
    for name, message in adt_messages(clinic.out_dir):
        per_file[name] += 1
        segments = message.split("\r")
        assert segments[-1] == "" and all(segments[:-1])
        msh = fields(segments[0])
        assert msh[0] == "MSH" and msh[1] == "^~\\&" and msh[4] == "CARELOOP" and msh[11] == "2.5.1"
        assert re.fullmatch(r"ADT\^A\d\d\^ADT_A\d\d", msh[8])
        events[msh[8].split("^")[1]] += 1
        assert msh[9] not in controls
        controls.add(msh[9])
        ts = datetime.strptime(msh[6], "%Y%m%d%H%M%S%z")
        assert ts.date() <= DEFAULT_AS_OF
        assert ts.timestamp() >= previous
        previous = ts.timestamp()
        pid = next(fields(s) for s in segments if s.startswith("PID|"))
        assert "^MR" in pid[3] and pid[3].split("~")[1].endswith("^^^CMS^MB")
        assert mbi_is_valid(pid[3].split("~")[1].split("^")[0])
    assert len(controls) == clinic.adt_messages
    assert all(count <= 1000 for count in per_file.values())
    assert sum(1 for count in per_file.values() if count < 1000) <= 1
    assert {"A01", "A02", "A03", "A04", "A08", "A11", "A13"} <= events.keys()


def test_adt_visit_numbers_match_encounter_identifiers(clinic: SynthResult,
                                                       data: dict[str, list[dict[str, Any]]]) -> None:
    visits = {(e["identifier"][0]["value"]): e for e in data["Encounter"]}
    seen = set()
    for _, message in adt_messages(clinic.out_dir):
        segments = {s[:3]: fields(s) for s in message.split("\r") if s}
        pv1 = segments["PV1"]
        number = pv1[19].split("^")[0]
        assert number in visits, number
        enc = visits[number]
        pid = segments["PID"]
        patient = enc["subject"]["reference"].split("/")[1]
        mbi = pid[3].split("~")[1].split("^")[0]
        assert mbi.isalnum()
        seen.add(number)
        klass = enc["class"]["code"]
        assert pv1[2] in {"EMER": "E", "IMP": "EI", "OBSENC": "EO", "AMB": "O"}[klass] or (
            klass == "EMER" and pv1[2] == "I"), (klass, pv1[2])
        if klass == "OBSENC" and pv1[2] == "O":  # an observation stay, not a clinic visit: PV1-18 says so
            assert len(pv1) > 18 and pv1[18] == "OBS", number
        event = fields(message.split("\r")[0])[8].split("^")[1]
        if event == "A03" and klass != "AMB" and len(pv1) > 45 and enc["status"] == "finished":
            assert pv1[36] and pv1[45]
        assert patient
    hospital = [e for e in data["Encounter"] if e["class"]["code"] != "AMB"]
    assert all(e["identifier"][0]["value"] in seen for e in hospital)
    office = [e for e in data["Encounter"] if e["class"]["code"] == "AMB"]
    assert 0.15 < sum(1 for e in office if e["identifier"][0]["value"] in seen) / len(office) < 0.35


def test_adt_discharge_disposition_and_death(clinic: SynthResult, data: dict[str, list[dict[str, Any]]]) -> None:
    expired = {e["identifier"][0]["value"] for e in data["Encounter"]
               if e.get("hospitalization", {}).get("dischargeDisposition", {}).get("coding", [{}])[0].get("code")
               == "exp"}
    found = 0
    for _, message in adt_messages(clinic.out_dir):
        segs = {s[:3]: fields(s) for s in message.split("\r") if s}
        if segs["PV1"][19].split("^")[0] in expired and "ADT^A03" in segs["MSH"][8]:
            assert segs["PV1"][36] == "20" and segs["PID"][30] == "Y" and segs["PID"][29]
            found += 1
    assert found >= len(expired) > 0


def test_hl7_escaping_round_trips() -> None:
    for text in ("O'Brien", "Pines & Maples Senior Apts, Unit 4", "A|B^C~D\\E&F", "line\rbreak\n"):
        escaped = escape(text)
        assert not set(escaped) & set("|^~&\r\n")
        assert unescape(escaped) == text
    assert escape("Smith & Sons") == "Smith \\T\\ Sons"
