"""A read-only FHIR R4 facade over the registry: /fhir/Patient/{id}, /fhir/Patient?identifier=, and
``?patient=`` searches for Condition, Observation, Encounter, MedicationRequest, Immunization, Procedure.

Resources are served as received from the source system, with their ids replaced by careloop's ids and
references rewritten to them, so they are valid R4 (US Core where the source was). Every response is
role-checked, scoped to the caller's organization, and audited.
"""

from __future__ import annotations

import re
from typing import Any

import orjson
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.http import require_GET

from careloop.accounts.permissions import actor_from_request, require_permission
from careloop.audit.services import EventSpec, record_events
from careloop.core.actor import Actor
from careloop.core.errors import CareloopError, NotFound
from careloop.registry import selectors
from careloop.registry.models import FhirResource, Patient

FHIR_JSON = "application/fhir+json"
SEARCHABLE = {
    "Condition",
    "Observation",
    "Encounter",
    "MedicationRequest",
    "Immunization",
    "Procedure",
    "AllergyIntolerance",
    "Coverage",
    "MedicationStatement",
}
_REF = re.compile(r"^(?:urn:uuid:(.+)|(?:.*/)?([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(?:/_history/[^/]+)?)$")
MAX_COUNT = 1000


def outcome(status: int, code: str, message: str) -> HttpResponse:
    body = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": code, "diagnostics": message}]}
    return HttpResponse(orjson.dumps(body), status=status, content_type=FHIR_JSON)


def _json(body: Any, status: int = 200) -> HttpResponse:
    return HttpResponse(orjson.dumps(body), status=status, content_type=FHIR_JSON)


def _actor(request: HttpRequest) -> Actor:
    return require_permission(actor_from_request(request), "fhir.read")


def _error(exc: CareloopError) -> HttpResponse:
    code = {401: "login", 403: "forbidden", 404: "not-found"}.get(exc.status_code, "invalid")
    status = 401 if str(exc) == "authentication required" else exc.status_code
    return outcome(status, code, str(exc))


def _rewrite(rows: list[FhirResource], patient: Patient) -> list[dict[str, Any]]:
    """Replace source ids with careloop ids in the resources and their references."""
    bodies = [orjson.loads(r.body) for r in rows]
    wanted: set[str] = set()
    for body in bodies:
        _collect_refs(body, wanted)
    mapping: dict[str, str] = {}
    if wanted:
        sources = {r.source_system for r in rows}
        for rtype, sid, fid, patient_fid in FhirResource.objects.filter(
            organization_id=patient.organization_id, source_system__in=sources, source_id__in=list(wanted)[:5000]
        ).values_list("resource_type", "source_id", "fhir_id", "patient__fhir_id"):
            # A Patient is served under the patient's careloop id, every other resource under its own.
            target = f"Patient/{patient_fid}" if rtype == "Patient" and patient_fid else f"{rtype}/{fid}"
            mapping[sid] = target
            mapping[f"{rtype}/{sid}"] = target
    out = []
    for row, body in zip(rows, bodies, strict=True):
        body["id"] = patient.fhir_id if row.resource_type == "Patient" else row.fhir_id
        meta = body.setdefault("meta", {})
        meta["source"] = row.source_system
        _apply_refs(body, mapping)
        out.append(body)
    return out


def _collect_refs(node: Any, acc: set[str]) -> None:
    if isinstance(node, dict):
        ref = node.get("reference")
        if isinstance(ref, str):
            m = _REF.match(ref)
            if m:
                acc.add(m.group(1) or m.group(3))
        for v in node.values():
            if isinstance(v, (dict, list)):
                _collect_refs(v, acc)
    elif isinstance(node, list):
        for v in node:
            _collect_refs(v, acc)


def _apply_refs(node: Any, mapping: dict[str, str]) -> None:
    if isinstance(node, dict):
        ref = node.get("reference")
        if isinstance(ref, str):
            m = _REF.match(ref)
            if m:
                key = m.group(1) if m.group(1) else f"{m.group(2)}/{m.group(3)}"
                if key in mapping:
                    node["reference"] = mapping[key]
                elif m.group(1):
                    del node["reference"]  # a bundle-local reference we cannot resolve: keep display only
        for v in node.values():
            if isinstance(v, (dict, list)):
                _apply_refs(v, mapping)
    elif isinstance(node, list):
        for v in node:
            _apply_refs(v, mapping)


def patient_resource(patient: Patient) -> dict[str, Any]:
    """The Patient as received (when an EHR sent one), else built from careloop's fields (US Core shape)."""
    raw = (
        FhirResource.objects.filter(
            organization_id=patient.organization_id, resource_type="Patient", patient_id=patient.pk
        )
        .order_by("-updated_at")
        .first()
    )
    if raw is not None:
        return _rewrite([raw], patient)[0]
    identifiers = [
        {
            "system": i.system,
            "value": i.value,
            **(
                {"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": i.type_code}]}}
                if i.type_code
                else {}
            ),
        }
        for i in patient.identifiers.all()
    ]
    body: dict[str, Any] = {
        "resourceType": "Patient",
        "id": patient.fhir_id,
        "meta": {"profile": ["http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient"]},
        "identifier": identifiers or [{"system": "urn:careloop:patient", "value": str(patient.pk)}],
        "name": [{"family": patient.family, "given": patient.given.split()}],
        "gender": patient.sex or "unknown",
    }
    if patient.birth_date:
        body["birthDate"] = patient.birth_date.isoformat()
    return body


@require_GET
def read_patient(request: HttpRequest, fhir_id: str) -> HttpResponse:
    try:
        actor = _actor(request)
        patient = selectors.patient_by_fhir_id(actor=actor, fhir_id=fhir_id)
    except NotFound:
        _audit_denied(request, f"Patient/{fhir_id}")
        return outcome(404, "not-found", f"Patient/{fhir_id} not found")
    except CareloopError as exc:
        return _error(exc)
    with transaction.atomic():
        record_events(actor=actor, events=[EventSpec("fhir.patient_read", patient.pk, "Patient", patient.fhir_id)])
    return _json(patient_resource(patient))


def _audit_denied(request: HttpRequest, what: str) -> None:
    try:
        actor = actor_from_request(request)
    except CareloopError:
        return
    record_events(actor=actor, events=[EventSpec("fhir.read_not_found", None, "FHIR", what, outcome="failure")])


def _searchset(
    request: HttpRequest, entries: list[dict[str, Any]], total: int, offset: int, count: int
) -> dict[str, Any]:
    base = request.build_absolute_uri(request.path)
    links = [{"relation": "self", "url": request.build_absolute_uri()}]
    if offset + count < total:
        params = request.GET.copy()
        params["_offset"] = str(offset + count)
        links.append({"relation": "next", "url": f"{base}?{params.urlencode()}"})
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": total,
        "link": links,
        "entry": [
            {"fullUrl": f"{base.rstrip('/')}/{e['id']}", "resource": e, "search": {"mode": "match"}} for e in entries
        ],
    }


def _paging(request: HttpRequest) -> tuple[int, int]:
    try:
        count = min(max(int(request.GET.get("_count", "100")), 1), MAX_COUNT)
        offset = max(int(request.GET.get("_offset", "0")), 0)
    except ValueError:
        raise CareloopError("_count and _offset must be integers") from None
    return offset, count


@require_GET
def search(request: HttpRequest, resource_type: str) -> HttpResponse:
    try:
        actor = _actor(request)
        offset, count = _paging(request)
    except CareloopError as exc:
        return _error(exc)
    if resource_type == "Patient":
        return _search_patients(request, actor, offset, count)
    if resource_type not in SEARCHABLE:
        return outcome(400, "not-supported", f"search on {resource_type} is not supported")
    ref = request.GET.get("patient") or request.GET.get("subject")
    if not ref:
        return outcome(400, "required", f"{resource_type} searches need a patient parameter")
    fhir_id = ref.split("/")[-1]
    try:
        patient = selectors.patient_by_fhir_id(actor=actor, fhir_id=fhir_id)
    except NotFound:
        return _json(_searchset(request, [], 0, offset, count))
    qs = selectors.fhir_resources_for_patient(actor=actor, resource_types=[resource_type], patient_id=patient.pk)
    total = qs.count()
    rows = list(qs[offset : offset + count])
    with transaction.atomic():
        record_events(
            actor=actor,
            events=[
                EventSpec(
                    f"fhir.{resource_type.lower()}_searched",
                    patient.pk,
                    resource_type,
                    patient.fhir_id,
                    detail={"returned": len(rows)},
                )
            ],
        )
    return _json(_searchset(request, _rewrite(rows, patient), total, offset, count))


def _search_patients(request: HttpRequest, actor: Actor, offset: int, count: int) -> HttpResponse:
    identifier = request.GET.get("identifier")
    if not identifier:
        return outcome(400, "required", "Patient searches need an identifier parameter (system|value or value)")
    system, _, value = identifier.rpartition("|")
    matches = selectors.patients_by_identifier(actor=actor, system=system or None, value=value).order_by("pk")
    total = matches.count()
    patients = list(matches[offset : offset + count])
    with transaction.atomic():
        record_events(
            actor=actor,
            events=[EventSpec("fhir.patient_searched", p.pk, "Patient", p.fhir_id) for p in patients]
            or [EventSpec("fhir.patient_searched", None, "Patient", "", detail={"matches": 0})],
        )
    return _json(_searchset(request, [patient_resource(p) for p in patients], total, offset, count))


urlpatterns = [
    path("Patient/<str:fhir_id>", read_patient, name="fhir-patient-read"),
    path("<str:resource_type>", search, name="fhir-search"),
]
