"""Which registry patient a message is about.

1. Identifiers: the facility's MRN (system ``urn:careloop:hl7:<assigning authority or sending facility>``) and the
   MBI. All hits on one patient -> that patient. Hits on several patients -> uncertain.
2. Demographics, when no identifier is known: family + given + birth date + sex all equal (case-insensitive)
   on exactly one patient who holds no different identifier of the same system -> that patient. Several exact
   candidates, or a partial match -> uncertain. Partial: the same birth date and two of family, given, sex
   (a changed family name, twins), or the same family and given name when the message has no birth date.
3. No identifier hit and no demographic candidate -> a new patient.

Uncertain matches are never guessed: the message is held and a ``PatientMatchReview`` opened.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from careloop.core.actor import Actor
from careloop.interop.hl7v2.extract import PatientData
from careloop.interop.hl7v2.reads import Reads
from careloop.registry.models import Patient
from careloop.registry.selectors import (
    PatientBrief,
    patient_by_id,
    patient_identifier_values,
)


@dataclass
class Match:
    patient_id: int | None
    how: str  # identifier | demographics | new | uncertain
    reason: str = ""
    candidates: list[dict[str, Any]] = field(default_factory=list)
    known: set[tuple[str, str]] = field(default_factory=set)  # (system, value) already held by the patient
    current: dict[str, Any] | None = None  # the matched patient's demographic fields, when already read
    locked: bool = False  # the patient's row is locked for this transaction (PostgreSQL)

    @property
    def uncertain(self) -> bool:
        return self.how == "uncertain"


def _brief(p: Patient) -> PatientBrief:
    return PatientBrief(p.pk, p.family, p.given, p.birth_date, p.sex)


def _same(a: str, b: str) -> bool:
    return a.strip().casefold() == b.strip().casefold()


def _candidate(p: PatientBrief, why: str) -> dict[str, Any]:
    return {"patient_id": p.pk, "family": p.family, "given": p.given, "sex": p.sex,
            "birth_date": p.birth_date.isoformat() if p.birth_date else None, "why": why}


def match_patient(data: PatientData, *, actor: Actor, reads: Reads | None = None) -> Match:
    """``reads``: where the identifier and demographic lookups go (a batch's answers read up front); None: the
    database."""
    reads = reads or Reads(actor)
    idents = [(i.system, i.value) for i in data.matchable]
    hits, fields = reads.identified(idents)
    owners = sorted(set(hits.values()))
    if len(owners) == 1:
        return Match(owners[0], "identifier", known=set(hits), current=fields.get(owners[0]),
                     locked=owners[0] in fields)
    if len(owners) > 1:
        reads.settle()
        found = {pid: _brief(patient_by_id(actor=actor, patient_id=pid)) for pid in owners}
        return Match(
            None, "uncertain",
            "the identifiers in PID-3 belong to different patients: "
            + ", ".join(f"{s} {v} -> patient {pid}" for (s, v), pid in sorted(hits.items())),
            [_candidate(found[pid], "holds an identifier in PID-3") for pid in owners],
        )
    candidates = [
        c for c in reads.candidates(data.family, data.given, data.birth_date)
        if data.birth_date is None or sum(_agree(c, data)) >= 2
    ]
    if not candidates:
        return Match(None, "new")
    exact = [
        c for c in candidates
        if _same(c.family, data.family) and _same(c.given, data.given) and data.birth_date is not None
        and c.birth_date == data.birth_date and data.sex and c.sex == data.sex
    ]
    if len(exact) == 1:
        reads.settle()
        held = patient_identifier_values(actor=actor, patient_id=exact[0].pk)
        clash = [i for i in data.matchable if i.system in held and held[i.system] != i.value]
        if not clash:
            return Match(exact[0].pk, "demographics")
        return Match(
            None, "uncertain",
            f"same name, birth date and sex as patient {exact[0].pk}, who holds a different identifier "
            f"({clash[0].system} {held[clash[0].system]}, message says {clash[0].value})",
            [_candidate(exact[0], "same name, birth date and sex; different identifier")],
        )
    if len(exact) > 1:
        return Match(None, "uncertain", f"{len(exact)} patients have the same name, birth date and sex",
                     [_candidate(c, "same name, birth date and sex") for c in exact])
    return Match(
        None, "uncertain",
        "no identifier matched and only part of the demographics (name, birth date, sex) match existing patients",
        [_candidate(c, _partial_why(c, data)) for c in candidates],
    )


def _agree(c: PatientBrief, data: PatientData) -> tuple[bool, bool, bool]:
    return _same(c.family, data.family), _same(c.given, data.given), bool(data.sex) and c.sex == data.sex


def _partial_why(c: PatientBrief, data: PatientData) -> str:
    same = [name for name, ok in (
        ("family", _same(c.family, data.family)), ("given", _same(c.given, data.given)),
        ("birth date", data.birth_date is not None and c.birth_date == data.birth_date),
        ("sex", bool(data.sex) and c.sex == data.sex),
    ) if ok]
    return "same " + ", ".join(same) if same else "similar"
