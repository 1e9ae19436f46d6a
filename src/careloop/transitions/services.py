"""Transition-of-care use-cases: open, update, cancel and complete episodes; the checklist; the population scan.

``open_or_update_episode_for_encounter`` is the single entry point for every encounter change (HL7 ADT hook,
FHIR notification, FHIR import through ``scan_discharges``). It is idempotent: one episode per encounter, and
tasks keyed per episode, revision and task type.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from careloop.accounts import rules as access
from careloop.audit.services import EventSpec, record_events, sqlite_write_gate
from careloop.core import clock
from careloop.core.actor import Actor
from careloop.core.db import delete_ids, insert_returning, insert_rows, select_rows
from careloop.core.errors import CareloopError, NotFound, PermissionDenied, ValidationFailed
from careloop.registry.models import Encounter
from careloop.transitions import rules, selectors
from careloop.transitions.choices import ChecklistItem, EpisodeStatus
from careloop.transitions.models import PendingEpisodeSync, TransitionEpisode
from careloop.worklist import services as worklist
from careloop.worklist.choices import OPEN_STATUSES
from careloop.worklist.rules.timeline import Attempt, TcmContactEvidence
from careloop.worklist.rules.timeline import tcm_contact_evidence as contact_evidence_rule
from careloop.worklist.selectors import organization_zone, tcm_contact_evidence

log = logging.getLogger(__name__)
S = EpisodeStatus
READMISSION_WINDOW = dt.timedelta(days=30)


def _check(actor: Actor, organization_id: int, permission: str) -> None:
    if actor.organization_id != organization_id and not (actor.role == "system" and actor.organization_id is None):
        raise NotFound("not found")
    if actor.role != "system" and not access.has_permission(actor.role, permission):
        raise PermissionDenied(f"role {actor.role!r} may not {permission}")


def _system(organization_id: int) -> Actor:
    return Actor.system(organization_id, "transitions")


def _discharged(enc: Encounter | selectors.EncounterRow) -> bool:
    return enc.end is not None and enc.status not in selectors.NOT_DISCHARGED


def _event(ep: TransitionEpisode, action: str, **detail: object) -> EventSpec:
    return EventSpec(action, ep.patient_id, "TransitionEpisode", str(ep.pk), detail=dict(detail) or None)


def _audit(actor: Actor, ep: TransitionEpisode, action: str, **detail: object) -> None:
    record_events(actor=actor, organization_id=ep.organization_id, events=[_event(ep, action, **detail)])


# ---- open / update / cancel ------------------------------------------------------------------------------------


def open_or_update_episode_for_encounter(*, organization_id: int, encounter_id: int,
                                         actor: Actor) -> TransitionEpisode | None:
    """Bring the encounter's episode in line with the encounter: open it at discharge (with deadlines and
    tasks), cancel it when the discharge or the stay was cancelled, reopen it when the stay is discharged again.
    Returns the episode, or None when the encounter opens none (ambulatory, or not discharged yet)."""
    _check(actor, organization_id, "transitions.write")
    try:
        with transaction.atomic():
            done = sync_encounters(organization_id=organization_id, encounter_ids=[encounter_id], actor=actor)
    except IntegrityError:  # the queue worker created the episode meanwhile: bring that one in line
        with transaction.atomic():
            done = sync_encounters(organization_id=organization_id, encounter_ids=[encounter_id], actor=actor)
    if encounter_id not in done:
        raise NotFound("encounter not found")
    return done[encounter_id]


def sync_encounters(*, organization_id: int, encounter_ids: list[int],
                    actor: Actor) -> dict[int, TransitionEpisode | None]:
    """``open_or_update_episode_for_encounter`` for many encounters at once, in the caller's transaction: the
    encounters and their episodes are read in two queries, the new tasks written with one set-based insert
    (``worklist.create_tasks_bulk``) and the audit events appended in one call. Unknown encounters are left out
    of the result.

    The encounters are read without a row lock: the HL7 listener updates them while holding its patient lock,
    and a worker holding encounter locks while its inserts wait on those patients would deadlock with it. An
    encounter changed after this read has queued itself again (``episode_after_commit``), so the episode
    converges; two workers creating the same episode collide on its unique encounter (IntegrityError, retried)."""
    ids = sorted(set(encounter_ids))
    # Plain reads (the columns used, no query compilation): this runs for every discharge the listener applies.
    encs = selectors.encounter_rows(organization_id=organization_id, encounter_ids=ids)
    eps = {ep.encounter_id: ep for ep in selectors.episodes_for_encounters(organization_id=organization_id,
                                                                           encounter_ids=ids)}
    zone = organization_zone(organization_id) if encs else None
    earlier = _Earlier(organization_id, encs)
    audit: list[EventSpec] = []
    specs: list[worklist.TaskSpec] = []
    out: dict[int, TransitionEpisode | None] = {}
    opened: list[TransitionEpisode] = []
    todo: list[tuple[TransitionEpisode, selectors.EncounterRow, rules.Deadlines, bool, bool, tuple[object, ...]]] = []
    for enc in encs:
        ep = eps.get(enc.pk)
        setting = rules.setting_for(enc.class_code, enc.facility)
        if ep is None and (setting is None or not _discharged(enc)):
            out[enc.pk] = None
            continue
        if setting is None or not _discharged(enc):
            assert ep is not None
            reason = "stay cancelled" if enc.status in ("cancelled", "entered-in-error") else "discharge cancelled"
            if setting is None:
                reason = f"encounter class is now {enc.class_code}"
            _cancel(ep, reason, actor)
            out[enc.pk] = ep
            continue
        assert enc.end is not None and zone is not None
        d = rules.deadlines(enc.end, zone)
        created = ep is None
        if ep is None:
            ep = TransitionEpisode(organization_id=organization_id, patient_id=enc.patient_id, encounter_id=enc.pk)
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
        todo.append((ep, enc, d, created, reopened, before))
        out[enc.pk] = ep
    # new episodes in one INSERT (their keys come back), changed ones one by one; then readmissions, which may
    # point at an episode of the same batch
    _insert_episodes([t[0] for t in todo if t[3]])
    for ep, *_rest, created, _reopened, _before in todo:
        if not created:
            ep.save()
    for ep, *_ in todo:
        earlier.add(ep)
    linked = []
    for ep, enc, *_ in todo:
        if ep.readmission_of_id is None and enc.start is not None:
            ep.readmission_of_id = earlier.previous(enc.patient_id, enc.start, ep.pk)
            if ep.readmission_of_id is not None:
                linked.append(ep)
    if linked:
        TransitionEpisode.objects.bulk_update(linked, ["readmission_of"])
    for ep, _enc, d, created, reopened, was in todo:
        if created or reopened:
            audit.append(_event(ep, "transition.opened" if created else "transition.reopened", setting=ep.setting,
                                tcm=ep.tcm_eligible, readmission_of=ep.readmission_of_id))
        elif was != (ep.status, ep.discharged_at, ep.disposition):
            audit.append(_event(ep, "transition.updated"))
        specs += _task_specs(ep, d)
        opened.append(ep)
    # Reads first, audit last: appending to the organization's audit chain locks its head row until the commit
    # (PostgreSQL), and the HL7 listener's batches append to the same chain.
    evidence = _Evidence(organization_id, opened)
    if specs:
        sys_actor = _system(organization_id) if actor.role != "system" else actor
        worklist.create_tasks_bulk(organization_id=organization_id, specs=specs, actor=sys_actor)
    for ep in opened:
        _refresh(ep, actor, evidence)
    record_events(actor=actor, organization_id=organization_id, events=audit)
    return out


_EP_FIELDS = [f for f in TransitionEpisode._meta.concrete_fields if not f.primary_key]
_EP_NAMES = [f.name for f in _EP_FIELDS]
_EP_ATTNAMES = [f.attname for f in _EP_FIELDS]


def _insert_episodes(new: list[TransitionEpisode]) -> None:
    """``bulk_create`` for the batch's new episodes: one INSERT ... RETURNING, the keys set on the instances.
    An episode another worker created meanwhile fails it on the unique encounter (IntegrityError), as before."""
    if not new:
        return
    now = timezone.now()
    for ep in new:
        ep.created_at = ep.updated_at = now
    keys = dict(insert_returning(TransitionEpisode, _EP_NAMES, [[getattr(ep, a) for a in _EP_ATTNAMES] for ep in new],
                                 returning=("encounter", "id")))
    for ep in new:
        ep.pk = keys[ep.encounter_id]
        ep._state.adding, ep._state.db = False, connection.alias


class _Earlier:
    """Episodes a readmission may link to (``selectors.previous_episode``) for a batch of encounters: read in
    one query, plus the episodes the batch itself saves."""

    def __init__(self, organization_id: int, encs: list[selectors.EncounterRow]) -> None:
        starts = [e.start for e in encs if e.start is not None]
        self.rows: dict[int, list[tuple[int, dt.datetime]]] = {}
        if starts:
            for pk, pid, at in selectors.recent_episode_rows(
                    organization_id=organization_id, patient_ids={e.patient_id for e in encs},
                    since=min(starts) - READMISSION_WINDOW, until=max(starts)):
                self.rows.setdefault(pid, []).append((pk, at))

    def add(self, ep: TransitionEpisode) -> None:
        rows = [r for r in self.rows.get(ep.patient_id, []) if r[0] != ep.pk]
        if ep.status != S.CANCELLED and ep.discharged_at is not None:
            rows.append((ep.pk, ep.discharged_at))
        self.rows[ep.patient_id] = rows

    def previous(self, patient_id: int, admitted_at: dt.datetime, exclude_id: int | None) -> int | None:
        """The latest episode discharged up to 30 days before ``admitted_at`` (as ``selectors.previous_episode``)."""
        fits = [(at, pk) for pk, at in self.rows.get(patient_id, [])
                if pk != exclude_id and admitted_at - READMISSION_WINDOW <= at <= admitted_at]
        return max(fits)[1] if fits else None


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


def _task_specs(ep: TransitionEpisode, d: rules.Deadlines) -> list[worklist.TaskSpec]:
    setting = ep.get_setting_display()
    where = ep.facility or setting
    when = f"{setting.lower()} discharge from {where}"
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
    return [worklist.TaskSpec(ep.patient_id, task_type, reason, _task_key(ep, task_type), "TransitionEpisode",
                              str(ep.pk), due, deadline, program)
            for task_type, reason, due, deadline, program in specs]


# ---- completion ------------------------------------------------------------------------------------------------


class _Evidence:
    """The outreach log and visits for a batch of episodes, read with one query each (``sync_encounters``)."""

    def __init__(self, organization_id: int, eps: list[TransitionEpisode]) -> None:
        eps = [ep for ep in eps if ep.discharged_at is not None]
        pids = {ep.patient_id for ep in eps}
        self.attempts: dict[int, list[Attempt]] = {}
        self.visits: dict[int, list[Encounter]] = {}
        if not eps:
            return
        starts = [ep.discharged_at for ep in eps if ep.discharged_at is not None]
        ends = [ep.contact_due for ep in eps if ep.contact_due is not None and not ep.contact_done]
        if ends:
            self.attempts = selectors.outreach_attempts(organization_id=organization_id, patient_ids=pids,
                                                        start=min(starts), end=max(ends))
        self.visits = selectors.visits_after(organization_id=organization_id, patient_ids=pids, after=min(starts))

    def contact(self, ep: TransitionEpisode, start: dt.datetime, end: dt.datetime) -> TcmContactEvidence:
        rows = [a for a in self.attempts.get(ep.patient_id, []) if start <= a.at <= end]
        return contact_evidence_rule(rows, start, end)

    def first_visit(self, ep: TransitionEpisode, after: dt.datetime) -> Encounter | None:
        return next((v for v in self.visits.get(ep.patient_id, []) if v.start is not None and v.start > after), None)


def _refresh(ep: TransitionEpisode, actor: Actor, evidence: _Evidence | None = None) -> bool:
    """Record what the outreach log and later visits show; complete the matching tasks. True if changed."""
    if ep.status not in (S.OPEN, S.COMPLETED) or ep.discharged_at is None:
        return False
    changed = False
    if not ep.contact_done and ep.contact_due is not None:
        if evidence is not None:
            ev = evidence.contact(ep, ep.discharged_at, ep.contact_due)
        else:
            ev = tcm_contact_evidence(organization_id=ep.organization_id, patient_id=ep.patient_id,
                                      start=ep.discharged_at, end=ep.contact_due)
        if ev.satisfied:
            ep.contact_done, ep.contact_at, ep.contact_note = True, ev.contact_at, ev.explanation[:300]
            changed = True
    if ep.visit_encounter_id is None:
        if evidence is not None:
            visit = evidence.first_visit(ep, ep.discharged_at)
        else:
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
    if not done:
        return
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
    queued: int = 0  # queue rows (ADT discharges and cancellations) worked off first


def scan_discharges(*, organization_id: int, actor: Actor, since: dt.datetime | None = None) -> ScanResult:
    """Open episodes for discharged encounters that have none (one query finds them), then refresh the open
    episodes' completion from the outreach log and visits."""
    _check(actor, organization_id, "transitions.write")
    result = ScanResult()
    queue = drain(organization_id=organization_id)
    result.queued = queue.consumed
    result.failed.update(queue.failed)
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
    """For ingest paths inside a transaction (the HL7 ADT hook): queue the encounter (``PendingEpisodeSync``) in
    the caller's transaction. The transitions worker (``process_pending``: the listener's worker thread,
    ``careloop hl7 ingest`` after each batch, ``careloop transitions scan``) opens or updates the episode later;
    the message's commit and ACK never wait for it."""
    queue_episode_syncs(organization_id=organization_id, encounter_ids=[encounter_id])


def queue_episode_syncs(*, organization_id: int, encounter_ids: list[int]) -> None:
    """``episode_after_commit`` for several encounters at once (a batch of ADT messages): one INSERT."""
    now = timezone.now()
    insert_rows(PendingEpisodeSync, ["organization", "encounter", "created_at", "updated_at"],
                [(organization_id, encounter_id, now, now) for encounter_id in encounter_ids])


MAX_ATTEMPTS = 5


@dataclass
class QueueResult:
    consumed: int = 0
    episodes: int = 0
    failed: dict[int, str] = field(default_factory=dict)


def process_pending(*, organization_id: int | None = None, limit: int = 64) -> QueueResult:
    """Work off up to ``limit`` queued encounter changes (oldest first) in one transaction: sync their episodes
    and delete the queue rows together, so a crash leaves each either done and gone or untouched and queued.
    When the batch fails, each row is tried alone; one that keeps failing is kept with its error (after
    ``MAX_ATTEMPTS`` it is skipped; ``careloop transitions scan`` reports it)."""
    result = QueueResult()
    where, params = "attempts < %s", [MAX_ATTEMPTS]
    if organization_id is not None:
        where, params = where + " AND organization_id = %s", [*params, organization_id]
    rows: list[tuple[int, int, int]] = []
    if not connection.in_atomic_block and not select_rows(PendingEpisodeSync, ("id",), where, params, limit=1):
        return result  # nothing queued: found without a write transaction (SQLite: without the write lock)
    try:
        # SQLite: queue for the single writer (the HL7 listener's batches) instead of sleeping in the busy handler.
        with sqlite_write_gate(), transaction.atomic():
            rows = select_rows(PendingEpisodeSync, ("id", "organization_id", "encounter_id"), where, params,  # type: ignore[assignment]
                               order_by=("id",), limit=limit)
            _consume(rows, result)
        return result
    except Exception:  # noqa: BLE001 - one bad encounter must not block the queue; tried one by one below
        log.exception("transitions queue: batch of %d failed; trying each", len(rows))
        result = QueueResult()
    for row in rows:
        try:
            with sqlite_write_gate(), transaction.atomic():
                _consume([row], result)
        except Exception as exc:  # noqa: BLE001
            log.exception("transitions queue: encounter %s failed", row[2])
            result.failed[row[2]] = f"{type(exc).__name__}: {exc}"[:300]
            PendingEpisodeSync.objects.filter(pk=row[0]).update(attempts=F("attempts") + 1,
                                                                last_error=result.failed[row[2]])
    return result


def _consume(rows: list[tuple[int, int, int]], result: QueueResult) -> None:
    by_org: dict[int, list[int]] = {}
    for _pk, org_id, enc_id in rows:
        by_org.setdefault(org_id, []).append(enc_id)
    for org_id, enc_ids in by_org.items():
        done = sync_encounters(organization_id=org_id, encounter_ids=enc_ids,
                               actor=Actor.system(org_id, "transitions worker"))
        result.episodes += sum(ep is not None for ep in done.values())
    delete_ids(PendingEpisodeSync, [r[0] for r in rows])
    result.consumed += len(rows)


def drain(*, organization_id: int | None = None, limit: int = 64) -> QueueResult:
    """``process_pending`` until the queue is empty (or only rows that keep failing remain)."""
    total = QueueResult()
    while True:
        r = process_pending(organization_id=organization_id, limit=limit)
        total.consumed += r.consumed
        total.episodes += r.episodes
        total.failed.update(r.failed)
        if r.consumed == 0 and not r.failed:  # failing rows gain an attempt per round: they drop out
            return total


def move_patient_episodes(*, organization_id: int, merged_id: int, surviving_id: int, actor: Actor) -> list[int]:
    """A patient merge (HL7 A40): the merged patient's episodes move to the surviving patient, in the caller's
    transaction, one audit event each (their tasks move with the patient's other work through
    ``worklist.services.move_patient_work``, called by the same merge hook). Returns the moved episode ids."""
    _check(actor, organization_id, "transitions.write")
    ids = list(TransitionEpisode.objects.filter(organization_id=organization_id, patient_id=merged_id)
               .order_by("pk").values_list("pk", flat=True))
    if ids:
        TransitionEpisode.objects.filter(organization_id=organization_id, pk__in=ids).update(
            patient_id=surviving_id, updated_at=clock.now())
        record_events(actor=actor, organization_id=organization_id, events=[
            EventSpec("transition.patient_merged", surviving_id, "TransitionEpisode", str(pk),
                      detail={"from_patient": merged_id, "to_patient": surviving_id}) for pk in ids])
    return ids
