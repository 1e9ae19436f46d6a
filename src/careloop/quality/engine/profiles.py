"""Which QI-Core / US Core profile a resource is, for profile-based retrieves such as
``[ConditionEncounterDiagnosis: ...]``, ``[ServiceNotRequested: ...]`` or ``[USCoreBloodPressureProfile]``.

A resource that declares a profile we know (``meta.profile``) is taken at its word: it is that profile and not a
sibling one, even when its content would suggest otherwise (the MADiE reference engine does the same: a
ServiceRequest declared ``qicore-servicerequest`` is an order even with ``doNotPerform`` set). A resource that
declares none of them (most EHR exports) is classified by its content instead: category, code, status or
``doNotPerform``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from careloop.quality.engine.fhir import concept_codes

QICORE = "http://hl7.org/fhir/us/qicore/StructureDefinition/"
USCORE = "http://hl7.org/fhir/us/core/StructureDefinition/"
LOINC = "http://loinc.org"

ENCOUNTER_DIAGNOSIS = "ConditionEncounterDiagnosis"
PROBLEM = "ConditionProblemsHealthConcerns"
LAB_RESULT = "LaboratoryResultObservation"
CLINICAL_RESULT = "ObservationClinicalResult"
SCREENING_ASSESSMENT = "ObservationScreeningAssessment"
SIMPLE_OBSERVATION = "SimpleObservation"
OBSERVATION_CANCELLED = "ObservationCancelled"
BLOOD_PRESSURE = "USCoreBloodPressureProfile"
BMI = "USCoreBMIProfile"
SMOKING_STATUS = "USCoreSmokingStatusProfile"
PREGNANCY_STATUS = "USCoreObservationPregnancyStatusProfile"
SERVICE_REQUEST = "ServiceRequest"
SERVICE_NOT_REQUESTED = "ServiceNotRequested"
MEDICATION_REQUEST = "MedicationRequest"
MEDICATION_NOT_REQUESTED = "MedicationNotRequested"
DEVICE_REQUEST = "DeviceRequest"
DEVICE_NOT_REQUESTED = "DeviceNotRequested"

KNOWN: dict[str, str] = {
    QICORE + "qicore-condition-encounter-diagnosis": ENCOUNTER_DIAGNOSIS,
    QICORE + "qicore-condition-problems-health-concerns": PROBLEM,
    QICORE + "qicore-observation-lab": LAB_RESULT,
    USCORE + "us-core-observation-lab": LAB_RESULT,
    QICORE + "qicore-observation-clinical-result": CLINICAL_RESULT,
    USCORE + "us-core-observation-clinical-result": CLINICAL_RESULT,
    QICORE + "qicore-observation-screening-assessment": SCREENING_ASSESSMENT,
    USCORE + "us-core-observation-screening-assessment": SCREENING_ASSESSMENT,
    QICORE + "qicore-simple-observation": SIMPLE_OBSERVATION,
    QICORE + "qicore-observationcancelled": OBSERVATION_CANCELLED,
    USCORE + "us-core-blood-pressure": BLOOD_PRESSURE,
    "http://hl7.org/fhir/StructureDefinition/bp": BLOOD_PRESSURE,
    USCORE + "us-core-bmi": BMI,
    "http://hl7.org/fhir/StructureDefinition/bmi": BMI,
    USCORE + "us-core-smokingstatus": SMOKING_STATUS,
    USCORE + "us-core-observation-pregnancystatus": PREGNANCY_STATUS,
    QICORE + "qicore-servicerequest": SERVICE_REQUEST,
    QICORE + "qicore-servicenotrequested": SERVICE_NOT_REQUESTED,
    QICORE + "qicore-medicationrequest": MEDICATION_REQUEST,
    QICORE + "qicore-medicationnotrequested": MEDICATION_NOT_REQUESTED,
    QICORE + "qicore-devicerequest": DEVICE_REQUEST,
    QICORE + "qicore-devicenotrequested": DEVICE_NOT_REQUESTED,
}

# Codes the US Core smoking-status profile allows for Observation.code.
SMOKING_STATUS_CODES = frozenset(
    (LOINC, c) for c in ("72166-2", "11367-0", "39240-7", "81229-7", "11366-2", "68535-4", "68536-2")
)
BP_PANEL = (LOINC, "85354-9")
BMI_CODE = (LOINC, "39156-5")
PREGNANCY_STATUS_CODE = (LOINC, "82810-3")

Resource = Mapping[str, Any]


def _categories(resource: Resource) -> set[str]:
    return {code for _, code in concept_codes(resource.get("category"))}


DEVICE_DO_NOT_PERFORM = "http://hl7.org/fhir/5.0/StructureDefinition/extension-DeviceRequest.doNotPerform"


def _requested(resource: Resource) -> bool:
    """Not marked do-not-perform (the R4 element, or the R5 DeviceRequest modifier extension)."""
    if resource.get("doNotPerform") is True:
        return False
    return not any(
        isinstance(ext, dict) and ext.get("url") == DEVICE_DO_NOT_PERFORM and ext.get("valueBoolean") is True
        for ext in resource.get("modifierExtension") or []
    )


# Profiles every resource (of the profile's type) meets by its content: only a declared profile says otherwise.
ALWAYS = frozenset({LAB_RESULT, CLINICAL_RESULT, SCREENING_ASSESSMENT, SIMPLE_OBSERVATION})

CONTENT: dict[str, Callable[[Resource], bool]] = {
    ENCOUNTER_DIAGNOSIS: lambda r: "encounter-diagnosis" in _categories(r),
    PROBLEM: lambda r: bool({"problem-list-item", "health-concern"} & _categories(r)),
    LAB_RESULT: lambda r: True,
    CLINICAL_RESULT: lambda r: True,
    SCREENING_ASSESSMENT: lambda r: True,
    SIMPLE_OBSERVATION: lambda r: True,
    OBSERVATION_CANCELLED: lambda r: r.get("status") == "cancelled",
    BLOOD_PRESSURE: lambda r: BP_PANEL in concept_codes(r.get("code")),
    BMI: lambda r: BMI_CODE in concept_codes(r.get("code")),
    SMOKING_STATUS: lambda r: "social-history" in _categories(r)
    and not concept_codes(r.get("code")).isdisjoint(SMOKING_STATUS_CODES),
    PREGNANCY_STATUS: lambda r: PREGNANCY_STATUS_CODE in concept_codes(r.get("code")),
    SERVICE_REQUEST: _requested,
    SERVICE_NOT_REQUESTED: lambda r: not _requested(r),
    MEDICATION_REQUEST: _requested,
    MEDICATION_NOT_REQUESTED: lambda r: not _requested(r),
    DEVICE_REQUEST: _requested,
    DEVICE_NOT_REQUESTED: lambda r: not _requested(r),
}


def declared(resource: Resource) -> set[str]:
    """The known profiles a resource declares."""
    profiles = (resource.get("meta") or {}).get("profile") or []
    return {KNOWN[p] for p in profiles if p in KNOWN}


def is_profile(resource: Resource, profile: str) -> bool:
    found = declared(resource)
    if found:
        return profile in found
    return CONTENT[profile](resource)


# Observation profiles whose content rule requires one of these codes in Observation.code (when the observation
# declares no profile).
CODED: dict[str, frozenset[tuple[str, str]]] = {
    BLOOD_PRESSURE: frozenset({BP_PANEL}),
    BMI: frozenset({BMI_CODE}),
    PREGNANCY_STATUS: frozenset({PREGNANCY_STATUS_CODE}),
    SMOKING_STATUS: SMOKING_STATUS_CODES,
}

def is_device_request(resource: Resource) -> bool:
    """``[DeviceRequest]``: a device order, not one recorded as not to be performed. QI-Core fixes the
    do-not-perform modifier to false on this profile, so a request carrying ``true`` is never an order."""
    return is_profile(resource, DEVICE_REQUEST) and _requested(resource)
