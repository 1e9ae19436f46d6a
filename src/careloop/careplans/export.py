"""Exports of a plan: FHIR Bundle (US Core CarePlan + Goal + CareTeam) and a patient-friendly PDF."""

from __future__ import annotations

import io
from typing import Any

from reportlab.lib.pagesizes import letter  # type: ignore[import-untyped]
from reportlab.lib.styles import getSampleStyleSheet  # type: ignore[import-untyped]
from reportlab.platypus import ListFlowable, ListItem, Paragraph, SimpleDocTemplate, Spacer  # type: ignore[import-untyped]

from careloop.careplans import fhir, rules, selectors
from careloop.careplans.models import CarePlan, CarePlanVersion
from careloop.registry.models import Condition


def fhir_bundle(plan: CarePlan) -> dict[str, Any]:
    v = selectors.version(plan=plan)
    doc = v.document
    cids = [int(c) for pr in doc.get("problems", []) for c in pr.get("condition_ids", [])]
    fids = {}
    for cid, rid in Condition.objects.filter(organization_id=plan.organization_id, pk__in=cids) \
            .values_list("pk", "resource__fhir_id"):
        fids[cid] = rid or f"careloop-{cid}"
    authors = CarePlanVersion.objects.filter(plan=plan).exclude(author__isnull=True) \
        .values_list("author__first_name", "author__last_name", "author__username", "author__role").distinct()
    team = sorted({(f"{f} {la}".strip() or u, r) for f, la, u, r in authors})
    patient = plan.patient
    first = selectors.version(plan=plan, number=1)
    return fhir.careplan_bundle(fhir.PlanExport(
        plan_id=plan.pk, version=v.number, status=plan.status, created=first.created_at.isoformat(),
        patient_fhir_id=patient.fhir_id, patient_name=f"{patient.given} {patient.family}".strip(),
        document=doc, condition_fhir_ids=fids, team=team,
    ))


def pdf_bytes(plan: CarePlan) -> bytes:
    v = selectors.version(plan=plan)
    sections = rules.plain_language(v.document, selectors.done_action_ids(plan=plan))
    styles = getSampleStyleSheet()
    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=letter, title="My care plan")
    p = plan.patient
    story: list[Any] = [
        Paragraph(f"My care plan: {p.given} {p.family}", styles["Title"]),
        Paragraph(f"Version {v.number}, updated {v.created_at.date().isoformat()}", styles["Normal"]),
        Spacer(1, 12),
    ]
    for s in sections:
        story.append(Paragraph(s["heading"], styles["Heading2"]))
        story.append(ListFlowable([ListItem(Paragraph(("[done] " if i["done"] else "") + _esc(i["text"]),
                                                      styles["Normal"])) for i in s["items"]], bulletType="bullet"))
    doc.build(story)
    return buf.getvalue()


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
