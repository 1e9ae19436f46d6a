"""FHIR R4 export: a Bundle with a US Core CarePlan, its Goals and the CareTeam. Pure: callers pass the data."""

from __future__ import annotations

import html
import uuid
from dataclasses import dataclass
from typing import Any

from careloop.careplans.rules import Doc

US_CORE_CAREPLAN = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-careplan"
US_CORE_GOAL = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-goal"
US_CORE_CARETEAM = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-careteam"
_NS = uuid.UUID("6f1c1c2e-4a51-4f0e-9d1a-7b3a2c0c1a55")
GOAL_LIFECYCLE = {"proposed": "proposed", "active": "active", "on-hold": "on-hold", "achieved": "completed",
                  "cancelled": "cancelled"}


@dataclass(frozen=True)
class PlanExport:
    plan_id: int
    version: int
    status: str
    created: str  # ISO instant
    patient_fhir_id: str
    patient_name: str
    document: Doc
    condition_fhir_ids: dict[int, str]
    team: list[tuple[str, str]]  # (display name, role)


def _id(kind: str, plan_id: int, key: str = "") -> str:
    return str(uuid.uuid5(_NS, f"{kind}:{plan_id}:{key}"))


def _narrative(title: str, lines: list[str]) -> dict[str, str]:
    items = "".join(f"<li>{html.escape(x)}</li>" for x in lines)
    return {"status": "generated",
            "div": f'<div xmlns="http://www.w3.org/1999/xhtml"><p>{html.escape(title)}</p><ul>{items}</ul></div>'}


def careplan_bundle(p: PlanExport) -> dict[str, Any]:
    subject = {"reference": f"Patient/{p.patient_fhir_id}", "display": p.patient_name}
    goals, goal_refs = [], []
    for g in p.document.get("goals", []):
        gid = _id("goal", p.plan_id, g["id"])
        goal: dict[str, Any] = {
            "resourceType": "Goal", "id": gid, "meta": {"profile": [US_CORE_GOAL]},
            "lifecycleStatus": GOAL_LIFECYCLE.get(g.get("status", "active"), "active"),
            "description": {"text": g["text"]}, "subject": subject,
        }
        if g.get("status") == "achieved":
            goal["achievementStatus"] = {"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/goal-achievement", "code": "achieved",
                "display": "Achieved"}]}
        if g.get("patient_stated"):
            goal["expressedBy"] = {"reference": f"Patient/{p.patient_fhir_id}"}
        if g.get("target_date"):
            target: dict[str, Any] = {"dueDate": g["target_date"]}
            if g.get("measure"):
                target["measure"] = {"text": str(g["measure"])}
            if g.get("target"):
                target["detailString"] = str(g["target"])
            goal["target"] = [target]
        goals.append(goal)
        goal_refs.append({"reference": f"urn:uuid:{gid}"})
    team_id = _id("careteam", p.plan_id)
    team = {
        "resourceType": "CareTeam", "id": team_id, "meta": {"profile": [US_CORE_CARETEAM]}, "status": "active",
        "subject": subject,
        "participant": [{"role": [{"text": role}], "member": {"display": name}} for name, role in p.team]
        or [{"role": [{"text": "patient"}], "member": {"reference": f"Patient/{p.patient_fhir_id}"}}],
    }
    addresses = [{"reference": f"Condition/{fid}"} for pr in p.document.get("problems", [])
                 for cid in pr.get("condition_ids", []) if (fid := p.condition_fhir_ids.get(int(cid)))]
    activities = [{"detail": {"status": "in-progress", "description": i["text"]}}
                  for i in p.document.get("interventions", [])]
    activities += [{"detail": {"status": "in-progress", "description": f"Self-management: {s['text']}"}}
                   for s in p.document.get("self_management", [])]
    plan_id = _id("careplan", p.plan_id)
    lines = [f"Problem: {x['text']}" for x in p.document.get("problems", [])]
    lines += [f"Goal: {x['text']}" for x in p.document.get("goals", [])]
    lines += [f"Activity: {x['text']}" for x in p.document.get("interventions", [])]
    careplan: dict[str, Any] = {
        "resourceType": "CarePlan", "id": plan_id, "meta": {"profile": [US_CORE_CAREPLAN], "versionId": str(p.version)},
        "text": _narrative(f"Care plan for {p.patient_name}", lines),
        "status": p.status if p.status in ("draft", "active", "revoked", "completed") else "active",
        "intent": "plan",
        "category": [{"coding": [{"system": "http://hl7.org/fhir/us/core/CodeSystem/careplan-category",
                                  "code": "assess-plan"}]}],
        "title": "Comprehensive care plan", "subject": subject, "created": p.created,
        "careTeam": [{"reference": f"urn:uuid:{team_id}"}], "goal": goal_refs,
    }
    if addresses:
        careplan["addresses"] = addresses
    if activities:
        careplan["activity"] = activities
    resources = [careplan, *goals, team]
    return {"resourceType": "Bundle", "type": "collection",
            "entry": [{"fullUrl": f"urn:uuid:{r['id']}", "resource": r} for r in resources]}
