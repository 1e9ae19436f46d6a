"""Audit rows as FHIR R4 AuditEvent resources (a collection Bundle)."""

from __future__ import annotations

from typing import Any

import orjson

from careloop.audit.models import AuditEvent

_DCM = "http://dicom.nema.org/resources/ontology/DCM"
_ACTION = {
    "read": "R",
    "viewed": "R",
    "listed": "R",
    "searched": "R",
    "exported": "R",
    "created": "C",
    "imported": "C",
    "updated": "U",
    "changed": "U",
    "merged": "U",
    "deleted": "D",
}
_OUTCOME = {"success": "0", "failure": "4", "denied": "4", "error": "8"}


def _action_code(action: str) -> str:
    verb = action.rsplit(".", 1)[-1].rsplit("_", 1)[-1]
    return _ACTION.get(verb, "E")


def audit_event_resource(event: AuditEvent) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "id": f"audit-{event.chain}-{event.seq}",
        "type": {"system": _DCM, "code": "110110", "display": "Patient Record"},
        "subtype": [{"system": "urn:careloop:audit-action", "code": event.action}],
        "action": _action_code(event.action),
        "recorded": event.at.isoformat(),
        "outcome": _OUTCOME.get(event.outcome, "4"),
        "agent": [
            {
                "who": {
                    "display": event.actor_username,
                    **(
                        {"identifier": {"system": "urn:careloop:user", "value": str(event.actor_id)}}
                        if event.actor_id
                        else {}
                    ),
                },
                "role": [{"coding": [{"system": "urn:careloop:role", "code": event.role}]}],
                "requestor": True,
                **({"network": {"address": event.source_ip, "type": "2"}} if event.source_ip else {}),
            }
        ],
        "source": {"observer": {"display": "careloop"}},
        "entity": [],
    }
    if event.patient_id:
        resource["entity"].append(
            {
                "what": {"identifier": {"system": "urn:careloop:patient", "value": str(event.patient_id)}},
                "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-entity-type", "code": "1"},
            }
        )
    if event.object_type:
        resource["entity"].append(
            {
                "what": {"display": f"{event.object_type}/{event.object_id}"},
                "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-entity-type", "code": "2"},
                "detail": [
                    {"type": "careloop-detail", "valueString": event.detail},
                    {"type": "hash", "valueString": event.hash},
                ],
            }
        )
    if not resource["entity"]:
        del resource["entity"]
    return resource


def audit_bundle(events: list[AuditEvent]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "total": len(events),
        "entry": [
            {"fullUrl": f"urn:careloop:audit:{e.chain}:{e.seq}", "resource": audit_event_resource(e)} for e in events
        ],
    }


def audit_bundle_json(events: list[AuditEvent]) -> bytes:
    return orjson.dumps(audit_bundle(events), option=orjson.OPT_INDENT_2)
