"""Small FHIR R4 resources written by hand, and helpers to import them through ``FhirImporter``."""

from __future__ import annotations

import io
from typing import Any

import orjson

from careloop.core.actor import Actor
from careloop.interop.fhir.importer import FhirImporter, ImportSummary

MRN_SYSTEM = "urn:oid:1.2.3.4.mrn"
MBI_SYSTEM = "http://hl7.org/fhir/sid/us-mbi"
SNOMED = "http://snomed.info/sct"
ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
LOINC = "http://loinc.org"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
CVX = "http://hl7.org/fhir/sid/cvx"
ACT = "http://terminology.hl7.org/CodeSystem/v3-ActCode"


def patient(pid: str, *, family: str = "Doe", given: str = "Jane", gender: str = "female",
            birth_date: str = "1950-04-01", mrn: str | None = None, mbi: str | None = None,
            **extra: Any) -> dict[str, Any]:
    identifiers = []
    if mrn:
        identifiers.append({"system": MRN_SYSTEM, "value": mrn,
                            "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                                                 "code": "MR"}]}})
    if mbi:
        identifiers.append({"system": MBI_SYSTEM, "value": mbi})
    res: dict[str, Any] = {"resourceType": "Patient", "id": pid, "name": [{"use": "official", "family": family,
                           "given": [given]}], "gender": gender, "birthDate": birth_date}
    if identifiers:
        res["identifier"] = identifiers
    res.update(extra)
    return res


def condition(cid: str, patient_ref: str, *, icd10: str = "E11.9", snomed: str = "44054006",
              display: str = "Type 2 diabetes mellitus", status: str = "active", onset: str = "2019-05-01",
              **extra: Any) -> dict[str, Any]:
    res: dict[str, Any] = {
        "resourceType": "Condition", "id": cid, "subject": {"reference": patient_ref},
        "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                       "code": status}]},
        "verificationStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                                           "code": "confirmed"}]},
        "code": {"coding": [{"system": ICD10, "code": icd10, "display": display},
                            {"system": SNOMED, "code": snomed, "display": display}], "text": display},
        "onsetDateTime": onset,
    }
    res.update(extra)
    return res


def observation(oid: str, patient_ref: str, *, code: str = "4548-4", value: float = 7.1, unit: str = "%",
                effective: str = "2025-03-01T10:00:00-05:00", **extra: Any) -> dict[str, Any]:
    res: dict[str, Any] = {
        "resourceType": "Observation", "id": oid, "status": "final", "subject": {"reference": patient_ref},
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                  "code": "laboratory"}]}],
        "code": {"coding": [{"system": LOINC, "code": code, "display": "Hemoglobin A1c"}]},
        "effectiveDateTime": effective,
        "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit},
    }
    res.update(extra)
    return res


def encounter(eid: str, patient_ref: str, *, klass: str = "AMB", start: str = "2025-03-01T09:00:00-05:00",
              end: str = "2025-03-01T09:30:00-05:00", **extra: Any) -> dict[str, Any]:
    res: dict[str, Any] = {
        "resourceType": "Encounter", "id": eid, "status": "finished", "class": {"system": ACT, "code": klass},
        "type": [{"coding": [{"system": SNOMED, "code": "185349003", "display": "Check up"}], "text": "Check up"}],
        "subject": {"reference": patient_ref}, "period": {"start": start, "end": end},
    }
    res.update(extra)
    return res


def medication_request(mid: str, patient_ref: str, *, rxnorm: str = "860975", **extra: Any) -> dict[str, Any]:
    res: dict[str, Any] = {
        "resourceType": "MedicationRequest", "id": mid, "status": "active", "intent": "order",
        "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": rxnorm,
                                                  "display": "metformin 500 MG Oral Tablet"}]},
        "subject": {"reference": patient_ref}, "authoredOn": "2024-01-10",
    }
    res.update(extra)
    return res


def immunization(iid: str, patient_ref: str, *, cvx: str = "140", **extra: Any) -> dict[str, Any]:
    res: dict[str, Any] = {
        "resourceType": "Immunization", "id": iid, "status": "completed",
        "vaccineCode": {"coding": [{"system": CVX, "code": cvx, "display": "Influenza, seasonal"}]},
        "patient": {"reference": patient_ref}, "occurrenceDateTime": "2024-10-01T10:00:00-04:00",
    }
    res.update(extra)
    return res


def procedure(prid: str, patient_ref: str, **extra: Any) -> dict[str, Any]:
    res: dict[str, Any] = {
        "resourceType": "Procedure", "id": prid, "status": "completed", "subject": {"reference": patient_ref},
        "code": {"coding": [{"system": SNOMED, "code": "73761001", "display": "Colonoscopy"}]},
        "performedPeriod": {"start": "2023-06-01T08:00:00Z", "end": "2023-06-01T09:00:00Z"},
    }
    res.update(extra)
    return res


def clinical_set(pid: str, prefix: str) -> list[dict[str, Any]]:
    """A patient with one resource of each searchable clinical type (relative references)."""
    ref = f"Patient/{pid}"
    return [
        condition(f"{prefix}-cond", ref), observation(f"{prefix}-obs", ref), encounter(f"{prefix}-enc", ref),
        medication_request(f"{prefix}-med", ref), immunization(f"{prefix}-imm", ref),
        procedure(f"{prefix}-proc", ref),
    ]


def bundle(resources: list[dict[str, Any]], *, urn: bool = True, kind: str = "transaction") -> dict[str, Any]:
    """A Bundle whose fullUrls are ``urn:uuid:<id>`` (Synthea style) or absolute URLs."""
    entries = []
    for res in resources:
        full = f"urn:uuid:{res['id']}" if urn else f"https://ehr.example/fhir/{res['resourceType']}/{res['id']}"
        entry: dict[str, Any] = {"fullUrl": full, "resource": res}
        if kind == "transaction":
            entry["request"] = {"method": "POST", "url": res["resourceType"]}
        entries.append(entry)
    return {"resourceType": "Bundle", "type": kind, "entry": entries}


def ndjson(resources: list[dict[str, Any]]) -> bytes:
    return b"\n".join(orjson.dumps(r) for r in resources) + b"\n"


def importer(organization_id: int, *, source: str = "ehr-test", channel: str = "fhir-file") -> FhirImporter:
    return FhirImporter(organization_id=organization_id, source_system=source,
                        actor=Actor.system(organization_id, "tests"), channel=channel)


def import_json(organization_id: int, doc: Any, *, source: str = "ehr-test", name: str = "test.json") -> ImportSummary:
    """Import one JSON document (a Bundle or a single resource)."""
    imp = importer(organization_id, source=source)
    imp.import_bytes(orjson.dumps(doc), name)
    imp.flush()
    return imp.summary


def import_ndjson(organization_id: int, data: bytes, *, source: str = "ehr-test",
                  name: str = "test.ndjson") -> ImportSummary:
    imp = importer(organization_id, source=source)
    imp.import_stream(io.BytesIO(data), name, ndjson=True)
    imp.flush()
    return imp.summary


def counts(summary: ImportSummary) -> dict[str, dict[str, int]]:
    return summary.as_json()
