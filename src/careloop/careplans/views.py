"""Care-plan UI for the team: create from templates (in the chart), plan view, editor (save with a reason ->
new version), history with diffs."""

from __future__ import annotations

import os
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.http import require_http_methods, require_POST

from careloop.accounts.permissions import staff_view
from careloop.audit.services import record_event
from careloop.careplans import rules, selectors, services
from careloop.careplans.choices import GOAL_STATUSES, INVOLVEMENT_LEVELS
from careloop.core.actor import Actor
from careloop.core.errors import ValidationFailed


def _org(actor: Actor) -> int:
    assert actor.organization_id is not None
    return actor.organization_id


@require_POST
@staff_view("careplan.write")
def create(request: HttpRequest, actor: Actor, patient_id: int) -> HttpResponse:
    plan = services.create_plan(organization_id=_org(actor), patient_id=patient_id, actor=actor,
                                templates=request.POST.getlist("template"),
                                reason=request.POST.get("reason", "").strip() or "Plan created")
    return HttpResponseRedirect(f"/careplans/{plan.pk}/")


@staff_view("careplan.read")
def plan_view(request: HttpRequest, actor: Actor, plan_id: int) -> HttpResponse:
    plan = selectors.plan(organization_id=_org(actor), plan_id=plan_id)
    record_event(actor=actor, action="careplan.viewed", patient_id=plan.patient_id, object_type="CarePlan",
                 object_id=str(plan.pk))
    v = selectors.version(plan=plan)
    return render(request, "careplans/plan.html", {
        "plan": plan, "v": v, "doc": v.document, "comments": selectors.comments(plan=plan),
        "completions": selectors.completions(plan=plan), "templates": rules.templates(),
        "plain": rules.plain_language(v.document, selectors.done_action_ids(plan=plan)),
    })


def _document_from_post(post: Any, current: rules.Doc) -> rules.Doc:
    doc = rules.empty_document()
    for s in rules.LIST_SECTIONS:
        for item in current.get(s, []):
            if post.get(f"del:{s}:{item['id']}"):
                continue
            new = dict(item)
            for f in ("text", "status", "target_date", "responsible", "measure", "target"):
                key = f"{f}:{s}:{item['id']}"
                if key in post:
                    new[f] = post.get(key, "").strip()
            doc[s].append(new)
        text = post.get(f"new:{s}", "").strip()
        if text:
            item = {"id": f"{s[:4]}-{os.urandom(4).hex()}", "text": text}
            if s == "goals":
                item |= {"status": "active", "target_date": post.get("new-target-date:goals", "").strip(),
                         "patient_stated": bool(post.get("new-patient-stated:goals"))}
            if s == "interventions":
                item["responsible"] = post.get("new-responsible:interventions", "").strip()
            doc[s].append(item)
    doc["preferences"] = {"text": post.get("pref-text", "").strip(),
                          "involvement": post.get("pref-involvement", "shared")}
    for g in doc["goals"]:
        if not g.get("target_date"):
            g.pop("target_date", None)
    return doc


@require_http_methods(["GET", "POST"])
@staff_view("careplan.write")
def edit(request: HttpRequest, actor: Actor, plan_id: int) -> HttpResponse:
    plan = selectors.plan(organization_id=_org(actor), plan_id=plan_id)
    v = selectors.version(plan=plan)
    error, errors, doc = "", {}, v.document
    if request.method == "POST":
        doc = _document_from_post(request.POST, v.document)
        try:
            services.save_version(organization_id=_org(actor), plan_id=plan.pk, document=doc,
                                  reason=request.POST.get("reason", ""), actor=actor,
                                  base_version=int(request.POST.get("base_version") or 0) or None,
                                  reviewed=bool(request.POST.get("reviewed")))
            return HttpResponseRedirect(f"/careplans/{plan.pk}/")
        except ValidationFailed as exc:
            error, errors = str(exc), exc.field_errors or {}
    sections = [(s, rules.PLAIN_HEADINGS[s], doc.get(s, [])) for s in rules.LIST_SECTIONS]
    return render(request, "careplans/edit.html", {
        "plan": plan, "v": v, "doc": doc, "sections": sections, "goal_statuses": GOAL_STATUSES,
        "involvement_levels": INVOLVEMENT_LEVELS, "error": error, "errors": errors,
    }, status=400 if error else 200)


@require_POST
@staff_view("careplan.write")
def add_template(request: HttpRequest, actor: Actor, plan_id: int) -> HttpResponse:
    services.apply_template(organization_id=_org(actor), plan_id=plan_id, key=request.POST.get("template", ""),
                            actor=actor)
    return HttpResponseRedirect(f"/careplans/{plan_id}/")


@require_POST
@staff_view("careplan.read")
def comment(request: HttpRequest, actor: Actor, plan_id: int) -> HttpResponse:
    services.add_comment(organization_id=_org(actor), plan_id=plan_id, actor=actor,
                         body=request.POST.get("body", ""))
    return HttpResponseRedirect(f"/careplans/{plan_id}/")


@staff_view("careplan.read")
def history(request: HttpRequest, actor: Actor, plan_id: int) -> HttpResponse:
    plan = selectors.plan(organization_id=_org(actor), plan_id=plan_id)
    record_event(actor=actor, action="careplan.history_viewed", patient_id=plan.patient_id, object_type="CarePlan",
                 object_id=str(plan.pk))
    versions = list(selectors.versions(plan=plan))
    rows = []
    for i, v in enumerate(versions):
        prev = versions[i + 1].document if i + 1 < len(versions) else rules.empty_document()
        rows.append({"v": v, "diff": rules.diff_documents(prev, v.document)})
    return render(request, "careplans/history.html", {"plan": plan, "rows": rows})


