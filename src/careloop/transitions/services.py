"""Transition-of-care use-cases: open, update, cancel and complete episodes; the checklist; the population scan.

``open_or_update_episode_for_encounter`` is the single entry point for every encounter change (HL7 ADT hook,
FHIR notification, FHIR import through ``scan_discharges``). It is idempotent: one episode per encounter, and
tasks keyed per episode, revision and task type.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from django.db import transaction

from careloop.accounts import rules as access
from careloop.audit.services import record_event
from careloop.core import clock
from careloop.core.actor import Actor
from careloop.core.errors import CareloopError, NotFound, PermissionDenied, ValidationFailed
from careloop.registry.models import Encounter
from careloop.transitions import rules, selectors
from careloop.transitions.choices import ChecklistItem, EpisodeStatus
from careloop.transitions.models import TransitionEpisode
from careloop.worklist import services as worklist
from careloop.worklist.choices import OPEN_STATUSES
from careloop.worklist.selectors import organization_zone, tcm_contact_evidence

log = logging.getLogger(__name__)
S = EpisodeStatus


def _check(actor: Actor, organization_id: int, permission: str) -> None:
    if actor.organization_id != organization_id and not (actor.role == "system" and actor.organization_id is None):
        raise NotFound("not found")
    if actor.role != "system" and not access.has_permission(actor.role, permission):
        raise PermissionDenied(f"role {actor.role!r} may not {permission}")


def _system(organization_id: int) -> Actor:
    return Actor.system(organization_id, "transitions")


def _discharged(enc: Encounter) -> bool:
    return enc.end is not None and enc.status not in selectors.NOT_DISCHARGED


def _audit(actor: Actor, ep: TransitionEpisode, action: str, **detail: object) -> None:
    record_event(actor=actor, organization_id=ep.organization_id, action=action, patient_id=ep.patient_id,
                 object_type="TransitionEpisode", object_id=str(ep.pk), detail=dict(detail) or None)


# ---- open / update / cancel ------------------------------------------------------------------------------------


def open_or_update_episode_for_encounter(*, organization_id: int, encounter_id: int,
                                         actor: Actor) -> TransitionEpisode | None:
    """Bring the encounter's episode in line with the encounter: open it at discharge (with deadlines and
    tasks), cancel it when the discharge or the stay was cancelled, reopen it when the stay is discharged again.
    Returns the episode, or None when the encounter opens none (ambulatory, or not discharged yet)."""
    _check(actor, organization_id, "transitions.write")
    with transaction.atomic():
        enc = (Encounter.objects.select_for_update().filter(organization_id=organization_id, pk=encounter_id)
               .first())
        if enc is None:
            raise NotFound("encounter not found")
        setting = rules.setting_for(enc.class_code, enc.facility)
        ep = (TransitionEpisode.objects.select_for_update()
              .filter(organization_id=organization_id, encounter_id=encounter_id).first())
        if ep is None and (setting is None or not _discharged(enc)):
            return None
        if setting is None or not _discharged(enc):
            assert ep is not None
            reason = "stay cancelled" if enc.status in ("cancelled", "entered-in-error") else "discharge cancelled"
            if setting is None:
                reason = f"encounter class is now {enc.class_code}"
            _cancel(ep, reason, actor)
            return ep
        assert enc.end is not None
        zone = organization_zone(organization_id)
        d = rules.deadlines(enc.end, zone)
        created = ep is None
        if ep is None:
            ep = TransitionEpisode(organization_id=organization_id, patient_id=enc.patient_id, encounter=enc)
        before = (ep.status, ep.discharged_at, ep.disposition)
        reopened = ep.status == S.CANCELLED
        if reopened:  # a new discharge after a cancelled one: new windows, new tasks, evidence found afresh
            ep.revision += 1
            ep.cancelled_reason = ""
            ep.contact_done, ep.contact_at, ep.contact_note = False, None, ""
            ep.visit_encounter, ep.visit_at = None, None
        ep.setting, ep.facility = setting, enc.facility[:200]
        ep.admitted_at, ep.discharged_at = enc.start, enc.end
        ep.disposition = enc.discharge_disposition
        ep.tcm_eligible = rules.starts_tcm_clock(enc.discharge_disposition)
        ep.status = S.OPEN if ep.status != S.COMPLETED else S.COMPLETED
        ep.contact_due, ep.followup_due = (d.contact_due, d.followup_due) if ep.tcm_eligible else (None, None)
        ep.visit_due_high = d.visit_due_high if ep.tcm_eligible else None
        ep.visit_due_moderate = d.visit_due_moderate if ep.tcm_eligible else None
        ep.medrec_due = d.medrec_due if ep.tcm_eligible else None
        if ep.readmission_of_id is None and enc.start is not None:
            prev = selectors.previous_episode(organization_id=organization_id, patient_id=enc.patient_id,
                                              admitted_at=enc.start, exclude_id=ep.pk)
            ep.readmission_of = prev
        ep.save()
        if created or reopened:
            _audit(actor, ep, "transition.opened" if created else "transition.reopened", setting=setting,
                   tcm=ep.tcm_eligible, readmission_of=ep.readmission_of_id)
        elif before != (ep.status, ep.discharged_at, ep.disposition):
            _audit(actor, ep, "transition.updated")
        _create_tasks(ep, d, actor)
        _refresh(ep, actor)
    return ep


def _cancel(ep: TransitionEpisode, reason: str, actor: Actor) -> None:
    if ep.status == S.CANCELLED:
        return
    ep.status, ep.cancelled_reason = S.CANCELLED, reason[:100]
    ep.save(update_fields=["status", "cancelled_reason", "updated_at"])
    for task in selectors.episode_tasks(organization_id=ep.organization_id, episode_id=ep.pk):
        if task.status in OPEN_STATUSES:
            worklist.change_status(organization_id=ep.organization_id, task_id=task.pk, status="cancelled",
                                   actor=_system(ep.organization_id), reason=f"transition episode: {reason}")
    _audit(actor, ep, "transition.cancelled", reason=reason)


def _task_key(ep: TransitionEpisode, task_type: str) -> str:
    return f"transition:{ep.pk}:r{ep.revision}:{task_type}"


def _create_tasks(ep: TransitionEpisode, d: rules.Deadlines, actor: Actor) -> None:
    where = ep.facility or ep.get_setting_display()
    when = f"{ep.get_setting_display().lower()} discharge from {where}"
    specs: list[tuple[str, str, dt.datetime, dt.datetime | None, str]]
    if ep.tcm_eligible:
        specs = [
            ("post_discharge_contact", f"Interactive contact after {when} (2 business days)", d.contact_due,
             d.contact_due, "TCM"),
            ("followup_visit_scheduling", f"Schedule face-to-face visit after {when} (day 7 high / 14 moderate)",
             d.contact_due, d.visit_due_moderate, "TCM"),
            ("medication_reconciliation", f"Reconcile discharge medications after {when}", d.visit_due_high,
             d.medrec_due, "TCM"),
            ("care_plan_review", f"Review care plan after {when}", d.followup_due, d.care_plan_due, ""),
        ]
    else:
        specs = [("care_plan_review", f"Coordinate care after {when}; disposition {ep.disposition or '-'} "
                  "(no TCM clock)", d.followup_due, None, "")]
    sys_actor = _system(ep.organization_id) if actor.role != "system" else actor
    for task_type, reason, due, deadline, program in specs:
        worklist.create_task(organization_id=ep.organization_id, patient_id=ep.patient_id, task_type=task_type,
                             reason=reason, dedupe_key=_task_key(ep, task_type), actor=sys_actor,
                             source_type="TransitionEpisode", source_id=str(ep.pk), due_at=due,
                             deadline_at=deadline, program=program)


# ---- completion ------------------------------------------------------------------------------------------------


def _refresh(ep: TransitionEpisode, actor: Actor) -> bool:
    """Record what the outreach log and later visits show; complete the matching tasks. True if changed."""
    if ep.status not in (S.OPEN, S.COMPLETED) or ep.discharged_at is None:
        return False
    changed = False
    if not ep.contact_done and ep.contact_due is not None:
        ev = tcm_contact_evidence(organization_id=ep.organization_id, patient_id=ep.patient_id,
                                  start=ep.discharged_at, end=ep.contact_due)
        if ev.satisfied:
            ep.contact_done, ep.contact_at, ep.contact_note = True, ev.contact_at, ev.explanation[:300]
            changed = True
    if ep.visit_encounter_id is None:
        visit = selectors.first_visit_after(organization_id=ep.organization_id, patient_id=ep.patient_id,
                                            after=ep.discharged_at)
        if visit is not None:
            ep.visit_encounter, ep.visit_at = visit, visit.start
            changed = True
    done = _done_items(ep)
    needed = set(ChecklistItem.values) if ep.tcm_eligible else {ChecklistItem.CAREPLAN.value}
    if needed <= done and ep.status == S.OPEN:
        ep.status = S.COMPLETED
        changed = True
    if changed:
        ep.save()
        _audit(actor, ep, "transition.progressed", done=sorted(done), status=ep.status)
    _complete_tasks(ep, done)
    return changed


def _done_items(ep: TransitionEpisode) -> set[str]:
    done = set()
    if ep.contact_done:
        done.add(ChecklistItem.CONTACT.value)
    if ep.visit_at is not None:
        done.add(ChecklistItem.VISIT.value)
    if ep.medrec_at is not None:
        done.add(ChecklistItem.MEDREC.value)
    if ep.care_plan_reviewed_at is not None:
        done.add(ChecklistItem.CAREPLAN.value)
    return done


def _complete_tasks(ep: TransitionEpisode, done: set[str]) -> None:
    for task in selectors.episode_tasks(organization_id=ep.organization_id, episode_id=ep.pk):
        if task.task_type in done and task.status in OPEN_STATUSES:
            worklist.change_status(organization_id=ep.organization_id, task_id=task.pk, status="completed",
                                   actor=_system(ep.organization_id))


def refresh_episode(*, organization_id: int, episode_id: int, actor: Actor) -> TransitionEpisode:
    _check(actor, organization_id, "transitions.read")
    with transaction.atomic():
        ep = TransitionEpisode.objects.select_for_update().filter(organization_id=organization_id,
                                                                  pk=episode_id).first()
        if ep is None:
            raise NotFound("episode not found")
        _refresh(ep, actor)
    return ep


def record_checklist_item(*, organization_id: int, episode_id: int, item: str, actor: Actor,
                          note: str = "") -> TransitionEpisode:
    """Tick a checklist item by hand: the care-plan review, or a contact/visit documented elsewhere."""
    _check(actor, organization_id, "transitions.write")
    if item not in ChecklistItem.values:
        raise ValidationFailed("unknown checklist item", field_errors={"item": f"one of {ChecklistItem.values}"})
    if item == ChecklistItem.MEDREC:
        raise ValidationFailed("use the medication reconciliation worksheet", field_errors={"item": "medrec"})
    now = clock.now()
    with transaction.atomic():
        ep = TransitionEpisode.objects.select_for_update().filter(organization_id=organization_id,
                                                                  pk=episode_id).first()
        if ep is None:
            raise NotFound("episode not found")
        if ep.status == S.CANCELLED:
            raise ValidationFailed("the episode is cancelled")
        if item == ChecklistItem.CAREPLAN:
            ep.care_plan_reviewed_at, ep.care_plan_reviewed_by_id = now, actor.user_id
        elif item == ChecklistItem.CONTACT:
            ep.contact_done, ep.contact_at, ep.contact_note = True, now, (note or "recorded on the checklist")[:300]
        else:
            ep.visit_at = now
        ep.save()
        _audit(actor, ep, "transition.checklist_recorded", item=item)
        _refresh(ep, actor)
    return ep


# ---- population job -------------------------------------------------------------------------------------------


@dataclass
class ScanResult:
    opened: list[int] = field(default_factory=list)
    refreshed: int = 0
    failed: dict[int, str] = field(default_factory=dict)


def scan_discharges(*, organization_id: int, actor: Actor, since: dt.datetime | None = None) -> ScanResult:
    """Open episodes for discharged encounters that have none (one query finds them), then refresh the open
    episodes' completion from the outreach log and visits."""
    _check(actor, organization_id, "transitions.write")
    result = ScanResult()
    for enc_id in selectors.discharged_without_episode(organization_id=organization_id, since=since):
        try:
            ep = open_or_update_episode_for_encounter(organization_id=organization_id, encounter_id=enc_id,
                                                      actor=actor)
        except CareloopError as exc:
            result.failed[enc_id] = str(exc)
            continue
        if ep is not None:
            result.opened.append(ep.pk)
    for ep_id in selectors.episodes(organization_id=organization_id, status=S.OPEN).values_list("pk", flat=True):
        with transaction.atomic():
            ep = TransitionEpisode.objects.select_for_update().get(pk=ep_id)
            result.refreshed += int(_refresh(ep, actor))
    return result


def episode_after_commit(*, organization_id: int, encounter_id: int, actor: Actor) -> None:
    """For ingest paths inside a transaction (the HL7 ADT hook): process the encounter once it commits. A
    failure is logged, never undoes the message; ``careloop transitions scan`` picks the encounter up later."""

    def run() -> None:
        try:
            open_or_update_episode_for_encounter(organization_id=organization_id, encounter_id=encounter_id,
                                                 actor=actor)
        except Exception:
            log.exception("transition episode for encounter %s failed", encounter_id)

    transaction.on_commit(run)
