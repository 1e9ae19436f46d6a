"""ADT handlers: apply what a message says to the registry, inside the caller's transaction.

Encounter key: (organization, sending facility MSH-4, visit number PV1-19); without a visit number,
(patient, facility, admit time PV1-44); without either, the patient's open stay at that facility.

Status by trigger event (order-tolerant, idempotent):

| event | no encounter yet | planned | in-progress | finished | cancelled |
|---|---|---|---|---|---|
| A05, A14 pre-admit / pending | create planned | - | - | - | - |
| A01, A04 admit, register | create in-progress | in-progress | - | stays finished (late) | if newer than A11 |
| A02, A06, A07 transfer / class | create in-progress | in-progress | - | stays finished | as A01 |
| A03 discharge | create finished | finished | finished | end time updated | finished |
| A08 update | create (finished if PV1-45) | - | - | - | - |
| A11 cancel admit | nothing to cancel | cancelled | cancelled | cancelled | - |
| A13 cancel discharge | create in-progress | - | - | in-progress, end cleared | - |
| A27, A38 cancel pending admit / pre-admit | nothing to cancel | cancelled | - | - | - |

("-": status unchanged; the visit's data - class, location, times, diagnoses - is still updated.)
A28/A31 update demographics only; A40 merges (MRG-1 into PID-3). Every other message with a PID is matched to
a patient and put on the timeline (``PatientEvent``) without starting any workflow.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from careloop.audit.services import EventSpec, record_events
from careloop.core.actor import Actor
from careloop.interop.hl7v2.extract import Extracted, PatientData, VisitData
from careloop.interop.hl7v2.matching import Match, match_patient
from careloop.interop.hl7v2.reads import Reads
from careloop.registry.selectors import (
    VisitRow,
    hl7_visit,
    hl7_visit_by_admit,
    last_encounter_event,
    open_hl7_visit,
    patient_fields,
    patient_ids_by_identifiers,
    surviving_patient_id,
)
from careloop.registry.services import (
    lock_patient,
    merge_patients,
    open_patient_match_review,
    record_patient_events,
    save_patient,
)

VISIT_EVENTS = frozenset({"A01", "A02", "A03", "A04", "A05", "A06", "A07", "A08", "A11", "A13", "A14"})
PV1_REQUIRED = VISIT_EVENTS - {"A08"}  # an A08 without PV1 updates the person only
CANCEL_PENDING = frozenset({"A27", "A38"})  # cancel pending admit / pre-admit: cancels a planned stay, if any
EARLY_EVENTS = frozenset({"A01", "A02", "A04", "A05", "A06", "A07", "A14"})
DEMOGRAPHIC_EVENTS = frozenset({"A08", "A28", "A31"})
PID_EVENTS = VISIT_EVENTS | DEMOGRAPHIC_EVENTS | {"A40"}
NAMES = {
    "A01": "Admitted", "A02": "Transferred", "A03": "Discharged", "A04": "Registered", "A05": "Pre-admitted",
    "A06": "Changed to inpatient", "A07": "Changed to outpatient", "A08": "Visit updated", "A11": "Admit cancelled",
    "A13": "Discharge cancelled", "A14": "Admission pending", "A28": "Person added", "A31": "Person updated",
    "A40": "Patients merged",
}


class Invalid(Exception):
    """The message is readable but wrong for what it claims to be (AE). ``code``: HL7 table 0357."""

    def __init__(self, reason: str, code: str = "101", location: str = "") -> None:
        super().__init__(reason)
        self.reason, self.code, self.location = reason, code, location


@dataclass
class Context:
    """One message being applied. ``audit``, ``timeline`` and ``episodes`` may be shared by the messages of a
    batch: the caller writes them (``finish``) in the same transaction, after the batch. ``reads``: where the
    handlers' lookups go (a batch's ``BatchReads``, read up front); None: the database, one query each."""

    organization_id: int
    actor: Actor
    message_id: int
    audit: list[EventSpec] = field(default_factory=list)
    timeline: list[dict[str, Any]] = field(default_factory=list)  # PatientEvent rows
    episodes: list[int] = field(default_factory=list)  # encounters whose discharge state changed
    reads: Reads | None = None
    changes: dict[str, Any] = field(default_factory=dict)  # what this message changed: its audit detail
    birth_dates: list[Any] = field(default_factory=list)  # birth dates of the patients it wrote, before


@dataclass
class Applied:
    status: str  # accepted | review
    patient_id: int | None = None
    encounter_id: int | None = None
    review_id: int | None = None
    note: str = ""


# ---- hooks for the transitions app --------------------------------------------------------------------------


def on_stays_changed(*, organization_id: int, encounter_ids: list[int]) -> None:
    """TRANSITIONS HOOK: the one place the transitions app is called from. An A03 (or an A08 that creates a
    finished stay) closed these encounters, or an A13 (cancel discharge) / A11 (cancel admit) undid a discharge or
    the stay itself, inside the messages' transaction (``finish``); the transitions service queues them in that
    same transaction (durable, exactly once, one INSERT for a batch) and its worker opens, updates or cancels the
    episodes (2-business-day contact, 7-day follow-up, TCM windows, tasks) after the commit, off the ACK path.
    """
    from careloop.transitions.services import queue_episode_syncs

    queue_episode_syncs(organization_id=organization_id, encounter_ids=encounter_ids)


def on_patients_merged(*, organization_id: int, merged_id: int, surviving_id: int, actor: Actor) -> None:
    """MERGE HOOK. An A40 merged ``merged_id`` into ``surviving_id`` (registry rows already moved, in the
    message's transaction): the merged patient's transition episodes, worklist tasks, outreach, time entries and
    timers, and program designations, enrollments, consents and device days move too, each app audited."""
    from careloop.programs.services import move_patient_programs
    from careloop.transitions.services import move_patient_episodes
    from careloop.worklist.services import move_patient_work

    move_patient_episodes(organization_id=organization_id, merged_id=merged_id, surviving_id=surviving_id,
                          actor=actor)
    move_patient_work(organization_id=organization_id, merged_id=merged_id, surviving_id=surviving_id, actor=actor)
    move_patient_programs(organization_id=organization_id, merged_id=merged_id, surviving_id=surviving_id,
                          actor=actor)


# ---- entry point ----------------------------------------------------------------------------------------------


def apply_message(x: Extracted, ctx: Context, *, match: Match | None = None) -> Applied:
    """Apply one message. ``match`` forces the patient (a person resolved the match review)."""
    is_adt = x.header.message_code == "ADT"
    event = x.event if is_adt else ""
    if event == "A40":
        return _merge(x, ctx)
    if x.patient is None:
        if event in PID_EVENTS:
            raise Invalid(f"ADT^{event} requires a PID segment", "100", "PID")
        return Applied("accepted", note="no PID segment: nothing to put on a patient's timeline")
    if not x.patient.identifiers:
        raise Invalid("PID-3 patient identifier list is required (no identifier value found)", "101", "PID^1^3")
    visit = x.visit if event in VISIT_EVENTS | CANCEL_PENDING else None
    if event in PV1_REQUIRED and visit is None:
        raise Invalid(f"ADT^{event} requires a PV1 segment", "100", "PV1")
    bad = [p for p in x.problems if visit is not None and p.location in ("PV1-44", "PV1-45")]
    if bad:
        raise Invalid("; ".join(f"{p.location}: {p.reason}" for p in bad), "102",
                      bad[0].location.replace("-", "^1^"))
    reads = ctx.reads or Reads(ctx.actor)
    if match is None:
        match = match_patient(x.patient, actor=ctx.actor, reads=reads)
    if match.uncertain:
        reads.settle()
        review_id = open_patient_match_review(
            organization_id=ctx.organization_id, message_id=ctx.message_id, reason=match.reason,
            candidates=match.candidates, demographics=x.patient.demographics(),
            match_key=match_key(x.patient),
        )
        ctx.audit.append(EventSpec("hl7.match_review_opened", None, "PatientMatchReview", str(review_id),
                                   detail={"message": ctx.message_id, "reason": match.reason}))
        return Applied("review", review_id=review_id, note=f"held for patient-matching review: {match.reason}")
    pid = _save_patient(x.patient, match, event, ctx)
    encounter_id = None
    if visit is not None:
        fresh = False
        if match.patient_id is not None and not match.locked:  # a new patient is invisible to others anyway
            reads.settle()
            lock_patient(patient_id=pid)  # another listener process may be writing this patient's stays
            fresh = True  # so read its stays now, under the lock
        encounter_id = _apply_visit(x, visit, pid, event, ctx, reads, fresh)
    if ctx.reads is not None:
        ctx.reads.wrote(x, pid, encounter_id, tuple(ctx.birth_dates))
    summary = f"{NAMES.get(event, x.header.message_type)}: {x.header.sending_facility or x.header.sending_application}"
    _on_timeline(x, ctx, pid, encounter_id, summary)
    _audit(x, ctx, pid, match=match.how)
    return Applied("accepted", pid, encounter_id)


def _on_timeline(x: Extracted, ctx: Context, patient_id: int, encounter_id: int | None, summary: str) -> None:
    ctx.timeline.append({
        "organization": ctx.organization_id, "patient": patient_id, "encounter": encounter_id,
        "event_type": (x.header.message_type or x.event)[:40], "message": ctx.message_id, "summary": summary[:300],
        "occurred_at": x.event_time.at if x.event_time else None,
    })


def _audit(x: Extracted, ctx: Context, patient_id: int | None, **detail: Any) -> None:
    """One audit event per applied message, saying everything it changed."""
    ctx.audit.append(EventSpec("hl7.message_applied", patient_id, "RawHl7Message", str(ctx.message_id),
                               detail={"type": x.header.message_type, **detail, **ctx.changes}))


def finish(ctx: Context) -> None:
    """Write the rows still pending in ``ctx.reads``, then the timeline rows, audit events and queued stay changes
    collected in ``ctx`` (in the caller's transaction)."""
    _settle(ctx)
    record_patient_events(ctx.timeline)
    record_events(actor=ctx.actor, organization_id=ctx.organization_id, events=ctx.audit)
    if ctx.episodes:
        on_stays_changed(organization_id=ctx.organization_id, encounter_ids=list(ctx.episodes))
    ctx.timeline.clear()
    ctx.audit.clear()
    ctx.episodes.clear()


def _settle(ctx: Context) -> None:
    """Before a registry read or write that does not go through ``ctx.reads``: write what it holds back."""
    if ctx.reads is not None:
        ctx.reads.settle()


def match_key(data: PatientData) -> str:
    return "|".join(sorted(f"{i.system}#{i.value}" for i in data.matchable))


# ---- patients ---------------------------------------------------------------------------------------------------


def _patient_fields(data: PatientData) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "family": data.family[:100], "given": data.given[:100], "birth_date": data.birth_date, "sex": data.sex,
        "mbi": data.mbi, "address_line": data.address_line[:200], "city": data.city[:100],
        "state": data.state[:40], "postal_code": data.postal_code[:16], "phone": data.phone[:40],
    }
    return {k: v for k, v in fields.items() if v}


def _save_patient(data: PatientData, match: Match, event: str, ctx: Context) -> int:
    known = match.known
    if match.how == "review":  # a person chose the patient: add only identifiers nobody holds yet
        _settle(ctx)
        known = set(patient_ids_by_identifiers(actor=ctx.actor, identifiers=[(i.system, i.value)
                                                                            for i in data.matchable]))
    new_ids = [i.as_row() for i in data.matchable if (i.system, i.value) not in known]
    fields = _patient_fields(data)
    if match.patient_id is None:
        pid = (ctx.reads or Reads(ctx.actor)).new_patient(ctx.organization_id, fields, new_ids)
        ctx.changes["patient_created"] = pid
        return pid
    pid = match.patient_id  # identifier matches already lead to the surviving patient
    if match.current is None:
        _settle(ctx)
    current = match.current or patient_fields(actor=ctx.actor, patient_id=pid)
    ctx.birth_dates.append(current["birth_date"])
    if event in DEMOGRAPHIC_EVENTS:  # the hospital says who this person is now
        changes = {k: v for k, v in fields.items() if current[k] != v}
    else:  # other events only fill what the registry lacks
        changes = {k: v for k, v in fields.items() if not current[k]}
    if changes and ("family" in changes or "given" in changes):
        changes.setdefault("family", current["family"])
        changes.setdefault("given", current["given"])
    if changes or new_ids:
        _settle(ctx)
        save_patient(organization_id=ctx.organization_id, patient_id=pid, fields=changes, identifiers=new_ids)
        ctx.changes.update(patient_fields_changed=sorted(changes), identifiers_added=len(new_ids))
    return pid


# ---- encounters --------------------------------------------------------------------------------------------------


def _find_visit(x: Extracted, v: VisitData, patient_id: int, ctx: Context, reads: Reads,
                fresh: bool) -> VisitRow | None:
    facility = x.header.sending_facility
    if v.visit_number and not fresh:
        return reads.visit(facility, v.visit_number)
    reads.settle()
    if v.visit_number:
        return hl7_visit(actor=ctx.actor, facility=facility, visit_number=v.visit_number)
    if v.admit is not None:
        return hl7_visit_by_admit(actor=ctx.actor, patient_id=patient_id, facility=facility, start=v.admit.at)
    return open_hl7_visit(actor=ctx.actor, patient_id=patient_id, facility=facility)


def _apply_visit(x: Extracted, v: VisitData, patient_id: int, event: str, ctx: Context,
                 reads: Reads, fresh: bool) -> int | None:
    enc = _find_visit(x, v, patient_id, ctx, reads, fresh)
    if enc is not None and enc.patient_id != patient_id:
        reads.settle()
    if enc is not None and enc.patient_id != patient_id and (
            surviving_patient_id(actor=ctx.actor, patient_id=enc.patient_id) != patient_id):
        raise Invalid(
            f"visit {v.visit_number or '(no number)'} from {x.header.sending_facility} belongs to another patient "
            f"(patient {enc.patient_id}); PID-3 and PV1-19 disagree", "205", "PV1^1^19",
        )
    old = enc.status if enc is not None else None
    if enc is None and event in CANCEL_PENDING | {"A11"}:
        return None  # nothing to cancel
    status = _next_status(old, event, x, v, enc, ctx)
    # A late message (an admit or transfer for a stay already finished, anything but A11 for a cancelled one)
    # only fills what is missing: its data is older than what the encounter holds.
    stale = (old == "finished" and event in EARLY_EVENTS) or (old == "cancelled" and status == "cancelled")
    fields: dict[str, Any] = {"status": status} if status != old else {}
    if (v.class_code != "OTHER" and not stale) or enc is None:
        fields["class_code"] = v.class_code
    for name, value in (("location", v.location), ("type_code", v.hospital_service[:64]),
                        ("visit_number", v.visit_number)):
        if value and (enc is None or (getattr(enc, name) != value and not (stale and getattr(enc, name)))):
            fields[name] = value
    start = v.admit or (x.event_time if enc is None and event in EARLY_EVENTS - {"A05", "A14"} else None)
    if start is not None and (enc is None or (enc.start != start.at and not (stale and enc.start))):
        fields.update(start=start.at, start_offset=start.offset)
    if status == "finished" and event in ("A03", "A08"):
        end = v.discharge or (x.event_time if event == "A03" and (enc is None or enc.end is None) else None)
        if end is not None and (enc is None or enc.end != end.at):
            fields.update(end=end.at, end_offset=end.offset)
        if v.disposition:
            fields["discharge_disposition"] = v.disposition
    if event == "A13" and old == "finished":
        fields.update(end=None, end_offset="", discharge_disposition="")
    codes = list(enc.diagnoses) if enc is not None else []
    added = [c for c in x.diagnoses if c not in codes]
    if added:
        fields["diagnoses"] = codes + added
    if enc is None:
        fields.update(facility=x.header.sending_facility[:200], source_kind="hl7v2")
    encounter_id = reads.save_encounter(
        ctx.organization_id, patient_id, enc.pk if enc is not None else None, fields,
        (x.header.sending_facility, v.visit_number) if v.visit_number else None)
    if fields:
        ctx.changes.update(encounter=encounter_id, encounter_status=[old, status], encounter_fields=sorted(fields))
    if (status == "finished" and old != "finished" or old == "finished" and status != "finished"
            or status == "cancelled" and old != "cancelled"):
        ctx.episodes.append(encounter_id)  # queued for the transitions app by ``finish`` (``on_stays_changed``)
    return encounter_id


def _next_status(old: str | None, event: str, x: Extracted, v: VisitData, enc: VisitRow | None,
                 ctx: Context) -> str:
    if event in ("A05", "A14"):
        return old or "planned"
    if event in ("A01", "A04", "A02", "A06", "A07"):
        if old in (None, "planned"):
            return "in-progress"
        if old == "cancelled" and enc is not None and _newer_than_cancel(x, enc, ctx):
            return "in-progress"
        return old or "in-progress"
    if event == "A03":
        return "finished"
    if event == "A08":
        return old or ("finished" if v.discharge is not None else "in-progress")
    if event == "A11":
        return "cancelled"
    if event in CANCEL_PENDING:
        return "cancelled" if old == "planned" else old or "cancelled"
    if event == "A13":
        return "in-progress" if old in (None, "finished") else old
    return old or "in-progress"


def _newer_than_cancel(x: Extracted, enc: VisitRow, ctx: Context) -> bool:
    _settle(ctx)
    stored = last_encounter_event(actor=ctx.actor, encounter_id=enc.pk, event_types=["ADT^A11"])
    times = [e["occurred_at"] for e in ctx.timeline if e["encounter"] == enc.pk and e["event_type"] == "ADT^A11"]
    times += [stored.occurred_at] if stored is not None else []
    cancelled_at = max((t for t in times if t is not None), default=None)
    return x.event_time is not None and cancelled_at is not None and x.event_time.at > cancelled_at


# ---- merge (A40) --------------------------------------------------------------------------------------------------


def _merge(x: Extracted, ctx: Context) -> Applied:
    if ctx.reads is not None:
        ctx.reads.merged()  # identifiers, stays and patients move: the batch's answers read up front are stale
    if not x.merges or not all(prior for _, prior in x.merges):
        raise Invalid("ADT^A40 requires MRG-1, the prior patient identifier, after each PID", "101", "MRG^1^1")
    survivor_id: int | None = None
    merged: list[int] = []
    for data, prior in x.merges:
        if not data.matchable:
            raise Invalid("PID-3 has no patient identifier to merge into", "101", "PID^1^3")
        survivors = sorted(set(patient_ids_by_identifiers(
            actor=ctx.actor, identifiers=[(i.system, i.value) for i in data.matchable]).values()))
        if len(survivors) > 1:
            raise Invalid(f"the identifiers in PID-3 belong to different patients ({survivors}); merge them first",
                          "205", "PID^1^3")
        priors = sorted(set(patient_ids_by_identifiers(
            actor=ctx.actor, identifiers=[(i.system, i.value) for i in prior if i.system]).values()))
        survivor = survivors[0] if survivors else (priors[0] if priors else None)
        known = {(i.system, i.value) for i in data.matchable} if survivors else set()
        survivor_id = _save_patient(data, Match(survivor, "identifier" if survivor else "new", known=known),
                                    "A40", ctx)
        for old in priors:
            if old != survivor_id:
                merge_patients(organization_id=ctx.organization_id, surviving_id=survivor_id, merged_id=old,
                               actor=ctx.actor, message_id=ctx.message_id)
                on_patients_merged(organization_id=ctx.organization_id, merged_id=old, surviving_id=survivor_id,
                                   actor=ctx.actor)
                merged.append(old)
        _on_timeline(x, ctx, survivor_id, None, (
            f"Merged patient(s) {', '.join(map(str, merged))} into this patient" if merged
            else "Merge received; nothing to merge (prior identifier unknown or already merged)"))
    _audit(x, ctx, survivor_id, merged=merged)
    return Applied("accepted", survivor_id, note=f"merged {merged}" if merged else "nothing to merge")
