"""What the board, the episode page and the API show: plain dicts built from selectors (shared by api/views)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from careloop.core import clock
from careloop.core.actor import Actor
from careloop.transitions import rules, selectors, services
from careloop.transitions.choices import ChecklistItem, EpisodeStatus
from careloop.transitions.models import TransitionEpisode
from careloop.worklist.selectors import contact_history


def episode_row(ep: TransitionEpisode, now: dt.datetime) -> dict[str, Any]:
    return {
        "id": ep.pk, "patient_id": ep.patient_id, "patient": str(ep.patient), "encounter_id": ep.encounter_id,
        "setting": ep.setting, "status": ep.status, "facility": ep.facility, "admitted_at": ep.admitted_at,
        "discharged_at": ep.discharged_at, "disposition": ep.disposition, "tcm_eligible": ep.tcm_eligible,
        "contact_due": ep.contact_due, "followup_due": ep.followup_due, "visit_due_high": ep.visit_due_high,
        "visit_due_moderate": ep.visit_due_moderate, "medrec_due": ep.medrec_due,
        "contact_done": ep.contact_done, "readmission_of_id": ep.readmission_of_id,
        "countdown": rules.remaining(ep.contact_due, now) if ep.contact_due and not ep.contact_done else "",
        "overdue": bool(ep.contact_due and not ep.contact_done and ep.contact_due < now),
    }


def board(*, organization_id: int, actor: Actor) -> dict[str, list[dict[str, Any]]]:
    services._check(actor, organization_id, "transitions.read")
    now = clock.now()
    admitted = [{"encounter_id": e.pk, "patient_id": e.patient_id, "patient": str(e.patient),
                 "class_code": e.class_code, "facility": e.facility, "admitted_at": e.start}
                for e in selectors.in_hospital(organization_id=organization_id)[:500]]
    rows = [episode_row(ep, now) for ep in selectors.episodes(organization_id=organization_id,
                                                               status=EpisodeStatus.OPEN)[:500]]
    return {
        "in_hospital": admitted,
        "awaiting_contact": [r for r in rows if r["tcm_eligible"] and not r["contact_done"] and not r["overdue"]],
        "overdue": [r for r in rows if r["overdue"]],
        "in_followup": [r for r in rows if r["contact_done"] or not r["tcm_eligible"]],
    }


def checklist(ep: TransitionEpisode) -> list[dict[str, Any]]:
    items = [
        (ChecklistItem.CONTACT, ep.contact_done, ep.contact_at, ep.contact_note, ep.contact_due),
        (ChecklistItem.VISIT, ep.visit_at is not None, ep.visit_at, "", ep.visit_due_moderate),
        (ChecklistItem.MEDREC, ep.medrec_at is not None, ep.medrec_at,
         ep.medrec_by.username if ep.medrec_by else "", ep.medrec_due),
        (ChecklistItem.CAREPLAN, ep.care_plan_reviewed_at is not None, ep.care_plan_reviewed_at,
         ep.care_plan_reviewed_by.username if ep.care_plan_reviewed_by else "", ep.followup_due),
    ]
    return [{"item": i.value, "label": i.label, "done": done, "at": at, "note": note, "due": due}
            for i, done, at, note, due in items]


def episode_detail(*, organization_id: int, episode_id: int, actor: Actor) -> dict[str, Any]:
    """The episode (completion refreshed from outreach and visits), its checklist, tasks and timeline."""
    services.refresh_episode(organization_id=organization_id, episode_id=episode_id, actor=actor)
    ep = selectors.episode(organization_id=organization_id, episode_id=episode_id)
    assert ep is not None
    now = clock.now()
    since = (ep.admitted_at or ep.discharged_at or now) - dt.timedelta(days=1)
    timeline: list[dict[str, Any]] = []
    if ep.admitted_at:
        timeline.append({"at": ep.admitted_at, "kind": "encounter", "text": f"Admitted ({ep.setting})"})
    if ep.discharged_at:
        timeline.append({"at": ep.discharged_at, "kind": "encounter",
                         "text": f"Discharged, disposition {ep.disposition or '-'}"})
    for e in selectors.patient_events(organization_id=organization_id, patient_id=ep.patient_id, since=since):
        timeline.append({"at": e.occurred_at, "kind": "adt", "text": f"{e.event_type} {e.summary}".strip()})
    for a in contact_history(organization_id=organization_id, patient_id=ep.patient_id):
        if a.at >= since:
            timeline.append({"at": a.at, "kind": "outreach", "text": f"{a.channel}: {a.outcome}"})
    tasks = [{"id": t.pk, "task_type": t.task_type, "status": t.status, "due_at": t.due_at,
              "deadline_at": t.deadline_at, "assigned_user_id": t.assigned_user_id}
             for t in selectors.episode_tasks(organization_id=organization_id, episode_id=ep.pk)]
    for t in tasks:
        timeline.append({"at": t["due_at"], "kind": "task", "text": f"{t['task_type']} due ({t['status']})"})
    timeline.sort(key=lambda r: (r["at"] is None, r["at"] or now))
    services._audit(actor, ep, "transition.viewed")
    return {**episode_row(ep, now), "checklist": checklist(ep), "tasks": tasks, "timeline": timeline,
            "cancelled_reason": ep.cancelled_reason}
