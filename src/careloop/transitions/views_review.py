"""Patient-match review page: ADT messages whose patient could not be matched with certainty wait here (they
are held, not guessed). A coordinator, nurse or admin compares the message's demographics with the candidate
patients and links the message to one of them, makes it a new patient, or rejects it; the held message is then
applied (its discharge opens the transition episode) or quarantined. Permission-checked, tenant-scoped,
audited (the list as a read of each candidate patient; each decision by the service)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST

from careloop.accounts.permissions import staff_view
from careloop.audit.services import record_event, record_patient_reads
from careloop.core.actor import Actor
from careloop.core.errors import ValidationFailed
from careloop.interop.hl7v2.review import REVIEW_PERMISSION, reject_match_review, resolve_match_review
from careloop.registry.selectors import hl7_messages, patient_match_reviews
from careloop.transitions.views import _org

OUTCOMES = {"accepted": "The message was applied to the chosen patient.",
            "new": "The message was applied to a new patient.",
            "rejected": "The message was rejected and kept in quarantine."}


def pending_reviews(actor: Actor) -> list[dict[str, Any]]:
    reviews = list(patient_match_reviews(actor=actor)[:200])
    messages = {m.pk: m for m in hl7_messages(actor=actor).filter(pk__in=[r.message_id for r in reviews])
                .only("pk", "message_type", "sending_facility", "sending_application", "control_id", "received_at")}
    rows = []
    for r in reviews:
        m = messages.get(r.message_id)
        demo = r.demographics or {}
        rows.append({
            "id": r.pk, "reason": r.reason, "message_id": r.message_id,
            "message_type": m.message_type if m else "", "facility": (m.sending_facility or m.sending_application)
            if m else "", "control_id": m.control_id if m else "", "received_at": m.received_at if m else None,
            "family": demo.get("family", ""), "given": demo.get("given", ""), "birth_date": demo.get("birth_date"),
            "sex": demo.get("sex", ""),
            "identifiers": [f"{i.get('value', '')} ({i.get('assigner') or i.get('system') or i.get('type') or '?'})"
                            for i in demo.get("identifiers", [])],
            "candidates": list(r.candidates or []),
        })
    return rows


@require_GET
@staff_view(REVIEW_PERMISSION)
def review_list(request: HttpRequest, actor: Actor) -> HttpResponse:
    rows = pending_reviews(actor)
    shown = sorted({int(c["patient_id"]) for r in rows for c in r["candidates"] if c.get("patient_id")})
    record_patient_reads(actor=actor, action="hl7.match_review_candidates_viewed", patient_ids=shown)
    record_event(actor=actor, organization_id=_org(actor), action="hl7.match_reviews_listed",
                 object_type="PatientMatchReview", detail={"open": len(rows)})
    done = OUTCOMES.get(request.GET.get("done", ""), "")
    return render(request, "transitions/match_reviews.html", {"rows": rows, "done": done})


@require_POST
@staff_view(REVIEW_PERMISSION)
def review_decide(request: HttpRequest, actor: Actor, review_id: int) -> HttpResponse:
    action = request.POST.get("action", "")
    zone = None
    if action == "accept":
        raw = request.POST.get("patient", "")
        if not raw.isdigit():
            raise ValidationFailed("choose a patient", field_errors={"patient": "required"})
        resolve_match_review(review_id=review_id, patient_id=int(raw), actor=actor, time_zone=zone)
        done = "accepted"
    elif action == "new":
        resolve_match_review(review_id=review_id, patient_id=None, actor=actor, time_zone=zone)
        done = "new"
    elif action == "reject":
        reject_match_review(review_id=review_id, actor=actor, reason=request.POST.get("reason", ""))
        done = "rejected"
    else:
        raise ValidationFailed("unknown action", field_errors={"action": "accept, new or reject"})
    return HttpResponseRedirect(f"/transitions/match-reviews/?done={done}")
