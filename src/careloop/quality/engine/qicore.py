"""QI-Core 6 retrieves, status filters (the ``Status`` library) and condition timing (``QICoreCommon``).

Each function names the QI-Core profile or the ``Status`` function it stands for, so a measure reads like its
published logic: ``encounters_performed(ctx, OFFICE_VISIT)`` is
``([Encounter: "Office Visit"]).isEncounterPerformed()``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from careloop.quality.engine import profiles
from careloop.quality.engine.context import Context
from careloop.quality.engine.fhir import (
    ORDER_INTENTS,
    Code,
    Quantity,
    Resource,
    choice,
    concept_codes,
    has_code,
    quantity,
)
from careloop.quality.engine.period import MAX, MIN, MS, Point, Span

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
CPT = "http://www.ama-assn.org/go/cpt"
HCPCS = "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
CVX = "http://hl7.org/fhir/sid/cvx"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
NOT_DONE_REASON = "http://hl7.org/fhir/us/qicore/StructureDefinition/qicore-notDoneReason"

FINAL = frozenset({"final", "amended", "corrected"})
ACTIVE_OR_COMPLETED = frozenset({"active", "completed"})
VIRTUAL: Code = (ACT_CODE, "VR")

_ACTIVE = frozenset({(CLINICAL, "active"), (CLINICAL, "recurrence"), (CLINICAL, "relapse")})
_VERIFIED = frozenset({(VERIFICATION, c) for c in ("confirmed", "unconfirmed", "provisional", "differential")})


# --- status filters (Status library) ------------------------------------------------------------------------


def is_encounter_performed(encounter: Mapping[str, Any]) -> bool:
    return encounter.get("status") == "finished"


def is_final(observation: Mapping[str, Any]) -> bool:
    """isAssessmentPerformed / isLaboratoryTestPerformed / isObservationBP / isObservationBMI."""
    return observation.get("status") in FINAL


def has_category(observation: Mapping[str, Any], category: str) -> bool:
    return (OBS_CATEGORY, category) in concept_codes(observation.get("category"))


def is_diagnostic_study_performed(observation: Mapping[str, Any]) -> bool:
    return is_final(observation) and has_category(observation, "imaging")


def is_physical_exam_performed(observation: Mapping[str, Any]) -> bool:
    return is_final(observation) and has_category(observation, "exam")


def is_symptom(observation: Mapping[str, Any]) -> bool:
    return observation.get("status") in ("preliminary", "final", "amended", "corrected")


def is_completed(resource: Mapping[str, Any]) -> bool:
    """isProcedurePerformed / isInterventionPerformed / isImmunizationAdministered."""
    return resource.get("status") == "completed"


def is_order(request: Mapping[str, Any]) -> bool:
    """isInterventionOrder / isDiagnosticStudyOrder / isLaboratoryTestOrder / isDeviceOrderPersonalUseDevices /
    isMedicationOrder: active or completed, with an order intent."""
    return request.get("status") in ACTIVE_OR_COMPLETED and request.get("intent") in ORDER_INTENTS


def is_medication_active(request: Mapping[str, Any]) -> bool:
    return request.get("status") == "active" and request.get("intent") in ORDER_INTENTS


# --- retrieves ----------------------------------------------------------------------------------------------


# (urls, direct codes) -> (the value-set index, the union of their codes): merged once per run and shared by every
# patient, so a retrieve tests the patient's codes against one set. An entry serves only the index it was merged
# from (kept in the entry, compared by identity); another index merges again and replaces it.
_MERGED: dict[tuple[tuple[str, ...], tuple[Code, ...]], tuple[object, frozenset[Code]]] = {}


def _merged(ctx: Context, urls: tuple[str, ...], codes: tuple[Code, ...]) -> frozenset[Code]:
    key = (urls, codes)
    hit = _MERGED.get(key)
    if hit is not None and hit[0] is ctx.valuesets:
        return hit[1]
    merged = frozenset().union(codes, *(ctx.vs(u) for u in urls))
    if len(_MERGED) > 4096:
        _MERGED.clear()
    _MERGED[key] = (ctx.valuesets, merged)
    return merged


def cached_retrieve(ctx: Context, rtype: str, urls: tuple[str, ...], codes: Iterable[Code]) -> list[Resource]:
    """The retrieve, cached per patient and value sets under the retrieve's own terms (a measure asks for the same
    retrieve once per population, and measures share retrieves). The list is the cached one: callers filter it
    into a new list or copy it (``_union``)."""
    key = (rtype, urls, codes if isinstance(codes, tuple) else tuple(codes))
    memo = ctx.retrieves
    found = memo.get(key)
    if found is None:
        found = memo[key] = ctx.data.matching(rtype, _merged(ctx, urls, key[2])) if urls or key[2] else []
    return found


def _union(ctx: Context, rtype: str, urls: tuple[str, ...], codes: Iterable[Code]) -> list[Resource]:
    return list(cached_retrieve(ctx, rtype, urls, codes))


def resources(ctx: Context, rtype: str, *urls: str, codes: Iterable[Code] = ()) -> list[Resource]:
    """``[Type: "Value Set"]`` (several value sets and direct codes are a union) for resource types with a
    single QI-Core profile: Encounter, Procedure, DeviceRequest, Immunization, Task..."""
    return _union(ctx, rtype, urls, codes)


def encounters(ctx: Context, *urls: str, codes: Iterable[Code] = ()) -> list[Resource]:
    return _union(ctx, "Encounter", urls, codes)


def encounters_performed(ctx: Context, *urls: str, codes: Iterable[Code] = ()) -> list[Resource]:
    return [e for e in cached_retrieve(ctx, "Encounter", urls, codes) if is_encounter_performed(e)]


def _profiled(ctx: Context, rtype: str, profile: str, urls: tuple[str, ...], codes: Iterable[Code]) -> list[Resource]:
    found = cached_retrieve(ctx, rtype, urls, codes)
    data = ctx.data
    if not found or (profile in profiles.ALWAYS and not data.declares_profiles(rtype)):
        return list(found)  # no resource of the type declares a profile, so all are of this one
    is_a = data.is_profile
    return [r for r in found if is_a(r, profile)]


def observations(ctx: Context, profile: str, *urls: str, codes: Iterable[Code] = ()) -> list[Resource]:
    """``[LaboratoryResultObservation: ...]``, ``[ObservationScreeningAssessment: ...]``... by profile name."""
    return _profiled(ctx, "Observation", profile, urls, codes)


def observations_of(ctx: Context, profile: str) -> list[Resource]:
    """A profile retrieve without a code filter (``[USCoreBloodPressureProfile]``)."""
    return ctx.data.of_profile("Observation", profile)


def cancelled_observations(ctx: Context, *urls: str, codes: Iterable[Code] = ()) -> list[Resource]:
    """``[ObservationCancelled: ...]``: observations recorded as not done."""
    return _profiled(ctx, "Observation", profiles.OBSERVATION_CANCELLED, urls, codes)


_POSITIVE = {"ServiceRequest": profiles.SERVICE_REQUEST, "MedicationRequest": profiles.MEDICATION_REQUEST}
_NEGATIVE = {"ServiceRequest": profiles.SERVICE_NOT_REQUESTED, "MedicationRequest": profiles.MEDICATION_NOT_REQUESTED}


def requests(ctx: Context, rtype: str, *urls: str, codes: Iterable[Code] = ()) -> list[Resource]:
    """``[ServiceRequest: ...]`` / ``[MedicationRequest: ...]`` / ``[DeviceRequest: ...]``: requests made."""
    if rtype in _POSITIVE:
        return _profiled(ctx, rtype, _POSITIVE[rtype], urls, codes)
    if rtype == "DeviceRequest":
        return [r for r in cached_retrieve(ctx, rtype, urls, codes) if profiles.is_device_request(r)]
    return [r for r in cached_retrieve(ctx, rtype, urls, codes) if r.get("doNotPerform") is not True]


def requests_not_made(ctx: Context, rtype: str, *urls: str, codes: Iterable[Code] = ()) -> list[Resource]:
    """``[ServiceNotRequested: ...]`` / ``[MedicationNotRequested: ...]``."""
    return _profiled(ctx, rtype, _NEGATIVE[rtype], urls, codes)


def encounter_diagnoses(ctx: Context, *urls: str, codes: Iterable[Code] = ()) -> list[Resource]:
    """``[ConditionEncounterDiagnosis: ...]``."""
    return _profiled(ctx, "Condition", profiles.ENCOUNTER_DIAGNOSIS, urls, codes)


def problems(ctx: Context, *urls: str, codes: Iterable[Code] = ()) -> list[Resource]:
    """``[ConditionProblemsHealthConcerns: ...]``."""
    return _profiled(ctx, "Condition", profiles.PROBLEM, urls, codes)


def diagnoses(ctx: Context, *urls: str, codes: Iterable[Code] = ()) -> list[Resource]:
    """``[ConditionProblemsHealthConcerns: X] union [ConditionEncounterDiagnosis: X]``."""
    return [
        c for c in cached_retrieve(ctx, "Condition", urls, codes)
        if ctx.data.is_profile(c, profiles.PROBLEM) or ctx.data.is_profile(c, profiles.ENCOUNTER_DIAGNOSIS)
    ]


def is_health_concern(condition: Mapping[str, Any]) -> bool:
    return "health-concern" in {code for _, code in concept_codes(condition.get("category"))}


# --- conditions (QICoreCommon) -----------------------------------------------------------------------------


def is_verified(condition: Mapping[str, Any]) -> bool:
    """Status ``verified()``: no verification status, or confirmed / unconfirmed / provisional / differential."""
    status = condition.get("verificationStatus")
    return status is None or not concept_codes(status).isdisjoint(_VERIFIED)


def is_not_refuted(condition: Mapping[str, Any]) -> bool:
    """No verification status, or one that is neither refuted nor entered-in-error."""
    status = condition.get("verificationStatus")
    if status is None:
        return True
    codes = concept_codes(status)
    return (VERIFICATION, "refuted") not in codes and (VERIFICATION, "entered-in-error") not in codes


def is_active(condition: Mapping[str, Any]) -> bool:
    return not concept_codes(condition.get("clinicalStatus")).isdisjoint(_ACTIVE)


def abatement_span(ctx: Context, condition: Mapping[str, Any]) -> Span | None:
    """QICoreCommon ``abatementInterval``."""
    found = choice(condition, "abatement")
    if found is None:
        return None
    kind, value = found
    if kind == "Period" and isinstance(value, dict):
        # Interval[low, high): the last moment is just before the recorded end; no end means unknown.
        span = ctx.data.span(condition, "abatement")
        if span is None or not span.has_end:
            return None
        return Span(span.start, span.end.shift(-MS))
    return ctx.data.span(condition, "abatement")


def prevalence(ctx: Context, condition: Mapping[str, Any]) -> Span | None:
    """QICoreCommon ``prevalenceInterval``: from onset to abatement. An active condition without abatement runs
    to the end of time; an inactive one without abatement ends at some unknown moment after its onset."""
    onset = ctx.data.span(condition, "onset")
    abatement = abatement_span(ctx, condition)
    if onset is None and abatement is None:
        return None
    start = onset.start if onset is not None else Point.at(MIN)
    if abatement is not None:
        return Span(start, abatement.end)
    if is_active(condition):
        return Span(start, Point.at(MAX))
    return Span(start, Point(start.lo, MAX))


# --- observation values ------------------------------------------------------------------------------------


def value_concept(observation: Mapping[str, Any]) -> frozenset[Code]:
    """``value as Concept`` (empty when the value is not a CodeableConcept)."""
    found = choice(observation, "value")
    if found is None or found[0] != "CodeableConcept":
        return frozenset()
    return concept_codes(found[1])


def value_is(observation: Mapping[str, Any], code: Code) -> bool:
    """``value ~ code``."""
    found = choice(observation, "value")
    return found is not None and found[0] == "CodeableConcept" and has_code(found[1], code)


def value_quantity(observation: Mapping[str, Any]) -> Quantity | None:
    found = choice(observation, "value")
    if found is None or found[0] != "Quantity":
        return None
    return quantity(found[1])


def has_value(observation: Mapping[str, Any]) -> bool:
    """``value is not null`` (a Quantity without a number is null, as FHIRHelpers converts it)."""
    found = choice(observation, "value")
    if found is None or found[1] is None:
        return False
    if found[0] == "Quantity":
        return quantity(found[1]) is not None
    return True


def value_number(observation: Mapping[str, Any]) -> float | None:
    """A score: ``valueInteger``, or a unitless Quantity (``1`` or an annotation such as ``{score}``)."""
    found = choice(observation, "value")
    if found is None:
        return None
    kind, value = found
    if kind == "Integer" and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind == "Quantity":
        q = quantity(value)
        if q is not None and (q.unit == "1" or (q.unit.startswith("{") and q.unit.endswith("}"))):
            return q.value
    return None


def component_quantity(observation: Mapping[str, Any], code: Code) -> Quantity | None:
    """The value of the component with the given code (``singleton from`` it)."""
    found = [c for c in observation.get("component") or [] if isinstance(c, dict) and has_code(c.get("code"), code)]
    if len(found) != 1:
        return None
    return quantity(found[0].get("valueQuantity"))


def not_done_reason(observation: Mapping[str, Any]) -> frozenset[Code]:
    for ext in observation.get("extension") or []:
        if isinstance(ext, dict) and ext.get("url") == NOT_DONE_REASON:
            return concept_codes(ext.get("valueCodeableConcept"))
    return frozenset()


def compare(q: Quantity | None, op: str, value: float, unit: str) -> bool | None:
    """``quantity <op> value 'unit'``; unknown (None) when there is no quantity or the units differ."""
    if q is None or q.unit != unit:
        return None
    if op == "<":
        return q.value < value
    if op == "<=":
        return q.value <= value
    if op == ">":
        return q.value > value
    if op == ">=":
        return q.value >= value
    raise ValueError(f"unknown comparison {op!r}")
