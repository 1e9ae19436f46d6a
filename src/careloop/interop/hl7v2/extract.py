"""Typed view of what an ADT (or other) message says: patient, visit, diagnoses, merges. Pure, no database.

Values are read from the parsed message (``parse.Hl7Message``), unescaped, and converted: timestamps to aware
datetimes keeping the UTC offset as received, dates, ICD-10 codes normalized (upper case, no dot). Bad values
are collected as ``problems`` (field location and reason); the ADT handlers decide which ones reject the
message.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from careloop.interop.hl7v2.parse import Header, Hl7Message, Segment, split_component

MBI_SYSTEM = "http://hl7.org/fhir/sid/us-mbi"
HL7_SYSTEM_PREFIX = "urn:careloop:hl7:"
_MBI = re.compile(r"^[1-9][A-Z][A-Z0-9]\d[A-Z][A-Z0-9]\d[A-Z]{2}\d{2}$")
_DTM = re.compile(r"^(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(?:\.(\d{1,4}))?([+-]\d{4})?$")
# CX-5 identifier types that do not identify the patient (accounts, visits, cards, licences, providers, SSN).
NOT_PATIENT_IDS = frozenset({"AN", "ANON", "VN", "SS", "SB", "DL", "PPN", "NPI", "TAX", "EI", "EN", "BA", "BC",
                             "CC", "DI", "DS", "MS", "VS", "AM", "DN", "PEN", "MCN", "NH"})
SEX = {"F": "female", "M": "male", "O": "other", "A": "other", "X": "other", "U": "unknown", "N": "unknown"}
# PV1-2 patient class (HL7 table 0004) -> careloop EncounterClass. Observation is not a table 0004 value:
# hospitals signal it with PV1-2 "OBS" or, on an I/O/E visit, hospital service (PV1-10) or patient type (PV1-18)
# "OBS"/"OBV". Preadmit (P) says nothing about the coming stay's class; it stays OTHER until A01/A06/A07/A08.
PATIENT_CLASS = {"E": "EMER", "I": "IMP", "O": "AMB", "R": "AMB", "B": "IMP", "OBS": "OBSENC"}
OBSERVATION = frozenset({"OBS", "OBV", "OBSERVATION"})
ICD10_SYSTEMS = frozenset({"I10", "ICD10", "I10C", "ICD10CM", "ICD-10-CM", "I10P", "2.16.840.1.113883.6.90"})
SNOMED_SYSTEMS = frozenset({"SCT", "SNM", "SNOMED", "SNOMEDCT", "2.16.840.1.113883.6.96"})


@dataclass(frozen=True, slots=True)
class Problem:
    location: str  # e.g. PV1-45
    reason: str


@dataclass(frozen=True, slots=True)
class Stamp:
    """An HL7 DTM: ``at`` is aware (the zone given when no offset was sent); ``offset`` as received or ''."""

    at: dt.datetime
    offset: str

    def iso(self) -> str:
        """ISO 8601 as received: with its UTC offset, or local time without one when the message gave none."""
        return self.at.isoformat() if self.offset else self.at.replace(tzinfo=None).isoformat()


@dataclass(frozen=True, slots=True)
class Ident:
    value: str
    assigner: str
    type_code: str
    system: str  # '' when this is not a patient identifier careloop matches or stores

    def as_json(self) -> dict[str, str]:
        return {"value": self.value, "assigner": self.assigner, "type": self.type_code}

    def as_row(self) -> dict[str, str]:
        return {"system": self.system, "value": self.value, "type_code": self.type_code, "assigner": self.assigner}


@dataclass(frozen=True, slots=True)
class PatientData:
    identifiers: tuple[Ident, ...]
    family: str
    given: str
    birth_date: dt.date | None
    sex_code: str
    address_line: str = ""
    city: str = ""
    state: str = ""
    postal_code: str = ""
    phone: str = ""

    @property
    def matchable(self) -> list[Ident]:
        return [i for i in self.identifiers if i.system]

    @property
    def sex(self) -> str:
        return SEX.get(self.sex_code, "")

    @property
    def mbi(self) -> str:
        return next((i.value for i in self.identifiers if i.system == MBI_SYSTEM and _MBI.match(i.value)), "")

    def demographics(self) -> dict[str, object]:
        return {"family": self.family, "given": self.given, "sex": self.sex,
                "birth_date": self.birth_date.isoformat() if self.birth_date else None,
                "identifiers": [i.as_json() for i in self.identifiers]}


@dataclass(frozen=True, slots=True)
class VisitData:
    patient_class: str  # PV1-2 as received
    class_code: str  # careloop EncounterClass
    visit_number: str
    admit: Stamp | None
    discharge: Stamp | None
    location: str
    disposition: str
    hospital_service: str


@dataclass
class Extracted:
    header: Header
    event: str  # the trigger event: MSH-9.2 wins over EVN-1
    patient: PatientData | None
    visit: VisitData | None
    diagnoses: list[str]
    merges: list[tuple[PatientData, tuple[Ident, ...]]]  # (surviving patient from PID, prior ids from MRG-1)
    event_time: Stamp | None
    segment_names: list[str]
    problems: list[Problem] = field(default_factory=list)


def parse_dtm(value: str, zone: ZoneInfo) -> Stamp | None:
    """HL7 DTM ``YYYY[MM[DD[HH[MM[SS[.S...]]]]]][+/-ZZZZ]``; None when empty; ValueError when malformed."""
    value = value.strip()
    if not value:
        return None
    m = _DTM.match(value)
    if m is None:
        raise ValueError(f"{value!r} is not an HL7 date/time (YYYYMMDDHHMMSS[+/-ZZZZ])")
    year, month, day, hour, minute, second, frac, off = m.groups()
    micro = int((frac or "0").ljust(6, "0")[:6])
    offset = ""
    tz: dt.tzinfo = zone
    if off:
        hours, minutes = int(off[1:3]), int(off[3:5])
        if hours > 14 or minutes > 59:
            raise ValueError(f"{value!r} has an impossible UTC offset {off}")
        delta = dt.timedelta(hours=hours, minutes=minutes) * (-1 if off[0] == "-" else 1)
        tz = dt.timezone(delta)
        offset = f"{off[0]}{off[1:3]}:{off[3:5]}"
    at = dt.datetime(int(year), int(month or 1), int(day or 1), int(hour or 0), int(minute or 0), int(second or 0),
                     micro, tzinfo=tz)
    return Stamp(at, offset)


def parse_date(value: str) -> dt.date | None:
    value = value.strip()
    if not value:
        return None
    m = _DTM.match(value)
    if m is None or m.group(2) is None or m.group(3) is None:
        raise ValueError(f"{value!r} is not an HL7 date (YYYYMMDD)")
    return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))


def normalize_icd10(code: str) -> str:
    return code.replace(".", "").replace(" ", "").upper()


def identifier(raw: str, header: Header, sending_facility: str) -> Ident | None:
    value = split_component(raw, header, 1)
    if not value:
        return None
    authority = split_component(raw, header, 4, 1) or split_component(raw, header, 4, 2)
    type_code = split_component(raw, header, 5).upper()
    assigning_facility = split_component(raw, header, 6, 1)
    assigner = authority or assigning_facility
    if type_code == "MB" or authority.upper() in ("MB", "MBI"):
        system = MBI_SYSTEM
        value = value.replace("-", "").upper()
    elif type_code in NOT_PATIENT_IDS:
        system = ""
    else:
        system = HL7_SYSTEM_PREFIX + (authority or assigning_facility or sending_facility or "unknown")
    return Ident(value, assigner, type_code, system)


def _identifiers(seg: Segment, n: int, sending_facility: str) -> tuple[Ident, ...]:
    found = (identifier(r, seg.header, sending_facility) for r in seg.repetitions(n))
    return tuple(i for i in found if i is not None)


def patient_data(pid: Segment, sending_facility: str, problems: list[Problem]) -> PatientData:
    birth: dt.date | None = None
    try:
        birth = parse_date(pid.component(7, 1)[:8])
    except ValueError as exc:
        problems.append(Problem("PID-7", f"birth date {exc}; ignored"))
    return PatientData(
        identifiers=_identifiers(pid, 3, sending_facility),
        family=pid.component(5, 1, 1, 1),
        given=pid.component(5, 2),
        birth_date=birth,
        sex_code=pid.component(8, 1).upper(),
        address_line=pid.component(11, 1, 1, 1),
        city=pid.component(11, 3),
        state=pid.component(11, 4),
        postal_code=pid.component(11, 5),
        phone=pid.component(13, 1) or pid.component(13, 12),
    )


def _stamp(seg: Segment, n: int, zone: ZoneInfo, problems: list[Problem]) -> Stamp | None:
    try:
        return parse_dtm(seg.component(n, 1), zone)
    except ValueError as exc:
        problems.append(Problem(f"{seg.name}-{n}", str(exc)))
        return None


def visit_data(pv1: Segment, zone: ZoneInfo, problems: list[Problem]) -> VisitData:
    patient_class = pv1.component(2, 1).upper()
    service = pv1.component(10, 1).upper()
    patient_type = pv1.component(18, 1).upper()
    if patient_class in OBSERVATION or (
        patient_class in ("I", "O", "E") and (service in OBSERVATION or patient_type in OBSERVATION)
    ):
        class_code = "OBSENC"
    else:
        class_code = PATIENT_CLASS.get(patient_class, "OTHER")
    location = " / ".join(p for p in (pv1.component(3, i) for i in (4, 1, 2, 3)) if p)
    admit = _stamp(pv1, 44, zone, problems)
    discharge = _stamp(pv1, 45, zone, problems)
    if admit and discharge and discharge.at < admit.at:
        problems.append(Problem("PV1-45", "discharge date/time is before the admit date/time (PV1-44)"))
    return VisitData(
        patient_class=patient_class, class_code=class_code, visit_number=pv1.component(19, 1)[:64],
        admit=admit, discharge=discharge, location=location[:200], disposition=pv1.component(36, 1)[:32],
        hospital_service=service,
    )


def diagnosis_codes(msg: Hl7Message) -> list[str]:
    codes: list[str] = []
    for dg1 in msg.all("DG1"):
        code, system = dg1.component(3, 1), dg1.component(3, 3).upper().replace(" ", "")
        if not code:
            continue
        method = dg1.component(2, 1).upper()
        if system in ICD10_SYSTEMS or (not system and method in ICD10_SYSTEMS):
            value = normalize_icd10(code)
        elif system in SNOMED_SYSTEMS:
            value = f"SNOMED:{code}"
        else:
            value = f"{system or method or 'CODE'}:{code}"
        if value not in codes:
            codes.append(value)
    return codes


def extract(msg: Hl7Message, zone: ZoneInfo) -> Extracted:
    header = msg.header
    problems: list[Problem] = []
    facility = header.sending_facility
    pids = msg.all("PID")
    patient = patient_data(pids[0], facility, problems) if pids else None
    pv1 = msg.first("PV1")
    visit = visit_data(pv1, zone, problems) if pv1 else None
    merges: list[tuple[PatientData, tuple[Ident, ...]]] = []
    current: PatientData | None = None
    for seg in msg.segments:  # A39/A40 repeat the PID, MRG group: pair each MRG with the PID before it
        if seg.name == "PID":
            current = patient if seg is pids[0] else patient_data(seg, facility, [])
        elif seg.name == "MRG" and current is not None:
            merges.append((current, _identifiers(seg, 1, facility)))
    evn = msg.first("EVN")
    event_time = None
    if evn is not None:
        event_time = _stamp(evn, 6, zone, problems) or _stamp(evn, 2, zone, problems)
    if event_time is None:
        try:
            event_time = parse_dtm(header.sent_at, zone)
        except ValueError:
            problems.append(Problem("MSH-7", f"{header.sent_at!r} is not an HL7 date/time"))
    trigger = header.trigger or (evn.component(1, 1).upper() if evn is not None else "")
    return Extracted(header, trigger, patient, visit, diagnosis_codes(msg), merges, event_time, msg.names,
                     problems)


def report(x: Extracted) -> dict[str, object]:
    """The message part of ``careloop hl7 ingest --json``: what the message says, whatever was done with it."""
    p, v = x.patient, x.visit
    return {
        "patient": None if p is None else {
            "identifiers": [i.as_json() for i in p.identifiers], "family": p.family, "given": p.given,
            "birth_date": p.birth_date.isoformat() if p.birth_date else None, "sex": p.sex_code or None,
        },
        "encounter": None if v is None else {
            "patient_class": v.patient_class or None, "admit": v.admit.iso() if v.admit else None,
            "discharge": v.discharge.iso() if v.discharge else None, "visit_number": v.visit_number or None,
        },
        "merged_from": [i.value for _, ids in x.merges for i in ids],
    }
