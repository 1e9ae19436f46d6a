"""The reads (and new rows) of the ADT handlers: one at a time (``Reads``) or for a whole batch (``BatchReads``).

A batch of messages (the listener's group commit) is read up front with one query per kind - the patients
holding the batch's identifiers (locked, as ``match_patient`` locks them), the demographic candidates of those
no identifier matched, the stays named by the batch's (facility, visit number) keys - instead of one query per
message each. What the batch writes afterwards can make an answer read up front stale: every identifier,
patient, birth date, visit key and stay a message of the batch has written is remembered, and a later read that
touches one of them goes to the database as before (which sees the batch's own writes). An A40 merge turns the
batch's answers off altogether. So each message gets exactly what the per-message queries would have answered.

The batch's new patients and stays, and its changes to stays, are written together too: their ids are reserved
up front (``reserve_patient_ids``/``reserve_encounter_ids``), so timeline rows, audit events and later messages can
refer to them, and they are written (``settle``) - one INSERT per table, one UPDATE per set of changed stay fields
- when the batch is done, or before anything else reads or writes the registry (a read that goes to the
database, an update of a patient, a lock, a merge...). A unique-key violation there (another listener created
the same patient or stay meanwhile) raises ``SettleFailed``: the caller runs the batch again writing each row at
once, so the message it belongs to can be told.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import IntegrityError, connection

from careloop.core.actor import Actor
from careloop.interop.hl7v2.extract import Extracted
from careloop.registry.selectors import (
    PatientBrief,
    VisitRow,
    demographic_candidates,
    demographic_candidates_many,
    hl7_visit,
    hl7_visits,
    identified_patients,
)
from careloop.registry.services import (
    create_encounters,
    create_patients,
    reserve_encounter_ids,
    reserve_patient_ids,
    save_encounter,
    save_patient,
    update_encounters,
)

Identified = tuple[dict[tuple[str, str], int], dict[int, dict[str, Any]]]
MAX_KEYS = 250  # identifiers or visit keys read up front in one statement (SQLite binds at most 999 parameters)


@contextmanager
def pipelined() -> Iterator[None]:
    """PostgreSQL: send the statements run inside without waiting for each one's answer (psycopg pipeline mode):
    one round trip for several writes. Their errors are raised by the end of the block at the latest."""
    if connection.vendor != "postgresql":
        yield
        return
    connection.ensure_connection()
    with connection.connection.pipeline():
        yield


class SettleFailed(Exception):
    """Writing the batch's new rows together violated a unique key (``IntegrityError`` as ``__cause__``)."""


class Reads:
    """Straight to the database: the registry selectors and services, one statement at a time."""

    def __init__(self, actor: Actor) -> None:
        self.actor = actor

    def settle(self) -> None:
        """Write what is pending: before a read or write that does not go through this object."""

    def new_patient(self, organization_id: int, fields: dict[str, Any], identifiers: list[dict[str, str]]) -> int:
        return save_patient(organization_id=organization_id, patient_id=None, fields=fields, identifiers=identifiers)

    def save_encounter(self, organization_id: int, patient_id: int, encounter_id: int | None, fields: dict[str, Any],
                       source_key: tuple[str, str] | None) -> int:
        return save_encounter(organization_id=organization_id, patient_id=patient_id, encounter_id=encounter_id,
                              fields=fields, source_key=source_key)

    def identified(self, identifiers: list[tuple[str, str]]) -> Identified:
        return identified_patients(actor=self.actor, identifiers=identifiers, lock=True)

    def candidates(self, family: str, given: str, birth_date: dt.date | None) -> list[PatientBrief]:
        return demographic_candidates(actor=self.actor, family=family, given=given, birth_date=birth_date)

    def visit(self, facility: str, visit_number: str) -> VisitRow | None:
        return hl7_visit(actor=self.actor, facility=facility, visit_number=visit_number)

    def wrote(self, x: Extracted, patient_id: int | None, encounter_id: int | None,
              birth_dates: tuple[dt.date | None, ...] = ()) -> None:
        """A message has been applied (what it may have written: see ``BatchReads``)."""

    def merged(self) -> None:
        """An A40 moved identifiers, stays and patients around."""


class BatchReads(Reads):
    """The answers for a batch of messages, read with one query per kind (module docstring)."""

    def __init__(self, actor: Actor, messages: list[Extracted], *, defer: bool = True) -> None:
        super().__init__(actor)
        self.on = True
        self.defer = defer  # False: new rows written at once (``Reads``)
        self.size = max(1, len(messages))
        self.patient_ids: list[int] = []  # reserved, not used yet
        self.encounter_ids: list[int] = []
        self.organization_id = 0
        self.patients: list[tuple[int, dict[str, Any], list[dict[str, str]]]] = []
        self.encounters: list[tuple[int, int, dict[str, Any], tuple[str, str] | None]] = []
        self.updates: list[tuple[int, dict[str, Any]]] = []
        # what the batch has written since it read
        self.dirty_idents: set[tuple[str, str]] = set()
        self.dirty_patients: set[int] = set()
        self.dirty_dates: set[dt.date | None] = set()
        self.dirty_keys: set[tuple[str, str]] = set()
        self.dirty_encounters: set[int] = set()
        idents: dict[tuple[str, str], None] = {}
        keys: dict[tuple[str, str], None] = {}
        for x in messages:
            if x.patient is not None:
                idents.update(dict.fromkeys((i.system, i.value) for i in x.patient.matchable))
            if x.visit is not None and x.visit.visit_number:
                keys[(x.header.sending_facility, x.visit.visit_number)] = None
        self.asked: set[tuple[str, str]] = set()
        self.hits: dict[tuple[str, str], int] = {}
        self.fields: dict[int, dict[str, Any]] = {}
        self.people: dict[tuple[str, str, dt.date | None], list[PatientBrief]] = {}
        self.keys: set[tuple[str, str]] = set()
        self.visits: dict[tuple[str, str], VisitRow] = {}
        if max(len(idents), len(keys)) > MAX_KEYS:  # a huge file batch: per-message reads (bound parameters)
            self.on = False
            return
        self.asked = set(idents)
        self.hits, self.fields = identified_patients(actor=actor, identifiers=list(idents), lock=True)
        people: dict[tuple[str, str, dt.date | None], None] = {}
        for x in messages:
            p = x.patient
            if p is not None and not any((i.system, i.value) in self.hits for i in p.matchable) and (
                    p.birth_date is not None or (p.family and p.given)):
                people[(p.family, p.given, p.birth_date)] = None
        self.people = dict(zip(people, demographic_candidates_many(actor=actor, people=list(people)), strict=True))
        self.keys = set(keys)
        self.visits = hl7_visits(actor=actor, keys=list(keys))

    # ---- writes ----------------------------------------------------------------------------------------------
    def settle(self) -> None:
        if self.patients or self.encounters or self.updates:
            try:
                with pipelined():
                    create_patients(organization_id=self.organization_id, patients=self.patients)
                    create_encounters(organization_id=self.organization_id, encounters=self.encounters)
                    update_encounters(self.updates)
            except IntegrityError as exc:
                raise SettleFailed(str(exc)) from exc
            self.patients, self.encounters, self.updates = [], [], []
        # SQLite reserves ids past the largest in use: once rows are written (by us or at once), reserve again.
        self.patient_ids.clear()
        self.encounter_ids.clear()

    def new_patient(self, organization_id: int, fields: dict[str, Any], identifiers: list[dict[str, str]]) -> int:
        if not self.defer:
            self.settle()
            return super().new_patient(organization_id, fields, identifiers)
        if not self.patient_ids:
            self.patient_ids = reserve_patient_ids(self.size)
        pid = self.patient_ids.pop(0)
        self.organization_id = organization_id
        self.patients.append((pid, fields, identifiers))
        return pid

    def save_encounter(self, organization_id: int, patient_id: int, encounter_id: int | None, fields: dict[str, Any],
                       source_key: tuple[str, str] | None) -> int:
        if not self.defer:
            self.settle()
            return super().save_encounter(organization_id, patient_id, encounter_id, fields, source_key)
        self.organization_id = organization_id
        if encounter_id is not None:
            if fields:
                self.updates.append((encounter_id, fields))
            return encounter_id
        if not self.encounter_ids:
            self.encounter_ids = reserve_encounter_ids(self.size)
        eid = self.encounter_ids.pop(0)
        self.encounters.append((eid, patient_id, fields, source_key))
        return eid

    # ---- reads --------------------------------------------------------------------------------------------
    def identified(self, identifiers: list[tuple[str, str]]) -> Identified:
        if not self.on or any(i not in self.asked or i in self.dirty_idents for i in identifiers):
            self.settle()
            return super().identified(identifiers)
        hits = {i: self.hits[i] for i in identifiers if i in self.hits}
        owners = set(hits.values())
        if owners & self.dirty_patients:
            self.settle()
            return super().identified(identifiers)
        return hits, {pid: self.fields[pid] for pid in owners if pid in self.fields}

    def candidates(self, family: str, given: str, birth_date: dt.date | None) -> list[PatientBrief]:
        key = (family, given, birth_date)
        # A patient the batch created or changed may now be a candidate (or no longer one): ask the database.
        stale = birth_date in self.dirty_dates if birth_date is not None else bool(self.dirty_patients)
        if not self.on or key not in self.people or stale:
            self.settle()
            return super().candidates(family, given, birth_date)
        return self.people[key]

    def visit(self, facility: str, visit_number: str) -> VisitRow | None:
        key = (facility, visit_number)
        if not self.on or key not in self.keys or key in self.dirty_keys:
            self.settle()
            return super().visit(facility, visit_number)
        row = self.visits.get(key)
        if row is not None and row.pk in self.dirty_encounters:
            self.settle()
            return super().visit(facility, visit_number)
        return row

    def wrote(self, x: Extracted, patient_id: int | None, encounter_id: int | None,
              birth_dates: tuple[dt.date | None, ...] = ()) -> None:
        people = [x.patient] if x.patient is not None else []
        people += [p for p, _ in x.merges]
        for p in people:
            self.dirty_idents.update((i.system, i.value) for i in p.matchable)
            self.dirty_dates.add(p.birth_date)
        self.dirty_dates.update(birth_dates)
        if patient_id is not None:
            self.dirty_patients.add(patient_id)
        if x.visit is not None and x.visit.visit_number:
            self.dirty_keys.add((x.header.sending_facility, x.visit.visit_number))
        if encounter_id is not None:
            self.dirty_encounters.add(encounter_id)

    def merged(self) -> None:
        self.settle()
        self.on = self.defer = False
