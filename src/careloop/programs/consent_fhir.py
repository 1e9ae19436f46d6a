"""A program consent as a FHIR R4 Consent resource (plain dict; validated with fhir.resources R4B in tests)."""

from __future__ import annotations

from typing import Any

from careloop.programs.choices import Disclosure, Program

EXT = "https://careloop.dev/fhir/StructureDefinition"
PROGRAM_SYSTEM = "https://careloop.dev/fhir/CodeSystem/care-management-program"


def consent_resource(*, consent_id: int, patient_fhir_id: str, patient_name: str, organization_name: str,
                     program: str, method: str, disclosures: list[str], obtained_at: str, obtained_by: str,
                     start: str, end: str | None, practitioner_npi: str, practitioner_name: str) -> dict[str, Any]:
    labels = dict(Disclosure.choices)
    period: dict[str, str] = {"start": start}
    if end:
        period["end"] = end
    return {
        "resourceType": "Consent",
        "id": f"program-consent-{consent_id}",
        "status": "active" if end is None else "inactive",
        "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "treatment",
                              "display": "Treatment"}]},
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0", "display": "Patient Consent"}]}],
        "patient": {"reference": f"Patient/{patient_fhir_id}", "display": patient_name},
        "dateTime": obtained_at,
        "performer": [{"reference": f"Patient/{patient_fhir_id}", "display": patient_name}],
        "organization": [{"display": organization_name}],
        "policyRule": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "OPTIN"}]},
        "verification": [{"verified": True, "verifiedWith": {"display": obtained_by}, "verificationDate": obtained_at}],
        "extension": [
            {"url": f"{EXT}/consent-method", "valueCode": method},
            *({"url": f"{EXT}/consent-disclosure", "valueCoding": {"code": d, "display": labels.get(d, d)}}
              for d in disclosures),
            {"url": f"{EXT}/billing-practitioner",
             "valueIdentifier": {"system": "http://hl7.org/fhir/sid/us-npi", "value": practitioner_npi}},
        ],
        "provision": {
            "type": "permit",
            "period": period,
            "code": [{"coding": [{"system": PROGRAM_SYSTEM, "code": program,
                                  "display": dict(Program.choices).get(program, program)}]}],
            "actor": [{"role": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                                            "code": "PPRF", "display": "primary performer"}]},
                       "reference": {"display": practitioner_name}}],
        },
    }
