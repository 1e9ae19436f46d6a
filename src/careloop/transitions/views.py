"""Transitions UI: the board (in hospital; awaiting contact with countdowns; overdue), the episode page
(timeline, checklist, medication reconciliation) and the chart panel. Staff only, permission-checked,
tenant-scoped, audited."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST

from careloop.accounts import rules as access
from careloop.accounts.permissions import staff_view
from careloop.audit.services import record_event
from careloop.core import clock
from careloop.core.actor import Actor
from careloop.core.errors import NotFound
from careloop.registry.models import Patient
from careloop.registry.selectors import patient_match_reviews
from careloop.transitions import medrec, selectors, services, views_data

View = Callable[..., HttpResponse]



def _org(actor: Actor) -> int:
    assert actor.organization_id is not None
    return actor.organization_id


@require_GET
@staff_view("transitions.read")
def board(request: HttpRequest, actor: Actor) -> HttpResponse:
    data = views_data.board(organization_id=_org(actor), actor=actor)
    record_event(actor=actor, organization_id=_org(actor), action="transition.board_viewed",
                 object_type="TransitionBoard", detail={k: len(v) for k, v in data.items()})
    can_review = access.has_permission(actor.role, "transitions.match_review")
    held = patient_match_reviews(actor=actor).count() if can_review else 0
    return render(request, "transitions/board.html", {"board": data, "can_review": can_review, "held": held})


@require_GET
@staff_view("transitions.read")
def episode_page(request: HttpRequest, actor: Actor, episode_id: int) -> HttpResponse:
    org = _org(actor)
    if selectors.episode(organization_id=org, episode_id=episode_id) is None:
        raise NotFound("episode not found")
    detail = views_data.episode_detail(organization_id=org, episode_id=episode_id, actor=actor)
    worksheet = medrec.medication_worksheet(organization_id=org, episode_id=episode_id, actor=actor)
    return render(request, "transitions/episode.html", {
        "ep": detail, "worksheet": worksheet,
        "can_write": access.has_permission(actor.role, "transitions.write"),
        "can_medrec": access.has_permission(actor.role, "transitions.medrec"),
    })


@require_POST
@staff_view("transitions.write")
def checklist(request: HttpRequest, actor: Actor, episode_id: int) -> HttpResponse:
    services.record_checklist_item(organization_id=_org(actor), episode_id=episode_id,
                                   item=request.POST.get("item", ""), actor=actor, note=request.POST.get("note", ""))
    return HttpResponseRedirect(f"/transitions/episodes/{episode_id}/")


@require_POST
@staff_view("transitions.medrec")
def complete_medrec(request: HttpRequest, actor: Actor, episode_id: int) -> HttpResponse:
    medrec.complete_medication_reconciliation(organization_id=_org(actor), episode_id=episode_id, actor=actor)
    return HttpResponseRedirect(f"/transitions/episodes/{episode_id}/")


@require_GET
@staff_view("transitions.read")
def chart_panel(request: HttpRequest, actor: Actor, patient_id: int) -> HttpResponse:
    org = _org(actor)
    if not Patient.objects.filter(organization_id=org, pk=patient_id).exists():
        raise NotFound("patient not found")
    now = clock.now()
    rows = [views_data.episode_row(ep, now)
            for ep in selectors.episodes(organization_id=org, patient_id=patient_id).order_by("-discharged_at")[:10]]
    record_event(actor=actor, organization_id=org, action="transition.listed", patient_id=patient_id,
                 object_type="TransitionEpisode", detail={"count": len(rows)})
    return render(request, "transitions/_panel.html", {"rows": rows})
