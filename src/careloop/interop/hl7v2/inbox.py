"""The one HL7 v2 intake path, used by the MLLP listener and by ``careloop hl7 ingest`` alike.

Messages come in batches (the listener's group commit; a file's messages 100 at a time). For each batch:
1. read each MSH; unreadable -> stored as ``rejected``, quarantined, ``AR``;
2. store the raw messages (``RawHl7Message``, status ``received``) and COMMIT: durable from here on;
3. in one transaction: a message whose sender already had that MSH-10 applied is a ``duplicate`` (``AA``, not
   applied again); the others are parsed, matched to a patient, applied (``adt.apply_message``), put on the
   timeline and audited, and marked ``accepted`` (or ``review`` when the patient match is uncertain) - COMMIT;
4. the ACKs are built only now: ``AA`` after the commit; ``AE``/``AR`` with an ERR segment saying why, the
   message quarantined;
5. a discharge applied in step 3 queued its transition episode in that same transaction
   (``transitions.PendingEpisodeSync``): the ``transitions`` callback wakes a background worker (the
   listener's), or without one the queue is worked off here, after the commit.

A message that fails in step 3 changes nothing: the transaction is rolled back and the batch runs again with
that message rejected. A message stored in step 2 whose step 3 never committed (process killed) stays
``received``; ``recover_pending`` applies those (the listener runs it at start), and the sender's resend is
then a duplicate.

The common case takes steps 2 and 3 in ONE transaction (``receive_batch``): when every message of the batch is
readable and applies, the raw messages are written with their outcome together with what they changed, and a
single COMMIT makes all of it durable before any ACK (a process killed before that commit leaves nothing, the
senders resend). A batch with anything else (an unreadable or rejected message, a database error, a clash with
another listener) is rolled back and runs the two steps above, so what cannot be applied is still kept.
Within step 3 the batch's lookups are read up front and its new rows written together (``reads.BatchReads``):
a dozen statements per batch instead of ~6 per message.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db import DatabaseError, IntegrityError, connections, transaction

from careloop.audit.services import sqlite_write_gate
from careloop.core import clock
from careloop.core.actor import Actor
from careloop.core.db import refresh_planner_statistics
from careloop.interop.hl7v2.ack import build_ack
from careloop.interop.hl7v2.adt import Applied, Context, Invalid, apply_message, finish, on_stays_changed
from careloop.interop.hl7v2.extract import Extracted, extract, report
from careloop.interop.hl7v2.parse import (
    Header,
    Hl7Message,
    Unparseable,
    decode,
    normalize,
    read_header,
    split_messages,
)
from careloop.interop.hl7v2.reads import BatchReads, SettleFailed, pipelined
from careloop.registry.choices import Hl7MessageStatus as S
from careloop.registry.models import (
    Encounter,
    EncounterSourceKey,
    Patient,
    PatientEvent,
    PatientIdentifier,
    PatientLink,
    RawHl7Message,
)
from careloop.registry.selectors import (
    accepted_hl7_messages,
    hl7_message_statuses,
    hl7_messages,
)
from careloop.registry.services import (
    quarantine,
    record_patient_events,
    reserve_hl7_message_ids,
    set_hl7_message_outcomes,
    store_hl7_message,
    store_hl7_messages,
)

log = logging.getLogger("careloop.hl7v2")
HL7_TABLES = (RawHl7Message, Patient, PatientIdentifier, Encounter, EncounterSourceKey, PatientEvent, PatientLink)


@dataclass
class Result:
    source: str
    index: int
    ack_code: str
    status: str
    error: str | None
    ack: bytes
    header: Header | None = None
    message_id: int | None = None
    extracted: Extracted | None = None
    applied: Applied | None = None
    note: str = ""
    later: Callable[[], Extracted | None] | None = None  # what the message says, read only when reported

    def report(self) -> dict[str, Any]:
        """One line of ``careloop hl7 ingest --json``."""
        h = self.header
        out: dict[str, Any] = {
            "file": self.source, "index": self.index, "message_type": h.message_type if h else None,
            "control_id": h.control_id if h else None, "version": h.version if h else None,
            "ack_code": self.ack_code, "error": self.error, "status": self.status,
            "patient": None, "encounter": None, "merged_from": [],
        }
        extracted = self.extracted if self.extracted is not None else (self.later() if self.later else None)
        if extracted is not None:
            out.update(report(extracted))
        if self.note:
            out["note"] = self.note
        return out


@dataclass(frozen=True, slots=True)
class Incoming:
    text: str
    source: str
    index: int = 1
    structure_error: str | None = None


@dataclass
class _Stored:
    pos: int
    header: Header
    item: Incoming
    message_id: int


class Hl7Inbox:
    batch_size = 100

    def __init__(self, *, organization_id: int, time_zone: str | None = None, actor: Actor | None = None,
                 transitions: Callable[[], None] | None = None) -> None:
        self.organization_id = organization_id
        # Discharges queue their episode work (``transitions.services.episode_after_commit``) in the message's
        # transaction. ``transitions``: called after each commit to wake a background worker (the listener's);
        # None: the queue is worked off here, after the commit, before returning (``careloop hl7 ingest``).
        self.transitions = transitions
        self.zone = clock.clinic_zone(time_zone)
        self.actor = actor or Actor.system(organization_id, "hl7 interface")
        self.concurrent_writers = connections["default"].vendor != "sqlite"
        self._processed = 0
        self._next_analyze = 200
        self._analyzer: threading.Thread | None = None

    # ---- inputs -------------------------------------------------------------------------------------------
    @staticmethod
    def frame_to_incoming(payload: bytes, source: str) -> Incoming:
        """One MLLP frame: exactly one message (a batch envelope around it is tolerated)."""
        text = normalize(decode(payload))
        chunks = split_messages(text)
        if len(chunks) == 1:
            return Incoming(chunks[0].text, source, 1, chunks[0].error)
        broken = next((c.error for c in chunks if c.error), None)
        return Incoming(text, source, 1, "empty message" if not chunks else broken or
                        f"{len(chunks)} messages in one frame: send one message per MLLP frame")

    def receive_frame(self, payload: bytes, *, source: str) -> Result:
        return self.receive_batch([self.frame_to_incoming(payload, source)])[0]

    def ingest_text(self, text: str, *, source: str) -> list[Result]:
        """A file's content: every message in it, in order."""
        text = text.replace("\x00", "\ufffd")
        chunks = split_messages(normalize(text))
        items = [Incoming(c.text, source, c.index, c.error) for c in chunks] or [
            Incoming(text, source, 1, "no HL7 message in the file")]
        results: list[Result] = []
        for i in range(0, len(items), self.batch_size):
            results += self.receive_batch(items[i : i + self.batch_size])
        return results

    def ingest_file(self, path: Path) -> list[Result]:
        return self.ingest_text(decode(path.read_bytes()), source=str(path))

    def receive_batch(self, items: list[Incoming]) -> list[Result]:
        """Steps 1-4 of the module docstring for several messages at once (group commit).

        The common case - every message readable and applied - takes one transaction: the raw messages are
        stored (one INSERT) and applied, and one COMMIT makes both durable before any ACK. Otherwise (a message
        unreadable or rejected, a database error) the batch runs in two transactions as the module docstring
        says: one stores them all and commits, one applies them all, so a message that cannot be applied is
        still kept."""
        results = self._receive_at_once(items)
        if results is None:
            results = self._receive_in_two(items)
        self._after_commit()
        self._processed += len(items)
        if self._processed >= self._next_analyze:  # statistics for tables that grew (doubling steps)
            self._next_analyze *= 2
            self._refresh_statistics()
        return results

    def _refresh_statistics(self) -> None:
        """ANALYZE the intake's tables on a thread of its own (its own connection), so the batches go on meanwhile
        (an ANALYZE of grown tables takes 0.1-0.5 s). One at a time; a no-op on SQLite."""
        if not self.concurrent_writers or (self._analyzer is not None and self._analyzer.is_alive()):
            return

        def analyze() -> None:
            try:
                refresh_planner_statistics(HL7_TABLES)
            except DatabaseError:
                log.warning("hl7: ANALYZE of the intake tables failed; the plans keep their old statistics",
                            exc_info=True)
            finally:
                connections.close_all()

        self._analyzer = threading.Thread(target=analyze, name="hl7-analyze", daemon=True)
        self._analyzer.start()

    def wait_for_statistics(self, timeout: float = 60.0) -> None:
        """Let a running background ANALYZE finish (shutdown, tests)."""
        if self._analyzer is not None:
            self._analyzer.join(timeout)

    def _receive_at_once(self, items: list[Incoming]) -> list[Result] | None:
        """Store and apply in one transaction; None (nothing stored) when the batch needs the two-step path."""
        heads: list[Header] = []
        for item in items:
            if item.structure_error:
                return None
            try:
                heads.append(read_header(item.text))
            except Unparseable:
                return None
        prepared: list[Extracted | Unparseable] = []
        for item, header in zip(items, heads, strict=True):  # CPU work outside the transaction
            try:
                prepared.append(extract(Hl7Message(item.text, header), self.zone))
            except Unparseable:
                return None
        try:
            with sqlite_write_gate(), transaction.atomic():
                # The raw rows are written at the end of the pass with their outcome (one INSERT; the pass refers
                # to them by these ids), committed with everything else before any ACK.
                ids = reserve_hl7_message_ids(len(items))
                batch = [_Stored(pos, header, item, message_id) for pos, (item, header, message_id)
                         in enumerate(zip(items, heads, ids, strict=True))]
                return self._apply_pass(batch, prepared, {}, fresh=True)
        except (_Restart, SettleFailed):  # a message is to be rejected (the two-step path keeps it, quarantined),
            return None  # or a new row clashed with another listener's (the two-step path tells whose it is)
        except DatabaseError:
            log.warning("hl7 batch of %d: database error in the one-transaction path; storing first", len(items),
                        exc_info=True)
            return None

    def _receive_in_two(self, items: list[Incoming]) -> list[Result]:
        results: list[Result | None] = [None] * len(items)
        stored: list[_Stored] = []
        with sqlite_write_gate(), transaction.atomic():
            for pos, item in enumerate(items):
                try:
                    header = read_header(item.text)
                except Unparseable as exc:
                    results[pos] = self._reject_unread(item, item.structure_error or exc.reason, exc.code,
                                                       exc.location)
                    continue
                if item.structure_error:
                    results[pos] = self._reject_unread(item, item.structure_error, header=header)
                    continue
                message_id = store_hl7_message(organization_id=self.organization_id,
                                               header=header.as_store_fields(), raw=item.text, source=item.source)
                stored.append(_Stored(pos, header, item, message_id))
        if stored:
            for s, result in zip(stored, self._apply_batch(stored), strict=True):
                results[s.pos] = result
        return [r for r in results if r is not None]

    def _after_commit(self) -> None:
        if self.transitions is not None:
            self.transitions()
            return
        from careloop.transitions.services import drain

        drain(organization_id=self.organization_id)

    # ---- step 3 -------------------------------------------------------------------------------------------
    def _apply_batch(self, batch: list[_Stored]) -> list[Result]:
        """Apply stored messages in one transaction. No savepoints on the common path: when one message fails,
        the whole transaction is rolled back and the batch runs again with that message's outcome decided
        (rejected, duplicate, ...), so nothing of it is half-applied and the others are unaffected."""
        prepared: list[Extracted | Unparseable] = []
        for s in batch:  # CPU work outside the transaction
            try:
                prepared.append(extract(Hl7Message(s.item.text, s.header), self.zone))
            except Unparseable as exc:
                prepared.append(exc)
        decided: dict[int, tuple[str, ...]] = {}
        retries: dict[int, int] = {}
        defer = True
        while True:
            try:
                with sqlite_write_gate(), transaction.atomic():
                    results = self._apply_pass(batch, prepared, decided, defer=defer)
                return results
            except SettleFailed:  # write each message's rows at once: the clash is then a message's IntegrityError
                defer = False
            except _Restart as restart:
                n, outcome = restart.args
                if outcome == ("retry",):
                    retries[n] = retries.get(n, 0) + 1
                    if retries[n] >= 3:
                        decided[n] = ("AE", "could not apply the message: its patient or stay was being written by "
                                      "another connection three times in a row; send it again", "206", "")
                else:
                    decided[n] = outcome

    def _apply_pass(self, batch: list[_Stored], prepared: list[Extracted | Unparseable],
                    decided: dict[int, tuple[str, ...]], *, fresh: bool = False, defer: bool = True) -> list[Result]:
        """``fresh``: the messages are not stored yet (ids reserved in this very transaction, so nobody else can have
        applied them): they are stored at the end, with their outcome.
        ``defer``: the batch's new rows are written together (``BatchReads``), else each at once."""
        ids = [s.message_id for s in batch]
        if not fresh:
            statuses = hl7_message_statuses(actor=self.actor, ids=ids, lock=self.concurrent_writers)
            for n, message_id in enumerate(ids):  # applied meanwhile by recovery or another listener
                if statuses.get(message_id, S.RECEIVED) != S.RECEIVED:
                    decided[n] = ("stored",)
        known = accepted_hl7_messages(actor=self.actor, keys=[
            (s.header.sending_application, s.header.sending_facility, s.header.control_id) for s in batch])
        # The batch's lookups, read up front (one query per kind), and its audit events, timeline rows and stay
        # changes, written after it.
        reads = BatchReads(self.actor, [x for n, x in enumerate(prepared)
                                        if isinstance(x, Extracted) and n not in decided], defer=defer)
        shared = Context(self.organization_id, self.actor, 0, reads=reads)
        outcomes: list[tuple[int, str, str, str, int | None]] = []
        results: list[Result] = []
        for n, (s, x) in enumerate(zip(batch, prepared, strict=True)):
            h, item, message_id = s.header, s.item, s.message_id
            key = (h.sending_application, h.sending_facility, h.control_id)
            digest = hashlib.sha1(item.text.encode()).hexdigest()
            outcome = decided.get(n) or (("AR", x.reason, x.code, x.location) if isinstance(x, Unparseable) else None)
            prior = known.get(key)
            if outcome == ("stored",):
                results.append(self._stored(message_id, h, item))
            elif outcome == ("duplicate",) or (outcome is None and prior is not None and prior[0] != message_id):
                differs = "" if prior is None or prior[1] == digest else " (same MSH-10, different content)"
                note = f"duplicate of message {prior[0]}{differs}" if prior else "duplicate (applied elsewhere)"
                outcomes.append((message_id, S.DUPLICATE, "AA", note, None))
                results.append(Result(item.source, item.index, "AA", S.DUPLICATE, None, build_ack("AA", h), h,
                                      message_id, x if isinstance(x, Extracted) else None, note=note))
            elif outcome is not None:
                outcomes.append((message_id, S.REJECTED, outcome[0], outcome[1], None))
                results.append(self._reject(s, outcome[0], outcome[1], outcome[2], outcome[3]))
            else:
                assert isinstance(x, Extracted)
                result = self._apply_one(n, s, x, shared)
                outcomes.append((message_id, result.status, "AA", result.note,
                                 result.applied.patient_id if result.applied else None))
                results.append(result)
                known[key] = (message_id, digest)
        if shared.reads is not None:
            shared.reads.settle()
        with pipelined():  # the raw messages, timeline rows and queued stays in one round trip (PostgreSQL)
            self._write_outcomes(batch, outcomes, fresh)
            record_patient_events(shared.timeline)
            shared.timeline.clear()
            if shared.episodes:
                on_stays_changed(organization_id=self.organization_id, encounter_ids=list(shared.episodes))
                shared.episodes.clear()
        finish(shared)  # the audit events
        return results

    def _write_outcomes(self, batch: list[_Stored], outcomes: list[tuple[int, str, str, str, int | None]],
                        fresh: bool) -> None:
        if fresh:
            decided_by_id = {o[0]: o[1:] for o in outcomes}
            assert len(decided_by_id) == len(batch), "every message of a fresh batch has its outcome"
            store_hl7_messages(organization_id=self.organization_id, messages=[
                (s.message_id, s.header.as_store_fields(), s.item.text, s.item.source, *decided_by_id[s.message_id])
                for s in batch])
        else:
            set_hl7_message_outcomes(outcomes)

    def _apply_one(self, n: int, s: _Stored, x: Extracted, shared: Context) -> Result:
        h, item, message_id = s.header, s.item, s.message_id
        ctx = Context(self.organization_id, self.actor, message_id, shared.audit, shared.timeline, shared.episodes,
                      shared.reads)
        try:
            applied = apply_message(x, ctx)
        except SettleFailed:
            raise  # the batch's rows written together clashed: the batch runs again writing each at once
        except IntegrityError as exc:  # another listener created the same patient or stay first (PostgreSQL)
            raise _Restart(n, ("retry",)) from exc
        except Invalid as exc:
            raise _Restart(n, ("AE", exc.reason, exc.code, exc.location)) from exc
        except Unparseable as exc:
            raise _Restart(n, ("AR", exc.reason, exc.code, exc.location)) from exc
        except DatabaseError:
            raise  # the batch rolls back; the messages stay "received", no ACK: senders resend, recovery applies
        except Exception as exc:
            log.exception("hl7 message %s: internal error", message_id)
            reason = f"internal error while applying the message: {type(exc).__name__}: {exc}"
            raise _Restart(n, ("AE", reason, "207", "")) from exc
        warnings = "; ".join(f"{p.location}: {p.reason}" for p in x.problems)
        note = "; ".join(t for t in (applied.note, warnings) if t)
        ack = build_ack("AA", h, text=warnings, error_code="0", severity="W")
        return Result(item.source, item.index, "AA", applied.status, None, ack, h, message_id, x, applied, note)

    def _extract_quietly(self, text: str, header: Header) -> Extracted | None:
        try:
            return extract(Hl7Message(text, header), self.zone)
        except Unparseable:
            return None

    def _stored(self, message_id: int, header: Header, item: Incoming) -> Result:
        """Someone else (recovery, another listener) processed this row first: answer with its outcome."""
        row = hl7_messages(actor=self.actor).filter(pk=message_id).values_list("status", "ack_code", "error").first()
        status, code, error = row if row else (S.ACCEPTED, "AA", "")
        code = code or "AA"
        return Result(item.source, item.index, code, status, error if code != "AA" else None,
                      build_ack(code, header, text=error if code != "AA" else ""), header, message_id)

    # ---- rejections -----------------------------------------------------------------------------------------
    def _reject_unread(self, item: Incoming, reason: str, code: str = "100", location: str = "",
                       header: Header | None = None) -> Result:
        with transaction.atomic():
            message_id = store_hl7_message(organization_id=self.organization_id,
                                           header=header.as_store_fields() if header else {}, raw=item.text,
                                           source=item.source, status=S.REJECTED, ack_code="AR", error=reason)
            self._quarantine(item, reason, header)
        ack = build_ack("AR", header, text=reason, error_code=code, location=location)
        return Result(item.source, item.index, "AR", S.REJECTED, reason, ack, header, message_id)

    def _reject(self, s: _Stored, ack_code: str, reason: str, code: str, location: str = "") -> Result:
        """Quarantine a stored message (its status is set by the caller, with the batch's outcomes)."""
        self._quarantine(s.item, reason, s.header)
        ack = build_ack(ack_code, s.header, text=reason, error_code=code, location=location)
        return Result(s.item.source, s.item.index, ack_code, S.REJECTED, reason, ack, s.header, s.message_id,
                      later=lambda: self._extract_quietly(s.item.text, s.header))

    def _quarantine(self, item: Incoming, reason: str, header: Header | None) -> None:
        location = f"MSH-10 {header.control_id}" if header and header.control_id else f"message {item.index}"
        quarantine(organization_id=self.organization_id, channel="hl7v2", source_name=item.source, location=location,
                   reason=reason, raw=item.text, resource_type=header.message_type if header else "")

    # ---- recovery -------------------------------------------------------------------------------------------
    def recover_pending(self) -> int:
        """Apply messages stored but never processed (the process died between storing and applying)."""
        rows = list(hl7_messages(actor=self.actor, status=S.RECEIVED).order_by("pk").values_list("pk", "raw", "source"))
        for start in range(0, len(rows), self.batch_size):
            batch: list[_Stored] = []
            for pk, raw, source in rows[start : start + self.batch_size]:
                item = Incoming(raw, source)
                try:
                    batch.append(_Stored(0, read_header(raw), item, pk))
                except Unparseable as exc:
                    with sqlite_write_gate(), transaction.atomic():
                        self._reject(_Stored(0, _blank_header(), item, pk), "AR", exc.reason, exc.code)
                        set_hl7_message_outcomes([(pk, S.REJECTED, "AR", exc.reason, None)])
            if batch:
                self._apply_batch(batch)
                self._after_commit()
        return len(rows)


class _Restart(Exception):
    """Roll the batch back; run it again with message ``args[0]``'s outcome set to ``args[1]``."""


def _blank_header() -> Header:
    return Header("|", "^~\\&", "", "", "", "", "", "", "", "", "", "", "")


class MllpHandler:
    """The listener's handler (``careloop.interop.mllp.server.BatchHandler``), called in the server's worker thread.

    Group commit: the server hands over every frame waiting on any connection as one batch; they are stored
    and applied together (``Hl7Inbox.receive_batch``), so the commits and the audit-chain update are paid once
    per batch. Each message still gets its own ACK, built after the commit.
    """

    def __init__(self, inbox: Hl7Inbox) -> None:
        self.inbox = inbox

    def handle_batch(self, items: list[tuple[bytes, str]]) -> list[bytes]:
        incoming = [self.inbox.frame_to_incoming(payload, f"mllp {peer}") for payload, peer in items]
        return [r.ack for r in self._receive(incoming)]

    def handle(self, payload: bytes, peer: str) -> bytes:
        return self.handle_batch([(payload, peer)])[0]

    def oversized(self, head: bytes, nbytes: int, peer: str) -> bytes | None:
        reason = f"message of {nbytes} bytes exceeds the size limit; only its first {len(head)} bytes were kept"
        return self._receive([Incoming(normalize(decode(head)), f"mllp {peer}", 1, reason)])[0].ack

    def close_thread(self) -> None:
        self.inbox.wait_for_statistics()
        connections.close_all()

    def _receive(self, incoming: list[Incoming]) -> list[Result]:
        try:
            return self.inbox.receive_batch(incoming)
        except DatabaseError:
            connections.close_all()  # the next batch opens a fresh connection
            raise
