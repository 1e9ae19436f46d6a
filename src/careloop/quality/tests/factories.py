"""Test data for measure logic: small FHIR resources, patient bundles, and stand-in value sets.

No licensed codes: every value set a measure needs is replaced by one synthetic code, ``(TEST, <oid>)``, so a
resource "in" a value set carries ``code_for(URL)``. Direct codes the measures use (LOINC, CVX) are public.
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from careloop.quality.engine.context import Context
from careloop.quality.engine.fhir import PatientData
from careloop.quality.engine.period import MeasurementPeriod
from careloop.quality.engine.valuesets import ValueSetIndex
from careloop.quality.measures import REGISTRY
from careloop.quality.measures.base import Measure, MeasureResult, evaluate

TEST = "urn:careloop:test-codes"
QICORE = "http://hl7.org/fhir/us/qicore/StructureDefinition/"
MP_2026 = MeasurementPeriod.calendar_year(2026)
_ids = itertools.count(1)

Resource = dict[str, Any]


def code_for(url: str) -> tuple[str, str]:
    """The one synthetic code standing in for a value set."""
    return TEST, url.rsplit("/", 1)[-1]


def stand_in_valuesets() -> ValueSetIndex:
    urls = {u for m in REGISTRY.values() for u in m.valuesets}
    return ValueSetIndex({u: frozenset({code_for(u)}) for u in urls})


def concept(code: tuple[str, str]) -> dict[str, Any]:
    return {"coding": [{"system": code[0], "code": code[1]}]}


def _id(prefix: str) -> str:
    return f"{prefix}-{next(_ids)}"


def patient(birth: str, *, sex: str | None = None, deceased: str | None = None) -> Resource:
    p: Resource = {"resourceType": "Patient", "id": "p1", "birthDate": birth}
    if sex:
        p["extension"] = [{"url": "http://hl7.org/fhir/us/core/StructureDefinition/us-core-sex", "valueCode": sex}]
    if deceased:
        p["deceasedDateTime"] = deceased
    return p


def encounter(code: tuple[str, str], start: str, end: str | None = None, *, status: str = "finished",
              cls: str = "AMB", **extra: Any) -> Resource:
    return {
        "resourceType": "Encounter", "id": _id("enc"), "status": status,
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": cls},
        "type": [concept(code)], "period": {"start": start, "end": end or start}, **extra,
    }


def condition(code: tuple[str, str], onset: str | None, *, category: str = "encounter-diagnosis",
              clinical: str = "active", abatement: str | None = None, verification: str | None = None) -> Resource:
    c: Resource = {
        "resourceType": "Condition", "id": _id("cond"),
        "clinicalStatus": concept(("http://terminology.hl7.org/CodeSystem/condition-clinical", clinical)),
        "category": [concept(("http://terminology.hl7.org/CodeSystem/condition-category", category))],
        "code": concept(code),
    }
    if onset:
        c["onsetDateTime"] = onset
    if abatement:
        c["abatementDateTime"] = abatement
    if verification:
        c["verificationStatus"] = concept(("http://terminology.hl7.org/CodeSystem/condition-ver-status", verification))
    return c


def observation(code: tuple[str, str], when: str, *, status: str = "final", profile: str | None = None,
                value: Any = None, category: str | None = None, **extra: Any) -> Resource:
    o: Resource = {"resourceType": "Observation", "id": _id("obs"), "status": status, "code": concept(code),
                   "effectiveDateTime": when, **extra}
    if profile:
        o["meta"] = {"profile": [profile]}
    if category:
        o["category"] = [concept(("http://terminology.hl7.org/CodeSystem/observation-category", category))]
    if isinstance(value, tuple):
        o["valueCodeableConcept"] = concept(value)
    elif isinstance(value, dict):
        o["valueQuantity"] = value
    elif value is not None:
        o["valueInteger"] = value
    return o


def procedure(code: tuple[str, str], when: str, *, status: str = "completed") -> Resource:
    return {"resourceType": "Procedure", "id": _id("proc"), "status": status, "code": concept(code),
            "performedDateTime": when}


def immunization(code: tuple[str, str], when: str, *, status: str = "completed") -> Resource:
    return {"resourceType": "Immunization", "id": _id("imm"), "status": status, "vaccineCode": concept(code),
            "occurrenceDateTime": when, "patient": {"reference": "Patient/p1"}}


def service_request(code: tuple[str, str], authored: str, *, status: str = "active", intent: str = "order",
                    do_not_perform: bool | None = None, profile: str | None = None) -> Resource:
    r: Resource = {"resourceType": "ServiceRequest", "id": _id("sr"), "status": status, "intent": intent,
                   "code": concept(code), "authoredOn": authored}
    if do_not_perform is not None:
        r["doNotPerform"] = do_not_perform
    if profile:
        r["meta"] = {"profile": [QICORE + profile]}
    return r


def blood_pressure(when: str, systolic: float, diastolic: float | None, profile: str | None = None) -> Resource:
    def component(code: str, value: float | None) -> dict[str, object]:
        quantity = {"value": value, "unit": "mmHg", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}
        out: dict[str, object] = {"code": {"coding": [{"system": "http://loinc.org", "code": code}]}}
        if value is not None:
            out["valueQuantity"] = quantity
        return out

    obs = observation(("http://loinc.org", "85354-9"), when, category="vital-signs", profile=profile)
    obs["component"] = [component("8480-6", systolic), component("8462-4", diastolic)]
    return obs


def bundle(*resources: Resource) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in resources]}


def context(*resources: Resource, period: MeasurementPeriod = MP_2026) -> Context:
    return Context(PatientData(list(resources)), period, stand_in_valuesets())


def run(measure_id: str, *resources: Resource, period: MeasurementPeriod = MP_2026) -> dict[str, int]:
    """Group 1 counts of a measure for one patient."""
    return result(REGISTRY[measure_id], *resources, period=period).groups[0].populations


def result(measure: Measure, *resources: Resource, period: MeasurementPeriod = MP_2026) -> MeasureResult:
    return evaluate(measure, context(*resources, period=period))


def iso(day: dt.date, time: str = "10:00:00.000") -> str:
    return f"{day.isoformat()}T{time}+00:00"
