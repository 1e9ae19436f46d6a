"""Validate a FHIR R4 resource (structure, dates, references) and extract careloop's typed fields.

Fast and dictionary-based on purpose: it runs on every resource of a bulk import, where building
``fhir.resources`` models would be ~50x slower (see DESIGN.md). ``--strict`` imports add full model
validation on top.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from careloop.interop.fhir.dates import BadDate, parse_date, parse_datetime
from careloop.interop.fhir.types import DEFAULT_PATIENT_PATHS, PATIENT_REFERENCE_PATHS, R4_RESOURCE_TYPES

ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
ICD10_ALT = ("http://hl7.org/fhir/sid/icd-10", "urn:oid:2.16.840.1.113883.6.90")
SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
CVX = "http://hl7.org/fhir/sid/cvx"
MBI_SYSTEM = "http://hl7.org/fhir/sid/us-mbi"
COVERAGE_KIND_SYSTEM = "urn:careloop:coverage-kind"
BP_PANEL = "85354-9"
SYSTOLIC = "8480-6"
DIASTOLIC = "8462-4"

_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")


class Rejected(Exception):
    """A resource that cannot be accepted; the message says why."""


# A resolver turns a reference string into (type, id), or None when it cannot be resolved locally
# (contained, conditional, or external). It raises Rejected for a dangling urn:uuid reference.
Resolver = Callable[[str], tuple[str, str] | None]


@dataclass
class Record:
    resource_type: str
    source_id: str
    version_id: str
    content_hash: str
    body: str
    patient_source_id: str | None
    fields: dict[str, Any] = field(default_factory=dict)
    identifiers: list[dict[str, str]] = field(default_factory=list)
    source_name: str = ""  # where it came from, for the quarantine if the database step rejects it
    location: str = ""


def normalize_icd10(code: str) -> str:
    return code.replace(".", "").replace(" ", "").upper()


def _codings(concept: object) -> list[dict[str, Any]]:
    if concept is None:
        return []
    if not isinstance(concept, dict):
        raise TypeError(f"expected a CodeableConcept object, got {type(concept).__name__} {concept!r:.40}")
    codings = concept.get("coding")
    if codings is None:
        return []
    if not isinstance(codings, list):
        raise TypeError("CodeableConcept.coding must be a list")
    for c in codings:
        if not isinstance(c, dict):
            return [c for c in codings if isinstance(c, dict)]
    return codings  # the usual case: no copy


def _code_in(concept: object, *systems: str) -> tuple[str, str]:
    for coding in _codings(concept):
        if coding.get("system") in systems and coding.get("code"):
            return str(coding["code"]), str(coding.get("display") or "")
    return "", ""


def _first_code(concept: object) -> tuple[str, str, str]:
    for coding in _codings(concept):
        if coding.get("code"):
            return str(coding["code"]), str(coding.get("system") or ""), str(coding.get("display") or "")
    return "", "", ""


def _text(concept: object) -> str:
    if isinstance(concept, dict):
        if concept.get("text"):
            return str(concept["text"])
        for coding in _codings(concept):
            if coding.get("display"):
                return str(coding["display"])
    return ""


def _status_code(concept: object) -> str:
    code, _, _ = _first_code(concept)
    return code


def _first(value: object) -> Any:
    if isinstance(value, list):
        return value[0] if value else None
    return value


_EMPTY_VALUES: tuple[object, ...] = (None, "", [], {})
_OPTIONS: dict[str, list[str]] = {}


def _require(resource: dict[str, Any], *names: str) -> None:
    for name in names:
        options = _OPTIONS.get(name) or _OPTIONS.setdefault(name, name.split("|"))
        for opt in options:
            if resource.get(opt) not in _EMPTY_VALUES:
                break
        else:
            raise Rejected(f"{resource['resourceType']}.{name.replace('|', ' or ')} is required")


def _reference(resource: dict[str, Any], path: str) -> str | None:
    value = resource.get(path)
    value = _first(value)
    if isinstance(value, dict):
        ref = value.get("reference")
        return ref if isinstance(ref, str) else None
    return None


def _patient_ref(resource: dict[str, Any], resolve: Resolver) -> str | None:
    rtype = resource["resourceType"]
    for path in PATIENT_REFERENCE_PATHS.get(rtype, DEFAULT_PATIENT_PATHS):
        ref = _reference(resource, path)
        if ref is None:
            continue
        target = resolve(ref)
        if target is None:
            continue
        ttype, tid = target
        if ttype == "Patient":
            return tid
        if path == "subject":
            return None  # subject is a Group or Location: not patient-specific
    return None


_REFERENCE = re.compile(rb'"reference":"((?:[^"\\]|\\.)*)"')


def _check_references(body: bytes, resolve: Resolver) -> None:
    """Resolve every ``urn:`` reference in the serialized resource so dangling urn:uuid references are rejected.

    Only a ``urn:uuid:``/``urn:oid:`` reference can dangle (a relative or absolute one resolves or is external),
    and orjson writes such a value unescaped right after ``"reference":"``: one substring test skips the scan for
    most resources. Scans the compact serialization instead of walking the tree: same answer, a fraction of the cost.
    """
    if b'"reference":"urn:' not in body:
        return
    for match in _REFERENCE.finditer(body):
        raw = match.group(1)
        if raw.startswith(b"urn:"):
            resolve(orjson.loads(b'"' + raw + b'"') if b"\\" in raw else raw.decode())


def _dt(value: object, fld: str) -> Any:
    parsed = parse_datetime(value, fld)
    return parsed[0] if parsed else None


def _patient_fields(r: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, str]]]:
    gender = r.get("gender")
    if gender is not None and gender not in {"male", "female", "other", "unknown"}:
        raise Rejected(f"Patient.gender {gender!r} is not one of male, female, other, unknown")
    names = r.get("name") or []
    if not isinstance(names, list):
        raise Rejected("Patient.name must be a list")
    official = next((n for n in names if isinstance(n, dict) and n.get("use") == "official"), None)
    name = official or next((n for n in names if isinstance(n, dict)), {})
    family = str(name.get("family") or "")
    given = " ".join(str(g) for g in (name.get("given") or []) if g)
    birth = parse_date(r.get("birthDate"), "Patient.birthDate")
    deceased_at = None
    deceased = False
    if "deceasedDateTime" in r:
        deceased_at = _dt(r["deceasedDateTime"], "Patient.deceasedDateTime")
        deceased = True
    elif r.get("deceasedBoolean") is True:
        deceased = True
    if birth and deceased_at and deceased_at.date() < birth:
        raise Rejected("Patient.deceasedDateTime is before Patient.birthDate")
    phone = email = ""
    for t in r.get("telecom") or []:
        if isinstance(t, dict):
            if t.get("system") == "phone" and not phone:
                phone = str(t.get("value") or "")
            if t.get("system") == "email" and not email:
                email = str(t.get("value") or "")
    addr = _first(r.get("address")) or {}
    lang = ""
    for comm in r.get("communication") or []:
        if isinstance(comm, dict):
            code, _, display = _first_code(comm.get("language"))
            lang = code or display or _text(comm.get("language"))
            if comm.get("preferred"):
                break
    identifiers: list[dict[str, str]] = []
    mrn = mbi = ""
    for ident in r.get("identifier") or []:
        if not isinstance(ident, dict) or not ident.get("value"):
            continue
        system = str(ident.get("system") or "")
        type_code = _status_code(ident.get("type"))
        assigner = ident.get("assigner") or {}
        value = str(ident["value"])
        identifiers.append(
            {
                "system": system,
                "value": value,
                "type_code": type_code,
                "assigner": str(assigner.get("display") or "") if isinstance(assigner, dict) else "",
            }
        )
        if system == MBI_SYSTEM or type_code == "MB":
            mbi = mbi or value[:11]
        elif type_code == "MR" and not mrn:
            mrn = value
    fields = {
        "family": family[:100],
        "given": given[:100],
        "search_name": f"{family} {given}".lower()[:220],
        "birth_date": birth,
        "sex": gender or "",
        "deceased_at": deceased_at,
        "deceased": deceased,
        "phone": phone[:40],
        "email": email[:200],
        "address_line": " ".join(str(x) for x in (addr.get("line") or []))[:200] if isinstance(addr, dict) else "",
        "city": str(addr.get("city") or "")[:100] if isinstance(addr, dict) else "",
        "state": str(addr.get("state") or "")[:40] if isinstance(addr, dict) else "",
        "postal_code": str(addr.get("postalCode") or "")[:16] if isinstance(addr, dict) else "",
        "preferred_language": lang[:40],
        "active": r.get("active", True) is not False,
        "mrn": mrn[:64],
        "mbi": mbi,
    }
    return fields, identifiers


_COVERAGE_TEXT = {
    "qmb": "qmb",
    "qualified medicare beneficiary": "qmb",
    "medicare part b": "medicare-part-b",
    "medicare part a": "medicare-part-a",
    "medicare advantage": "medicare-advantage",
    "medicaid": "medicaid",
    "slmb": "slmb",
}


def _coverage_kind(r: dict[str, Any]) -> str:
    code, _ = _code_in(r.get("type"), COVERAGE_KIND_SYSTEM)
    if code:
        return code
    text = _text(r.get("type")).lower()
    for key, kind in _COVERAGE_TEXT.items():
        if key in text:
            return kind
    act, _, _ = _first_code(r.get("type"))
    return {"SUBSIDIZ": "medicaid", "MCPOL": "medicare-part-b"}.get(act, "other")


def _extract(r: dict[str, Any]) -> dict[str, Any]:
    rtype = r["resourceType"]
    if rtype == "Coverage":
        _require(r, "status", "beneficiary", "payor")
        period = r.get("period") or {}
        start = parse_date(period.get("start"), "Coverage.period.start")
        end = parse_date(period.get("end"), "Coverage.period.end")
        if start and end and end < start:
            raise Rejected("Coverage.period.end is before Coverage.period.start")
        payor = _first(r.get("payor")) or {}
        return {
            "kind": _coverage_kind(r),
            "payor": str(payor.get("display") or "")[:200],
            "member_id": str(r.get("subscriberId") or "")[:64],
            "start": start,
            "end": end,
            "status": str(r.get("status"))[:32],
        }
    if rtype == "Condition":
        _require(r, "subject")
        icd, icd_display = _code_in(r.get("code"), ICD10, *ICD10_ALT)
        snomed, snomed_display = _code_in(r.get("code"), SNOMED)
        onset = parse_date(r.get("onsetDateTime") or (r.get("onsetPeriod") or {}).get("start"), "Condition.onset")
        abatement = parse_date(
            r.get("abatementDateTime") or (r.get("abatementPeriod") or {}).get("start"), "Condition.abatement"
        )
        if onset and abatement and abatement < onset:
            raise Rejected("Condition.abatement is before Condition.onset")
        category = _status_code(_first(r.get("category")))
        return {
            "icd10": normalize_icd10(icd)[:16],
            "snomed": snomed[:32],
            "display": (_text(r.get("code")) or icd_display or snomed_display)[:300],
            "clinical_status": _status_code(r.get("clinicalStatus"))[:32],
            "verification_status": _status_code(r.get("verificationStatus"))[:32],
            "category": category[:64],
            "onset": onset,
            "abatement": abatement,
            "recorded": parse_date(r.get("recordedDate"), "Condition.recordedDate"),
        }
    if rtype in ("MedicationRequest", "MedicationStatement"):
        _require(r, "status", "subject", "medicationCodeableConcept|medicationReference")
        if rtype == "MedicationRequest":
            _require(r, "intent")
        concept = r.get("medicationCodeableConcept")
        rx, _ = _code_in(concept, RXNORM)
        display = _text(concept) or str((r.get("medicationReference") or {}).get("display") or "")
        period = r.get("effectivePeriod") or {}
        dosage = _first(r.get("dosageInstruction") or r.get("dosage")) or {}
        return {
            "kind": "request" if rtype == "MedicationRequest" else "statement",
            "rxnorm": rx[:32],
            "display": display[:300],
            "status": str(r.get("status"))[:32],
            "intent": str(r.get("intent") or "")[:32],
            "authored_on": parse_date(r.get("authoredOn") or r.get("dateAsserted"), f"{rtype}.authoredOn"),
            "start": parse_date(period.get("start") or r.get("effectiveDateTime"), f"{rtype}.effective"),
            "end": parse_date(period.get("end"), f"{rtype}.effectivePeriod.end"),
            "dosage": str(dosage.get("text") or "")[:300] if isinstance(dosage, dict) else "",
        }
    if rtype == "Observation":
        _require(r, "status", "code")
        code, system, display = _first_code(r.get("code"))
        loinc, loinc_display = _code_in(r.get("code"), LOINC)
        if loinc:
            code, system, display = loinc, LOINC, loinc_display
        effective = (
            r.get("effectiveDateTime") or r.get("effectiveInstant") or (r.get("effectivePeriod") or {}).get("start")
        )
        fields: dict[str, Any] = {
            "code": code[:64],
            "code_system": system[:200],
            "display": (_text(r.get("code")) or display)[:300],
            "category": _status_code(_first(r.get("category")))[:64],
            "status": str(r.get("status"))[:32],
            "effective_at": _dt(effective, "Observation.effective"),
            "value_num": None,
            "unit": "",
            "value_code": "",
            "value_text": "",
            "systolic": None,
            "diastolic": None,
        }
        _observation_value(r, fields)
        for comp in r.get("component") or []:
            if not isinstance(comp, dict):
                continue
            ccode, _ = _code_in(comp.get("code"), LOINC)
            quantity = comp.get("valueQuantity") or {}
            if ccode == SYSTOLIC:
                fields["systolic"] = _number(quantity.get("value"), "Observation.component.valueQuantity")
            elif ccode == DIASTOLIC:
                fields["diastolic"] = _number(quantity.get("value"), "Observation.component.valueQuantity")
        return fields
    if rtype == "Encounter":
        _require(r, "status", "class")
        klass = r.get("class") or {}
        period = r.get("period") or {}
        enc_start = parse_datetime(period.get("start"), "Encounter.period.start")
        enc_end = parse_datetime(period.get("end"), "Encounter.period.end")
        if enc_start and enc_end and enc_end[0] < enc_start[0]:
            raise Rejected("Encounter.period.end is before Encounter.period.start")
        code, _, display = _first_code(_first(r.get("type")))
        hosp = r.get("hospitalization") or {}
        disposition = _status_code(hosp.get("dischargeDisposition"))
        diagnoses: list[str] = []
        for reason in r.get("reasonCode") or []:
            icd, _ = _code_in(reason, ICD10, *ICD10_ALT)
            snomed, _ = _code_in(reason, SNOMED)
            if icd or snomed:
                diagnoses.append(normalize_icd10(icd) if icd else f"SNOMED:{snomed}")
        location = _first(r.get("location")) or {}
        provider = r.get("serviceProvider") or {}
        visit = _first(r.get("identifier")) or {}
        class_code = str(klass.get("code") or "") if isinstance(klass, dict) else ""
        return {
            "class_code": class_code[:16] or "OTHER",
            "status": str(r.get("status"))[:32],
            "type_code": code[:64],
            "type_display": (_text(_first(r.get("type"))) or display)[:300],
            "start": enc_start[0] if enc_start else None,
            "start_offset": enc_start[1] if enc_start else "",
            "end": enc_end[0] if enc_end else None,
            "end_offset": enc_end[1] if enc_end else "",
            "facility": str(provider.get("display") or "")[:200] if isinstance(provider, dict) else "",
            "location": str(
                ((location.get("location") or {}) if isinstance(location, dict) else {}).get("display") or ""
            )[:200],
            "discharge_disposition": disposition[:32],
            "diagnoses": diagnoses,
            "visit_number": str(visit.get("value") or "")[:64] if isinstance(visit, dict) else "",
        }
    if rtype == "Immunization":
        _require(r, "status", "vaccineCode", "patient", "occurrenceDateTime|occurrenceString")
        cvx, display = _code_in(r.get("vaccineCode"), CVX)
        occurred = r.get("occurrenceDateTime")
        return {
            "cvx": cvx[:16],
            "display": (_text(r.get("vaccineCode")) or display)[:300],
            "status": str(r.get("status"))[:32],
            "occurred": parse_date(occurred, "Immunization.occurrenceDateTime"),
        }
    if rtype == "Procedure":
        _require(r, "status", "subject")
        code, system, display = _first_code(r.get("code"))
        period = r.get("performedPeriod") or {}
        start = _dt(r.get("performedDateTime") or period.get("start"), "Procedure.performed")
        end = _dt(period.get("end"), "Procedure.performedPeriod.end")
        if start and end and end < start:
            raise Rejected("Procedure.performedPeriod.end is before its start")
        return {
            "code": code[:64],
            "code_system": system[:200],
            "display": (_text(r.get("code")) or display)[:300],
            "status": str(r.get("status"))[:32],
            "performed_start": start,
            "performed_end": end,
        }
    if rtype == "AllergyIntolerance":
        _require(r, "patient")
        code, _, display = _first_code(r.get("code"))
        return {
            "code": code[:64],
            "display": (_text(r.get("code")) or display)[:300],
            "clinical_status": _status_code(r.get("clinicalStatus"))[:32],
            "criticality": str(r.get("criticality") or "")[:32],
            "category": str(_first(r.get("category")) or "")[:64],
        }
    return {}


def _number(value: object, fld: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise Rejected(f"{fld}: {value!r} is not a number")
    return float(value)


def _observation_value(r: dict[str, Any], fields: dict[str, Any]) -> None:
    if "valueQuantity" in r:
        q = r["valueQuantity"] or {}
        fields["value_num"] = _number(q.get("value"), "Observation.valueQuantity.value")
        fields["unit"] = str(q.get("unit") or q.get("code") or "")[:64]
    elif "valueInteger" in r:
        fields["value_num"] = _number(r["valueInteger"], "Observation.valueInteger")
    elif "valueCodeableConcept" in r:
        code, _, display = _first_code(r["valueCodeableConcept"])
        fields["value_code"] = code[:64]
        fields["value_text"] = (_text(r["valueCodeableConcept"]) or display)[:300]
    elif "valueString" in r:
        fields["value_text"] = str(r["valueString"])[:300]
    elif "valueBoolean" in r:
        fields["value_text"] = "true" if r["valueBoolean"] else "false"


def content_hash(resource: dict[str, Any]) -> str:
    return hashlib.sha1(orjson.dumps(resource, option=orjson.OPT_SORT_KEYS)).hexdigest()


_last_updated_ok: list[object] = [None]


def _check_last_updated(value: object, rtype: str) -> None:
    # Bulk files stamp most resources with the same time: validate each distinct value once in a row.
    if value != _last_updated_ok[0]:
        parse_datetime(value, f"{rtype}.meta.lastUpdated")
        _last_updated_ok[0] = value


def to_record(resource: object, resolve: Resolver, *, fallback_id: str | None = None) -> Record:
    """Validate one resource and build its Record, or raise Rejected with the reason."""
    if not isinstance(resource, dict):
        raise Rejected("a resource must be a JSON object")
    rtype = resource.get("resourceType")
    if not isinstance(rtype, str) or not rtype:
        raise Rejected("resourceType is missing")
    if rtype not in R4_RESOURCE_TYPES:
        raise Rejected(f"unknown resource type {rtype!r}")
    if rtype == "Bundle":
        raise Rejected("nested Bundle resources are not imported")
    rid = resource.get("id") or fallback_id
    if not isinstance(rid, str) or not _ID.match(rid):
        raise Rejected(f"{rtype}.id {rid!r} is missing or not a valid FHIR id")
    body = orjson.dumps(resource)
    try:
        _check_references(body, resolve)
        meta = resource.get("meta") or {}
        if isinstance(meta, dict) and meta.get("lastUpdated"):
            _check_last_updated(meta["lastUpdated"], rtype)
        identifiers: list[dict[str, str]] = []
        if rtype == "Patient":
            fields, identifiers = _patient_fields(resource)
            patient_sid: str | None = rid
        else:
            fields = _extract(resource)
            patient_sid = _patient_ref(resource, resolve)
    except BadDate as exc:
        raise Rejected(str(exc)) from None
    except (AttributeError, TypeError) as exc:
        raise Rejected(f"{rtype} has an element of the wrong shape ({exc})") from None
    version = str(meta.get("versionId") or "") if isinstance(meta, dict) else ""
    return Record(
        resource_type=rtype,
        source_id=rid,
        version_id=version[:64],
        content_hash=hashlib.sha1(body).hexdigest(),
        body=body.decode(),
        patient_source_id=patient_sid,
        fields=fields,
        identifiers=identifiers,
    )
